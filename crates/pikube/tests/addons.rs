//! Add-ons on a fake Raspberry Pi fleet: `[addons.monitoring]` written to every server's
//! manifests folder and applied by the k3s double's deploy controller to the real
//! kube-apiserver (every object through its validation), its Prometheus configuration run
//! by the upstream Prometheus against the cluster, changed, given a password from
//! secrets.age, and removed.

use crate::support;

use std::time::{Duration, Instant};

use support::cluster::{node, Workspace};
use support::fleet::Fleet;
use support::k3s::edit;
use support::registry::Registry;
use support::secrets::WorkspaceSecrets;

const READY: &str = "--ready-timeout=60s";
const STACK: &str = "/var/lib/rancher/k3s/server/manifests/pikube-monitoring.yaml";
const SECRET: &str = "/var/lib/rancher/k3s/server/manifests/pikube-monitoring-secret.yaml";

/// Polls `script` on `fleet_node` until `done` holds for its output (60 s at most).
fn eventually(
    fleet: &Fleet,
    fleet_node: &str,
    script: &str,
    done: impl Fn(&str) -> bool,
) -> String {
    let started = Instant::now();
    loop {
        let out = fleet.try_exec(fleet_node, script);
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        if done(&text) {
            return text;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "`{script}` on {fleet_node} never came right; last:\n{text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// etcd's metrics as Prometheus would scrape them from another node: plain HTTP on the
/// server's address, port 2381 (there is no curl on a fake node).
fn etcd_metrics(fleet: &Fleet, from: &str, server: &str) -> std::process::Output {
    let ip = &fleet.node(server).ip;
    fleet.try_exec(
        from,
        &format!(
            "timeout 5 bash -c 'exec 3<>/dev/tcp/{ip}/2381 && \
             printf \"GET /metrics HTTP/1.0\\r\\n\\r\\n\" >&3 && cat <&3'"
        ),
    )
}

/// The add-on's own Prometheus configuration, as the cluster holds it, run by the upstream
/// Prometheus the add-on pins (tests/real-prometheus/build) from this machine against the
/// real control plane of `fleet` (servers `one` on pi1 and `two` on pi2). Only what a pod
/// would provide is given here: the service account's token (minted for the add-on's own
/// account, so discovery and scrapes go through its RBAC) and the cluster CA where the pod
/// mounts them, the rules file, and a kubeconfig holding the same token for discovery (not
/// in a pod, Prometheus cannot find the API by itself). The scrape interval is 2 s instead
/// of 30 s so the test does not wait.
fn the_addons_prometheus_discovers_and_scrapes_k3s(fleet: &Fleet) {
    let Some(binary) = pikube_test_support::found_or_skip(
        std::env::var_os("PIKUBE_UPSTREAM_PROMETHEUS").map(std::path::PathBuf::from),
        "PIKUBE_UPSTREAM_PROMETHEUS is not set (tests/real-prometheus/build makes one)",
    ) else {
        return;
    };
    let data = |key: &str| {
        fleet.exec(
            "pi1",
            &format!(
                "k3s kubectl -n monitoring get configmap prometheus-config \
                 -o jsonpath='{{.data.{}}}'",
                key.replace('.', "\\.")
            ),
        )
    };
    let (shipped, rules) = (data("prometheus.yml"), data("pikube.rules.yaml"));
    let dir = tempfile::tempdir().unwrap();
    let account = dir.path().join("serviceaccount");
    std::fs::create_dir(&account).unwrap();
    let token = fleet.exec(
        "pi1",
        "k3s kubectl -n monitoring create token prometheus --duration=1h",
    );
    std::fs::write(account.join("token"), token.trim()).unwrap();
    std::fs::write(
        account.join("ca.crt"),
        fleet.exec("pi1", "cat /var/lib/rancher/k3s/server/tls/server-ca.crt"),
    )
    .unwrap();
    std::fs::write(dir.path().join("pikube.rules.yaml"), rules).unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: lab\n  cluster:\n    \
             server: https://{}:6443\n    certificate-authority: {}\nusers:\n- name: prometheus\n  \
             user:\n    tokenFile: {}\ncontexts:\n- name: lab\n  context:\n    cluster: lab\n    \
             user: prometheus\ncurrent-context: lab\n",
            fleet.node("pi1").ip,
            account.join("ca.crt").display(),
            account.join("token").display(),
        ),
    )
    .unwrap();
    let roles = shipped.matches("\n      - role: ").count();
    assert_eq!(
        roles,
        shipped.matches("kubernetes_sd_configs:").count(),
        "{shipped}"
    );
    let config = shipped
        .replace(
            "/etc/prometheus/pikube.rules.yaml",
            dir.path().join("pikube.rules.yaml").to_str().unwrap(),
        )
        .replace(
            "/var/run/secrets/kubernetes.io/serviceaccount",
            account.to_str().unwrap(),
        )
        .replace("scrape_interval: 30s", "scrape_interval: 2s")
        .replace(
            "\n      - role: ",
            &format!(
                "\n      - kubeconfig_file: {}\n        role: ",
                kubeconfig.display()
            ),
        );
    let config: serde_json::Value = yaml_serde::from_str(&config).unwrap();

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let prometheus = pikube_test_support::Prometheus::start(&binary, &config).await;
        let client = reqwest::Client::new();
        // Each server's etcd, found through the Nodes (K3s' etcd role label) and scraped on
        // 2381 (etcd-expose-metrics): up, with a leader.
        prometheus
            .wait_for(
                &client,
                "up{job=\"etcd\"}",
                "instance",
                &[("one", 1.0), ("two", 1.0)],
            )
            .await;
        prometheus
            .wait_for(&client, "sum(etcd_server_has_leader)", "", &[("", 2.0)])
            .await;
        // Both API servers, found as the `kubernetes` Service's endpoints and scraped with
        // the account's token: its ClusterRole allows /metrics.
        let (ip1, ip2) = (&fleet.node("pi1").ip, &fleet.node("pi2").ip);
        prometheus
            .wait_for(
                &client,
                "up{job=\"apiserver\"}",
                "instance",
                &[(&format!("{ip1}:6443"), 1.0), (&format!("{ip2}:6443"), 1.0)],
            )
            .await;
        prometheus
            .wait_for(
                &client,
                "count(count by (instance) (apiserver_request_total{job=\"apiserver\"}))",
                "",
                &[("", 2.0)],
            )
            .await;
        // The kubelets' cAdvisor, one target per Node, named by the node (no kubelet runs
        // under the double, so these are discovered, not scraped).
        prometheus
            .wait_for(
                &client,
                "count by (instance) (up{job=\"cadvisor\"})",
                "instance",
                &[("one", 1.0), ("two", 1.0)],
            )
            .await;
    });
}

