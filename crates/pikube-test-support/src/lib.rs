//! Helpers the integration tests of several crates share: a real Prometheus of a test's
//! own, the queries of a Grafana dashboard as Prometheus is asked them, the manifests
//! under `deploy/` read as the Kubernetes API would ([`manifests`]), the real programs
//! built under `tests/` ([`real_programs`]), and free ports and plain HTTP on loopback
//! ([`loopback`]).

#![warn(missing_docs)]

pub mod loopback;
pub mod manifests;
pub mod real_programs;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{json, Value};

/// How long Prometheus gets to show what a test did.
pub const PATIENCE: Duration = Duration::from_secs(90);

/// The Prometheus binary, or `None` after saying why the caller should skip (a failure
/// instead when PIKUBE_REQUIRE_PROMETHEUS=1, as scripts/test sets).
pub fn prometheus_or_skip() -> Option<PathBuf> {
    found_or_skip(
        prometheus_binary(),
        "prometheus is not installed (Debian package prometheus; scripts/test installs it)",
    )
}

/// A program of the monitoring tests (`found`), or `None` after saying why the caller
/// should skip (`missing`): a failure instead when PIKUBE_REQUIRE_PROMETHEUS=1, as
/// scripts/test sets, so CI never skips them.
pub fn found_or_skip(found: Option<PathBuf>, missing: &str) -> Option<PathBuf> {
    if found.is_none() {
        assert!(
            !std::env::var("PIKUBE_REQUIRE_PROMETHEUS").is_ok_and(|v| v == "1"),
            "{missing}, and PIKUBE_REQUIRE_PROMETHEUS=1"
        );
        eprintln!("SKIPPED: {missing}");
    }
    found
}

/// `prometheus` on PATH, else where Debian puts it.
pub fn prometheus_binary() -> Option<PathBuf> {
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join("prometheus"))
        .chain([PathBuf::from("/usr/bin/prometheus")])
        .find(|path| path.is_file())
}

/// A Prometheus process of this test's own (its own port, configuration and storage), killed
/// when dropped, whether the test passed or not.
pub struct Prometheus {
    child: Option<Child>,
    /// Where it answers (`http://127.0.0.1:<port>`).
    pub url: String,
    dir: tempfile::TempDir,
}

