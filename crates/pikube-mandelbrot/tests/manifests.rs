//! deploy/mandelbrot and the Dockerfile, checked against the code: the probe and metrics
//! paths answer on the real service, the ports, labels and names agree between the objects,
//! limits cover requests, the pod outlives the service's drain, and `X-Served-By` takes the
//! pod name the Deployment passes.
//!
//! Not a schema validation (no schemas can be downloaded here): each field read below must
//! be where the Kubernetes API puts it, or the test fails.

use std::{collections::BTreeMap, net::SocketAddr, process::Command};

use pikube_mandelbrot::ServiceConfig;
use pikube_test_support::manifests::{
    args, container, documents, flag, repo_root, resolve_port, selects,
};
use serde_json::Value;
use tokio::{net::TcpListener, sync::oneshot};

fn manifest(name: &str) -> Value {
    documents(&repo_root().join("deploy/mandelbrot").join(name)).remove(0)
}

fn deployment() -> Value {
    manifest("deployment.yaml")
}

fn port_of_listen(listen: &str) -> u64 {
    listen.parse::<SocketAddr>().unwrap().port().into()
}

#[test]
fn kustomization_lists_every_manifest() {
    let listed: Vec<String> =
        serde_json::from_value(manifest("kustomization.yaml")["resources"].clone()).unwrap();
    let mut files: Vec<String> = std::fs::read_dir(repo_root().join("deploy/mandelbrot"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.ends_with(".yaml") && name != "kustomization.yaml")
        .collect();
    files.sort();
    let mut sorted = listed.clone();
    sorted.sort();
    assert_eq!(sorted, files);
    let kinds: Vec<String> = listed
        .iter()
        .map(|file| {
            let object = manifest(file);
            format!(
                "{} {}",
                object["apiVersion"].as_str().unwrap(),
                object["kind"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "apps/v1 Deployment",
            "v1 Service",
            "networking.k8s.io/v1 Ingress",
            "autoscaling/v2 HorizontalPodAutoscaler",
            "policy/v1 PodDisruptionBudget",
            "networking.k8s.io/v1 NetworkPolicy",
        ]
    );
}

#[test]
fn objects_refer_to_each_other() {
    let deployment = deployment();
    let name = deployment["metadata"]["name"].as_str().unwrap();
    let pod_labels = &deployment["spec"]["template"]["metadata"]["labels"];
    let container = container(&deployment);
    assert_eq!(deployment["spec"]["replicas"], 2);
    assert!(selects(
        &deployment["spec"]["selector"]["matchLabels"],
        pod_labels
    ));

    // The service listens where the container port says, and the Service sends traffic there.
    let args = args(container);
    let listen = flag(&args, "--listen").expect("--listen in args");
    let service = manifest("service.yaml");
    assert!(selects(&service["spec"]["selector"], pod_labels));
    let service_port = &service["spec"]["ports"][0];
    assert_eq!(
        resolve_port(container, &service_port["targetPort"]),
        port_of_listen(listen)
    );

    // Only the Ingress controller and the monitoring namespace reach the pods, on the port
    // the service listens on (review M11).
    let policy = manifest("network-policy.yaml");
    assert!(selects(
        &policy["spec"]["podSelector"]["matchLabels"],
        pod_labels
    ));
    assert_eq!(
        policy["spec"]["policyTypes"],
        serde_json::json!(["Ingress"])
    );
    let rules = policy["spec"]["ingress"].as_array().expect("ingress rules");
    assert_eq!(rules.len(), 1);
    let peers: Vec<String> = rules[0]["from"]
        .as_array()
        .unwrap()
        .iter()
        .map(|peer| {
            format!(
                "{}/{}",
                peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
                    .as_str()
                    .unwrap_or("?"),
                peer["podSelector"]["matchLabels"]["app.kubernetes.io/name"]
                    .as_str()
                    .unwrap_or("*")
            )
        })
        .collect();
    assert_eq!(peers, ["kube-system/traefik", "monitoring/*"]);
    for port in rules[0]["ports"].as_array().unwrap() {
        assert_eq!(
            resolve_port(container, &port["port"]),
            port_of_listen(listen)
        );
    }

    let ingress = manifest("ingress.yaml");
    assert_eq!(ingress["spec"]["ingressClassName"], "traefik");
    let paths = ingress["spec"]["rules"][0]["http"]["paths"]
        .as_array()
        .expect("paths");
    for path in paths {
        let backend = &path["backend"]["service"];
        assert_eq!(backend["name"], service["metadata"]["name"]);
        assert_eq!(backend["port"]["name"], service_port["name"]);
    }
    // What the Ingress routes, as Kubernetes matches paths (Exact, or Prefix by segment):
    // the page and the API, and never the probes or the metrics (review L9).
    let routed = |request: &str| {
        paths.iter().any(|p| {
            let path = p["path"].as_str().unwrap();
            match p["pathType"].as_str().unwrap() {
                "Exact" => request == path,
                "Prefix" => {
                    let prefix = path.trim_end_matches('/');
                    request == prefix || request.starts_with(&format!("{prefix}/"))
                }
                other => panic!("pathType {other}"),
            }
        })
    };
    for public in ["/", "/app.js", "/style.css", "/api/v1/render"] {
        assert!(routed(public), "{public} is not routed");
    }
    for private in ["/metrics", "/healthz", "/readyz", "/metricsx"] {
        assert!(!routed(private), "{private} is routed to the world");
    }

    let hpa = manifest("hpa.yaml");
    let target = &hpa["spec"]["scaleTargetRef"];
    assert_eq!(
        (&target["apiVersion"], &target["kind"], &target["name"]),
        (
            &deployment["apiVersion"],
            &deployment["kind"],
            &Value::from(name)
        )
    );
    assert_eq!(hpa["spec"]["metrics"][0]["resource"]["name"], "cpu");
    let min_replicas = hpa["spec"]["minReplicas"].as_u64().unwrap();
    assert!(min_replicas <= hpa["spec"]["maxReplicas"].as_u64().unwrap());
    // CPU utilisation is a fraction of the request: without one the HPA cannot work.
    assert!(container["resources"]["requests"]["cpu"].is_string());

    // A drain can always evict one replica, even at the HPA's minimum.
    let pdb = manifest("pdb.yaml");
    assert!(selects(&pdb["spec"]["selector"]["matchLabels"], pod_labels));
    assert!(pdb["spec"]["minAvailable"].as_u64().unwrap() < min_replicas);
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

#[test]
fn limits_cover_requests_and_fit_a_4_gb_pi() {
    let deployment = deployment();
    let resources = &container(&deployment)["resources"];
    for resource in ["cpu", "memory"] {
        let request = quantity(resources["requests"][resource].as_str().unwrap());
        let limit = quantity(resources["limits"][resource].as_str().unwrap());
        assert!(
            request > 0.0 && request <= limit,
            "{resource}: {request} > {limit}"
        );
    }
    let cpu = quantity(resources["limits"]["cpu"].as_str().unwrap());
    let memory = quantity(resources["limits"]["memory"].as_str().unwrap());
    assert!(cpu <= 4.0, "a Pi 4 or 5 has 4 cores");
    // Two replicas may land on one board next to K3s itself.
    assert!(memory <= 1024.0 * 1024.0 * 1024.0, "{memory} bytes");
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

#[test]
fn pod_outlives_the_drain_and_runs_locked_down() {
    let deployment = deployment();
    let pod = &deployment["spec"]["template"]["spec"];
    let container = container(&deployment);
    let drain = seconds(flag(&args(container), "--drain-grace").expect("--drain-grace"));
    assert!(
        drain > 0,
        "without a drain grace, requests are routed to a closed port"
    );
    let grace = pod["terminationGracePeriodSeconds"].as_u64().unwrap();
    // After the drain, a render in flight may run up to its deadline: SIGKILL must not come
    // before (review H1).
    let deadline = seconds(flag(&args(container), "--render-deadline").expect("--render-deadline"));
    assert!(
        grace > drain + deadline,
        "{grace} s <= drain grace {drain} s + render deadline {deadline} s"
    );

    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert_ne!(pod["securityContext"]["runAsUser"], 0);
    let security = &container["securityContext"];
    assert_eq!(security["readOnlyRootFilesystem"], true);
    assert_eq!(security["allowPrivilegeEscalation"], false);
    assert_eq!(security["capabilities"]["drop"], serde_json::json!(["ALL"]));
}

#[test]
fn image_matches_the_dockerfile_and_the_version() {
    let deployment = deployment();
    let container = container(&deployment);
    let image = container["image"].as_str().unwrap();
    assert_eq!(
        image.rsplit_once(':').unwrap().1,
        env!("CARGO_PKG_VERSION"),
        "image tag"
    );
    let dockerfile = std::fs::read_to_string(repo_root().join("Dockerfile")).unwrap();
    let last = |instruction: &str| -> String {
        dockerfile
            .lines()
            .filter_map(|line| line.strip_prefix(instruction))
            .next_back()
            .unwrap_or_else(|| panic!("no {instruction}in the Dockerfile"))
            .trim()
            .to_owned()
    };
    let user = last("USER ");
    let uid = user.split(':').next().unwrap();
    assert_eq!(
        deployment["spec"]["template"]["spec"]["securityContext"]["runAsUser"].to_string(),
        uid
    );
    // The image's default command is what the Deployment runs, less the drain grace.
    let cmd: Vec<String> = serde_json::from_str(&last("CMD ")).unwrap();
    let args = args(container);
    assert_eq!(cmd, args[..cmd.len()]);
    assert!(
        last("EXPOSE ").parse::<u64>().unwrap() == port_of_listen(flag(&args, "--listen").unwrap())
    );
}

/// The probe paths and the scrape path answer on the real service, over HTTP.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probe_and_metrics_paths_answer() {
    let deployment = deployment();
    let container = container(&deployment);
    let port = port_of_listen(flag(&args(container), "--listen").unwrap());
    let annotations = &deployment["spec"]["template"]["metadata"]["annotations"];
    assert_eq!(annotations["prometheus.io/port"], port.to_string());
    let mut paths = BTreeMap::new();
    for probe in ["livenessProbe", "readinessProbe"] {
        let get = &container[probe]["httpGet"];
        assert_eq!(resolve_port(container, &get["port"]), port, "{probe} port");
        paths.insert(probe, get["path"].as_str().unwrap().to_owned());
    }
    paths.insert(
        "metrics",
        annotations["prometheus.io/path"]
            .as_str()
            .unwrap()
            .to_owned(),
    );

    let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(pikube_mandelbrot::serve(
        listener,
        ServiceConfig::default(),
        async {
            let _ = stopped.await;
        },
    ));
    let client = reqwest::Client::new();
    for (what, path) in &paths {
        let response = client.get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(response.status(), 200, "{what} {path}");
    }
    let missing = client
        .get(format!("{base}/no-such-path"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        missing.status(),
        404,
        "the router does not answer 200 to everything"
    );
    let _ = stop.send(());
    server.await.unwrap().unwrap();
}

/// The variable the Deployment fills from `metadata.name` is the one `X-Served-By` is taken
/// from, ahead of `HOSTNAME`. Checked in a child process (this test binary again, running only
/// [`served_by_in_child`]), because setting variables here would race with other tests.
#[test]
fn served_by_is_the_pod_name() {
    let deployment = deployment();
    let env = container(&deployment)["env"].as_array().unwrap();
    let pod_name = env
        .iter()
        .find(|var| var["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name")
        .expect("an env var from metadata.name");
    let variable = pod_name["name"].as_str().unwrap();
    let output = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "manifests::served_by_in_child",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(variable, "mandelbrot-7d9f-abcde")
        .env("HOSTNAME", "not-the-pod-name")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout
            .lines()
            .any(|line| line == "served_by=mandelbrot-7d9f-abcde"),
        "{stdout}"
    );
}

#[test]
#[ignore = "run by served_by_is_the_pod_name in a child process with its own environment"]
fn served_by_in_child() {
    let served_by = ServiceConfig::default().served_by;
    assert!(!served_by.is_empty());
    // On a line of its own: libtest has already printed "test served_by_in_child ... ".
    println!("\nserved_by={served_by}");
}
