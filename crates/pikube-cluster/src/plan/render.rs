use std::fmt::Write;

use similar::TextDiff;

use super::redact::redact_secrets;
use super::{Change, NodePlan};

/// A new file longer than this (an add-on's manifest: thousands of lines) is shown by its
/// start, [`NEW_FILE_START`] lines of its diff; units and configuration files are shorter and
/// shown whole.
const LONG_NEW_FILE: usize = 120;
const NEW_FILE_START: usize = 24;

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
                // Secrets out: a config.yaml or unit pikube did not write may hold a token.
                let before = redact_secrets(file.before.as_deref().unwrap_or(""));
                let after = redact_secrets(&file.after);
                let diff = TextDiff::from_lines(&before, &after);
                let a = format!("a{}", file.path);
                let b = format!("b{}", file.path);
                let unified = diff
                    .unified_diff()
                    .context_radius(2)
                    .header(&a, &b)
                    .to_string();
                let lines: Vec<&str> = unified.lines().collect();
                // A changed file's diff holds only its hunks; a long new one is all lines.
                let shown = if file.before.is_none() && lines.len() > LONG_NEW_FILE {
                    NEW_FILE_START
                } else {
                    lines.len()
                };
                for line in &lines[..shown] {
                    let _ = writeln!(out, "      {line}");
                }
                if shown < lines.len() {
                    let _ = writeln!(
                        out,
                        "      … and {} more lines of the new file",
                        lines.len() - shown
                    );
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
    use crate::plan::{ChangeArea, PlannedChange};

    #[test]
    fn renders_a_diff_per_file_and_the_reboot() {
        let plans = vec![
            NodePlan {
                node: "pi-1".parse().unwrap(),
                changes: vec![PlannedChange {
                    phase: ChangeArea::Hostname,
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
                node: "pi-2".parse().unwrap(),
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

    #[test]
    fn a_token_in_a_config_yaml_pikube_did_not_write_is_shown_neither_in_text_nor_json() {
        let plans = vec![NodePlan {
            node: "pi-1".parse().unwrap(),
            changes: vec![PlannedChange {
                phase: ChangeArea::K3s,
                change: Change::file(
                    "/etc/rancher/k3s/config.yaml",
                    Some("token: K10abc::server:s3cret\nnode-name: pi-1\n"),
                    "node-name: pi-1\n".into(),
                    0o600,
                ),
            }],
            reboot: vec![],
        }];
        let text = render_plan_text(&plans);
        assert!(text.contains("-token: <redacted>"), "{text}");
        assert!(!text.contains("s3cret"), "{text}");
        let json = serde_json::to_string(&plans).unwrap();
        assert!(
            !json.contains("s3cret") && json.contains("<redacted>"),
            "{json}"
        );
    }

    #[test]
    fn a_long_new_file_is_shown_by_its_start_a_long_change_whole() {
        let manifest: String = (0..500).map(|i| format!("line {i}\n")).collect();
        let changed: String = manifest.replace("line 250\n", "line two hundred and fifty\n");
        let plans = vec![NodePlan {
            node: "s1".parse().unwrap(),
            changes: vec![
                PlannedChange {
                    phase: ChangeArea::Addons,
                    change: Change::file("/m/new.yaml", None, manifest.clone(), 0o600),
                },
                PlannedChange {
                    phase: ChangeArea::Addons,
                    change: Change::file("/m/old.yaml", Some(&manifest), changed, 0o600),
                },
            ],
            reboot: vec![],
        }];
        let text = render_plan_text(&plans);
        // Its three header lines and the first 21 of its 500.
        assert!(text.contains("      +line 20\n"), "{text}");
        assert!(!text.contains("+line 21\n"), "{text}");
        assert!(
            text.contains("      … and 479 more lines of the new file\n"),
            "{text}"
        );
        assert!(text.contains("-line 250") && text.contains("+line two hundred and fifty"));
        assert_eq!(
            text.matches("more lines of the new file").count(),
            1,
            "{text}"
        );
    }
}
