//! Go's `time.ParseDuration`, which kubectl uses for `--timeout` and friends: a
//! value such as `300s` or `1h2m0.5s` is accepted, anything else is refused with
//! Go's own words.

/// `Err` carries kubectl's message for `flag`.
pub fn check(flag: &str, value: &str) -> Result<(), String> {
    parse(value)
        .map_err(|why| format!("error: invalid argument \"{value}\" for \"{flag}\" flag: {why}"))
}

const UNITS: [&str; 8] = ["ns", "us", "µs", "μs", "ms", "s", "m", "h"];

fn parse(value: &str) -> Result<(), String> {
    let invalid = || format!("time: invalid duration \"{value}\"");
    let mut rest = value.strip_prefix(['-', '+']).unwrap_or(value);
    if rest == "0" {
        return Ok(());
    }
    if rest.is_empty() {
        return Err(invalid());
    }
    while !rest.is_empty() {
        let end = rest
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(rest.len());
        let number = &rest[..end];
        if number.is_empty() || number == "." || number.matches('.').count() > 1 {
            return Err(invalid());
        }
        rest = &rest[end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = &rest[..unit_end];
        if unit.is_empty() {
            return Err(format!("time: missing unit in duration \"{value}\""));
        }
        if !UNITS.contains(&unit) {
            return Err(format!(
                "time: unknown unit \"{unit}\" in duration \"{value}\""
            ));
        }
        rest = &rest[unit_end..];
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        for ok in ["0", "300s", "5m", "1h2m0.5s", "10ms", "1.5h", "-2s"] {
            assert_eq!(parse(ok), Ok(()), "{ok}");
        }
        for bad in ["", "s", "abc", "1..5s", "5 m"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            parse("5"),
            Err("time: missing unit in duration \"5\"".into())
        );
        assert_eq!(
            check("--timeout", "5d").unwrap_err(),
            "error: invalid argument \"5d\" for \"--timeout\" flag: time: unknown unit \"d\" in duration \"5d\""
        );
    }
}
