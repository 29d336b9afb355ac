//! The alert rules under deploy/monitoring/alerts, checked and unit-tested by the real
//! promtool (Debian's prometheus package, installed by scripts/test): each rule parses,
//! each fires on its condition after its `for` and not on look-alikes, and none is untested.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;

fn alerts_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../deploy/monitoring/alerts")
}

fn promtool(args: &[&str]) -> (bool, String) {
    let out = Command::new("promtool")
        .args(args)
        .current_dir(alerts_dir())
        .output()
        .expect("promtool (Debian's prometheus package) is installed by scripts/test");
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
