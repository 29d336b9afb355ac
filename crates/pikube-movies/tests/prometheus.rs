//! A real Prometheus scraping the six Movies services the way deploy/movies runs them: one
//! process per service, calling each other over HTTP, requests sent where the Ingress sends
//! them, each target labelled as a Kubernetes scrape of the pod labels would label it. A
//! buyer's journey later, Prometheus must hold the expected counter values and histogram
//! quantiles, and every query of the Grafana dashboard must parse and return data.
//!
//! Needs the `prometheus` program (Debian package prometheus; scripts/test installs it). If
//! it is missing the test is skipped with a notice, unless PIKUBE_REQUIRE_PROMETHEUS=1.

use crate::support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use pikube_movies::{AdminAccount, MoviesConfig, Selection, ServiceName};
use reqwest::{Method, StatusCode};
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use pikube_test_support::{ask_dashboard, prometheus_or_skip, sample_value, Prometheus, PATIENCE};

/// How long an unpaid hold lasts here: long enough to pay for the first one on a busy
/// machine, short enough to watch the second one expire.
const HOLD: Duration = Duration::from_secs(5);

fn deploy_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../deploy/movies")
}

fn documents(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    yaml_serde::Deserializer::from_str(&text)
        .map(|document| Value::deserialize(document).unwrap_or_else(|e| panic!("{path:?}: {e}")))
        .filter(|value| !value.is_null())
        .collect()
}

/// Every object of the files kustomization.yaml lists, and its namespace.
fn manifests() -> (String, Vec<Value>) {
    let kustomization = documents(&deploy_dir().join("kustomization.yaml")).remove(0);
    let objects = kustomization["resources"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|file| documents(&deploy_dir().join(file.as_str().unwrap())))
        .collect();
    (
        kustomization["namespace"].as_str().unwrap().to_owned(),
        objects,
    )
}

// ---------------------------------------------------------------------------------------
// The services

/// The six services, each in a process of its own (a task here) on its own port.
struct Services {
    bases: BTreeMap<ServiceName, String>,
    stops: Vec<oneshot::Sender<()>>,
    tasks: Vec<JoinHandle<Result<(), pikube_movies::MoviesError>>>,
    /// The Ingress rules: path prefix, service.
    routes: Vec<(String, ServiceName)>,
    client: reqwest::Client,
    _dir: tempfile::TempDir,
}

impl Services {
    async fn start(objects: &[Value]) -> Services {
        let dir = tempfile::tempdir().unwrap();
        let mut listeners = BTreeMap::new();
        for service in ServiceName::ALL {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            listeners.insert(service, listener);
        }
        let bases: BTreeMap<ServiceName, String> = listeners
            .iter()
            .map(|(service, l)| (*service, format!("http://{}", l.local_addr().unwrap())))
            .collect();
        // One token key for all (as the Secret gives them), SQLite files, quick holds.
        let mut config = MoviesConfig::embedded(dir.path());
        config.admin =
            Some(AdminAccount::new(support::ADMIN_EMAIL, support::ADMIN_PASSWORD).unwrap());
        config.hold_ttl = HOLD;
        config.sweep_interval = Duration::from_secs(1);
        config.drain_grace = Duration::ZERO;
        config.peer_urls = bases.clone();
        let mut services = Services {
            bases,
            stops: Vec::new(),
            tasks: Vec::new(),
            routes: ingress_routes(objects),
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .unwrap(),
            _dir: dir,
        };
        for (service, listener) in listeners {
            let (stop, stopped) = oneshot::channel::<()>();
            let config = config.clone();
            services.stops.push(stop);
            services.tasks.push(tokio::spawn(async move {
                pikube_movies::serve(listener, &Selection::one(service), config, async {
                    let _ = stopped.await;
                })
                .await
            }));
        }
        for base in services.bases.values() {
            wait_ready(&services.client, base, &services.tasks).await;
        }
        services
    }

