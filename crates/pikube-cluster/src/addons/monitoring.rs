//! The monitoring add-on's files: the stack (monitoring.yaml, prometheus.yml, the alert
//! rules and dashboards of deploy/monitoring and deploy/movies) with cluster.toml's
//! settings, and Grafana's admin password in a file of its own.

use yaml_serde::{Mapping, Value};

use super::{AddonFile, MARKER};
use crate::config::MonitoringAddon;
use crate::digest::Sha256;

/// The add-on's name in cluster.toml and in its files' names.
pub const MONITORING: &str = "monitoring";

const STACK: &str = include_str!("monitoring.yaml");
const PROMETHEUS_CONFIG: &str = include_str!("prometheus.yml");
const ALERT_RULES: &str = include_str!("../../../../deploy/monitoring/alerts/pikube.rules.yaml");
/// Grafana dashboards, by file name.
const DASHBOARDS: [(&str, &str); 4] = [
    (
        "cluster-overview.json",
        include_str!("../../../../deploy/monitoring/dashboards/cluster-overview.json"),
    ),
    (
        "pi-health.json",
        include_str!("../../../../deploy/monitoring/dashboards/pi-health.json"),
    ),
    (
        "mandelbrot.json",
        include_str!("../../../../deploy/monitoring/dashboards/mandelbrot.json"),
    ),
    (
        "movies.json",
        include_str!("../../../../deploy/movies/grafana/movies.json"),
    ),
];

const DATASOURCES: &str = "apiVersion: 1
datasources:
  - name: Prometheus
    type: prometheus
    uid: prometheus
    access: proxy
    url: http://prometheus.monitoring.svc:9090
    isDefault: true
";

const DASHBOARD_PROVIDERS: &str = "apiVersion: 1
providers:
  - name: pikube
    folder: pikube
    type: file
    disableDeletion: true
    options:
      path: /var/lib/grafana/dashboards/pikube
";

/// The add-on's two files: the stack, and the Secret with Grafana's admin password.
pub fn monitoring_files(settings: &MonitoringAddon, grafana_password: &str) -> Vec<AddonFile> {
    let prometheus = config_map(
        "prometheus-config",
        &[
            ("prometheus.yml", PROMETHEUS_CONFIG),
            ("pikube.rules.yaml", ALERT_RULES),
        ],
    );
    let grafana_datasources =
        config_map("grafana-datasources", &[("prometheus.yaml", DATASOURCES)]);
    let grafana_providers = config_map(
        "grafana-dashboard-providers",
        &[("pikube.yaml", DASHBOARD_PROVIDERS)],
    );
    let grafana_dashboards = config_map("grafana-dashboards", &DASHBOARDS);
    let stack = STACK
        .replace("{{retention}}", settings.retention.as_str())
        .replace(
            "{{retention_size}}",
            &retention_size(settings.storage.bytes()),
        )
        .replace("{{storage}}", settings.storage.as_str())
        .replace(
            "{{prometheus_config_sha256}}",
            Sha256::of(prometheus.as_bytes()).as_str(),
        )
        .replace(
            "{{grafana_config_sha256}}",
            Sha256::of(
                [
                    &grafana_datasources,
                    &grafana_providers,
                    &grafana_dashboards,
                ]
                .map(String::as_str)
                .concat()
                .as_bytes(),
            )
            .as_str(),
        );
    let stack = format!(
        "{MARKER}\n{stack}---\n{prometheus}---\n{grafana_datasources}---\n{grafana_providers}---\n{grafana_dashboards}"
    );
    vec![
        AddonFile {
            addon: MONITORING,
            name: format!("pikube-{MONITORING}.yaml"),
            content: stack,
            secret: None,
        },
        AddonFile {
            addon: MONITORING,
            name: format!("pikube-{MONITORING}-secret.yaml"),
            content: grafana_secret(grafana_password),
            secret: Some("Grafana's admin password"),
        },
    ]
}

/// Prometheus' size-based retention: 80 % of the volume, in its MB (MiB), so the volume
/// never fills before the time-based retention ends.
fn retention_size(volume_bytes: u64) -> String {
    format!("{}MB", (volume_bytes / 5 * 4) >> 20)
}

/// A ConfigMap in the monitoring namespace holding `files`, as YAML.
fn config_map(name: &str, files: &[(&str, &str)]) -> String {
    let mut data = Mapping::new();
    for (file, content) in files {
        data.insert(Value::from(*file), Value::from(*content));
    }
    let mut labels = Mapping::new();
    labels.insert("pikube.dev/addon".into(), MONITORING.into());
    let mut metadata = Mapping::new();
    metadata.insert("name".into(), name.into());
    metadata.insert("namespace".into(), MONITORING.into());
    metadata.insert("labels".into(), Value::Mapping(labels));
    let mut object = Mapping::new();
    object.insert("apiVersion".into(), "v1".into());
    object.insert("kind".into(), "ConfigMap".into());
    object.insert("metadata".into(), Value::Mapping(metadata));
    object.insert("data".into(), Value::Mapping(data));
    // A mapping of strings always serialises.
    yaml_serde::to_string(&object).unwrap_or_default()
}