fn api_password(fleet: &Fleet) -> String {
    fleet
        .exec(
            "pi1",
            "k3s kubectl get secret -n monitoring grafana-admin \
             -o jsonpath='{.data.admin-password}' | base64 -d",
        )
        .clone()
}

#[test]
fn monitoring_reaches_every_server_applies_follows_cluster_toml_and_goes_cleanly() {
    let fleet = Fleet::up(&["pi1", "pi2"]);
    let ws = Workspace::new(
        &fleet,
        "pi",
        &[node("pi1", "one", "server"), node("pi2", "two", "server")],
    );
    let toml = ws.path().join("cluster.toml");
    let text = std::fs::read_to_string(&toml).unwrap();
    std::fs::write(
        &toml,
        format!("{text}\n[addons.monitoring]\nretention = \"30d\"\nstorage = \"10Gi\"\n"),
    )
    .unwrap();

    // The plan names both files on both servers, the password's only by what it holds.
    let plan = ws.pikube(&["plan"]).expect_code(2);
    assert_eq!(
        plan.stdout
            .matches(&format!("[addons] create {STACK}\n"))
            .count(),
        2,
        "{}",
        plan.stdout
    );
    assert_eq!(
        plan.stdout
            .matches(&format!(
                "[addons] create {SECRET} (contents hidden: Grafana's admin password)"
            ))
            .count(),
        2,
        "{}",
        plan.stdout
    );
    // The stack's manifest is new: shown by its start, not its thousands of lines.
    assert_eq!(
        plan.stdout.matches("more lines of the new file").count(),
        2,
        "{}",
        plan.stdout
    );
    // The whole plan (hostnames, swap, K3s' files on three nodes) stays readable: the
    // manifest alone is about 3,700 lines per server.
    assert!(plan.stdout.len() < 40_000, "{}", plan.stdout.len());

    ws.pikube(&["apply", READY]).expect_code(0);

    // The add-on's images checked for the platform the nodes report (amd64 here), each
    // asked of a real registry that cluster.toml names as the mirror.
    let registry = Registry::start();
    registry.publish_monitoring(&["linux/amd64", "linux/arm64"]);
    std::fs::write(
        ws.path().join("images.toml"),
        format!(
            "{}\n[k3s.registries.mirrors]\n\"*\" = [\"{}\"]\n",
            std::fs::read_to_string(&toml).unwrap(),
            registry.mirror
        ),
    )
    .unwrap();
    let images = ws
        .pikube(&["images", "--check", "-f", "images.toml"])
        .expect_code(0);
    assert!(
        images
            .stderr
            .contains("Asking the registries about 5 image(s), for linux/amd64..."),
        "{}",
        images.stderr
    );
    assert!(
        images
            .stdout
            .ends_with("Images: 5 ok, 0 missing a node's platform, 0 not resolved.\n"),
        "{}",
        images.stdout
    );
    drop(registry);

    let state = ws.path().join(".pikube/test/grafana-admin-password");
    let password = std::fs::read_to_string(&state).unwrap().trim().to_owned();
    assert_eq!(password.len(), 64);
    let mode = std::fs::metadata(&state).unwrap();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&mode.permissions()) & 0o777,
        0o600
    );
    for fleet_node in ["pi1", "pi2"] {
        let files = fleet.exec(fleet_node, &format!("stat -c '%a %n' {STACK} {SECRET}"));
        assert_eq!(files, format!("600 {STACK}\n600 {SECRET}\n"));
        let first = fleet.exec(fleet_node, &format!("head -n1 {STACK}"));
        assert!(first.starts_with("# Written by pikube"), "{first}");
    }
    // K3s (here the double's deploy controller) applied every object: the real API server
    // accepted each one.
    let expected = [
        "deployment.apps/prometheus",
        "deployment.apps/grafana",
        "deployment.apps/kube-state-metrics",
        "daemonset.apps/node-exporter",
        "daemonset.apps/pi-exporter",
        "service/grafana",
        "persistentvolumeclaim/prometheus-data",
        "configmap/prometheus-config",
        "configmap/grafana-dashboards",
    ];
    eventually(
        &fleet,
        "pi1",
        "k3s kubectl get deploy,daemonset,service,pvc,configmap -n monitoring -o name",
        |out| {
            expected
                .iter()
                .all(|object| out.lines().any(|l| l == *object))
        },
    );
    eventually(
        &fleet,
        "pi1",
        "k3s kubectl get secret -n monitoring -o name",
        |out| out.contains("secret/grafana-admin"),
    );
    assert_eq!(api_password(&fleet), password);
    // The second server applies its own copy (both apply; one may have to try again).
    eventually(
        &fleet,
        "pi2",
        "journalctl -u k3s --no-pager -o cat",
        |journal| journal.contains(&format!("Applied manifest {STACK}")),
    );
    // With the add-on, each server's etcd serves its metrics to the network for the etcd
    // job (etcd-expose-metrics).
    for (from, server) in [("pi2", "pi1"), ("pi1", "pi2")] {
        let scraped = etcd_metrics(&fleet, from, server);
        let text = String::from_utf8_lossy(&scraped.stdout);
        assert!(
            text.contains("\netcd_server_has_leader 1\n"),
            "{server}: {text}"
        );
    }
    the_addons_prometheus_discovers_and_scrapes_k3s(&fleet);
    ws.pikube(&["plan"]).expect_code(0);

    // A setting changed: the diff in the plan, the new value in the API.
    edit(&ws, "retention = \"30d\"", "retention = \"45d\"");
    let plan = ws.pikube(&["plan"]).expect_code(2);
    for line in [
        "      -            - --storage.tsdb.retention.time=30d\n",
        "      +            - --storage.tsdb.retention.time=45d\n",
    ] {
        assert_eq!(plan.stdout.matches(line).count(), 2, "{}", plan.stdout);
    }
    assert!(!plan.stdout.contains(SECRET), "{}", plan.stdout);
    ws.pikube(&["apply", READY]).expect_code(0);
    eventually(
        &fleet,
        "pi1",
        "k3s kubectl get deploy prometheus -n monitoring \
         -o jsonpath='{.spec.template.spec.containers[0].args}'",
        |out| out.contains("retention.time=45d"),
    );

    // Grafana's password from secrets.age: refused while the secret is missing, then
    // written, and in no output.
    edit(
        &ws,
        "storage = \"10Gi\"",
        "storage = \"10Gi\"\ngrafana_password_secret = \"grafana.admin\"",
    );
    let secrets = WorkspaceSecrets::init(&ws);
    let missing = secrets.pikube(&["apply", READY]).expect_code(1);
    assert!(
        missing.stdout.contains(
            "addons.monitoring.grafana_password_secret names grafana.admin, which the secrets \
             beside cluster.toml do not hold"
        ),
        "{}",
        missing.stdout
    );
    let chosen = "Gr4fana: \"my\" #pass";
    secrets.set("grafana.admin", chosen);
    let plan = secrets.pikube(&["plan"]).expect_code(2);
    assert!(
        plan.stdout.contains(&format!(
            "update {SECRET} (contents hidden: Grafana's admin password)"
        )),
        "{}",
        plan.stdout
    );
    let apply = secrets.pikube(&["apply", READY]).expect_code(0);
    for run in [&plan, &apply] {
        assert!(!run.stdout.contains("Gr4fana") && !run.stderr.contains("Gr4fana"));
        assert!(!run.stdout.contains(&password) && !run.stderr.contains(&password));
    }
    let started = Instant::now();
    while api_password(&fleet) != chosen {
        assert!(started.elapsed() < Duration::from_secs(60), "never applied");
        std::thread::sleep(Duration::from_millis(500));
    }

    // Turned off: the objects deleted through the API, then the files, on both servers.
    edit(
        &ws,
        "[addons.monitoring]\n",
        "[addons.monitoring]\nenabled = false\n",
    );
    let plan = secrets.pikube(&["plan"]).expect_code(2);
    assert_eq!(
        plan.stdout
            .matches(
                "remove the monitoring add-on: delete its objects, then \
                 pikube-monitoring-secret.yaml and pikube-monitoring.yaml"
            )
            .count(),
        2,
        "{}",
        plan.stdout
    );
    secrets.pikube(&["apply", READY]).expect_code(0);
    for fleet_node in ["pi1", "pi2"] {
        let left = fleet.exec(
            fleet_node,
            "ls /var/lib/rancher/k3s/server/manifests | grep pikube; true",
        );
        assert_eq!(left, "", "{fleet_node}");
    }
    // And etcd's metrics are back on 127.0.0.1 only (K3s restarted without the flag).
    assert!(!etcd_metrics(&fleet, "pi2", "pi1").status.success());
    let roles = fleet.exec(
        "pi1",
        "k3s kubectl get clusterrole -o name | grep pikube-monitoring; true",
    );
    assert_eq!(roles, "");
    let namespace = fleet.exec(
        "pi1",
        "k3s kubectl get namespace monitoring -o jsonpath='{.metadata.deletionTimestamp}' \
         2>&1; true",
    );
    assert!(
        namespace.contains("NotFound") || !namespace.trim().is_empty(),
        "the namespace is neither gone nor going: {namespace}"
    );
    secrets.pikube(&["plan"]).expect_code(0);
}
