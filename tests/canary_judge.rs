//! The canary judge against references: U, p-values and the Hodges-Lehmann
//! interval against a textbook implementation (pair counting, the median
//! of the pairwise differences and their order statistics) and against
//! SciPy's `mannwhitneyu` on seeded random samples; Kayenta's documented
//! edge cases; and 200 seeded trials per case of what the judge is for (a
//! latency shift caught, an unchanged canary passed), with the rates
//! printed.

use std::process::Command;

use orchestrator_engine::canary::{classify, mann_whitney, score, Direction, NanStrategy};
use orchestrator_engine::{CanaryJudge, CanaryMetric, Classification};

/// xorshift64*: seeded samples, the same on every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
    }

    fn normal(&mut self) -> f64 {
        let (u, v) = (self.next().max(1e-12), self.next());
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }

    /// `n` latencies (ms): log-normal around `median`, spread 0.3; every
    /// fourth rounded to whole ms, so that samples hold ties.
    fn latencies(&mut self, n: usize, median: f64) -> Vec<f64> {
        (0..n).map(|i| (i, median * (0.3 * self.normal()).exp())).map(|(i, x)| if i % 4 == 0 { x.round() } else { x }).collect()
    }
}

fn judge() -> CanaryJudge {
    CanaryJudge { metrics: Vec::new(), groups: Vec::new(), pass: 95, marginal: 75, confidence: 98, tolerance: 25 }
}

fn metric(name: &str) -> CanaryMetric {
    CanaryMetric {
        name: name.into(),
        group: String::new(),
        baseline: "{}".into(),
        canary: "{}".into(),
        direction: Direction::Increase,
        nan_strategy: NanStrategy::Remove,
        remove_outliers: false,
        critical: false,
        must_have_data: false,
        allowed_increase: 100,
        allowed_decrease: 100,
    }
}

/// The textbook: U by counting pairs, the shift as the median of every
/// pairwise difference, its interval from their order statistics.
fn textbook(canary: &[f64], baseline: &[f64], confidence: f64) -> (f64, f64, f64, f64) {
    let mut u = 0.0;
    let mut diffs = Vec::new();
    for &c in canary {
        for &b in baseline {
            u += if c > b { 1.0 } else if c == b { 0.5 } else { 0.0 };
            diffs.push(c - b);
        }
    }
    diffs.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let m = diffs.len();
    let median = if m % 2 == 1 { diffs[m / 2] } else { (diffs[m / 2 - 1] + diffs[m / 2]) / 2.0 };
    let (n1, n2) = (canary.len() as f64, baseline.len() as f64);
    let z = orchestrator_engine::canary::normal_quantile(1.0 - (1.0 - confidence) / 2.0);
    let k = (n1 * n2 / 2.0 - z * (n1 * n2 * (n1 + n2 + 1.0) / 12.0).sqrt()).floor().max(0.0) as usize;
    (u, median, diffs[k], diffs[m - 1 - k])
}

#[test]
fn u_and_the_hodges_lehmann_interval_agree_with_the_textbook() {
    let mut rng = Rng(42);
    for trial in 0..50 {
        let (n1, n2) = (5 + trial % 40, 7 + (trial * 7) % 45);
        let baseline = rng.latencies(n2, 100.0);
        let canary = rng.latencies(n1, 100.0 + trial as f64);
        let mw = mann_whitney(&canary, &baseline, 0.98).unwrap();
        let (u, estimate, lower, upper) = textbook(&canary, &baseline, 0.98);
        assert_eq!(mw.u, u, "trial {trial}");
        // R's roots fall where the rank statistic crosses, between the
        // order statistics the textbook picks: within the spread of the
        // pairwise differences near them.
        let spread = (upper - lower).abs().max(1e-9);
        assert!((mw.estimate - estimate).abs() <= 0.05 * spread, "trial {trial}: estimate {} vs {estimate}", mw.estimate);
        assert!((mw.lower - lower).abs() <= 0.1 * spread, "trial {trial}: lower {} vs {lower}", mw.lower);
        assert!((mw.upper - upper).abs() <= 0.1 * spread, "trial {trial}: upper {} vs {upper}", mw.upper);
        assert!(mw.lower <= mw.estimate && mw.estimate <= mw.upper);
    }
}

#[test]
fn u_and_p_values_agree_with_scipy() {
    let mut rng = Rng(7);
    let cases: Vec<(Vec<f64>, Vec<f64>)> = (0..40)
        .map(|i| {
            let n1 = 3 + (i * 5) % 60;
            let n2 = 4 + (i * 11) % 70;
            (rng.latencies(n1, 100.0 * (1.0 + (i % 5) as f64 * 0.05)), rng.latencies(n2, 100.0))
        })
        .collect();
    let json = cases
        .iter()
        .map(|(c, b)| format!("[[{}],[{}]]", list(c), list(b)))
        .collect::<Vec<_>>()
        .join(",");
    let script = "import json,sys\nfrom scipy.stats import mannwhitneyu\nfor c,b in json.load(sys.stdin):\n    r=mannwhitneyu(c,b,alternative='two-sided',method='asymptotic',use_continuity=True)\n    print(repr(float(r.statistic)), repr(float(r.pvalue)))\n";
    let mut child = Command::new("/usr/bin/python3")
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python3 runs (npm test installs python3-scipy)");
    use std::io::Write;
    child.stdin.take().unwrap().write_all(format!("[{json}]").as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "SciPy did not answer (`npm test` installs python3-scipy): {stderr}");
    let lines = String::from_utf8(out.stdout).unwrap();
    for ((canary, baseline), line) in cases.iter().zip(lines.lines()) {
        let mut parts = line.split(' ').map(|x| x.parse::<f64>().unwrap());
        let (u, p) = (parts.next().unwrap(), parts.next().unwrap());
        let mw = mann_whitney(canary, baseline, 0.98).unwrap();
        assert_eq!(mw.u, u);
        assert!((mw.p_value - p).abs() <= 1e-6 * p.max(1e-3), "p {} vs SciPy {p}", mw.p_value);
    }
    assert_eq!(lines.lines().count(), cases.len());
}

