//! A duration as people read it in a message: `45 s`, `10 min`, `2 h 30 min`, `3 d 4 h`.

use std::time::Duration;

/// `d` in its two largest units, whole.
pub fn human_duration(d: Duration) -> String {
    let secs = d.as_secs();
    let (days, hours, minutes, seconds) = (
        secs / 86_400,
        secs % 86_400 / 3600,
        secs % 3600 / 60,
        secs % 60,
    );
    match (days, hours, minutes, seconds) {
        (0, 0, 0, s) => format!("{s} s"),
        (0, 0, m, 0) => format!("{m} min"),
        (0, 0, m, s) => format!("{m} min {s} s"),
        (0, h, 0, _) => format!("{h} h"),
        (0, h, m, _) => format!("{h} h {m} min"),
        (d, 0, _, _) => format!("{d} d"),
        (d, h, _, _) => format!("{d} d {h} h"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_two_largest_units() {
        for (secs, text) in [
            (3, "3 s"),
            (90, "1 min 30 s"),
            (600, "10 min"),
            (7200, "2 h"),
            (5430, "1 h 30 min"),
            (86_400, "1 d"),
            (2 * 86_400 + 5 * 3600 + 7, "2 d 5 h"),
        ] {
            assert_eq!(human_duration(Duration::from_secs(secs)), text);
        }
    }
}
