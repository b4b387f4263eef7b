//! A canary judge, as Kayenta's NetflixACAJudge scores a canary against its
//! baseline: each metric's two samples compared by the Mann-Whitney U test,
//! with the Hodges-Lehmann estimate of the shift and its confidence
//! interval (computed as R's `wilcox.test` does, which Kayenta's
//! MannWhitney ports: normal approximation with continuity and tie
//! corrections, the interval's ends found as roots); the metric classified
//! Pass, High, Low or NoData; the groups of metrics scored 0 to 100 by
//! weight; the score read against the pass and marginal thresholds.

use serde::{Deserialize, Serialize};

/// Which change of a metric is a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Direction {
    Increase,
    Decrease,
    #[default]
    Either,
}

/// What a NaN sample is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum NanStrategy {
    /// Dropped (Kayenta's default).
    #[default]
    Remove,
    /// Counted as 0.
    Replace,
}

/// A metric's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Classification {
    Pass,
    High,
    Low,
    NoData,
}

/// How one metric of a canary is compared.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CanaryMetric {
    pub name: String,
    /// The scoring group it counts in (`""`: a group of its own name).
    pub group: String,
    /// The baseline's and the canary's provider, as JSON.
    pub baseline: String,
    pub canary: String,
    pub direction: Direction,
    pub nan_strategy: NanStrategy,
    /// Drop samples beyond 1.5 interquartile ranges of the quartiles
    /// (Tukey's fences), in each sample, before comparing.
    pub remove_outliers: bool,
    /// A critical metric that fails fails the whole canary.
    pub critical: bool,
    /// No data for this metric fails it (High) instead of leaving it out.
    pub must_have_data: bool,
    /// The mean ratio (canary / baseline) a High must reach, in percent
    /// (100: any); a Low must reach its inverse `allowed_decrease`.
    pub allowed_increase: u32,
    pub allowed_decrease: u32,
}

/// A canary analysis: its metrics, the groups' weights, the thresholds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CanaryJudge {
    pub metrics: Vec<CanaryMetric>,
    /// The groups' weights; a group not named weighs 1.
    pub groups: Vec<Group>,
    /// A score at or above this passes (default 95).
    pub pass: u32,
    /// At or above this (below `pass`) is marginal: inconclusive (default 75).
    pub marginal: u32,
    /// The Hodges-Lehmann interval's confidence, in percent (default 98).
    pub confidence: u32,
    /// Kayenta's tolerance, in percent (default 25): a shift counts once its
    /// interval clears this share of the estimate.
    pub tolerance: u32,
}

/// A scoring group's weight.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Group {
    pub name: String,
    pub weight: u32,
}

/// The Mann-Whitney U test of a canary against its baseline.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MannWhitney {
    /// U of the canary sample: pairs (canary, baseline) where the canary's
    /// value is larger, ties counting one half.
    pub u: f64,
    /// Two-sided, normal approximation with continuity and tie corrections
    /// (SciPy's `mannwhitneyu(method="asymptotic")`, R's `wilcox.test`).
    pub p_value: f64,
    /// The Hodges-Lehmann estimate of the shift (canary minus baseline).
    pub estimate: f64,
    /// Its confidence interval.
    pub lower: f64,
    pub upper: f64,
}

/// Sorts numbers (one instance of the sort for the whole judge: each
/// instance costs the wasm module kilobytes).
fn sort(values: &mut [f64]) {
    values.sort_unstable_by(f64::total_cmp);
}

/// Average ranks (1-based) of `values`, ties sharing their mean rank; and
/// the sum of t^3 - t over groups of t tied values.
fn ranks(values: &[f64]) -> (Vec<f64>, f64) {
    let mut sorted = values.to_vec();
    sort(&mut sorted);
    let ranks = values
        .iter()
        .map(|v| {
            let below = sorted.partition_point(|x| x.total_cmp(v).is_lt());
            let through = sorted.partition_point(|x| x.total_cmp(v).is_le());
            (below as f64 + through as f64 + 1.0) / 2.0
        })
        .collect();
    let mut ties = 0.0;
    let mut i = 0;
    while let Some(v) = sorted.get(i) {
        let run = sorted.get(i..).unwrap_or_default().iter().take_while(|x| x.total_cmp(v).is_eq()).count().max(1);
        let t = run as f64;
        ties += t * t * t - t;
        i = i.saturating_add(run);
    }
    (ranks, ties)
}

