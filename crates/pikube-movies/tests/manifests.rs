//! deploy/movies checked against the code: each Deployment runs a real service with the
//! variables the code reads, its probes and scrape path answer on that service, the Ingress
//! sends each path to the service that serves it, the PostgreSQL init script really creates
//! one database and role per service (on a scratch PostgreSQL, where each service then
//! migrates its database as its own role), and the Grafana dashboard queries metrics the
//! services export.
//!
//! Not a schema validation (no schemas can be downloaded here): each field read below must
//! be where the Kubernetes API puts it, or the test fails.

use crate::support;

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use pikube_movies::{DatabaseUrlTemplate, MoviesConfig, Selection, ServiceName};
use pikube_test_support::manifests::{
    args, container, documents, flag, pod_spec, repo_root, resolve_port, selects,
};
use serde_json::{json, Value};
use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The Secret the secretGenerator makes (checked against kustomization.yaml).
const SECRET: &str = "movies-secrets";

/// Variables the Deployments may set that `MoviesConfig` does not read, and the source file
/// that reads each (checked to name it).
const READ_ELSEWHERE: &[(&str, &str)] =
    &[("PIKUBE_LOG_FORMAT", "crates/pikube-http/src/logging.rs")];

// ---------------------------------------------------------------------------------------
// Reading the manifests

fn deploy_dir() -> PathBuf {
    repo_root().join("deploy/movies")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn kustomization() -> Value {
    documents(&deploy_dir().join("kustomization.yaml")).remove(0)
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {value}"))
        .iter()
        .map(|item| item.as_str().unwrap().to_owned())
        .collect()
}

/// Every object of the files kustomization.yaml lists, in order.
fn objects() -> Vec<Value> {
    strings(&kustomization()["resources"])
        .iter()
        .flat_map(|file| documents(&deploy_dir().join(file)))
        .collect()
}

fn objects_of(kind: &str) -> Vec<Value> {
    objects()
        .into_iter()
        .filter(|o| o["kind"] == kind)
        .collect()
}

fn object(kind: &str, name: &str) -> Value {
    let found: Vec<Value> = objects_of(kind)
        .into_iter()
        .filter(|o| o["metadata"]["name"] == name)
        .collect();
    assert_eq!(found.len(), 1, "{kind} {name}: {} found", found.len());
    found.into_iter().next().unwrap()
}

fn name_of(object: &Value) -> &str {
    object["metadata"]["name"].as_str().unwrap()
}

fn deployment(service: ServiceName) -> Value {
    object("Deployment", &format!("movies-{service}"))
}

fn listen_port(container: &Value) -> u16 {
    let args = args(container);
    let listen = flag(&args, "--listen").expect("--listen in args");
    listen.parse::<SocketAddr>().unwrap().port()
}

/// The service a Deployment or Service named `movies-<service>` is for.
fn service_named(name: &str) -> ServiceName {
    name.strip_prefix("movies-")
        .unwrap_or_else(|| panic!("{name}: not movies-<service>"))
        .parse()
        .unwrap()
}

/// `KEY=value` lines, as kustomize reads an env file (blank lines and `#` comments skipped).
fn env_file(text: &str) -> Vec<(String, String)> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(|line| {
            let (key, value) = line
                .split_once('=')
                .unwrap_or_else(|| panic!("not KEY=value: {line}"));
            (key.to_owned(), value.to_owned())
        })
        .collect()
}

fn random_hex() -> String {
    format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

/// The Secret's contents as the example file's instructions make it: every empty value
/// filled with random hex, the others (the administrator's email) kept, then the token keys
/// of `pikube serve movies --new-keys` added.
fn test_secrets() -> BTreeMap<String, String> {
    env_file(&read(&deploy_dir().join("secrets.env.example")))
        .into_iter()
        .map(|(key, value)| {
            let value = if value.is_empty() {
                random_hex()
            } else {
                value
            };
            (key, value)
        })
        .chain(env_file(&pikube_movies::new_key_set()))
        .collect()
}

/// A container's environment as the kubelet makes it: Secret references looked up in
/// `secrets`, `$(NAME)` expanded from the variables defined before.
fn resolved_env(container: &Value, secrets: &BTreeMap<String, String>) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = Vec::new();
    for var in container["env"].as_array().into_iter().flatten() {
        let name = var["name"].as_str().unwrap().to_owned();
        let value = if let Some(value) = var["value"].as_str() {
            expand(value, &env)
        } else {
            let reference = &var["valueFrom"]["secretKeyRef"];
            assert_eq!(reference["name"], SECRET, "{name}: {var}");
            let key = reference["key"].as_str().unwrap();
            secrets
                .get(key)
                .unwrap_or_else(|| panic!("{name}: key {key} is not in secrets.env.example"))
                .clone()
        };
        env.push((name, value));
    }
    env
}

/// Kubernetes' `$(NAME)` expansion, from the variables defined earlier in the list.
fn expand(value: &str, earlier: &[(String, String)]) -> String {
    let mut expanded = value.to_owned();
    for (name, resolved) in earlier {
        expanded = expanded.replace(&format!("$({name})"), resolved);
    }
    assert!(
        !expanded.contains("$("),
        "{value}: refers to a variable not defined before it"
    );
    expanded
}

/// Parses the environment with the code's own parser, recording every variable it reads.
fn config_from(
    selection: &Selection,
    env: &[(String, String)],
) -> (MoviesConfig, BTreeSet<String>) {
    let map: BTreeMap<&str, &str> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let read = RefCell::new(BTreeSet::new());
    let config = MoviesConfig::from_lookup(selection, Path::new("/nonexistent"), |name| {
        read.borrow_mut().insert(name.to_owned());
        map.get(name).map(ToString::to_string)
    })
    .unwrap_or_else(|e| panic!("the code refuses the Deployment's environment: {e}"));
    (config, read.into_inner())
}

/// `postgres://user:password@host:port/database`, split.
struct PostgresUrl {
    user: String,
    password: String,
    host: String,
    port: u16,
    database: String,
}

fn postgres_url(url: &str) -> PostgresUrl {
    let rest = url
        .strip_prefix("postgres://")
        .unwrap_or_else(|| panic!("{url}: not postgres://"));
    let (credentials, location) = rest.rsplit_once('@').unwrap();
    let (user, password) = credentials.split_once(':').unwrap();
    let (address, database) = location.split_once('/').unwrap();
    let (host, port) = address.split_once(':').unwrap();
    assert!(!database.contains('?'), "{database}");
    PostgresUrl {
        user: user.to_owned(),
        password: password.to_owned(),
        host: host.to_owned(),
        port: port.parse().unwrap(),
        database: database.to_owned(),
    }
}

/// A Kubernetes quantity in its base unit (cores, bytes): `500m`, `4`, `64Mi`, `1Gi`.
fn quantity(text: &str) -> f64 {
    let split = text
        .find(|c: char| c.is_ascii_alphabetic())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let scale = match unit {
        "" => 1.0,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "Ki" => 1024.0,
        "Mi" => 1024.0 * 1024.0,
        "Gi" => 1024.0 * 1024.0 * 1024.0,
        other => panic!("unit {other:?} in {text:?}"),
    };
    number.parse::<f64>().unwrap() * scale
}

