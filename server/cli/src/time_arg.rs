//! Time arguments: `--since` / `--until` (a date, an RFC 3339 time, or an age such as
//! "7d" or "12h") and durations such as `serve --idle-timeout 30m`.

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};

const UNITS: &str = "use s, m, h, d or w";

pub fn parse_time(s: &str) -> Result<DateTime<Utc>, String> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Ok(d
            .and_hms_opt(0, 0, 0)
            .map(|t| t.and_utc())
            .unwrap_or_default());
    }
    if !s.starts_with(|c: char| c.is_ascii_digit()) {
        return Err(format!(
            "{s:?} is not a date (2025-06-01), a time (RFC 3339) or an age (7d, 12h, 30m)"
        ));
    }
    let age = parse_age(s)?;
    // chrono panics on out-of-range arithmetic: an age reaching before its earliest
    // date is refused here instead.
    Utc::now()
        .checked_sub_signed(age)
        .ok_or_else(|| format!("{s:?} reaches too far back"))
}

/// A duration: seconds (`90`), or a number with a unit (`90s`, `30m`, `2h`, `1d`).
pub fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    let s = s.trim();
    if let Ok(secs) = s.parse::<u64>() {
        return Ok(std::time::Duration::from_secs(secs));
    }
    parse_age(s)?
        .to_std()
        .map_err(|_| format!("{s:?} is not a duration ({UNITS})"))
}

/// `<number><unit>`, checked: a number too large for the unit is an error, not a panic.
fn parse_age(s: &str) -> Result<TimeDelta, String> {
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: i64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a number with a unit ({UNITS})"))?;
    let age = match unit {
        "s" => TimeDelta::try_seconds(n),
        "m" => TimeDelta::try_minutes(n),
        "h" => TimeDelta::try_hours(n),
        "d" => TimeDelta::try_days(n),
        "w" => TimeDelta::try_weeks(n),
        _ => return Err(format!("unknown unit {unit:?} in {s:?}; {UNITS}")),
    };
    age.ok_or_else(|| format!("{s:?} is too long"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_dates_times_and_ages() {
        assert_eq!(
            parse_time("2025-06-01").map(|t| t.to_rfc3339()),
            Ok("2025-06-01T00:00:00+00:00".to_owned())
        );
        assert!(parse_time("2025-06-01T10:00:00Z").is_ok());
        let week = parse_time("7d").expect("age");
        assert!((Utc::now() - week - TimeDelta::days(7)).num_seconds().abs() < 5);
        assert!(parse_time("yesterday").is_err());
        assert!(parse_time("5y").is_err());
    }

    #[test]
    fn huge_ages_are_errors_not_panics() {
        // Within TimeDelta's range but before chrono's earliest date.
        let e = parse_time("100000000d").unwrap_err();
        assert!(e.contains("too far back"), "{e}");
        // Beyond TimeDelta's range.
        let e = parse_time("9223372036854775807w").unwrap_err();
        assert!(e.contains("too long"), "{e}");
        // Beyond i64.
        assert!(parse_time("99999999999999999999d").is_err());
    }

    #[test]
    fn durations_in_seconds_or_with_a_unit() {
        use std::time::Duration;
        assert_eq!(parse_duration("30m"), Ok(Duration::from_secs(1800)));
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("45s"), Ok(Duration::from_secs(45)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("-5m").is_err());
        assert!(parse_duration("5y").is_err());
        assert!(parse_duration("9223372036854775807w").is_err());
    }
}