/// R's `wdiff`: the corrected z statistic of `canary - shift` against the
/// baseline, minus `zq`. `None`: every value tied.
fn wdiff(canary: &[f64], baseline: &[f64], shift: f64, zq: f64) -> Option<f64> {
    let (n1, n2) = (canary.len() as f64, baseline.len() as f64);
    let all: Vec<f64> = canary.iter().map(|x| x - shift).chain(baseline.iter().copied()).collect();
    let (r, ties) = ranks(&all);
    let dz = r.iter().take(canary.len()).sum::<f64>() - n1 * (n1 + 1.0) / 2.0 - n1 * n2 / 2.0;
    let correction = 0.5 * dz.signum() * f64::from(u8::from(dz != 0.0));
    let n = n1 + n2;
    let sigma = ((n1 * n2 / 12.0) * ((n + 1.0) - ties / (n * (n - 1.0)))).sqrt();
    (sigma > 0.0).then(|| (dz - correction) / sigma - zq)
}

/// R's `uniroot` stand-in: bisection of a decreasing `f` on `[lo, hi]`.
fn root(mut lo: f64, mut hi: f64, f: impl Fn(f64) -> Option<f64>) -> f64 {
    let (f_lo, f_hi) = (f(lo).unwrap_or(0.0), f(hi).unwrap_or(0.0));
    if f_lo <= 0.0 {
        return lo;
    }
    if f_hi >= 0.0 {
        return hi;
    }
    let tol = 1e-9 * (hi - lo).abs().max(1e-300);
    for _ in 0..200 {
        let mid = lo + (hi - lo) / 2.0;
        if f(mid).unwrap_or(0.0) > 0.0 {
            lo = mid;
        } else {
            hi = mid;
        }
        if hi - lo <= tol {
            break;
        }
    }
    lo + (hi - lo) / 2.0
}

/// The test of `canary` against `baseline` at `confidence` (0..1); `None`
/// when a sample is empty or every value is tied.
pub fn mann_whitney(canary: &[f64], baseline: &[f64], confidence: f64) -> Option<MannWhitney> {
    if canary.is_empty() || baseline.is_empty() {
        return None;
    }
    let (n1, n2) = (canary.len() as f64, baseline.len() as f64);
    let all: Vec<f64> = canary.iter().chain(baseline).copied().collect();
    let (r, ties) = ranks(&all);
    let u = r.iter().take(canary.len()).sum::<f64>() - n1 * (n1 + 1.0) / 2.0;
    let n = n1 + n2;
    let sigma = ((n1 * n2 / 12.0) * ((n + 1.0) - ties / (n * (n - 1.0)))).sqrt();
    if sigma <= 0.0 {
        return None;
    }
    let z = ((u - n1 * n2 / 2.0).abs() - 0.5).max(0.0) / sigma;
    let p_value = (2.0 * normal_sf(z)).min(1.0);
    let min = |s: &[f64]| s.iter().copied().fold(f64::INFINITY, f64::min);
    let max = |s: &[f64]| s.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let (lo, hi) = (min(canary) - max(baseline), max(canary) - min(baseline));
    let zq = normal_quantile(1.0 - (1.0 - confidence) / 2.0);
    let at = |zq: f64| root(lo, hi, |d| wdiff(canary, baseline, d, zq));
    Some(MannWhitney { u, p_value, estimate: at(0.0), lower: at(zq), upper: at(-zq) })
}

/// The upper tail of the standard normal distribution, by the
/// complementary error function (Numerical Recipes' `erfcc`, relative
/// error below 1.2e-7).
pub fn normal_sf(z: f64) -> f64 {
    let x = z / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.5 * x.abs());
    let poly = -x * x - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07 + t * (-1.135_203_98 + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let erfc = t * poly.exp();
    if x >= 0.0 {
        erfc / 2.0
    } else {
        1.0 - erfc / 2.0
    }
}

/// The standard normal quantile (Acklam's approximation, refined by one
/// Halley step against [`normal_sf`]).
pub fn normal_quantile(p: f64) -> f64 {
    const A: [f64; 6] = [
        -39.696_830_286_653_76,
        220.946_098_424_520_5,
        -275.928_510_446_969_7,
        138.357_751_867_269,
        -30.664_798_066_147_16,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] =
        [-54.476_098_798_224_06, 161.585_836_858_040_9, -155.698_979_859_886_6, 66.801_311_887_719_72, -13.280_681_552_885_72];
    const C: [f64; 6] = [
        -0.007_784_894_002_430_293,
        -0.322_396_458_041_136_5,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [0.007_784_695_709_041_462, 0.322_467_129_070_039_8, 2.445_134_137_142_996, 3.754_408_661_907_416];
    if p <= 0.0 || p >= 1.0 || p.is_nan() {
        return if p >= 1.0 { f64::INFINITY } else { f64::NEG_INFINITY };
    }
    let poly = |c: &[f64], x: f64| c.iter().fold(0.0, |acc, k| acc * x + k);
    let tail = |q: f64| poly(&C, q) / (poly(&D, q) * q + 1.0);
    let x = if p < 0.024_25 {
        tail((-2.0 * p.ln()).sqrt())
    } else if p > 1.0 - 0.024_25 {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    } else {
        let q = p - 0.5;
        let r = q * q;
        poly(&A, r) * q / (poly(&B, r) * r + 1.0)
    };
    let e = (1.0 - normal_sf(x)) - p;
    let u = e * (2.0 * std::f64::consts::PI).sqrt() * (x * x / 2.0).exp();
    x - u / (1.0 + x * u / 2.0)
}

/// One metric's verdict, with what it was decided on.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MetricVerdict {
    pub name: String,
    pub group: String,
    pub classification: Classification,
    pub critical: bool,
    /// Mean ratio, canary over baseline (1 with no data).
    pub ratio: f64,
    pub p_value: Option<f64>,
    pub estimate: Option<f64>,
    pub lower: Option<f64>,
    pub upper: Option<f64>,
    pub reason: String,
}

