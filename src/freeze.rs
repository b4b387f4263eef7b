//! Freeze windows and stopping the line: when no new step of a rollout may
//! start.
//!
//! A namespace and each of its entities may have recurring windows (days
//! of the week, a time of day, a time zone) and one-off freezes (from one
//! time until another); a namespace may also have its line stopped. While
//! any of them holds, a step moves no target to the version rolling out
//! (they answer `held_frozen`), a plan step does not start, and the
//! rollout's first batch waits: judging, rollbacks and the watch window go
//! on, as under a pause. Whether one holds is decided at each step's `now`
//! (the engine's clock), so a simulation in virtual time shows it.

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::model::Timestamp;

/// The most windows and one-off freezes one namespace or entity may have,
/// together.
pub const MAX_FREEZES: usize = 64;
/// The longest name of a window, a freeze, a time zone or a reason to stop
/// the line, in bytes of UTF-8.
pub const MAX_FREEZE_TEXT: usize = 200;

const MINUTES_A_DAY: u16 = 24 * 60;
const DAY_NAMES: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

/// A recurring freeze: on each of its `days`, from `start` to `end` (minutes
/// of the local day in `zone`). A window whose end is not after its start
/// crosses midnight: it starts on its days and ends on the day after.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FreezeWindow {
    pub name: String,
    /// Bit 0 Monday to bit 6 Sunday.
    pub days: u8,
    /// Minutes since local midnight, 0 to 1439.
    pub start: u16,
    /// Minutes since local midnight, 1 to 1440 (1440: the day's end).
    pub end: u16,
    /// An IANA time zone (`Europe/Berlin`), `UTC`, or a fixed offset
    /// (`+05:30`, `-08:00`).
    pub zone: String,
}

/// A one-off freeze, from `from` until `until` (ms since the Unix epoch).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Freeze {
    pub name: String,
    pub from: Timestamp,
    pub until: Timestamp,
}

/// The freezes of a namespace or an entity.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Freezes {
    pub windows: Vec<FreezeWindow>,
    pub freezes: Vec<Freeze>,
}

/// A namespace's line, stopped: nothing new rolls out in it until it is
/// started again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineStop {
    pub reason: String,
    pub since: Timestamp,
    /// Who stopped it, when the engine's actor was set.
    pub by: Option<String>,
}

/// Answers the offset from UTC, in minutes, of a time zone at a time; `None`
/// for a zone it does not know. The engine asks it only for zones that are
/// neither `UTC` nor a fixed offset.
pub type ZoneOffsets = dyn Fn(&str, Timestamp) -> Option<i32>;

impl Freezes {
    pub fn is_empty(&self) -> bool {
        self.windows.is_empty() && self.freezes.is_empty()
    }

    /// Checks every window and freeze; `zones` must know every zone named.
    pub(crate) fn validate(&self, zones: Option<&ZoneOffsets>, now: Timestamp) -> Result<(), Error> {
        self.check()?;
        for w in &self.windows {
            if offset(zones, &w.zone, now).is_none() {
                let reason = format!("unknown time zone \"{}\": an IANA name (Europe/Berlin), UTC, or an offset (+05:30)", w.zone);
                return Err(invalid(&format!("freeze window \"{}\"", w.name), reason));
            }
        }
        Ok(())
    }

    /// Checks everything but whether the zones are known (a snapshot may
    /// come from a runtime that knows other zones: a step there holds).
    pub(crate) fn check(&self) -> Result<(), Error> {
        let count = self.windows.len().saturating_add(self.freezes.len());
        if count > MAX_FREEZES {
            return Err(invalid("freezes", format!("{count} windows and freezes; at most {MAX_FREEZES}")));
        }
        let mut names: Vec<&str> = Vec::with_capacity(count);
        for w in &self.windows {
            check_text("a window's name", &w.name)?;
            let what = || format!("freeze window \"{}\"", w.name);
            if w.days == 0 || w.days > 0x7f {
                return Err(invalid(&what(), "days must name at least one day of the week (mon to sun)".to_owned()));
            }
            if w.start >= MINUTES_A_DAY || w.end == 0 || w.end > MINUTES_A_DAY || w.start == w.end {
                let reason = "start must be a time from 00:00 to 23:59 and end one from 00:01 to 24:00, not the same";
                return Err(invalid(&what(), reason.to_owned()));
            }
            check_text("a window's time zone", &w.zone)?;
            names.push(&w.name);
        }
        for f in &self.freezes {
            check_text("a freeze's name", &f.name)?;
            if f.until <= f.from {
                return Err(invalid(&format!("freeze \"{}\"", f.name), "until must be after from".to_owned()));
            }
            names.push(&f.name);
        }
        names.sort_unstable();
        if let Some(pair) = names.windows(2).find(|p| p.first() == p.get(1)) {
            let name = pair.first().copied().unwrap_or_default();
            return Err(invalid("freezes", format!("two are named \"{name}\"; each window and freeze needs its own name")));
        }
        Ok(())
    }

