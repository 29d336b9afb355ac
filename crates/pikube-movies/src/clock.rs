//! Time as the databases store it: milliseconds since the Unix epoch in a BIGINT, the one
//! representation PostgreSQL and SQLite compare the same way.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_millis() as i64
}

pub fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

/// An RFC 3339 timestamp (`2026-12-24T19:30:00Z`, any offset) as milliseconds.
pub fn parse_rfc3339(text: &str) -> Option<i64> {
    let time =
        time::OffsetDateTime::parse(text.trim(), &time::format_description::well_known::Rfc3339)
            .ok()?;
    i64::try_from(time.unix_timestamp_nanos() / 1_000_000).ok()
}

/// Milliseconds as an RFC 3339 timestamp in UTC.
pub fn format_rfc3339(millis: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(millis) * 1_000_000)
        .ok()
        .and_then(|time| {
            time.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

/// The UTC day `YYYY-MM-DD` as a half-open range of milliseconds.
pub fn utc_day(text: &str) -> Option<(i64, i64)> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    let date = time::Date::parse(text.trim(), format).ok()?;
    let start = date.midnight().assume_utc().unix_timestamp() * 1000;
    Some((start, start + 86_400_000))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_round_trip_in_utc() {
        let millis = parse_rfc3339("2026-12-24T20:30:00+01:00").unwrap();
        assert_eq!(format_rfc3339(millis), "2026-12-24T19:30:00Z");
        assert_eq!(parse_rfc3339("24.12.2026"), None);
        let (start, end) = utc_day("2026-12-24").unwrap();
        assert!(start < millis && millis < end);
        assert_eq!(utc_day("2026-13-01"), None);
    }
}