    /// Where the Ingress sends `path`: the longest matching prefix.
    fn url(&self, path: &str) -> String {
        let service = self
            .routes
            .iter()
            .filter(|(prefix, _)| {
                path == prefix
                    || path
                        .strip_prefix(prefix.as_str())
                        .is_some_and(|rest| rest.starts_with('/'))
            })
            .max_by_key(|(prefix, _)| prefix.len())
            .unwrap_or_else(|| panic!("the Ingress routes no {path}"))
            .1;
        format!("{}{path}", self.bases[&service])
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Value,
        headers: &[(&str, &str)],
    ) -> (StatusCode, Value) {
        let mut request = self.client.request(method, self.url(path)).json(&body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn post(&self, path: &str, token: Option<&str>, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, token, body, &[]).await
    }

    async fn sign_in(&self, email: &str, password: &str) -> String {
        let (status, body) = self
            .post(
                "/api/auth/token",
                None,
                json!({ "email": email, "password": password }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["access_token"].as_str().unwrap().to_owned()
    }

    async fn metrics(&self, service: ServiceName) -> String {
        self.client
            .get(format!("{}/metrics", self.bases[&service]))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }
}

impl Drop for Services {
    fn drop(&mut self) {
        for stop in self.stops.drain(..) {
            let _ = stop.send(());
        }
        for task in &self.tasks {
            task.abort();
        }
    }
}

async fn wait_ready(
    client: &reqwest::Client,
    base: &str,
    tasks: &[JoinHandle<Result<(), pikube_movies::MoviesError>>],
) {
    for _ in 0..400 {
        if let Ok(response) = client.get(format!("{base}/readyz")).send().await {
            if response.status() == StatusCode::OK {
                return;
            }
        }
        assert!(
            !tasks.iter().any(tokio::task::JoinHandle::is_finished),
            "a service stopped while starting"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("not ready at {base}");
}

fn ingress_routes(objects: &[Value]) -> Vec<(String, ServiceName)> {
    objects
        .iter()
        .filter(|o| o["kind"] == "Ingress")
        .flat_map(|ingress| ingress["spec"]["rules"].as_array().unwrap().clone())
        .flat_map(|rule| rule["http"]["paths"].as_array().unwrap().clone())
        .map(|path| {
            let name = path["backend"]["service"]["name"].as_str().unwrap();
            let service = name.strip_prefix("movies-").unwrap().parse().unwrap();
            (path["path"].as_str().unwrap().to_owned(), service)
        })
        .collect()
}

/// The labels a Kubernetes scrape gives a pod of `service`: its pod labels, made
/// Prometheus-safe as `labelmap: __meta_kubernetes_pod_label_(.+)` does, and the namespace.
fn target_labels(objects: &[Value], namespace: &str, service: ServiceName) -> (Value, String) {
    let deployment = objects
        .iter()
        .find(|o| o["kind"] == "Deployment" && o["metadata"]["name"] == format!("movies-{service}"))
        .unwrap_or_else(|| panic!("no Deployment for {service}"));
    let template = &deployment["spec"]["template"]["metadata"];
    let mut labels = serde_json::Map::new();
    for (name, value) in template["labels"].as_object().unwrap() {
        labels.insert(
            name.replace(|c: char| !c.is_ascii_alphanumeric(), "_"),
            value.clone(),
        );
    }
    labels.insert("namespace".into(), namespace.into());
    let path = template["annotations"]["prometheus.io/path"]
        .as_str()
        .unwrap()
        .to_owned();
    (Value::Object(labels), path)
}

// ---------------------------------------------------------------------------------------
// Prometheus

fn samples(
    text: &str,
    metric: &str,
    labels: &[(&str, &str)],
) -> Vec<(BTreeMap<String, String>, f64)> {
    let mut found = Vec::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix(metric) else {
            continue;
        };
        let Some(rest) = rest.strip_prefix('{') else {
            continue;
        };
        let mut series = BTreeMap::new();
        let mut rest = rest;
        loop {
            let (name, after) = rest.split_once("=\"").unwrap();
            let close = after.find('"').unwrap();
            series.insert(name.to_owned(), after[..close].to_owned());
            rest = &after[close + 1..];
            match rest.strip_prefix(',') {
                Some(next) => rest = next,
                None => break,
            }
        }
        let value: f64 = rest.trim_start_matches('}').trim().parse().unwrap();
        if labels
            .iter()
            .all(|(k, v)| series.get(*k).map(String::as_str) == Some(*v))
        {
            found.push((series, value));
        }
    }
    found
}

/// Prometheus' `histogram_quantile` over cumulative buckets (`le`, count), summed by `le`:
/// linear interpolation inside the bucket the rank falls in.
fn histogram_quantile(q: f64, buckets: &[(BTreeMap<String, String>, f64)]) -> f64 {
    let mut by_le: BTreeMap<String, f64> = BTreeMap::new();
    for (labels, count) in buckets {
        *by_le.entry(labels["le"].clone()).or_default() += count;
    }
    let mut sorted: Vec<(f64, f64)> = by_le
        .into_iter()
        .map(|(le, count)| {
            let le = if le == "+Inf" {
                f64::INFINITY
            } else {
                le.parse().unwrap()
            };
            (le, count)
        })
        .collect();
    sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
    let total = sorted.last().unwrap().1;
    let rank = q * total;
    let index = sorted.iter().position(|(_, count)| *count >= rank).unwrap();
    if sorted[index].0.is_infinite() {
        return sorted[sorted.len() - 2].0;
    }
    let (start, below) = if index == 0 {
        (0.0, 0.0)
    } else {
        (sorted[index - 1].0, sorted[index - 1].1)
    };
    let (end, count) = sorted[index];
    start + (end - start) * (rank - below) / (count - below)
}

// ---------------------------------------------------------------------------------------
// Grafana

/// A name (a panel's title, a variable's name) and a query.
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn prometheus_scrapes_the_services_and_answers_every_dashboard_query() {
    let Some(binary) = prometheus_or_skip() else {
        return;
    };
    let (namespace, objects) = manifests();
    let services = Services::start(&objects).await;
    let client = reqwest::Client::new();

    // Scraped every second, each target labelled as its pod would be.
    let mut static_configs = Vec::new();
    let mut metrics_path = String::new();
    for service in ServiceName::ALL {
        let (labels, path) = target_labels(&objects, &namespace, service);
        metrics_path = path;
        let address = services.bases[&service]
            .trim_start_matches("http://")
            .to_owned();
        static_configs.push(json!({ "targets": [address], "labels": labels }));
    }
    let config = json!({
        "global": { "scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s" },
        "scrape_configs": [{
            "job_name": "movies",
            "metrics_path": metrics_path,
            "static_configs": static_configs,
        }],
    });
    let prometheus = Prometheus::start(&binary, &config).await;
    let component = |service: ServiceName| -> (String, f64) { (service.to_string(), 1.0) };
    let up: Vec<(String, f64)> = ServiceName::ALL.into_iter().map(component).collect();
    let up: Vec<(&str, f64)> = up.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    prometheus
        .wait_for(
            &client,
            "up{job=\"movies\"}",
            "app_kubernetes_io_component",
            &up,
        )
        .await;

    // A buyer's journey, through the Ingress's routes, while Prometheus watches.
    let admin = services
        .sign_in(support::ADMIN_EMAIL, support::ADMIN_PASSWORD)
        .await;
    let (status, _) = services
        .post(
            "/api/auth/token",
            None,
            json!({ "email": support::ADMIN_EMAIL, "password": "not-the-password" }),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, movie) = services
        .post(
            "/api/movies",
            Some(&admin),
            json!({ "title": "Metropolis", "duration_minutes": 153 }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{movie}");
    let (status, cinema) = services
        .post(
            "/api/cinemas",
            Some(&admin),
            json!({ "name": "Lumière", "city": "Lyon",
                    "halls": [{ "name": "Hall 1", "rows": 2, "seats_per_row": 3 }] }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{cinema}");
    let (status, screening) = services
        .post(
            "/api/screenings",
            Some(&admin),
            json!({ "movie_id": movie["id"], "cinema_id": cinema["id"], "hall": "Hall 1",
                    "starts_at": support::time_in(Duration::from_secs(86_400)), "price_cents": 800 }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{screening}");
    let (status, body) = services
        .post(
            "/api/users",
            None,
            json!({ "email": "ada@example.org", "name": "Ada", "password": support::PASSWORD }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let buyer = services.sign_in("ada@example.org", support::PASSWORD).await;
    let reserve = |seat: &'static str| {
        services.post(
            "/api/reservations",
            Some(&buyer),
            json!({ "screening_id": screening["id"], "seats": [seat] }),
        )
    };
    let (status, paid_for) = reserve("A1").await;
    assert_eq!(status, StatusCode::CREATED, "{paid_for}");
    let (status, payment) = services
        .call(
            Method::POST,
            "/api/payments",
            Some(&buyer),
            json!({ "reservation_id": paid_for["id"], "amount_cents": 800, "card_token": "tok_visa" }),
            &[("Idempotency-Key", "prometheus-test")],
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{payment}");
    assert_eq!(payment["status"], "succeeded", "{payment}");
    let (status, body) = reserve("A1").await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let (status, body) = reserve("B2").await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    // ... and the B2 hold is left to expire.

    let ns = format!("namespace=\"{namespace}\"");

    // The request histogram: the median of POST /api/reservations, as Prometheus computes it
    // from the scraped buckets, is the one the reservations service's own buckets give.
    let selector = [("method", "POST"), ("route", "/api/reservations")];
    let buckets = samples(
        &services.metrics(ServiceName::Reservations).await,
        "http_request_duration_seconds_bucket",
        &selector,
    );
    assert!(!buckets.is_empty(), "no buckets for POST /api/reservations");
    let median = histogram_quantile(0.5, &buckets);
    assert!(median > 0.0 && median.is_finite(), "{median}");
    let quantile = format!(
        "histogram_quantile(0.5, sum by (le) (http_request_duration_seconds_bucket{{{ns}, \
         app_kubernetes_io_component=\"reservations\", method=\"POST\", route=\"/api/reservations\"}}))"
    );
    prometheus
        .wait_for(&client, &quantile, "", &[("", median)])
        .await;
    // Over a rate, as the dashboard asks: once Prometheus has seen the series, one more
    // request (another buyer's try for the sold seat) gives the window an increase.
    let (status, body) = reserve("A1").await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let p99 = format!(
        "histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket{{{ns}, \
         route=\"/api/reservations\"}}[1m])))"
    );
    let deadline = Instant::now() + PATIENCE;
    loop {
        let result = prometheus.query(&client, &p99).await.unwrap();
        let value = result.first().map_or(f64::NAN, sample_value);
        if value > 0.0 && value.is_finite() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{p99}: {result:?}\n{}",
            prometheus.log()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    // The counters, as the services count them.
    for (metric, expected) in [
        ("movies_reservations_created_total", 2.0),
        ("movies_reservations_conflicts_total", 2.0),
        ("movies_reservations_confirmed_total", 1.0),
        ("movies_reservations_cancelled_total", 0.0),
        ("movies_reservations_expired_total", 1.0),
        ("movies_users_registered_total", 1.0),
    ] {
        prometheus
            .wait_for(
                &client,
                &format!("sum({metric}{{{ns}}})"),
                "",
                &[("", expected)],
            )
            .await;
    }
    prometheus
        .wait_for(
            &client,
            &format!("sum by (outcome) (movies_payments_total{{{ns}}})"),
            "outcome",
            &[("succeeded", 1.0)],
        )
        .await;
    prometheus
        .wait_for(
            &client,
            &format!("sum by (outcome) (movies_sign_ins_total{{{ns}}})"),
            "outcome",
            &[("issued", 2.0), ("refused", 1.0)],
        )
        .await;

    // Every dashboard query parses and returns data; every variable finds its values.
    let answers = ask_dashboard(
        &prometheus,
        &client,
        &deploy_dir().join("grafana/movies.json"),
    )
    .await;
    answers.assert_every_query_answered();
    for (name, found) in &answers.variables {
        match name.as_str() {
            "namespace" => assert_eq!(found, &[namespace.as_str()]),
            "service" => {
                let mut all: Vec<String> =
                    ServiceName::ALL.iter().map(ToString::to_string).collect();
                all.sort();
                assert_eq!(found, &all);
            }
            other => assert!(!found.is_empty(), "{other}: no values"),
        }
    }
    drop(prometheus);
}
