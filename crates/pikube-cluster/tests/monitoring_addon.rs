//! The monitoring add-on's Prometheus configuration as the real promtool of the Prometheus
//! it runs reads it (built from its Go module by tests/real-prometheus/build: Debian's has
//! no Kubernetes service discovery): the scrape jobs and the alert rules the add-on ships in
//! its ConfigMap, exactly as rendered.

use std::path::PathBuf;
use std::process::Command;

use pikube_cluster::addons::monitoring_files;
use pikube_cluster::config::MonitoringAddon;

/// `$PIKUBE_PROMTOOL` (scripts/test sets it), or `None` after saying why the test skips (a
/// failure instead when PIKUBE_REQUIRE_PROMETHEUS=1, as scripts/test sets).
fn upstream_promtool() -> Option<PathBuf> {
    pikube_test_support::found_or_skip(
        std::env::var_os("PIKUBE_PROMTOOL").map(PathBuf::from),
        "PIKUBE_PROMTOOL is not set (tests/real-prometheus/build makes one)",
    )
}

#[test]
fn the_rendered_prometheus_configuration_passes_promtool() {
    let Some(promtool) = upstream_promtool() else {
        return;
    };
    let settings = MonitoringAddon {
        retention: "15d".parse().unwrap(),
        storage: "8Gi".parse().unwrap(),
        grafana_password_secret: None,
    };
    let files = monitoring_files(&settings, "pw");
    let config_map = yaml_serde::Deserializer::from_str(&files[0].content)
        .map(|doc| serde::Deserialize::deserialize(doc).unwrap())
        .find(|doc: &yaml_serde::Value| {
            doc["kind"] == "ConfigMap" && doc["metadata"]["name"] == "prometheus-config"
        })
        .expect("the stack has Prometheus' ConfigMap");
    let data = &config_map["data"];

    // Mounted at /etc/prometheus in the pod, beside the service account's token and CA;
    // here all in a directory of the test's own, since promtool checks they exist.
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("pikube.rules.yaml");
    std::fs::write(&rules, data["pikube.rules.yaml"].as_str().unwrap()).unwrap();
    let account = dir.path().join("serviceaccount");
    std::fs::create_dir(&account).unwrap();
    std::fs::write(account.join("token"), "token").unwrap();
    std::fs::write(account.join("ca.crt"), "").unwrap();
    let original = data["prometheus.yml"].as_str().unwrap();
    assert!(original.contains("/var/run/secrets/kubernetes.io/serviceaccount/token"));
    let config = original
        .replace("/etc/prometheus/pikube.rules.yaml", rules.to_str().unwrap())
        .replace(
            "/var/run/secrets/kubernetes.io/serviceaccount",
            account.to_str().unwrap(),
        );
    let config_path = dir.path().join("prometheus.yml");
    std::fs::write(&config_path, config).unwrap();

    let out = Command::new(&promtool)
        .args(["check", "config"])
        .arg(&config_path)
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}", promtool.display()));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    assert!(text.contains("SUCCESS"), "{text}");
    // The rules were read too, not only found.
    assert!(text.contains("rules found"), "{text}");
    assert!(text.contains("SUCCESS: 1 rule files found"), "{text}");
}