fn cleaned(values: &[f64], metric: &CanaryMetric) -> Vec<f64> {
    let mut out: Vec<f64> = values
        .iter()
        .filter_map(|&v| match (v.is_nan(), metric.nan_strategy) {
            (false, _) => Some(v),
            (true, NanStrategy::Replace) => Some(0.0),
            (true, NanStrategy::Remove) => None,
        })
        .collect();
    if metric.remove_outliers && out.len() >= 4 {
        let mut sorted = out.clone();
        sort(&mut sorted);
        let quantile = |q: f64| {
            let at = q * sorted.len().saturating_sub(1) as f64;
            let (i, f) = (at.floor() as usize, at.fract());
            let a = sorted.get(i).copied().unwrap_or(0.0);
            a + f * (sorted.get(i.saturating_add(1)).copied().unwrap_or(a) - a)
        };
        let (q1, q3) = (quantile(0.25), quantile(0.75));
        let fence = 1.5 * (q3 - q1);
        out.retain(|&v| v >= q1 - fence && v <= q3 + fence);
    }
    out
}

fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len() as f64
}

/// Classifies one metric from its samples, as Kayenta's MannWhitney
/// classifier does.
pub fn classify(metric: &CanaryMetric, baseline: &[f64], canary: &[f64], judge: &CanaryJudge) -> MetricVerdict {
    let (baseline, canary) = (cleaned(baseline, metric), cleaned(canary, metric));
    let mut verdict = MetricVerdict {
        name: metric.name.clone(),
        group: if metric.group.is_empty() { metric.name.clone() } else { metric.group.clone() },
        classification: Classification::Pass,
        critical: metric.critical,
        ratio: 1.0,
        p_value: None,
        estimate: None,
        lower: None,
        upper: None,
        reason: String::new(),
    };
    if baseline.is_empty() || canary.is_empty() {
        let which = if canary.is_empty() { "canary" } else { "baseline" };
        verdict.classification = if metric.must_have_data { Classification::High } else { Classification::NoData };
        verdict.reason = format!("no data for the {which}{}", if metric.must_have_data { " (mustHaveData: a failure)" } else { "" });
        return verdict;
    }
    let (mb, mc) = (mean(&baseline), mean(&canary));
    verdict.ratio = if mb == 0.0 {
        if mc == 0.0 {
            1.0
        } else {
            f64::INFINITY * mc.signum()
        }
    } else {
        mc / mb
    };
    let mut sorted = (baseline.clone(), canary.clone());
    sort(&mut sorted.0);
    sort(&mut sorted.1);
    if sorted.0 == sorted.1 {
        verdict.reason = "the canary's and the baseline's samples are identical".into();
        return verdict;
    }
    let Some(mw) = mann_whitney(&canary, &baseline, f64::from(judge.confidence) / 100.0) else {
        verdict.reason = "every sample holds the same value".into();
        return verdict;
    };
    verdict.p_value = Some(mw.p_value);
    verdict.estimate = Some(mw.estimate);
    verdict.lower = Some(mw.lower);
    verdict.upper = Some(mw.upper);
    let bound = f64::from(judge.tolerance) / 100.0 * mw.estimate.abs();
    let increase = f64::from(metric.allowed_increase) / 100.0;
    let decrease = 100.0 / f64::from(metric.allowed_decrease.max(1));
    let up = matches!(metric.direction, Direction::Increase | Direction::Either);
    let down = matches!(metric.direction, Direction::Decrease | Direction::Either);
    verdict.classification = if up && mw.lower > bound && verdict.ratio >= increase {
        Classification::High
    } else if down && mw.upper < -bound && verdict.ratio <= 1.0 / decrease {
        Classification::Low
    } else {
        Classification::Pass
    };
    let p = if mw.p_value < 1e-4 { "< 0.0001".to_owned() } else { short(mw.p_value) };
    verdict.reason = format!("shift {} (interval {} to {}), p {p}", short(mw.estimate), short(mw.lower), short(mw.upper));
    verdict
}