    /// Why a step at `now` may start nothing new, if one of these holds.
    pub(crate) fn holding(&self, zones: Option<&ZoneOffsets>, now: Timestamp) -> Option<String> {
        for f in &self.freezes {
            if f.from <= now && now < f.until {
                return Some(format!("freeze \"{}\" until {}", f.name, iso_minute(f.until)));
            }
        }
        for w in &self.windows {
            // A zone that stopped resolving (a restored engine on another
            // runtime) holds: freezing is the safe side.
            let Some(minutes) = offset(zones, &w.zone, now) else {
                return Some(format!("window \"{}\": its time zone \"{}\" is unknown here", w.name, w.zone));
            };
            let local = now.saturating_add(i64::from(minutes).saturating_mul(60_000));
            let day = local.div_euclid(86_400_000);
            let minute = u16::try_from(local.rem_euclid(86_400_000) / 60_000).unwrap_or(0);
            // 1970-01-01 was a Thursday (bit 3).
            let weekday = u32::try_from(day.saturating_add(3).rem_euclid(7)).unwrap_or(0);
            let on = |d: u32| w.days & (1u8 << (d % 7)) != 0;
            let held = if w.start < w.end {
                on(weekday) && w.start <= minute && minute < w.end
            } else {
                (on(weekday) && minute >= w.start) || (on(weekday.saturating_add(6)) && minute < w.end)
            };
            if held {
                return Some(format!("window \"{}\" ({})", w.name, describe_window(w)));
            }
        }
        None
    }
}

/// Why nothing new may start in a step of an entity of `namespace` at
/// `now`: its stopped line, else one of its namespace's freezes, else one
/// of its own.
pub(crate) fn why_frozen(
    namespace: &str,
    (shared, stopped): (&Freezes, Option<&LineStop>),
    own: &Freezes,
    zones: Option<&ZoneOffsets>,
    now: Timestamp,
) -> Option<String> {
    if let Some(stop) = stopped {
        return Some(match &stop.by {
            Some(by) => format!("the line of {namespace} stopped by {by} ({})", stop.reason),
            None => format!("the line of {namespace} stopped ({})", stop.reason),
        });
    }
    shared.holding(zones, now).map(|why| format!("{namespace}'s {why}")).or_else(|| own.holding(zones, now))
}

/// `Sat, Sun 22:00-06:00 Europe/Berlin`.
pub(crate) fn describe_window(w: &FreezeWindow) -> String {
    let days: Vec<&str> = DAY_NAMES.iter().enumerate().filter(|(i, _)| w.days & (1u8 << i) != 0).map(|(_, d)| *d).collect();
    let hm = |m: u16| format!("{:02}:{:02}", m / 60, m % 60);
    format!("{} {}-{} {}", days.join(", "), hm(w.start), hm(w.end), w.zone)
}

fn invalid(what: &str, reason: String) -> Error {
    Error::InvalidArgument { what: what.to_owned(), reason }
}

pub(crate) fn check_text(what: &str, text: &str) -> Result<(), Error> {
    if text.is_empty() || text.len() > MAX_FREEZE_TEXT || text.chars().any(char::is_control) {
        let reason = format!("it must be a non-empty string of at most {MAX_FREEZE_TEXT} bytes without control characters");
        return Err(invalid(what, reason));
    }
    Ok(())
}

/// The zone's offset at `at`: `UTC` and fixed offsets here, any other
/// through `zones`.
fn offset(zones: Option<&ZoneOffsets>, zone: &str, at: Timestamp) -> Option<i32> {
    if matches!(zone, "UTC" | "Etc/UTC" | "GMT" | "Z") {
        return Some(0);
    }
    if let Some(fixed) = fixed_offset(zone) {
        return Some(fixed);
    }
    zones.and_then(|z| z(zone, at)).filter(|m| m.unsigned_abs() <= 18 * 60)
}

/// `+05:30` or `-08:00`.
#[allow(clippy::arithmetic_side_effects)] // two digits each: at most 18 * 60 + 59
fn fixed_offset(zone: &str) -> Option<i32> {
    let (sign, rest) = match zone.as_bytes().first()? {
        b'+' => (1, zone.get(1..)?),
        b'-' => (-1, zone.get(1..)?),
        _ => return None,
    };
    let (h, m) = rest.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (i32, i32) = (h.parse().ok()?, m.parse().ok()?);
    (h <= 18 && m < 60).then_some(sign * (h * 60 + m))
}

/// A time as `2026-12-04T09:30Z` (UTC, to the minute).
pub(crate) fn iso_minute(ms: Timestamp) -> String {
    let minutes = ms.div_euclid(60_000);
    let (days, minute) = (minutes.div_euclid(1440), minutes.rem_euclid(1440));
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}Z", minute / 60, minute % 60)
}

