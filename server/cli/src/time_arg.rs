//! `--since` / `--until` values: a date, an RFC 3339 time, or an age ("7d", "12h").

use chrono::{DateTime, Duration, NaiveDate, Utc};

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
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: i64 = num.parse().map_err(|_| {
        format!("{s:?} is not a date (2025-06-01), a time (RFC 3339) or an age (7d, 12h, 30m)")
    })?;
    let age = match unit {
        "d" => Duration::days(n),
        "h" => Duration::hours(n),
        "m" => Duration::minutes(n),
        "w" => Duration::weeks(n),
        _ => return Err(format!("unknown unit {unit:?} in {s:?}; use d, h, m or w")),
    };
    Ok(Utc::now() - age)
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
        assert!((Utc::now() - week - Duration::days(7)).num_seconds().abs() < 5);
        assert!(parse_time("yesterday").is_err());
        assert!(parse_time("5y").is_err());
    }
}
