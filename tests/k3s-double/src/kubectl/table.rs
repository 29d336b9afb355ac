//! kubectl's column layout (tabwriter: min width 6, padding 3) and its
//! human-readable ages.

pub fn render(rows: &[Vec<String>]) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            let longest = rows
                .iter()
                .filter_map(|r| r.get(c))
                .map(|cell| cell.chars().count())
                .max()
                .unwrap_or(0);
            (longest + 3).max(6)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (c, cell) in row.iter().enumerate() {
            if c + 1 == row.len() {
                line.push_str(cell);
            } else {
                line.push_str(&format!("{cell:<width$}", width = widths[c]));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// kubectl's `HumanDuration` for the AGE column.
pub fn age(seconds: u64) -> String {
    let minutes = seconds / 60;
    let hours = seconds / 3600;
    let days = hours / 24;
    if seconds < 120 {
        format!("{seconds}s")
    } else if minutes < 10 {
        match seconds % 60 {
            0 => format!("{minutes}m"),
            s => format!("{minutes}m{s}s"),
        }
    } else if minutes < 180 {
        format!("{minutes}m")
    } else if hours < 8 {
        match minutes % 60 {
            0 => format!("{hours}h"),
            m => format!("{hours}h{m}m"),
        }
    } else if hours < 48 {
        format!("{hours}h")
    } else if hours < 24 * 8 {
        match hours % 24 {
            0 => format!("{days}d"),
            h => format!("{days}d{h}h"),
        }
    } else if hours < 24 * 365 * 2 {
        format!("{days}d")
    } else if hours < 24 * 365 * 8 {
        format!("{}y{}d", days / 365, days % 365)
    } else {
        format!("{}y", days / 365)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages() {
        assert_eq!(age(5), "5s");
        assert_eq!(age(119), "119s");
        assert_eq!(age(125), "2m5s");
        assert_eq!(age(600), "10m");
        assert_eq!(age(4 * 3600 + 60), "4h1m");
        assert_eq!(age(30 * 3600), "30h");
        assert_eq!(age(3 * 86400), "3d");
        assert_eq!(age(20 * 86400), "20d");
    }

    #[test]
    fn columns() {
        let rows = vec![
            vec!["NAME".to_string(), "STATUS".into(), "AGE".into()],
            vec!["pi1".to_string(), "Ready".into(), "5s".into()],
        ];
        assert_eq!(render(&rows), "NAME   STATUS   AGE\npi1    Ready    5s\n");
    }
}