/// `5s`, `2m`, `1h` (as `--drain-grace` takes them) in seconds.
fn seconds(text: &str) -> u64 {
    let (number, unit) = text.split_at(text.len() - 1);
    let factor = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        other => panic!("unit {other:?} in {text:?}"),
    };
    number.parse::<u64>().unwrap() * factor
}

// ---------------------------------------------------------------------------------------
// Running services

/// One process serving `selection` on a loopback port, as `pikube serve movies` does.
struct Running {
    base: String,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), pikube_movies::MoviesError>>>,
}

impl Running {
    async fn start(selection: Selection, config: MoviesConfig) -> Running {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            pikube_movies::serve(listener, &selection, config, async {
                let _ = stopped.await;
            })
            .await
        });
        let mut running = Running {
            base,
            stop: Some(stop),
            task: Some(task),
        };
        running.wait_ready().await;
        running
    }

    async fn wait_ready(&mut self) {
        let client = reqwest::Client::new();
        for _ in 0..400 {
            if let Ok(response) = client.get(format!("{}/readyz", self.base)).send().await {
                if response.status() == 200 {
                    return;
                }
            }
            if self
                .task
                .as_ref()
                .is_some_and(tokio::task::JoinHandle::is_finished)
            {
                let result = self.task.take().unwrap().await.unwrap();
                panic!("the service stopped while starting: {result:?}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("not ready at {}", self.base);
    }

    async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.unwrap().expect("the service stopped cleanly");
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// The configuration a Deployment gives its service (parsed by the code from the
/// Deployment's resolved environment), on SQLite files in `dir` instead of PostgreSQL.
fn deployment_config_on_sqlite(service: ServiceName, dir: &Path) -> MoviesConfig {
    let env = resolved_env(container(&deployment(service)), &test_secrets());
    let (mut config, _) = config_from(&Selection::one(service), &env);
    config.database = DatabaseUrlTemplate::sqlite_in(dir);
    config.drain_grace = Duration::ZERO;
    config
}

/// A response that the process's fallback gave: no route of its services matched.
async fn is_fallback(response: reqwest::Response) -> bool {
    if response.status() != 404 {
        return false;
    }
    let body: Value = response.json().await.unwrap_or(Value::Null);
    body["error"]["message"]
        .as_str()
        .is_some_and(|m| m.starts_with("no such route"))
}

// ---------------------------------------------------------------------------------------
// The objects and how they refer to each other

#[test]
fn kustomization_lists_every_manifest_and_generates_what_they_use() {
    let kustomization = kustomization();
    assert_eq!(kustomization["namespace"], "movies");
    let mut listed = strings(&kustomization["resources"]);
    let mut files: Vec<String> = std::fs::read_dir(deploy_dir())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.ends_with(".yaml") && name != "kustomization.yaml")
        .collect();
    files.sort();
    listed.sort();
    assert_eq!(listed, files);
    let namespace = object("Namespace", "movies");
    assert_eq!(namespace["apiVersion"], "v1");

    // The credentials: one Secret from secrets.env, which git ignores; the example is there.
    let generators = kustomization["secretGenerator"].as_array().unwrap();
    assert_eq!(generators.len(), 1);
    assert_eq!(generators[0]["name"], SECRET);
    assert_eq!(strings(&generators[0]["envs"]), ["secrets.env"]);
    let ignored = read(&deploy_dir().join(".gitignore"));
    assert!(ignored.lines().any(|line| line.trim() == "secrets.env"));
    let example = env_file(&read(&deploy_dir().join("secrets.env.example")));
    for (key, value) in &example {
        // Never a built-in password: only the administrator's email has a value.
        assert!(
            value.is_empty() || key == "MOVIES_ADMIN_EMAIL",
            "{key} has a value in the example"
        );
    }
    assert!(read(&deploy_dir().join("secrets.env.example")).contains("openssl rand -hex 32"));

    // The generated ConfigMaps come from files that exist, and are used.
    let maps: BTreeMap<String, Value> = kustomization["configMapGenerator"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["name"].as_str().unwrap().to_owned(), m.clone()))
        .collect();
    for map in maps.values() {
        for file in strings(&map["files"]) {
            let path = file.split_once('=').map_or(file.as_str(), |(_, path)| path);
            assert!(deploy_dir().join(path).is_file(), "{path}");
        }
    }
    let init = &maps["movies-postgres-init"];
    assert_eq!(
        strings(&init["files"]),
        ["init-databases.sh=postgres/init-databases.sh"]
    );
    let dashboard = &maps["movies-grafana-dashboard"];
    assert_eq!(
        strings(&dashboard["files"]),
        ["movies.json=grafana/movies.json"]
    );
    assert_eq!(dashboard["options"]["labels"]["grafana_dashboard"], "1");
    assert_eq!(dashboard["options"]["disableNameSuffixHash"], true);
}

#[test]
fn one_deployment_and_service_per_service() {
    let deployments = objects_of("Deployment");
    assert_eq!(deployments.len(), ServiceName::ALL.len());
    for service in ServiceName::ALL {
        let deployment = deployment(service);
        assert_eq!(deployment["apiVersion"], "apps/v1");
        let pod_labels = &deployment["spec"]["template"]["metadata"]["labels"];
        assert!(selects(
            &deployment["spec"]["selector"]["matchLabels"],
            pod_labels
        ));
        assert_eq!(pod_labels["app.kubernetes.io/component"], service.as_str());

        // It runs this very service: the image's entrypoint is pikube.
        let container = container(&deployment);
        assert!(container.get("command").is_none(), "{service}: command");
        let args = args(container);
        assert_eq!(args[..2], ["serve", "movies"], "{service}");
        assert_eq!(args[2].parse::<ServiceName>().unwrap(), service);
        assert!(args[3].starts_with("--"), "{service}: one service per pod");

        // One replica each on a Pi, except reservations: two, with a disruption budget.
        let replicas = deployment["spec"]["replicas"].as_u64().unwrap();
        let budgets: Vec<Value> = objects_of("PodDisruptionBudget")
            .into_iter()
            .filter(|pdb| selects(&pdb["spec"]["selector"]["matchLabels"], pod_labels))
            .collect();
        if service == ServiceName::Reservations {
            assert_eq!(replicas, 2);
            assert_eq!(budgets.len(), 1);
            assert_eq!(budgets[0]["apiVersion"], "policy/v1");
            assert!(budgets[0]["spec"]["minAvailable"].as_u64().unwrap() < replicas);
        } else {
            assert_eq!(replicas, 1, "{service}");
            assert!(budgets.is_empty(), "{service}");
        }

        // Its Service is where the other services look for it by default
        // (http://movies-<service>:8080), and sends traffic to the port it listens on.
        let service_object = object("Service", &format!("movies-{service}"));
        assert!(selects(&service_object["spec"]["selector"], pod_labels));
        let ports = service_object["spec"]["ports"].as_array().unwrap();
        assert_eq!(ports.len(), 1);
        assert_eq!(ports[0]["port"], 8080);
        assert_eq!(ports[0]["name"], "http");
        assert_eq!(
            resolve_port(container, &ports[0]["targetPort"]),
            u64::from(listen_port(container))
        );
        // No other Deployment's pods are selected by it.
        for other in &deployments {
            if name_of(other) != name_of(&deployment) {
                assert!(!selects(
                    &service_object["spec"]["selector"],
                    &other["spec"]["template"]["metadata"]["labels"]
                ));
            }
        }
    }
}

#[test]
fn deployment_env_is_read_by_the_code_and_gives_each_service_its_own_database() {
    let secrets = test_secrets();
    let postgres = object("Service", "movies-postgres");
    let postgres_port = postgres["spec"]["ports"][0]["port"].as_u64().unwrap();
    let mut databases = BTreeSet::new();
    for (needle, file) in READ_ELSEWHERE {
        assert!(
            read(&repo_root().join(file)).contains(&format!("\"{needle}\"")),
            "{file} does not read {needle}"
        );
    }
    for service in ServiceName::ALL {
        let deployment = deployment(service);
        let container = container(&deployment);
        let env = resolved_env(container, &secrets);
        let (config, read_by_config) = config_from(&Selection::one(service), &env);

        let names: Vec<&str> = env.iter().map(|(name, _)| name.as_str()).collect();
        for (index, name) in names.iter().enumerate() {
            if read_by_config.contains(*name) || READ_ELSEWHERE.iter().any(|(n, _)| n == name) {
                continue;
            }
            // Otherwise only a part of a later variable, as $(NAME).
            let raw = &container["env"].as_array().unwrap()[index + 1..];
            assert!(
                raw.iter().any(|var| var["value"]
                    .as_str()
                    .is_some_and(|v| v.contains(&format!("$({name})")))),
                "{service}: {name} is neither read by the code nor used in a later variable"
            );
        }
        let unique: BTreeSet<&&str> = names.iter().collect();
        assert_eq!(unique.len(), names.len(), "{service}: a variable set twice");

        // Each service gets the token keys it needs and no other (review M9): only users
        // can sign users' tokens, and an internal key only reaches its caller and callee.
        let token_keys: BTreeSet<&str> = names
            .iter()
            .copied()
            .filter(|n| n.starts_with("MOVIES_TOKEN_") || n.starts_with("MOVIES_INTERNAL_KEY_"))
            .collect();
        let wanted: &[&str] = match service {
            ServiceName::Users => &["MOVIES_TOKEN_SIGNING_KEY"],
            ServiceName::Movies | ServiceName::Cinemas => &["MOVIES_TOKEN_VERIFYING_KEY"],
            ServiceName::Screenings => &[
                "MOVIES_TOKEN_VERIFYING_KEY",
                "MOVIES_INTERNAL_KEY_SCREENINGS",
            ],
            ServiceName::Reservations => &[
                "MOVIES_TOKEN_VERIFYING_KEY",
                "MOVIES_INTERNAL_KEY_PAYMENTS",
                "MOVIES_INTERNAL_KEY_SCREENINGS",
            ],
            ServiceName::Payments => {
                &["MOVIES_TOKEN_VERIFYING_KEY", "MOVIES_INTERNAL_KEY_PAYMENTS"]
            }
        };
        assert_eq!(
            token_keys,
            wanted.iter().copied().collect::<BTreeSet<_>>(),
            "{service}: token keys"
        );
        for name in &token_keys {
            let var = container["env"]
                .as_array()
                .unwrap()
                .iter()
                .find(|var| var["name"] == *name)
                .unwrap();
            assert_eq!(var["valueFrom"]["secretKeyRef"]["key"], *name, "{service}");
        }
        assert_eq!(
            config.signing_key.is_some(),
            service == ServiceName::Users,
            "{service}: signing key"
        );
        assert_eq!(
            config.admin.is_some(),
            service == ServiceName::Users,
            "{service}: administrator"
        );

        // Its own database, as its own role, on the in-cluster PostgreSQL.
        let url = config.database.for_service(service);
        let url = postgres_url(url.expose());
        assert_eq!(url.user, service.as_str());
        assert_eq!(url.database, service.as_str());
        assert_eq!(url.host, name_of(&postgres));
        assert_eq!(u64::from(url.port), postgres_port);
        assert_eq!(
            url.password,
            secrets[&format!("DB_PASSWORD_{}", service.as_str().to_uppercase())]
        );
        assert!(databases.insert((url.host, url.port, url.database)));
    }
    assert_eq!(databases.len(), ServiceName::ALL.len());
}

#[test]
fn credentials_come_only_from_the_generated_secret() {
    // What the example and `pikube serve movies --new-keys` put in secrets.env.
    let example: BTreeSet<String> = env_file(&read(&deploy_dir().join("secrets.env.example")))
        .into_iter()
        .chain(env_file(&pikube_movies::new_key_set()))
        .map(|(key, _)| key)
        .collect();
    let mut used = BTreeSet::new();
    for workload in objects_of("Deployment")
        .into_iter()
        .chain(objects_of("StatefulSet"))
    {
        for var in container(&workload)["env"].as_array().unwrap() {
            let name = var["name"].as_str().unwrap();
            if let Some(reference) = var["valueFrom"].get("secretKeyRef") {
                assert_eq!(reference["name"], SECRET, "{name}");
                let key = reference["key"].as_str().unwrap();
                assert!(example.contains(key), "{key} is not in secrets.env.example");
                used.insert(key.to_owned());
            } else {
                let value = var["value"].as_str().unwrap_or_else(|| panic!("{var}"));
                assert!(
                    !["PASSWORD", "SECRET"].iter().any(|s| name.contains(s)),
                    "{}: {name} is a literal",
                    name_of(&workload)
                );
                // A URL carries its password from a Secret, never a literal one.
                if let Some((credentials, _)) = value.split_once('@') {
                    assert!(credentials.ends_with(":$(DB_PASSWORD)"), "{name}: {value}");
                }
            }
        }
    }
    assert_eq!(
        used, example,
        "keys of the example nobody uses, or the reverse"
    );
}

#[test]
fn limits_cover_requests_and_fit_a_4_gb_pi() {
    let mut memory_limits = 0.0;
    let mut memory_requests = 0.0;
    for workload in objects_of("Deployment")
        .into_iter()
        .chain(objects_of("StatefulSet"))
    {
        let name = name_of(&workload).to_owned();
        let replicas = workload["spec"]["replicas"].as_f64().unwrap();
        let resources = &container(&workload)["resources"];
        for resource in ["cpu", "memory"] {
            let request = quantity(resources["requests"][resource].as_str().unwrap());
            let limit = quantity(resources["limits"][resource].as_str().unwrap());
            assert!(
                request > 0.0 && request <= limit,
                "{name} {resource}: {request} > {limit}"
            );
        }
        let cpu = quantity(resources["limits"]["cpu"].as_str().unwrap());
        assert!(cpu <= 4.0, "{name}: a Pi 4 or 5 has 4 cores");
        let memory = quantity(resources["requests"]["memory"].as_str().unwrap());
        if workload["kind"] == "Deployment" {
            // The services idle in a few MiB.
            assert!(memory <= 64.0 * 1024.0 * 1024.0, "{name}: {memory}");
        }
        memory_requests += memory * replicas;
        memory_limits += quantity(resources["limits"]["memory"].as_str().unwrap()) * replicas;
    }
    // Everything fits on one 4 GB board next to K3s itself, even at its limits.
    let gib = 1024.0 * 1024.0 * 1024.0;
    assert!(memory_requests <= 1.0 * gib, "{memory_requests}");
    assert!(memory_limits <= 2.5 * gib, "{memory_limits}");
}

#[test]
fn pods_outlive_the_drain_and_run_locked_down() {
    for service in ServiceName::ALL {
        let deployment = deployment(service);
        let pod = pod_spec(&deployment);
        let container = container(&deployment);
        let drain = seconds(flag(&args(container), "--drain-grace").expect("--drain-grace"));
        assert!(
            drain > 0,
            "{service}: without a drain grace, requests are routed to a closed port"
        );
        let grace = pod["terminationGracePeriodSeconds"].as_u64().unwrap();
        assert!(
            grace > drain,
            "{service}: {grace} s <= drain grace {drain} s"
        );

        // Probes: liveness on /healthz, readiness on /readyz (503 while draining).
        assert_eq!(container["livenessProbe"]["httpGet"]["path"], "/healthz");
        assert_eq!(container["readinessProbe"]["httpGet"]["path"], "/readyz");
        let readiness = &container["readinessProbe"];
        let unready_after = readiness["periodSeconds"].as_u64().unwrap()
            * readiness["failureThreshold"].as_u64().unwrap();
        assert!(
            unready_after < drain,
            "{service}: the probe notices the drain after {unready_after} s, the drain lasts {drain} s"
        );
    }
    for workload in objects_of("Deployment")
        .into_iter()
        .chain(objects_of("StatefulSet"))
    {
        let name = name_of(&workload).to_owned();
        let pod = pod_spec(&workload);
        assert_eq!(pod["securityContext"]["runAsNonRoot"], true, "{name}");
        assert_ne!(pod["securityContext"]["runAsUser"], 0, "{name}");
        assert_eq!(pod["automountServiceAccountToken"], false, "{name}");
        let security = &container(&workload)["securityContext"];
        assert_eq!(security["readOnlyRootFilesystem"], true, "{name}");
        assert_eq!(security["allowPrivilegeEscalation"], false, "{name}");
        assert_eq!(security["capabilities"]["drop"], json!(["ALL"]), "{name}");
    }
}

#[test]
fn image_matches_the_dockerfile_and_the_version() {
    let dockerfile = read(&repo_root().join("Dockerfile"));
    let last = |instruction: &str| -> String {
        dockerfile
            .lines()
            .filter_map(|line| line.strip_prefix(instruction))
            .next_back()
            .unwrap_or_else(|| panic!("no {instruction}in the Dockerfile"))
            .trim()
            .to_owned()
    };
    let entrypoint: Vec<String> = serde_json::from_str(&last("ENTRYPOINT ")).unwrap();
    assert!(entrypoint[0].ends_with("/pikube"), "{entrypoint:?}");
    let uid: u64 = last("USER ").split(':').next().unwrap().parse().unwrap();
    let exposed: u16 = last("EXPOSE ").parse().unwrap();
    for service in ServiceName::ALL {
        let deployment = deployment(service);
        let container = container(&deployment);
        let image = container["image"].as_str().unwrap();
        assert_eq!(
            image,
            format!("ghcr.io/pikube/pikube:{}", env!("CARGO_PKG_VERSION"))
        );
        assert_eq!(pod_spec(&deployment)["securityContext"]["runAsUser"], uid);
        assert_eq!(listen_port(container), exposed);
    }
}

#[test]
fn postgres_serves_the_database_urls() {
    let service = object("Service", "movies-postgres");
    let statefulset = object("StatefulSet", "movies-postgres");
    let pod_labels = &statefulset["spec"]["template"]["metadata"]["labels"];
    assert_eq!(service["spec"]["clusterIP"], "None", "headless");
    assert_eq!(statefulset["spec"]["serviceName"], name_of(&service));
    assert_eq!(statefulset["spec"]["replicas"], 1);
    assert!(selects(&service["spec"]["selector"], pod_labels));
    assert!(selects(
        &statefulset["spec"]["selector"]["matchLabels"],
        pod_labels
    ));
    let postgres = container(&statefulset);
    // The official image, which has arm64 and arm/v7 builds.
    let image = postgres["image"].as_str().unwrap();
    let (repository, tag) = image.split_once(':').unwrap();
    assert!(
        ["postgres", "docker.io/library/postgres"].contains(&repository),
        "{image}"
    );
    assert!(
        tag.split(['.', '-'])
            .next()
            .unwrap()
            .parse::<u32>()
            .unwrap()
            >= 15
    );
    let port = &service["spec"]["ports"][0];
    assert_eq!(port["port"], 5432);
    assert_eq!(resolve_port(postgres, &port["targetPort"]), 5432);

    // Storage: K3s' local-path provisioner, mounted where PGDATA lives.
    let claims = statefulset["spec"]["volumeClaimTemplates"]
        .as_array()
        .unwrap();
    assert_eq!(claims.len(), 1);
    assert_eq!(claims[0]["spec"]["storageClassName"], "local-path");
    let mounts: BTreeMap<String, String> = postgres["volumeMounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["mountPath"].as_str().unwrap().to_owned(),
                m["name"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let secrets = test_secrets();
    let env: BTreeMap<String, String> = resolved_env(postgres, &secrets).into_iter().collect();
    let data = mounts
        .iter()
        .find(|(_, name)| **name == claims[0]["metadata"]["name"])
        .map(|(path, _)| path.clone())
        .expect("the claim is mounted");
    assert!(
        env["PGDATA"].starts_with(&format!("{data}/")),
        "PGDATA {} is not a directory in the volume {data}",
        env["PGDATA"]
    );
    // The read-only root file system leaves PostgreSQL its socket and temporary directories.
    for path in ["/var/run/postgresql", "/tmp"] {
        assert!(mounts.contains_key(path), "{path} is not mounted");
    }

    // The init script, from the generated ConfigMap, where the entrypoint runs it.
    let init = &mounts["/docker-entrypoint-initdb.d"];
    let volume = pod_spec(&statefulset)["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == **init)
        .unwrap()
        .clone();
    assert_eq!(volume["configMap"]["name"], "movies-postgres-init");
    let mode = volume["configMap"]["defaultMode"].as_u64().unwrap();
    assert_eq!(
        mode & 0o555,
        0o555,
        "mode {mode:o}: readable and executable"
    );

    // Each service's password reaches the init script under the name it reads: the same
    // Secret value as the one in that service's DATABASE_URL.
    let script = read(&deploy_dir().join("postgres/init-databases.sh"));
    assert!(script.contains("DB_PASSWORD_${service^^}"));
    for service in ServiceName::ALL {
        let deployment_env = resolved_env(container(&deployment(service)), &secrets);
        let (_, url) = deployment_env
            .iter()
            .find(|(name, _)| name == "DATABASE_URL")
            .unwrap();
        let name = format!("DB_PASSWORD_{}", service.as_str().to_uppercase());
        assert_eq!(
            postgres_url(url).password,
            env[&name],
            "{service}: DATABASE_URL and the StatefulSet's {name} differ"
        );
        assert!(script.contains(service.as_str()), "{service} in the script");
    }

    // Every pool fits, during a rollout too (one surge pod per Deployment).
    let args = args(postgres);
    let max_connections: u64 = args
        .iter()
        .find_map(|a| a.strip_prefix("max_connections="))
        .expect("-c max_connections=")
        .parse()
        .unwrap();
    let mut pools = 0;
    for service in ServiceName::ALL {
        let deployment = deployment(service);
        let env = resolved_env(container(&deployment), &test_secrets());
        let (config, _) = config_from(&Selection::one(service), &env);
        let replicas = deployment["spec"]["replicas"].as_u64().unwrap();
        let surge = deployment["spec"]["strategy"]["rollingUpdate"]["maxSurge"]
            .as_u64()
            .unwrap();
        pools += (replicas + surge) * u64::from(config.max_connections);
    }
    // PostgreSQL keeps 3 connections for superusers.
    assert!(
        pools <= max_connections - 3,
        "{pools} pooled connections, max_connections={max_connections}"
    );
}

// ---------------------------------------------------------------------------------------
// Against the running services

/// The probe paths, the scrape path and port answer on each real service, configured as its
/// Deployment configures it (on SQLite here).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probe_and_metrics_paths_answer_on_each_service() {
    let client = reqwest::Client::new();
    for service in ServiceName::ALL {
        let deployment = deployment(service);
        let container = container(&deployment);
        let port = listen_port(container);
        let annotations = &deployment["spec"]["template"]["metadata"]["annotations"];
        assert_eq!(annotations["prometheus.io/scrape"], "true");
        assert_eq!(annotations["prometheus.io/port"], port.to_string());
        let mut paths = BTreeMap::new();
        for probe in ["livenessProbe", "readinessProbe"] {
            let get = &container[probe]["httpGet"];
            assert_eq!(
                resolve_port(container, &get["port"]),
                u64::from(port),
                "{service} {probe} port"
            );
            paths.insert(probe, get["path"].as_str().unwrap().to_owned());
        }
        paths.insert(
            "metrics",
            annotations["prometheus.io/path"]
                .as_str()
                .unwrap()
                .to_owned(),
        );

        let dir = tempfile::tempdir().unwrap();
        let running = Running::start(
            Selection::one(service),
            deployment_config_on_sqlite(service, dir.path()),
        )
        .await;
        for (what, path) in &paths {
            let response = client
                .get(format!("{}{path}", running.base))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200, "{service} {what} {path}");
        }
        let metrics = client
            .get(format!("{}{}", running.base, paths["metrics"]))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            metrics.contains("http_request_duration_seconds"),
            "{metrics}"
        );
        let missing = client
            .get(format!("{}/no-such-path", running.base))
            .send()
            .await
            .unwrap();
        assert!(
            is_fallback(missing).await,
            "the router does not answer everything"
        );
        running.stop().await;
    }
}

/// Passwords and tokens cross the Ingress: Traefik routes it on its HTTPS entrypoint only,
/// with TLS (review M11), so a plain-HTTP request to port 80 reaches no service.
#[test]
fn the_api_is_served_over_https_only() {
    let ingresses = objects_of("Ingress");
    let annotations = &ingresses[0]["metadata"]["annotations"];
    assert_eq!(
        annotations["traefik.ingress.kubernetes.io/router.entrypoints"],
        "websecure"
    );
    assert_eq!(
        annotations["traefik.ingress.kubernetes.io/router.tls"],
        "true"
    );
}

/// The Ingress rules: (path prefix, service).
fn ingress_routes() -> Vec<(String, ServiceName)> {
    let ingresses = objects_of("Ingress");
    assert_eq!(ingresses.len(), 1);
    let ingress = &ingresses[0];
    assert_eq!(ingress["apiVersion"], "networking.k8s.io/v1");
    assert_eq!(ingress["spec"]["ingressClassName"], "traefik");
    let rules = ingress["spec"]["rules"].as_array().unwrap();
    assert_eq!(rules.len(), 1);
    rules[0]["http"]["paths"]
        .as_array()
        .unwrap()
        .iter()
        .map(|path| {
            assert_eq!(path["pathType"], "Prefix");
            let backend = &path["backend"]["service"];
            let name = backend["name"].as_str().unwrap();
            let service = object("Service", name);
            assert_eq!(backend["port"]["name"], service["spec"]["ports"][0]["name"]);
            (
                path["path"].as_str().unwrap().to_owned(),
                service_named(name),
            )
        })
        .collect()
}

/// Where the Ingress sends `path`: the longest matching prefix, matched by whole path
/// segments as `pathType: Prefix` does.
fn routed(routes: &[(String, ServiceName)], path: &str) -> Option<ServiceName> {
    routes
        .iter()
        .filter(|(prefix, _)| {
            path == prefix
                || path
                    .strip_prefix(prefix.as_str())
                    .is_some_and(|rest| rest.starts_with('/'))
        })
        .max_by_key(|(prefix, _)| prefix.len())
        .map(|(_, service)| *service)
}

/// Every API path each service documents is answered by that service alone (one service per
/// process, as in the cluster), and the Ingress sends it there; every Ingress prefix leads to
/// some path of its service; the services' /internal/ routes stay inside.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingress_sends_each_path_to_the_service_that_serves_it() {
    let routes = ingress_routes();
    let dir = tempfile::tempdir().unwrap();
    let mut running = BTreeMap::new();
    for service in ServiceName::ALL {
        let config = deployment_config_on_sqlite(service, dir.path());
        running.insert(
            service,
            Running::start(Selection::one(service), config).await,
        );
    }
    let client = reqwest::Client::new();
    let mut documented: BTreeMap<ServiceName, BTreeMap<String, Vec<reqwest::Method>>> =
        BTreeMap::new();
    for service in ServiceName::ALL {
        let base = &running[&service].base;
        let document: Value = client
            .get(format!("{base}/api/openapi.json"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        for (path, operations) in document["paths"].as_object().unwrap() {
            let methods = operations
                .as_object()
                .unwrap()
                .keys()
                .map(|method| method.to_uppercase().parse().unwrap())
                .collect();
            documented
                .entry(service)
                .or_default()
                .insert(path.clone(), methods);
        }
    }
    // What every process documents (probes, metrics, its own OpenAPI document) is about
    // that process: not the Ingress's business.
    let common: BTreeSet<String> = documented[&ServiceName::Users]
        .keys()
        .filter(|path| documented.values().all(|paths| paths.contains_key(*path)))
        .cloned()
        .collect();
    for (service, paths) in &documented {
        let own: Vec<&String> = paths.keys().filter(|p| !common.contains(*p)).collect();
        assert!(!own.is_empty(), "{service} documents no path of its own");
        for (path, methods) in paths {
            let concrete = path.replace("{id}", "00000000-0000-0000-0000-000000000000");
            for method in methods {
                for (other, process) in &running {
                    let mut request =
                        client.request(method.clone(), format!("{}{concrete}", process.base));
                    if method != reqwest::Method::GET {
                        request = request.json(&json!({}));
                    }
                    let fallback = is_fallback(request.send().await.unwrap()).await;
                    let expected = !common.contains(path) && other != service;
                    assert_eq!(
                        fallback, expected,
                        "{method} {path} on a process serving only {other}"
                    );
                }
            }
            if !common.contains(path) {
                assert!(path.starts_with("/api/"), "{service} documents {path}");
                assert_eq!(
                    routed(&routes, path),
                    Some(*service),
                    "the Ingress sends {path} elsewhere than to {service}"
                );
            }
        }
    }
    for (prefix, service) in &routes {
        assert!(prefix.starts_with("/api/"), "{prefix}");
        assert!(
            documented[service]
                .keys()
                .any(|path| routed(&[(prefix.clone(), *service)], path).is_some()),
            "{prefix} leads to no path of {service}"
        );
    }
    // The routes the services call on each other are served, but not through the Ingress.
    let internal = client
        .get(format!(
            "{}/internal/reservations/00000000-0000-0000-0000-000000000000",
            running[&ServiceName::Reservations].base
        ))
        .send()
        .await
        .unwrap();
    assert!(!is_fallback(internal).await);
    assert_eq!(routed(&routes, "/internal/reservations/x"), None);
    for (_, process) in running {
        process.stop().await;
    }
}

// ---------------------------------------------------------------------------------------
// PostgreSQL: the init script on a real server

/// A PostgreSQL server of its own in a temporary directory, reachable on a Unix socket only
/// (as the postgres image's start-up server is while it runs the init scripts), with
/// password authentication for every connection.
struct ScratchPostgres {
    dir: tempfile::TempDir,
    bin: PathBuf,
    as_postgres: bool,
    server: Option<Child>,
    port: u16,
}

/// The newest installed PostgreSQL server's programs (Debian: /usr/lib/postgresql/N/bin).
fn postgres_bin() -> PathBuf {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let version = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin).unwrap_or_else(|| {
        panic!(
            "no PostgreSQL server in /usr/lib/postgresql: install the Debian package \
             postgresql (tests/postgres/up.sh does, as root)"
        )
    })
}

impl ScratchPostgres {
    fn start(superuser_password: &str, port: u16) -> ScratchPostgres {
        let bin = postgres_bin();
        let dir = tempfile::tempdir().unwrap();
        // PostgreSQL refuses to run as root: then it runs as the postgres user.
        let as_postgres = std::fs::metadata("/proc/self").unwrap().uid() == 0;
        let password_file = dir.path().join("superuser-password");
        std::fs::write(&password_file, superuser_password).unwrap();
        if as_postgres {
            let id = |flag: &str| -> u32 {
                let output = Command::new("id")
                    .args([flag, "postgres"])
                    .output()
                    .unwrap();
                assert!(output.status.success(), "no postgres user");
                String::from_utf8(output.stdout)
                    .unwrap()
                    .trim()
                    .parse()
                    .unwrap()
            };
            let (uid, gid) = (id("-u"), id("-g"));
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid)).unwrap();
            std::os::unix::fs::chown(&password_file, Some(uid), Some(gid)).unwrap();
        }
        let data = dir.path().join("data");
        let mut scratch = ScratchPostgres {
            dir,
            bin,
            as_postgres,
            server: None,
            port,
        };
        let output = scratch
            .command("initdb")
            .arg("--pgdata")
            .arg(&data)
            .args(["--username", "postgres", "--auth", "scram-sha-256"])
            .args(["--encoding", "UTF8", "--no-sync", "--pwfile"])
            .arg(&password_file)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "initdb: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let log = std::fs::File::create(scratch.dir.path().join("server.log")).unwrap();
        let server = scratch
            .command("postgres")
            .arg("-D")
            .arg(&data)
            .arg("-k")
            .arg(scratch.dir.path())
            .args(["-p", &port.to_string()])
            .args(["-c", "listen_addresses=", "-c", "fsync=off"])
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        scratch.server = Some(server);
        scratch
    }

    /// `program` of the server's version, as the postgres user when this process is root.
    fn command(&self, program: &str) -> Command {
        let program = self.bin.join(program);
        let mut command = if self.as_postgres {
            let mut command = Command::new("setpriv");
            command
                .args([
                    "--reuid=postgres",
                    "--regid=postgres",
                    "--init-groups",
                    "--",
                ])
                .arg(program);
            command
        } else {
            Command::new(program)
        };
        command.current_dir(self.dir.path());
        command
    }

    fn socket_dir(&self) -> &Path {
        self.dir.path()
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    fn options(&self, user: &str, password: &str, database: &str) -> PgConnectOptions {
        PgConnectOptions::new()
            .socket(self.socket_dir())
            .port(self.port)
            .username(user)
            .password(password)
            .database(database)
    }

    async fn wait_ready(&mut self, superuser_password: &str) {
        for _ in 0..300 {
            if let Some(status) = self.server.as_mut().unwrap().try_wait().unwrap() {
                panic!("PostgreSQL exited ({status}):\n{}", self.log());
            }
            let options = self.options("postgres", superuser_password, "postgres");
            if let Ok(connection) = options.connect().await {
                let _ = connection.close().await;
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("PostgreSQL did not start:\n{}", self.log());
    }
}

impl Drop for ScratchPostgres {
    fn drop(&mut self) {
        if let Some(mut server) = self.server.take() {
            // A fast shutdown of the server this test started (pg_ctl finds it by the PID
            // file in its own data directory), else kill it.
            let stopped = self
                .command("pg_ctl")
                .arg("--pgdata")
                .arg(self.dir.path().join("data"))
                .args(["stop", "--mode", "fast", "--wait", "--timeout", "20"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|status| status.success());
            if !stopped {
                let _ = server.kill();
            }
            let _ = server.wait();
        }
    }
}

/// Runs the init script as the postgres image's entrypoint does: with the StatefulSet's
/// environment, and the superuser's name, database and password it exports.
fn run_init_script(
    scratch: &ScratchPostgres,
    env: &BTreeMap<String, String>,
) -> std::process::Output {
    let script = deploy_dir().join("postgres/init-databases.sh");
    Command::new("bash")
        .arg(&script)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", scratch.socket_dir())
        .envs(env)
        .env("POSTGRES_USER", "postgres")
        .env("POSTGRES_DB", "postgres")
        .env("PGPASSWORD", &env["POSTGRES_PASSWORD"])
        .env("PGHOST", scratch.socket_dir())
        .env("PGPORT", scratch.port.to_string())
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn init_script_creates_a_database_and_role_per_service_on_a_real_postgres() {
    let secrets = test_secrets();
    let statefulset = object("StatefulSet", "movies-postgres");
    let env: BTreeMap<String, String> = resolved_env(container(&statefulset), &secrets)
        .into_iter()
        .collect();
    let port = object("Service", "movies-postgres")["spec"]["ports"][0]["port"]
        .as_u64()
        .unwrap() as u16;
    let mut scratch = ScratchPostgres::start(&env["POSTGRES_PASSWORD"], port);
    scratch.wait_ready(&env["POSTGRES_PASSWORD"]).await;
    let mut admin = scratch
        .options("postgres", &env["POSTGRES_PASSWORD"], "postgres")
        .connect()
        .await
        .unwrap();

    // A missing password stops it before anything is created: no built-in passwords.
    let mut incomplete = env.clone();
    incomplete.insert("DB_PASSWORD_PAYMENTS".into(), String::new());
    let output = run_init_script(&scratch, &incomplete);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "accepted an empty password");
    assert!(stderr.contains("DB_PASSWORD_PAYMENTS"), "{stderr}");
    let names: Vec<String> = ServiceName::ALL.iter().map(ToString::to_string).collect();
    let created: i64 = sqlx::query_scalar("SELECT count(*) FROM pg_roles WHERE rolname = ANY($1)")
        .bind(&names)
        .fetch_one(&mut admin)
        .await
        .unwrap();
    assert_eq!(created, 0);

    let output = run_init_script(&scratch, &env);
    assert!(
        output.status.success(),
        "init-databases.sh: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );

    // Each service's DATABASE_URL, as its Deployment builds it, reaches its own database as
    // a role that owns that database and has no other power.
    let mut urls = BTreeMap::new();
    for service in ServiceName::ALL {
        let deployment_env = resolved_env(container(&deployment(service)), &secrets);
        let (config, _) = config_from(&Selection::one(service), &deployment_env);
        urls.insert(
            service,
            postgres_url(config.database.for_service(service).expose()),
        );
    }
    for (service, url) in &urls {
        let mut connection = scratch
            .options(&url.user, &url.password, &url.database)
            .connect()
            .await
            .unwrap_or_else(|e| panic!("{service} as {}: {e}", url.user));
        let (owner, superuser, create_db, create_role): (String, bool, bool, bool) =
            sqlx::query_as(
                "SELECT pg_get_userbyid(d.datdba), r.rolsuper, r.rolcreatedb, r.rolcreaterole \
                 FROM pg_database d, pg_roles r \
                 WHERE d.datname = current_database() AND r.rolname = current_user",
            )
            .fetch_one(&mut connection)
            .await
            .unwrap();
        assert_eq!(owner, url.user, "{service}: owner of its database");
        assert!(
            !superuser && !create_db && !create_role,
            "{service}: too powerful"
        );
        let owned: Vec<String> = sqlx::query_scalar(
            "SELECT datname::text FROM pg_database WHERE datdba = \
             (SELECT oid FROM pg_roles WHERE rolname = current_user)",
        )
        .fetch_all(&mut connection)
        .await
        .unwrap();
        assert_eq!(
            owned,
            [url.database.as_str()],
            "{service} owns only its database"
        );
        let _ = connection.close().await;
        for (other, other_url) in &urls {
            if other != service {
                let refused = scratch
                    .options(&url.user, &url.password, &other_url.database)
                    .connect()
                    .await;
                assert!(
                    refused.is_err(),
                    "{service} may connect to {other}'s database"
                );
            }
        }
    }

    // And each service really starts there: its migrations run as its own role.
    for (service, url) in &urls {
        let deployment_env = resolved_env(container(&deployment(*service)), &secrets);
        let (mut config, _) = config_from(&Selection::one(*service), &deployment_env);
        config.database = DatabaseUrlTemplate::parse(&format!(
            "postgres://{}:{}@localhost:{}/{}?host={}",
            url.user,
            url.password,
            url.port,
            url.database,
            scratch.socket_dir().display()
        ))
        .unwrap();
        config.drain_grace = Duration::ZERO;
        let running = Running::start(Selection::one(*service), config).await;
        running.stop().await;
        let mut connection = scratch
            .options(&url.user, &url.password, &url.database)
            .connect()
            .await
            .unwrap();
        let tables: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tableowner = current_user",
        )
        .fetch_one(&mut connection)
        .await
        .unwrap();
        let _ = connection.close().await;
        assert!(
            tables > 1,
            "{service}: {tables} tables after its migrations"
        );
    }
    let _ = admin.close().await;
}

// ---------------------------------------------------------------------------------------
// Grafana

/// The metric names and label names a PromQL expression uses.
fn promql_names(expr: &str) -> (BTreeSet<String>, BTreeSet<String>) {
    const KEYWORDS: &[&str] = &[
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
        "bool",
        "and",
        "or",
        "unless",
        "offset",
        "sum",
        "min",
        "max",
        "avg",
        "count",
        "stddev",
        "stdvar",
        "topk",
        "bottomk",
        "quantile",
        "count_values",
        "group",
        "inf",
        "nan",
    ];
    let chars: Vec<char> = expr.chars().collect();
    let mut metrics = BTreeSet::new();
    let mut labels = BTreeSet::new();
    let ident_start = |c: char| c.is_ascii_alphabetic() || c == '_' || c == ':';
    let ident_char = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == ':';
    let skip_string = |i: &mut usize| {
        let quote = chars[*i];
        *i += 1;
        while chars[*i] != quote {
            if chars[*i] == '\\' {
                *i += 1;
            }
            *i += 1;
        }
        *i += 1;
    };
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '"' || c == '\'' {
            skip_string(&mut i);
        } else if c == '[' {
            while chars[i] != ']' {
                i += 1;
            }
            i += 1;
        } else if c == '{' {
            // Label matchers: name op "value", ...
            i += 1;
            while chars[i] != '}' {
                if ident_start(chars[i]) {
                    let start = i;
                    while ident_char(chars[i]) {
                        i += 1;
                    }
                    labels.insert(chars[start..i].iter().collect::<String>());
                } else if chars[i] == '"' {
                    skip_string(&mut i);
                } else {
                    i += 1;
                }
            }
            i += 1;
        } else if c.is_ascii_digit() || c == '.' {
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
                i += 1;
            }
        } else if ident_start(c) {
            let start = i;
            while i < chars.len() && ident_char(chars[i]) {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let mut next = i;
            while next < chars.len() && chars[next].is_whitespace() {
                next += 1;
            }
            let call = chars.get(next) == Some(&'(');
            if call
                && [
                    "by",
                    "without",
                    "on",
                    "ignoring",
                    "group_left",
                    "group_right",
                ]
                .contains(&word.as_str())
            {
                let end = next + chars[next..].iter().position(|c| *c == ')').unwrap();
                let list: String = chars[next + 1..end].iter().collect();
                labels.extend(
                    list.split(',')
                        .map(str::trim)
                        .filter(|l| !l.is_empty())
                        .map(str::to_owned),
                );
                i = end + 1;
            } else if !call && !KEYWORDS.contains(&word.as_str()) {
                metrics.insert(word);
            }
        } else {
            i += 1;
        }
    }
    (metrics, labels)
}

/// Sample names and the label names seen on each, from Prometheus text exposition.
fn exposition(text: &str) -> BTreeMap<String, BTreeSet<String>> {
    let mut samples: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let end = line.find(['{', ' ']).unwrap();
        let labels = samples.entry(line[..end].to_owned()).or_default();
        if line[end..].starts_with('{') {
            let mut rest = &line[end + 1..];
            while let Some((name, after)) = rest.split_once("=\"") {
                labels.insert(name.trim_start_matches(',').to_owned());
                // The value, up to its closing unescaped quote.
                let mut escaped = false;
                let close = after
                    .char_indices()
                    .find(|(_, c)| {
                        let end = *c == '"' && !escaped;
                        escaped = *c == '\\' && !escaped;
                        end
                    })
                    .unwrap()
                    .0;
                rest = &after[close + 1..];
                if rest.starts_with('}') {
                    break;
                }
            }
        }
    }
    samples
}

fn dashboard() -> Value {
    let path = deploy_dir().join("grafana/movies.json");
    serde_json::from_str(&read(&path)).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every panel, those inside rows included.
fn panels(dashboard: &Value) -> Vec<Value> {
    let mut all = Vec::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        all.push(panel.clone());
        if let Some(inner) = panel["panels"].as_array() {
            all.extend(inner.iter().cloned());
        }
    }
    all
}

/// The labels a scrape of these pods adds: the pod labels (the usual
/// `labelmap: __meta_kubernetes_pod_label_(.+)`, which makes names Prometheus-safe) and the
/// namespace.
fn scrape_labels() -> BTreeSet<String> {
    let mut labels = BTreeSet::from(["namespace".to_owned()]);
    for deployment in objects_of("Deployment") {
        for name in deployment["spec"]["template"]["metadata"]["labels"]
            .as_object()
            .unwrap()
            .keys()
        {
            labels.insert(name.replace(|c: char| !c.is_ascii_alphanumeric(), "_"));
        }
    }
    labels
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn grafana_dashboard_queries_metrics_the_services_export() {
    let dashboard = dashboard();
    let datasource = json!({ "type": "prometheus", "uid": "${DS_PROMETHEUS}" });
    let variables = dashboard["templating"]["list"].as_array().unwrap();
    let source = variables
        .iter()
        .find(|v| v["name"] == "DS_PROMETHEUS")
        .expect("a DS_PROMETHEUS variable");
    assert_eq!(source["type"], "datasource");
    assert_eq!(source["query"], "prometheus");

    // The services, having served a buyer's journey: every metric has its series.
    let mut app = support::TestApp::start(support::Backend::Sqlite).await;
    let screening = app.screening(2, 3, 700).await;
    let buyer = app.buyer("grafana@example.org").await;
    let held = app
        .post(
            "/api/reservations",
            Some(&buyer),
            json!({ "screening_id": screening["id"], "seats": ["A1"] }),
        )
        .await;
    assert_eq!(held.status, 201, "{:?}", held.body);
    let paid = app
        .request_with(
            reqwest::Method::POST,
            "/api/payments",
            Some(&buyer),
            Some(json!({ "reservation_id": held.body["id"], "amount_cents": 700, "card_token": "tok_visa" })),
            &[("Idempotency-Key", "grafana")],
        )
        .await;
    assert_eq!(paid.status, 201, "{:?}", paid.body);
    let exported = exposition(&app.metrics().await);
    let exported_labels: BTreeSet<String> = exported.values().flatten().cloned().collect();
    let scrape_labels = scrape_labels();

    let check = |where_: &str, expr: &str| {
        let (metrics, labels) = promql_names(expr);
        assert!(!metrics.is_empty(), "{where_}: no metric in {expr}");
        for metric in &metrics {
            assert!(
                exported.contains_key(metric),
                "{where_}: {metric} is not exported (expr {expr})"
            );
        }
        for label in &labels {
            assert!(
                exported_labels.contains(label) || scrape_labels.contains(label),
                "{where_}: label {label} is neither exported nor added by the scrape (expr {expr})"
            );
        }
    };

    let mut ids = BTreeSet::new();
    let mut queries = 0;
    for panel in panels(&dashboard) {
        let title = panel["title"].as_str().unwrap().to_owned();
        assert!(ids.insert(panel["id"].as_u64().unwrap()), "{title}: id");
        let grid = &panel["gridPos"];
        assert!(
            grid["x"].as_u64().unwrap() + grid["w"].as_u64().unwrap() <= 24,
            "{title}"
        );
        if panel["type"] == "row" {
            continue;
        }
        assert_eq!(panel["datasource"], datasource, "{title}");
        let targets = panel["targets"].as_array().unwrap();
        assert!(!targets.is_empty(), "{title}");
        for target in targets {
            assert_eq!(target["datasource"], datasource, "{title}");
            check(&title, target["expr"].as_str().unwrap());
            queries += 1;
        }
    }
    assert!(queries >= 10, "{queries}");

    // The query variables (label_values(selector, label)) as well.
    for variable in variables.iter().filter(|v| v["type"] == "query") {
        assert_eq!(variable["datasource"], datasource);
        let query = variable["query"]["query"].as_str().unwrap();
        let inner = query
            .strip_prefix("label_values(")
            .and_then(|q| q.strip_suffix(')'))
            .unwrap_or_else(|| panic!("{query}"));
        let (selector, label) = inner.rsplit_once(',').unwrap();
        check(variable["name"].as_str().unwrap(), selector);
        assert!(scrape_labels.contains(label.trim()), "{query}");
    }

    // Every metric the services export that the issue names is on the dashboard.
    let text = read(&deploy_dir().join("grafana/movies.json"));
    for metric in [
        "http_request_duration_seconds_bucket",
        "http_request_duration_seconds_count",
        "movies_reservations_created_total",
        "movies_reservations_conflicts_total",
        "movies_reservations_expired_total",
        "movies_payments_total",
        "movies_sign_ins_total",
    ] {
        assert!(exported.contains_key(metric), "{metric} is not exported");
        assert!(text.contains(metric), "{metric} is not on the dashboard");
    }
}

#[test]
fn promql_names_finds_metrics_and_labels() {
    let (metrics, labels) = promql_names(
        r#"histogram_quantile(0.99, sum by (svc, le) (rate(http_x_bucket{namespace="$ns", route=~"/api/{id}"}[$__rate_interval]))) or vector(0) * 60 / on(a) group_left b"#,
    );
    assert_eq!(
        metrics,
        BTreeSet::from(["http_x_bucket".into(), "b".into()])
    );
    assert_eq!(
        labels,
        BTreeSet::from([
            "svc".into(),
            "le".into(),
            "namespace".into(),
            "route".into(),
            "a".into()
        ])
    );
    let exported =
        exposition("# TYPE x counter\nx_total{route=\"/a/{id}\",status=\"200\"} 1\nup 1\n");
    assert_eq!(
        exported["x_total"],
        BTreeSet::from(["route".into(), "status".into()])
    );
    assert!(exported["up"].is_empty());
}
