//! Log lines in the shape k3s (logrus text format) prints them to the journal:
//! `time="2024-01-12T10:00:00Z" level=info msg="..."`.

use std::time::{SystemTime, UNIX_EPOCH};

fn line(level: &str, msg: &str) {
    let escaped = msg.replace('\\', "\\\\").replace('"', "\\\"");
    eprintln!("time=\"{}\" level={level} msg=\"{escaped}\"", rfc3339_now());
}

pub fn info(msg: &str) {
    line("info", msg);
}

pub fn warn(msg: &str) {
    line("warning", msg);
}

pub fn error(msg: &str) {
    line("error", msg);
}

/// Logs at level fatal and exits 1, as logrus' Fatal does.
pub fn fatal(msg: &str) -> ! {
    line("fatal", msg);
    std::process::exit(1);
}

pub fn rfc3339_now() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    rfc3339(secs)
}

/// UTC date-time of a Unix timestamp (civil-from-days).
pub fn rfc3339(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn dates() {
        assert_eq!(super::rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(super::rfc3339(1_709_251_199), "2024-02-29T23:59:59Z");
    }
}
