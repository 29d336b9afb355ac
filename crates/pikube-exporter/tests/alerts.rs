//! The alert rules under deploy/monitoring/alerts, checked and unit-tested by the real
//! promtool: each rule parses, each fires on its condition after its `for`, not one
//! evaluation before it, and not on look-alikes, and none is untested.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;

fn alerts_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../deploy/monitoring/alerts")
}

/// The promtool of the Prometheus the monitoring add-on runs (`$PIKUBE_PROMTOOL`, set by
/// scripts/test), so the rules are judged by the release that evaluates them; else the one
/// on PATH (Debian's prometheus package).
fn promtool(args: &[&str]) -> (bool, String) {
    let program = std::env::var_os("PIKUBE_PROMTOOL").unwrap_or_else(|| "promtool".into());
    let out = Command::new(&program)
        .args(args)
        .current_dir(alerts_dir())
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "run {} ($PIKUBE_PROMTOOL, or promtool from Debian's prometheus package, both \
                 installed by scripts/test): {e}",
                program.to_string_lossy()
            )
        });
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

fn yaml(name: &str) -> yaml_serde::Value {
    yaml_serde::from_str(&std::fs::read_to_string(alerts_dir().join(name)).unwrap()).unwrap()
}

#[test]
fn every_rule_passes_promtool_and_its_unit_tests() {
    let (ok, out) = promtool(&["check", "rules", "pikube.rules.yaml"]);
    assert!(ok, "{out}");
    let (ok, out) = promtool(&["test", "rules", "pikube.rules.test.yaml"]);
    assert!(ok && out.contains("SUCCESS"), "{out}");
}

#[test]
fn no_alert_is_left_without_a_test_that_sees_it_fire() {
    let rules = yaml("pikube.rules.yaml");
    let alerts: BTreeSet<String> = rules["groups"]
        .as_sequence()
        .unwrap()
        .iter()
        .flat_map(|g| g["rules"].as_sequence().unwrap())
        .filter_map(|r| r["alert"].as_str().map(str::to_owned))
        .collect();
    assert!(alerts.len() >= 12, "{alerts:?}");
    let tests = yaml("pikube.rules.test.yaml");
    let fired: BTreeSet<String> = tests["tests"]
        .as_sequence()
        .unwrap()
        .iter()
        .flat_map(|t| t["alert_rule_test"].as_sequence().unwrap())
        .filter(|check| {
            check["exp_alerts"]
                .as_sequence()
                .is_some_and(|a| !a.is_empty())
        })
        .filter_map(|check| check["alertname"].as_str().map(str::to_owned))
        .collect();
    let untested: Vec<&String> = alerts.difference(&fired).collect();
    assert!(
        untested.is_empty(),
        "alerts no test sees firing: {untested:?}"
    );
}

/// `1m`, `10m`, `1h`, `90s` (what the rule and test files use) in seconds.
fn seconds(duration: &str) -> u64 {
    let (number, unit) = duration.split_at(duration.len() - 1);
    let number: u64 = number
        .parse()
        .unwrap_or_else(|_| panic!("{duration:?} is not a duration like 10m"));
    number
        * match unit {
            "s" => 1,
            "m" => 60,
            "h" => 3600,
            _ => panic!("{duration:?}: unit s, m or h expected"),
        }
}

/// The labels of a promtool input series, `name{a="b",c="d"}`, without the name.
fn series_labels(series: &str) -> BTreeSet<(String, String)> {
    let Some((_, rest)) = series.split_once('{') else {
        return BTreeSet::new();
    };
    rest.trim_end_matches('}')
        .split("\",")
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair
                .split_once('=')
                .unwrap_or_else(|| panic!("{series}: {pair:?} is not key=\"value\""));
            (key.trim().to_owned(), value.trim_matches('"').to_owned())
        })
        .collect()
}

#[test]
fn every_alert_with_a_for_is_seen_not_firing_just_before_it_fires_and_not_on_a_healthy_series() {
    let rules = yaml("pikube.rules.yaml");
    let tests = yaml("pikube.rules.test.yaml");
    let step = seconds(tests["evaluation_interval"].as_str().unwrap_or("1m"));
    let mut missing = Vec::new();
    for rule in rules["groups"]
        .as_sequence()
        .unwrap()
        .iter()
        .flat_map(|g| g["rules"].as_sequence().unwrap())
    {
        let Some(alert) = rule["alert"].as_str() else {
            continue;
        };
        let wait = rule["for"].as_str().map_or(0, seconds);
        let groups: Vec<&yaml_serde::Value> = tests["tests"]
            .as_sequence()
            .unwrap()
            .iter()
            .filter(|t| {
                t["alert_rule_test"]
                    .as_sequence()
                    .unwrap()
                    .iter()
                    .any(|c| c["alertname"].as_str() == Some(alert))
            })
            .collect();
        // Not yet at t, firing at t + one evaluation: the `for` is pinned from both sides.
        // t + step must be at least the `for`, or the quiet check proves nothing about it.
        let pinned = groups.iter().any(|group| {
            let checks: Vec<(u64, bool)> = group["alert_rule_test"]
                .as_sequence()
                .unwrap()
                .iter()
                .filter(|c| c["alertname"].as_str() == Some(alert))
                .map(|c| {
                    let fires = c["exp_alerts"].as_sequence().is_some_and(|a| !a.is_empty());
                    (seconds(c["eval_time"].as_str().unwrap()), fires)
                })
                .collect();
            checks.iter().any(|&(quiet_at, fires)| {
                !fires && quiet_at + step >= wait && checks.contains(&(quiet_at + step, true))
            })
        });
        if wait > 0 && !pinned {
            missing.push(format!(
                "{alert}: no exp_alerts: [] one evaluation before it fires (for: {wait}s)"
            ));
        }
        // Beside what fires, a series of the same metric whose labels no expected alert
        // carries: the healthy one, which promtool then proves stays quiet.
        let quiet_series = groups.iter().any(|group| {
            let expected: Vec<BTreeSet<(String, String)>> = group["alert_rule_test"]
                .as_sequence()
                .unwrap()
                .iter()
                .filter(|c| c["alertname"].as_str() == Some(alert))
                .flat_map(|c| c["exp_alerts"].as_sequence().cloned().unwrap_or_default())
                .map(|a| {
                    a["exp_labels"]
                        .as_mapping()
                        .map(|m| {
                            m.iter()
                                .map(|(k, v)| {
                                    (
                                        k.as_str().unwrap_or_default().to_owned(),
                                        v.as_str().unwrap_or_default().to_owned(),
                                    )
                                })
                                .collect()
                        })
                        .unwrap_or_default()
                })
                .collect();
            group["input_series"]
                .as_sequence()
                .unwrap()
                .iter()
                .filter_map(|s| s["series"].as_str())
                .map(series_labels)
                .any(|labels| !expected.iter().any(|alert| labels.is_subset(alert)))
        });
        if !quiet_series {
            missing.push(format!(
                "{alert}: no healthy series beside the one that fires"
            ));
        }
    }
    assert!(missing.is_empty(), "{missing:#?}");
}
