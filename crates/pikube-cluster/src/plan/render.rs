use std::fmt::Write;

use similar::TextDiff;

use super::{Change, NodePlan};

/// The human plan: per node its changes, a unified diff for every file, its reboot.
pub fn render_plan_text(plans: &[NodePlan]) -> String {
    let mut out = String::new();
    for plan in plans {
        if plan.is_empty() {
            let _ = writeln!(out, "{}: no changes", plan.node);
            continue;
        }
        let _ = writeln!(out, "{}:", plan.node);
        for planned in &plan.changes {
            let _ = writeln!(out, "  ~ [{}] {}", planned.phase, planned.change.summary());
            if let Change::File(file) = &planned.change {
                let before = file.before.as_deref().unwrap_or("");
                let diff = TextDiff::from_lines(before, &file.after);
                let a = format!("a{}", file.path);
                let b = format!("b{}", file.path);
                let unified = diff
                    .unified_diff()
                    .context_radius(2)
                    .header(&a, &b)
                    .to_string();
                for line in unified.lines() {
                    let _ = writeln!(out, "      {line}");
                }
            }
        }
        for reason in &plan.reboot {
            let _ = writeln!(out, "  ↻ reboot: {reason}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::PlannedChange;

    #[test]
    fn renders_a_diff_per_file_and_the_reboot() {
        let plans = vec![
            NodePlan {
                node: "pi-1".into(),
                changes: vec![PlannedChange {
                    phase: "hostname",
                    change: Change::file(
                        "/etc/hostname",
                        Some("raspberrypi\n"),
                        "pi-1\n".into(),
                        0o644,
                    ),
                }],
                reboot: vec!["cmdline.txt changed".into()],
            },
            NodePlan {
                node: "pi-2".into(),
                changes: vec![],
                reboot: vec![],
            },
        ];
        let text = render_plan_text(&plans);
        assert!(text.contains("--- a/etc/hostname"), "{text}");
        assert!(text.contains("-raspberrypi"), "{text}");
        assert!(text.contains("+pi-1"), "{text}");
        assert!(text.contains("↻ reboot: cmdline.txt changed"), "{text}");
        assert!(text.contains("pi-2: no changes"), "{text}");
    }
}