fn list(values: &[f64]) -> String {
    values.iter().map(|v| format!("{v:?}")).collect::<Vec<_>>().join(",")
}

#[test]
fn kayentas_edge_cases() {
    let j = judge();
    let m = metric("latency");
    // Identical samples, one unique value, a zero mean, empty samples.
    assert_eq!(classify(&m, &[1.0, 2.0, 3.0], &[3.0, 2.0, 1.0], &j).classification, Classification::Pass);
    assert_eq!(classify(&m, &[5.0, 5.0], &[5.0, 5.0, 5.0], &j).classification, Classification::Pass);
    let zero = classify(&m, &[0.0; 20], &[0.0, 0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0, 12.0, 13.0, 14.0, 15.0, 16.0, 17.0, 18.0], &j);
    assert!(zero.ratio.is_infinite());
    assert_eq!(zero.classification, Classification::High);
    assert_eq!(classify(&m, &[], &[1.0], &j).classification, Classification::NoData);
    assert_eq!(classify(&m, &[1.0], &[f64::NAN], &j).classification, Classification::NoData, "NaN removed: no data");
    let required = CanaryMetric { must_have_data: true, ..metric("latency") };
    assert_eq!(classify(&required, &[1.0], &[], &j).classification, Classification::High);
    // A decrease is no failure of a metric judged on increases.
    let low: Vec<f64> = (0..30).map(|i| 50.0 + i as f64).collect();
    let high: Vec<f64> = (0..30).map(|i| 100.0 + i as f64).collect();
    assert_eq!(classify(&m, &high, &low, &j).classification, Classification::Pass);
    assert_eq!(classify(&CanaryMetric { direction: Direction::Either, ..metric("l") }, &high, &low, &j).classification, Classification::Low);
    // Critical metrics fail the canary whatever the score.
    let verdicts = vec![
        classify(&CanaryMetric { critical: true, ..metric("errors") }, &low, &high, &j),
        classify(&metric("a"), &low, &low, &j),
        classify(&metric("b"), &low, &low, &j),
        classify(&metric("c"), &low, &low, &j),
    ];
    let card = score(&j, verdicts);
    assert_eq!(card.verdict, "Fail");
    assert_eq!(card.score, Some(75.0));
    assert!(card.reason.contains("critical metric errors"), "{}", card.reason);
    // Half or more without data: no verdict.
    let verdicts = vec![classify(&metric("a"), &low, &low, &j), classify(&metric("b"), &[], &low, &j)];
    assert_eq!(score(&j, verdicts).verdict, "NoData");
    // Groups weigh in: a failing metric in a light group costs little.
    let group = |name: &str, weight| orchestrator_engine::canary::Group { name: name.into(), weight };
    let weighted = CanaryJudge { groups: vec![group("latency", 9), group("errors", 1)], ..judge() };
    let verdicts = vec![
        classify(&CanaryMetric { group: "latency".into(), ..metric("p50") }, &low, &low, &weighted),
        classify(&CanaryMetric { group: "errors".into(), ..metric("5xx") }, &low, &high, &weighted),
    ];
    let card = score(&weighted, verdicts);
    assert_eq!((card.score, card.verdict), (Some(90.0), "Marginal"));
}

/// 200 trials of one case: how often each classification came out.
fn trials(shift: f64, n: usize, seed: u64) -> [usize; 3] {
    let mut rng = Rng(seed);
    let (j, m) = (judge(), metric("p99"));
    let mut counts = [0; 3];
    for _ in 0..200 {
        let baseline = rng.latencies(n, 100.0);
        let canary = rng.latencies(n, 100.0 * (1.0 + shift));
        match classify(&m, &baseline, &canary, &j).classification {
            Classification::Pass => counts[0] += 1,
            Classification::High => counts[1] += 1,
            _ => counts[2] += 1,
        }
    }
    counts
}

#[test]
fn two_hundred_trials_catch_a_latency_shift_and_pass_an_unchanged_canary() {
    // Latencies log-normal with spread 0.3 (a p99 that wanders by a
    // third), 100 samples a side. The rates of the other sizes are printed
    // for docs/ANALYSIS.md.
    for (shift, n) in [(0.1, 100), (0.2, 60), (0.2, 100), (0.3, 60)] {
        let t = trials(shift, n, 9);
        println!("canary {}% slower, {n} samples a side: {} of 200 caught", (shift * 100.0) as u32, t[1]);
    }
    let unchanged = trials(0.0, 100, 1);
    let shifted = trials(0.25, 100, 2);
    println!("unchanged canary, 100 samples a side: {} of 200 failed (false positives)", unchanged[1]);
    println!("canary 25% slower, 100 samples a side: {} of 200 caught", shifted[1]);
    // A canary 25% slower is caught nearly always; an unchanged one almost
    // never fails (a 98% interval clearing a quarter of its estimate).
    assert!(shifted[1] >= 190, "{shifted:?}");
    assert!(unchanged[1] <= 6, "{unchanged:?}");
    assert_eq!(unchanged[2] + shifted[2], 0);
}
