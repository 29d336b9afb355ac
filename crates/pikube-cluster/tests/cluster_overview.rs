//! The cluster overview dashboard (deploy/monitoring/dashboards/cluster-overview.json)
//! against a real Prometheus scraping a real node-exporter (Debian's
//! prometheus-node-exporter, installed by scripts/test) on this machine, labelled as the
//! monitoring add-on's node-exporter job labels a node: every query parses, every
//! node-exporter panel returns data, and the node variable finds the node. The
//! kube-state-metrics and cAdvisor panels have no series here (no pods run in the tests):
//! for them Prometheus must accept the query.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use pikube_test_support::{
    dashboard_queries, found_or_skip, prometheus_or_skip, substitute, Prometheus,
};
use serde_json::json;

/// Ends the exporter when the test ends, passed or not.
struct Exporter(Child);

impl Drop for Exporter {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn node_exporter_or_skip() -> Option<PathBuf> {
    let found = [
        "/usr/bin/prometheus-node-exporter",
        "/usr/local/bin/node_exporter",
    ]
    .into_iter()
    .map(PathBuf::from)
    .find(|path| path.is_file());
    found_or_skip(
        found,
        "prometheus-node-exporter is not installed (scripts/test installs it)",
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_query_parses_and_the_node_panels_answer_from_a_real_node_exporter() {
    let (Some(prometheus_binary), Some(exporter_binary)) =
        (prometheus_or_skip(), node_exporter_or_skip())
    else {
        return;
    };
    let port = pikube_test_support::loopback::free_port();
    let _exporter = Exporter(
        Command::new(&exporter_binary)
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{}: {e}", exporter_binary.display())),
    );
    let config = json!({
        "global": { "scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s" },
        "scrape_configs": [{
            "job_name": "node-exporter",
            "static_configs": [{ "targets": [format!("127.0.0.1:{port}")], "labels": { "instance": "pi-1" } }],
        }],
    });
    let prometheus = Prometheus::start(&prometheus_binary, &config).await;
    let client = reqwest::Client::new();
    // Rates need two samples.
    prometheus
        .wait_for(
            &client,
            "count_over_time(up{job=\"node-exporter\"}[1m]) >= bool 3",
            "instance",
            &[("pi-1", 1.0)],
        )
        .await;

    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../deploy/monitoring/dashboards/cluster-overview.json");
    let (exprs, variables, values) = dashboard_queries(&path);
    assert!(exprs.len() >= 15, "{} queries", exprs.len());
    let mut failures = Vec::new();
    let mut answered_from_node_exporter = 0;
    for (title, expr) in &exprs {
        let query = substitute(expr, &values);
        let from_node_exporter = expr.contains("node_") && !expr.contains("kube_");
        match prometheus.query(&client, &query).await {
            Ok(result) if from_node_exporter && result.is_empty() => {
                failures.push(format!("{title}: no data for {query}"))
            }
            Ok(result) => answered_from_node_exporter += usize::from(!result.is_empty()),
            Err(error) => failures.push(format!("{title}: {error} in {query}")),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} queries failed:\n{}",
        failures.len(),
        exprs.len(),
        failures.join("\n")
    );
    assert!(
        answered_from_node_exporter >= 8,
        "{answered_from_node_exporter}"
    );
    let (_, node_query) = variables.iter().find(|(name, _)| name == "node").unwrap();
    let selector = node_query
        .trim_start_matches("label_values(")
        .split(',')
        .next()
        .unwrap();
    let nodes = prometheus.label_values(&client, "instance", selector).await;
    assert_eq!(nodes, ["pi-1"]);
}