/// A number in few characters, without the standard float formatting
/// (four significant digits).
fn short(x: f64) -> String {
    if !x.is_finite() {
        return if x.is_nan() {
            "NaN".into()
        } else if x > 0.0 {
            "inf".into()
        } else {
            "-inf".into()
        };
    }
    let magnitude = if x == 0.0 { 0 } else { x.abs().log10().floor() as i32 };
    let decimals = 3i32.saturating_sub(magnitude).clamp(0, 12);
    let scaled = (x.abs() * 10f64.powi(decimals)).round() as u64;
    let text = scaled.to_string();
    let sign = if x < 0.0 && scaled > 0 { "-" } else { "" };
    let d = decimals as usize;
    if d == 0 {
        return format!("{sign}{text}");
    }
    let padded = format!("{text:0>width$}", width = d.saturating_add(1));
    let (int, frac) = padded.split_at(padded.len().saturating_sub(d));
    let frac = frac.trim_end_matches('0');
    if frac.is_empty() {
        format!("{sign}{int}")
    } else {
        format!("{sign}{int}.{frac}")
    }
}

/// The canary's score and verdict.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Scorecard {
    /// 0 to 100; `None` when too little had data to score.
    pub score: Option<f64>,
    /// Pass, Marginal, Fail or NoData.
    pub verdict: &'static str,
    pub reason: String,
    pub metrics: Vec<MetricVerdict>,
}

/// Scores classified metrics as Kayenta's weighted-sum scorer does: each
/// group's share of passing metrics (no-data metrics left out), weighted;
/// a failing critical metric fails the canary, as does a score below
/// `marginal`; half or more of the metrics without data is no verdict.
pub fn score(judge: &CanaryJudge, metrics: Vec<MetricVerdict>) -> Scorecard {
    let total = metrics.len();
    let no_data = metrics.iter().filter(|m| m.classification == Classification::NoData).count();
    if total == 0 || no_data.saturating_mul(2) >= total {
        return Scorecard { score: None, verdict: "NoData", reason: format!("{no_data} of {total} metrics have no data"), metrics };
    }
    let mut groups: Vec<(String, f64, usize, usize)> = Vec::new();
    for m in metrics.iter().filter(|m| m.classification != Classification::NoData) {
        let weight = judge.groups.iter().find(|g| g.name == m.group).map_or(1.0, |g| f64::from(g.weight));
        let pass = usize::from(m.classification == Classification::Pass);
        match groups.iter_mut().find(|(g, ..)| *g == m.group) {
            Some(g) => {
                g.2 = g.2.saturating_add(pass);
                g.3 = g.3.saturating_add(1);
            }
            None => groups.push((m.group.clone(), weight, pass, 1)),
        }
    }
    let weights: f64 = groups.iter().map(|g| g.1).sum();
    let value = if weights > 0.0 { groups.iter().map(|g| g.1 * 100.0 * g.2 as f64 / g.3 as f64).sum::<f64>() / weights } else { 100.0 };
    let failed: Vec<&str> = metrics
        .iter()
        .filter(|m| matches!(m.classification, Classification::High | Classification::Low))
        .map(|m| m.name.as_str())
        .collect();
    let critical = metrics.iter().find(|m| m.critical && matches!(m.classification, Classification::High | Classification::Low));
    let (verdict, reason) = if let Some(m) = critical {
        ("Fail", format!("critical metric {} is {:?}", m.name, m.classification))
    } else if value >= f64::from(judge.pass) {
        ("Pass", format!("score {} at or above {}", short(value), judge.pass))
    } else if value >= f64::from(judge.marginal) {
        ("Marginal", format!("score {} below {} (marginal); failing: {}", short(value), judge.pass, failed.join(", ")))
    } else {
        ("Fail", format!("score {} below {}; failing: {}", short(value), judge.marginal, failed.join(", ")))
    };
    Scorecard { score: Some(value), verdict, reason, metrics }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_numbers() {
        for (x, s) in [(0.0, "0"), (1234.5, "1235"), (0.012345, "0.01235"), (-2.5, "-2.5"), (100.0, "100")] {
            assert_eq!(short(x), s);
        }
    }

    #[test]
    fn quantiles_invert_the_tail() {
        for p in [0.001, 0.01, 0.025, 0.5, 0.9, 0.99] {
            assert!((1.0 - normal_sf(normal_quantile(p)) - p).abs() < 1e-9, "{p}");
        }
        assert!((normal_quantile(0.99) - 2.326_347_874).abs() < 1e-6);
    }
}