impl Prometheus {
    /// Starts `binary` with `config` (as prometheus.yml) and waits until it is ready; panics
    /// with its log when it does not start.
    pub async fn start(binary: &Path, config: &Value) -> Prometheus {
        let dir = tempfile::tempdir().unwrap();
        let config_file = dir.path().join("prometheus.yml");
        // JSON is YAML.
        std::fs::write(&config_file, serde_json::to_string_pretty(config).unwrap()).unwrap();
        let mut prometheus = Prometheus {
            child: None,
            url: String::new(),
            dir,
        };
        let client = reqwest::Client::new();
        for _attempt in 0..5 {
            // A free port now; if another process takes it first, Prometheus exits and the
            // next attempt picks another.
            let port = loopback::free_port();
            let log = std::fs::File::create(prometheus.dir.path().join("prometheus.log")).unwrap();
            let child = Command::new(binary)
                .arg(format!("--config.file={}", config_file.display()))
                .arg(format!(
                    "--storage.tsdb.path={}",
                    prometheus.dir.path().join("data").display()
                ))
                .arg(format!("--web.listen-address=127.0.0.1:{port}"))
                .arg("--storage.tsdb.retention.time=1h")
                .arg("--log.level=warn")
                .current_dir(prometheus.dir.path())
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .unwrap_or_else(|e| panic!("starting {}: {e}", binary.display()));
            prometheus.child = Some(child);
            prometheus.url = format!("http://127.0.0.1:{port}");
            let deadline = Instant::now() + Duration::from_secs(60);
            while Instant::now() < deadline {
                if let Some(status) = prometheus.child.as_mut().unwrap().try_wait().unwrap() {
                    eprintln!(
                        "Prometheus exited at start ({status}), trying another port:\n{}",
                        prometheus.log()
                    );
                    prometheus.child = None;
                    break;
                }
                if let Ok(response) = client
                    .get(format!("{}/-/ready", prometheus.url))
                    .send()
                    .await
                {
                    if response.status() == StatusCode::OK {
                        return prometheus;
                    }
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            assert!(
                prometheus.child.is_none(),
                "Prometheus did not become ready:\n{}",
                prometheus.log()
            )
        }
        panic!("Prometheus did not start:\n{}", prometheus.log());
    }

    /// What it has logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("prometheus.log")).unwrap_or_default()
    }

    /// An instant query: the result vector, or Prometheus' error.
    pub async fn query(&self, client: &reqwest::Client, expr: &str) -> Result<Vec<Value>, String> {
        let response = client
            .get(format!("{}/api/v1/query", self.url))
            .query(&[("query", expr)])
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let body: Value = response.json().await.map_err(|e| e.to_string())?;
        if body["status"] != "success" {
            return Err(format!("{}: {}", body["errorType"], body["error"]));
        }
        match body["data"]["result"].as_array() {
            Some(result) if body["data"]["resultType"] == "vector" => Ok(result.clone()),
            _ => Ok(vec![
                json!({ "metric": {}, "value": body["data"]["result"] }),
            ]),
        }
    }

    /// The values of `label`'s series that match `selector`.
    pub async fn label_values(
        &self,
        client: &reqwest::Client,
        label: &str,
        selector: &str,
    ) -> Vec<String> {
        let body: Value = client
            .get(format!("{}/api/v1/label/{label}/values", self.url))
            .query(&[("match[]", selector)])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(body["status"], "success", "{body}");
        serde_json::from_value(body["data"].clone()).unwrap()
    }

    /// Waits until `expr` gives one series per key of `expected` (by the value of `label`,
    /// or a single series when `label` is empty) with those values.
    pub async fn wait_for(
        &self,
        client: &reqwest::Client,
        expr: &str,
        label: &str,
        expected: &[(&str, f64)],
    ) {
        let deadline = Instant::now() + PATIENCE;
        let mut last = String::new();
        while Instant::now() < deadline {
            match self.query(client, expr).await {
                Ok(result) => {
                    let found: BTreeMap<String, f64> = result
                        .iter()
                        .map(|series| {
                            (
                                series["metric"][label].as_str().unwrap_or("").to_owned(),
                                sample_value(series),
                            )
                        })
                        .collect();
                    let wanted: BTreeMap<String, f64> =
                        expected.iter().map(|(k, v)| (k.to_string(), *v)).collect();
                    if found.len() == wanted.len()
                        && wanted
                            .iter()
                            .all(|(k, v)| found.get(k).is_some_and(|f| close(*f, *v)))
                    {
                        return;
                    }
                    last = format!("{found:?}");
                }
                Err(error) => panic!("{expr}: {error}"),
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        panic!(
            "{expr}: expected {expected:?}, Prometheus says {last}\n{}",
            self.log()
        );
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        // Only the process this test started, by its handle.
        if let Some(child) = self.child.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The value of an instant-vector sample: `[time, "value"]`.
pub fn sample_value(series: &Value) -> f64 {
    match series["value"][1].as_str().unwrap() {
        "NaN" => f64::NAN,
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        number => number.parse().unwrap(),
    }
}

/// `a` and `b` equal but for floating-point rounding.
pub fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

/// The samples of `metric` in Prometheus text exposition whose labels include `labels`.
/// (title or name, expression).
pub type Titled = (String, String);

/// Every target expression of the dashboard, with its panel's title; the dashboard's query
/// variables (name, query); and the value each variable has when the dashboard opens.
pub fn dashboard_queries(path: &Path) -> (Vec<Titled>, Vec<Titled>, BTreeMap<String, String>) {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    let dashboard: Value = serde_json::from_str(&text).unwrap();
    let mut panels: Vec<Value> = Vec::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        panels.push(panel.clone());
        panels.extend(panel["panels"].as_array().into_iter().flatten().cloned());
    }
    let mut exprs = Vec::new();
    for panel in &panels {
        for target in panel["targets"].as_array().into_iter().flatten() {
            exprs.push((
                panel["title"].as_str().unwrap().to_owned(),
                target["expr"].as_str().unwrap().to_owned(),
            ));
        }
    }
    // What each variable stands for when the dashboard opens: "All" for the multi-value
    // ones, the default otherwise; and Grafana's own $__rate_interval.
    let mut values = BTreeMap::from([("__rate_interval".to_owned(), "1m".to_owned())]);
    let mut variables = Vec::new();
    for variable in dashboard["templating"]["list"].as_array().unwrap() {
        let name = variable["name"].as_str().unwrap().to_owned();
        if variable["type"] == "query" {
            variables.push((
                name.clone(),
                variable["query"]["query"].as_str().unwrap().to_owned(),
            ));
        }
        let value = if variable["includeAll"] == true {
            variable["allValue"].as_str().unwrap().to_owned()
        } else {
            variable["current"]["value"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        };
        values.insert(name, value);
    }
    (exprs, variables, values)
}

/// `expr` with Grafana's variables replaced (`$name` and `${name}`), longest names first.
pub fn substitute(expr: &str, values: &BTreeMap<String, String>) -> String {
    let mut names: Vec<&String> = values.keys().collect();
    names.sort_by_key(|name| std::cmp::Reverse(name.len()));
    let mut result = expr.to_owned();
    for name in names {
        result = result
            .replace(&format!("${{{name}}}"), &values[name])
            .replace(&format!("${name}"), &values[name]);
    }
    assert!(!result.contains('$'), "an unknown variable in {expr}");
    result
}

/// What a dashboard's queries gave.
pub struct DashboardAnswers {
    /// The panel queries asked.
    pub asked: usize,
    /// One line per panel query that failed to parse or found no data.
    pub failures: Vec<String>,
    /// The values each query variable found.
    pub variables: BTreeMap<String, Vec<String>>,
}

impl DashboardAnswers {
    /// Fails the test, listing them, unless every panel query parsed and found data.
    pub fn assert_every_query_answered(&self) {
        assert!(
            self.failures.is_empty(),
            "{} of {} dashboard queries failed:\n{}",
            self.failures.len(),
            self.asked,
            self.failures.join("\n")
        );
    }
}

/// Every panel query and query variable of the dashboard at `path` asked of `prometheus`,
/// with the variables as the dashboard opens.
pub async fn ask_dashboard(
    prometheus: &Prometheus,
    client: &reqwest::Client,
    path: &Path,
) -> DashboardAnswers {
    let (exprs, variables, values) = dashboard_queries(path);
    let mut failures = Vec::new();
    for (title, expr) in &exprs {
        let query = substitute(expr, &values);
        match prometheus.query(client, &query).await {
            Ok(result) if !result.is_empty() => {}
            Ok(_) => failures.push(format!("{title}: no data for {query}")),
            Err(error) => failures.push(format!("{title}: {error} in {query}")),
        }
    }
    let mut found = BTreeMap::new();
    for (name, query) in &variables {
        let inner = query
            .strip_prefix("label_values(")
            .and_then(|q| q.strip_suffix(')'))
            .unwrap_or_else(|| panic!("{name}: {query}"));
        let (selector, label) = inner.rsplit_once(',').unwrap();
        let values = prometheus
            .label_values(client, label.trim(), &substitute(selector, &values))
            .await;
        found.insert(name.clone(), values);
    }
    DashboardAnswers {
        asked: exprs.len(),
        failures,
        variables: found,
    }
}