/// Grafana's admin user and password. The password goes in as a JSON string, which YAML
/// reads as the same double-quoted string whatever characters it holds.
fn grafana_secret(password: &str) -> String {
    let quoted = serde_json::Value::from(password).to_string();
    format!(
        "{MARKER}\n\
         apiVersion: v1\n\
         kind: Secret\n\
         metadata:\n  name: grafana-admin\n  namespace: {MONITORING}\n  labels:\n    \
         pikube.dev/addon: {MONITORING}\n\
         type: Opaque\n\
         stringData:\n  admin-user: admin\n  admin-password: {quoted}\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(retention: &str, storage: &str) -> MonitoringAddon {
        MonitoringAddon {
            retention: retention.parse().unwrap(),
            storage: storage.parse().unwrap(),
            grafana_password_secret: None,
        }
    }

    /// Every YAML document of a file, parsed.
    fn documents(text: &str) -> Vec<yaml_serde::Value> {
        yaml_serde::Deserializer::from_str(text)
            .map(|doc| serde::Deserialize::deserialize(doc).unwrap())
            .filter(|doc: &yaml_serde::Value| !doc.is_null())
            .collect()
    }

    fn find<'a>(docs: &'a [Value], kind: &str, name: &str) -> &'a Value {
        docs.iter()
            .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
            .unwrap_or_else(|| panic!("no {kind} {name}"))
    }

    #[test]
    fn the_stack_carries_the_settings_and_every_file_it_embeds() {
        let files = monitoring_files(&settings("30d", "10Gi"), "pw");
        assert_eq!(files[0].name, "pikube-monitoring.yaml");
        assert!(files[0].content.starts_with(MARKER));
        assert_eq!(files[0].secret, None);
        let docs = documents(&files[0].content);

        let prometheus = find(&docs, "Deployment", "prometheus");
        let args = &prometheus["spec"]["template"]["spec"]["containers"][0]["args"];
        let args: Vec<&str> = args
            .as_sequence()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap())
            .collect();
        assert!(
            args.contains(&"--storage.tsdb.retention.time=30d"),
            "{args:?}"
        );
        // 80 % of 10 GiB.
        assert!(
            args.contains(&"--storage.tsdb.retention.size=8192MB"),
            "{args:?}"
        );
        let claim = find(&docs, "PersistentVolumeClaim", "prometheus-data");
        assert_eq!(claim["spec"]["resources"]["requests"]["storage"], "10Gi");

        let config = find(&docs, "ConfigMap", "prometheus-config");
        assert_eq!(config["data"]["prometheus.yml"], PROMETHEUS_CONFIG);
        assert_eq!(config["data"]["pikube.rules.yaml"], ALERT_RULES);
        let dashboards = find(&docs, "ConfigMap", "grafana-dashboards");
        for (name, json) in DASHBOARDS {
            assert_eq!(dashboards["data"][name], json, "{name}");
        }
        for doc in &docs {
            let namespace = &doc["metadata"]["namespace"];
            let cluster_wide = matches!(
                doc["kind"].as_str(),
                Some("Namespace" | "ClusterRole" | "ClusterRoleBinding")
            );
            assert!(
                cluster_wide || namespace == "monitoring",
                "{:?} outside the namespace",
                doc["metadata"]["name"]
            );
        }
        for placeholder in [
            "{{retention}}",
            "{{retention_size}}",
            "{{storage}}",
            "{{prometheus_config_sha256}}",
            "{{grafana_config_sha256}}",
        ] {
            assert!(
                !files[0].content.contains(placeholder),
                "{placeholder} is left"
            );
        }
    }

    #[test]
    fn the_pi_exporter_reads_the_host_as_root_without_any_power_to_change_it() {
        // docs/security.md ("The Pi exporter's reach") rests on each of these.
        let files = monitoring_files(&settings("15d", "8Gi"), "pw");
        let docs = documents(&files[0].content);
        let pod = &find(&docs, "DaemonSet", "pi-exporter")["spec"]["template"]["spec"];
        let container = &pod["containers"][0];
        let security = &container["securityContext"];
        assert_eq!(security["runAsUser"], 0);
        assert_eq!(security["allowPrivilegeEscalation"], false);
        assert_eq!(security["readOnlyRootFilesystem"], true);
        assert_eq!(security["capabilities"]["drop"][0], "ALL");
        assert!(security["capabilities"]["add"].is_null());
        assert!(security["privileged"].is_null());
        assert!(pod["hostNetwork"].is_null() && pod["hostPID"].is_null());
        let mounts = container["volumeMounts"].as_sequence().unwrap();
        assert_eq!(mounts.len(), 1);
        assert_eq!(mounts[0]["mountPath"], "/host");
        assert_eq!(mounts[0]["readOnly"], true);
        assert_eq!(pod["volumes"][0]["hostPath"]["path"], "/");
    }

    #[test]
    fn a_config_change_restarts_prometheus_through_its_pod_template() {
        let annotation = |files: &[AddonFile]| {
            let docs = documents(&files[0].content);
            find(&docs, "Deployment", "prometheus")["spec"]["template"]["metadata"]["annotations"]
                ["pikube.dev/config-sha256"]
                .clone()
        };
        let a = annotation(&monitoring_files(&settings("15d", "8Gi"), "pw"));
        let b = annotation(&monitoring_files(&settings("15d", "8Gi"), "other"));
        assert_eq!(a, b, "the password is not Prometheus' business");
        assert_eq!(a.as_str().unwrap().len(), 64);
    }

    #[test]
    fn the_password_is_only_in_the_secret_file_whatever_it_holds() {
        let password = "p\"a:s's\\w #{{}}\nZq9";
        let files = monitoring_files(&settings("15d", "8Gi"), password);
        assert!(!files[0].content.contains(password));
        assert_eq!(files[1].name, "pikube-monitoring-secret.yaml");
        assert!(files[1].secret.is_some());
        assert!(files[1].content.starts_with(MARKER));
        let docs = documents(&files[1].content);
        assert_eq!(docs.len(), 1);
        assert_eq!(docs[0]["stringData"]["admin-password"], password);
        assert_eq!(docs[0]["stringData"]["admin-user"], "admin");
        assert!(!format!("{:?}", files[1]).contains("Zq9"));
    }
}