/// The proleptic Gregorian date of a day since 1970-01-01 (Howard
/// Hinnant's `civil_from_days`).
#[allow(clippy::arithmetic_side_effects)] // within an era: each term is below 146,097 * 5
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days.saturating_add(719_468);
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era.saturating_mul(400) + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60_000;
    const HOUR: i64 = 60 * MIN;
    /// Friday 2026-12-04 00:00 UTC.
    const FRIDAY: i64 = 1_796_342_400_000;

    fn window(days: u8, start: u16, end: u16, zone: &str) -> Freezes {
        Freezes { windows: vec![FreezeWindow { name: "w".into(), days, start, end, zone: zone.into() }], freezes: vec![] }
    }

    #[test]
    fn dates_and_weekdays() {
        assert_eq!(iso_minute(FRIDAY + 9 * HOUR + 30 * MIN), "2026-12-04T09:30Z");
        assert_eq!(iso_minute(0), "1970-01-01T00:00Z");
        assert_eq!(iso_minute(-MIN), "1969-12-31T23:59Z");
        assert_eq!(iso_minute(951_782_400_000), "2000-02-29T00:00Z");
        // Friday is bit 4.
        let friday = window(1 << 4, 0, 1440, "UTC");
        assert!(friday.holding(None, FRIDAY + 12 * HOUR).is_some());
        assert!(friday.holding(None, FRIDAY + 24 * HOUR).is_none());
        assert!(friday.holding(None, FRIDAY - MIN).is_none());
    }

    #[test]
    fn a_window_across_midnight_ends_the_day_after() {
        // Fridays 22:00 to 06:00.
        let w = window(1 << 4, 22 * 60, 6 * 60, "UTC");
        assert!(w.holding(None, FRIDAY + 21 * HOUR).is_none());
        assert!(w.holding(None, FRIDAY + 22 * HOUR).is_some());
        assert!(w.holding(None, FRIDAY + 29 * HOUR).is_some()); // Saturday 05:00
        assert!(w.holding(None, FRIDAY + 30 * HOUR).is_none()); // Saturday 06:00
        assert!(w.holding(None, FRIDAY + 2 * HOUR).is_none()); // Thursday's night is not Friday's
                                                               // Sundays' night ends on Monday (the week wraps).
        let sunday = window(1 << 6, 23 * 60, 60, "UTC");
        assert!(sunday.holding(None, FRIDAY + 3 * 24 * HOUR + 30 * MIN).is_some());
        // Monday 00:30
    }

    #[test]
    fn fixed_offsets_and_zones() {
        // 09:00-17:00 at +05:30 is 03:30-11:30 UTC.
        let w = window(0x7f, 9 * 60, 17 * 60, "+05:30");
        assert!(w.holding(None, FRIDAY + 3 * HOUR + 29 * MIN).is_none());
        assert!(w.holding(None, FRIDAY + 3 * HOUR + 30 * MIN).is_some());
        let named = window(0x7f, 9 * 60, 17 * 60, "Asia/Kolkata");
        let zones = |zone: &str, _at: Timestamp| (zone == "Asia/Kolkata").then_some(330);
        assert!(named.holding(Some(&zones), FRIDAY + 4 * HOUR).is_some());
        assert!(named.validate(Some(&zones), FRIDAY).is_ok());
        assert_eq!(named.validate(None, FRIDAY).unwrap_err().code(), crate::ErrorCode::InvalidArgument);
        // A zone unknown at a step holds (the safe side).
        assert!(named.holding(None, FRIDAY).unwrap().contains("unknown here"));
        assert!(fixed_offset("+5:30").is_none() && fixed_offset("+19:00").is_none() && fixed_offset("-08:00") == Some(-480));
    }

    #[test]
    fn one_off_freezes_and_bad_settings() {
        let f = Freezes { windows: vec![], freezes: vec![Freeze { name: "sale".into(), from: FRIDAY, until: FRIDAY + HOUR }] };
        assert!(f.holding(None, FRIDAY - 1).is_none());
        assert_eq!(f.holding(None, FRIDAY).unwrap(), "freeze \"sale\" until 2026-12-04T01:00Z");
        assert!(f.holding(None, FRIDAY + HOUR).is_none());
        for bad in [window(0, 0, 60, "UTC"), window(1, 60, 60, "UTC"), window(1, 1440, 60, "UTC"), window(1, 0, 1441, "UTC")] {
            assert!(bad.validate(None, FRIDAY).is_err(), "{bad:?}");
        }
        let backwards = Freezes { windows: vec![], freezes: vec![Freeze { name: "x".into(), from: 2, until: 1 }] };
        assert!(backwards.validate(None, 0).is_err());
        let mut twice = window(1, 0, 60, "UTC");
        twice.freezes.push(Freeze { name: "w".into(), from: 1, until: 2 });
        assert!(twice.validate(None, 0).unwrap_err().to_string().contains("two are named"));
    }
}
