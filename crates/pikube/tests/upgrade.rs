//! Rolling upgrades on fake Raspberry Pi fleets. K3s, with the k3s double stamped as older
//! and newer releases: the preflight refusals, servers then agents one at a time while the
//! API keeps answering, a run killed half-way and resumed. The OS, with apt and a local
//! package repository on each node: pending upgrades listed, installed one node at a time,
//! a reboot only where one is required.

use crate::support;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use support::cluster::{k3s_double, node, Workspace};
use support::fleet::Fleet;
use support::k3s::{cluster_nodes, invocation, stamped_double, use_k3s, wait_not_ready};

const READY: &str = "--ready-timeout=60s";
const OLD: &str = "v1.33.5+k3s1";
const NEW: &str = "v1.34.4+k3s1";

/// Each node's kubelet version and whether it is cordoned, as a server sees them.
fn versions(fleet: &Fleet, server: &str) -> Vec<(String, String, bool)> {
    let mut nodes: Vec<(String, String, bool)> = cluster_nodes(fleet, server)
        .iter()
        .map(|n| {
            (
                n["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                n["status"]["nodeInfo"]["kubeletVersion"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                n["spec"]["unschedulable"].as_bool().unwrap_or(false),
            )
        })
        .collect();
    nodes.sort();
    nodes
}

fn all_at(fleet: &Fleet, version: &str) -> bool {
    versions(fleet, "pi1")
        .iter()
        .all(|(_, v, cordoned)| v == version && !cordoned)
}

const SERVICES: [(&str, &str); 5] = [
    ("pi1", "k3s"),
    ("pi2", "k3s"),
    ("pi3", "k3s"),
    ("pi4", "k3s-agent"),
    ("pi5", "k3s-agent"),
];

fn runs(fleet: &Fleet) -> Vec<String> {
    SERVICES
        .iter()
        .map(|(n, s)| invocation(fleet, n, s))
        .collect()
}

#[test]
fn an_upgrade_is_refused_when_unsafe_then_rolls_servers_then_agents_and_resumes_after_a_kill() {
    let fleet = Fleet::up(&["pi1", "pi2", "pi3", "pi4", "pi5"]);
    let ws = Workspace::new(
        &fleet,
        "pi",
        &[
            node("pi1", "s1", "server"),
            node("pi2", "s2", "server"),
            node("pi3", "s3", "server"),
            node("pi4", "a1", "agent"),
            node("pi5", "a2", "agent"),
        ],
    );
    let old = stamped_double(&ws, OLD);
    use_k3s(&ws, OLD, &old);
    ws.pikube(&["apply", READY]).expect_code(0);
    assert_eq!(versions(&fleet, "pi1").len(), 5);
    assert!(all_at(&fleet, OLD), "{:?}", versions(&fleet, "pi1"));
    let before = runs(&fleet);

    // Refused before anything changes: a skipped minor version, then a downgrade.
    let skipping = stamped_double(&ws, "v1.35.0+k3s1");
    use_k3s(&ws, "v1.35.0+k3s1", &skipping);
    let plan = ws.pikube(&["plan"]).expect_code(1);
    assert!(
        plan.stdout
            .contains("s1: v1.33.5+k3s1 → v1.35.0+k3s1 skips a minor version")
            && plan.stdout.contains("a v1.34.x release first"),
        "{}",
        plan.stdout
    );
    let apply = ws.pikube(&["apply", READY]).expect_code(1);
    assert!(
        apply.stdout.contains("upgrade to v1.35.0+k3s1 refused"),
        "{}",
        apply.stdout
    );
    let down = stamped_double(&ws, "v1.33.1+k3s1");
    use_k3s(&ws, "v1.33.1+k3s1", &down);
    let apply = ws.pikube(&["apply", READY]).expect_code(1);
    assert!(
        apply
            .stdout
            .contains("a downgrade is refused unless --allow-downgrade"),
        "{}",
        apply.stdout
    );
    assert_eq!(runs(&fleet), before, "a refused upgrade restarted K3s");
    assert!(all_at(&fleet, OLD), "{:?}", versions(&fleet, "pi1"));
    let binary = fleet.exec("pi1", "sha256sum < /usr/local/bin/k3s");
    let old_sha = std::process::Command::new("sha256sum")
        .stdin(std::fs::File::open(&old).unwrap())
        .output()
        .unwrap();
    assert_eq!(binary, String::from_utf8_lossy(&old_sha.stdout));

    // The upgrade, planned, then applied while the API is asked every 200 ms whether it
    // answers on some server; the first run is killed while s2 restarts, the next resumes.
    use_k3s(&ws, NEW, &k3s_double());
    let plan = ws.pikube(&["plan"]).expect_code(2);
    assert_eq!(
        plan.stdout
            .matches("upgrade k3s v1.33.5+k3s1 → v1.34.4+k3s1")
            .count(),
        5,
        "{}",
        plan.stdout
    );
    let stop = AtomicBool::new(false);
    let (polls, dark, resumed) = std::thread::scope(|scope| {
        let watcher = scope.spawn(|| {
            let (mut polls, mut dark) = (0, Vec::new());
            while !stop.load(Ordering::Relaxed) {
                let up = ["pi1", "pi2", "pi3"].iter().any(|n| {
                    fleet
                        .try_exec(n, "k3s kubectl get --raw /readyz")
                        .status
                        .success()
                });
                polls += 1;
                if !up {
                    dark.push(polls);
                }
                std::thread::sleep(Duration::from_millis(200));
            }
            (polls, dark)
        });
        let mut child = ws
            .command(&["apply", READY])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn apply");
        let mut seen = Vec::new();
        for line in BufReader::new(child.stderr.take().unwrap()).lines() {
            let line = line.unwrap();
            seen.push(line.clone());
            if line.contains("s2: [upgrade] restarting") {
                child.kill().expect("kill apply");
                break;
            }
        }
        assert!(!child.wait().unwrap().success(), "not killed: {seen:?}");
        assert!(
            seen.iter()
                .any(|l| l.contains("snapshot pre-upgrade-v1.34.4-k3s1")),
            "{seen:?}"
        );
        let resumed = ws.pikube(&["apply", READY, "--max-unavailable=2"]);
        stop.store(true, Ordering::Relaxed);
        let (polls, dark) = watcher.join().unwrap();
        (polls, dark, resumed)
    });
    let resumed = resumed.expect_code(0);
    assert!(polls >= 10, "the API was asked only {polls} times");
    assert!(
        dark.is_empty(),
        "no server answered at polls {dark:?} of {polls}"
    );
    assert!(all_at(&fleet, NEW), "{:?}", versions(&fleet, "pi1"));
    for node in ["s3", "a1", "a2"] {
        assert!(
            resumed.stdout.contains(&format!(
                "ok      {node}: upgraded k3s v1.33.5+k3s1 → v1.34.4+k3s1"
            )),
            "{node}: {}",
            resumed.stdout
        );
    }
    // s1 was done by the killed run; s2 was killed somewhere in its restart.
    assert!(
        resumed.stdout.contains("ok      s1: unchanged"),
        "{}",
        resumed.stdout
    );
    let at = |needle: &str| {
        resumed
            .stderr
            .find(needle)
            .unwrap_or_else(|| panic!("{needle:?} not in {}", resumed.stderr))
    };
    // Servers before agents; the two agents at once (--max-unavailable=2).
    assert!(at("s3: [upgrade] restarting") < at("a1: [upgrade] cordon and drain"));
    assert!(at("s3: [upgrade] restarting") < at("a2: [upgrade] cordon and drain"));
    // Both agents started before either was done. (Their restarts need not overlap: on a
    // loaded machine one agent may be drained, restarted and Ready while the other drains.)
    let first_agent_ready = at("a1: [upgrade] Ready on").min(at("a2: [upgrade] Ready on"));
    assert!(at("a1: [upgrade] cordon and drain") < first_agent_ready);
    assert!(at("a2: [upgrade] cordon and drain") < first_agent_ready);
    let snapshots = fleet.exec("pi1", "k3s etcd-snapshot ls 2>&1");
    assert!(
        snapshots.contains("pre-upgrade-v1.34.4-k3s1"),
        "{snapshots}"
    );

    // Converged: the next apply changes and restarts nothing.
    let upgraded = runs(&fleet);
    let again = ws.pikube(&["apply", READY]).expect_code(0);
    assert!(
        again.stdout.contains("0 changed, 5 unchanged"),
        "{}",
        again.stdout
    );
    assert_eq!(runs(&fleet), upgraded);

    // An OS upgrade takes a server down only while the other servers keep etcd's quorum:
    // with s3's power cut, s2 is refused before anything changes on it.
    pending_os_upgrade(&fleet, "pi2", false);
    fleet.powercut("pi3");
    wait_not_ready(&fleet, "pi1", "s3");
    // status names it among the nodes, and as the problem; etcd keeps its quorum.
    let status = ws.pikube(&["status"]).expect_code(1);
    for expected in [
        "Cluster: NOT healthy",
        "etcd: quorum holds (2 of 3 members Ready)",
        "nodes: s1 Ready, s2 Ready, s3 NotReady, a1 Ready, a2 Ready",
        "problem: s3: NotReady",
    ] {
        assert!(
            status.stdout.contains(expected),
            "{expected}: {}",
            status.stdout
        );
    }
    let refused = ws.pikube(&["os-upgrade", "s2", READY]).expect_code(1);
    assert!(
        refused.stdout.contains(
            "FAILED  s2: OS upgrade stopped at the quorum check: 1 of the other servers is \
             NotReady, and etcd needs 2 of its 3 members up: taking s2 down too would stop \
             the API; bring s3 back first; --allow-quorum-loss goes on anyway"
        ),
        "{}",
        refused.stdout
    );
    assert_eq!(
        fleet.exec("pi2", "dpkg-query -W -f '${Version}' pikube-demo"),
        "1.0"
    );
    let s2 = versions(&fleet, "pi1")
        .into_iter()
        .find(|(name, _, _)| name == "s2");
    assert!(matches!(s2, Some((_, _, false))), "s2 cordoned: {s2:?}");

    // Nor does a K3s upgrade start with s3 off: pikube cannot reach it, and restarting s2
    // would take etcd below its quorum. Refused naming s3; nothing restarts elsewhere.
    let others = || -> Vec<String> {
        SERVICES
            .iter()
            .filter(|(n, _)| *n != "pi3")
            .map(|(n, s)| invocation(&fleet, n, s))
            .collect()
    };
    let at_new = others();
    let newer = stamped_double(&ws, "v1.34.5+k3s1");
    use_k3s(&ws, "v1.34.5+k3s1", &newer);
    let refused = ws.pikube(&["apply", READY]).expect_code(1);
    assert!(
        refused
            .stdout
            .contains("upgrade to v1.34.5+k3s1 refused: s3: cannot connect to")
            && refused.stdout.contains(
                "an upgrade starts only on a healthy cluster, every node of cluster.toml \
                 answering and Ready"
            ),
        "{}",
        refused.stdout
    );
    assert_eq!(others(), at_new, "a refused upgrade restarted K3s");
    let nodes = versions(&fleet, "pi1");
    assert!(
        nodes
            .iter()
            .all(|(n, v, cordoned)| v == NEW && (n == "s3" || !cordoned)),
        "{nodes:?}"
    );
}

/// s1, a1 and a2 on fresh fake Pis, K3s `OLD` installed and every node Ready.
fn server_and_two_agents_on_old() -> (Fleet, Workspace) {
    let fleet = Fleet::up(&["pi1", "pi2", "pi3"]);
    let ws = Workspace::new(
        &fleet,
        "pi",
        &[
            node("pi1", "s1", "server"),
            node("pi2", "a1", "agent"),
            node("pi3", "a2", "agent"),
        ],
    );
    let old = stamped_double(&ws, OLD);
    use_k3s(&ws, OLD, &old);
    ws.pikube(&["apply", READY]).expect_code(0);
    (fleet, ws)
}

#[test]
fn a_node_lost_mid_upgrade_stops_the_rollout_at_it_and_the_next_apply_finishes_the_job() {
    let (fleet, ws) = server_and_two_agents_on_old();

    // a2 got the new binary but K3s was never restarted on it (audit F6: an upgrade
    // interrupted between upload and restart): its file is right, the running K3s is not.
    let new = stamped_double(&ws, NEW);
    fleet.exec(
        "pi3",
        &format!(
            "/usr/local/bin/k3s stamp {NEW} /usr/local/bin/k3s.new && \
             mv /usr/local/bin/k3s.new /usr/local/bin/k3s"
        ),
    );
    use_k3s(&ws, NEW, &new);
    let plan = ws.pikube(&["plan"]).expect_code(2);
    assert!(
        plan.stdout
            .contains("upgrade k3s v1.33.5+k3s1 → v1.34.4+k3s1")
            && !plan.stdout.contains("install k3s"),
        "{}",
        plan.stdout
    );

    // a1 powers off while it restarts on the new binary.
    let mut child = ws
        .command(&["apply", "--ready-timeout=20s"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn apply");
    let mut seen = Vec::new();
    for line in BufReader::new(child.stderr.take().unwrap()).lines() {
        let line = line.unwrap();
        seen.push(line.clone());
        if line.contains("a1: [upgrade] restarting") {
            fleet.poweroff("pi2");
        }
    }
    let output = child.wait_with_output().expect("apply output");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}\n{seen:#?}");
    assert!(
        stdout.contains("ok      s1: upgraded k3s v1.33.5+k3s1 → v1.34.4+k3s1"),
        "{stdout}"
    );
    assert!(
        stdout.contains("FAILED  a1: upgrade to v1.34.4+k3s1 stopped at restart")
            && stdout.contains("it stays cordoned"),
        "{stdout}"
    );
    assert!(
        stdout.contains("FAILED  a2: not upgraded: the rollout stopped at a1"),
        "{stdout}"
    );
    // The cluster still serves; a2 was left as it was.
    fleet.exec("pi1", "k3s kubectl get --raw /readyz");
    let nodes = versions(&fleet, "pi1");
    assert!(
        nodes.contains(&("a2".to_owned(), OLD.to_owned(), false)),
        "{nodes:?}"
    );
    assert!(
        nodes.iter().any(|(n, _, cordoned)| n == "a1" && *cordoned),
        "{nodes:?}"
    );

    // Back on, and Ready again: the next apply goes on from where the rollout stopped.
    fleet.start("pi2");
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    while !support::k3s::is_ready(&support::k3s::cluster_node(&fleet, "pi1", "a1")) {
        assert!(std::time::Instant::now() < deadline, "a1 never came back");
        std::thread::sleep(Duration::from_millis(500));
    }
    let resumed = ws.pikube(&["apply", READY]).expect_code(0);
    assert!(
        resumed.stdout.contains("ok      s1: unchanged"),
        "{}",
        resumed.stdout
    );
    // a1 came back on its new binary: only pikube's cordon was left to undo.
    assert!(
        resumed
            .stdout
            .contains("ok      a1: uncordoned (cordoned by pikube: upgrade to v1.34.4+k3s1)"),
        "{}",
        resumed.stdout
    );
    assert!(
        resumed
            .stdout
            .contains("ok      a2: upgraded k3s v1.33.5+k3s1 → v1.34.4+k3s1"),
        "{}",
        resumed.stdout
    );
    assert!(all_at(&fleet, NEW), "{:?}", versions(&fleet, "pi1"));
    let annotations = fleet.exec(
        "pi1",
        "k3s kubectl get nodes -o jsonpath='{.items[*].metadata.annotations}'",
    );
    assert!(!annotations.contains("pikube.io/cordoned"), "{annotations}");
}

/// `kubectl apply` of `yaml` on `server`.
fn kubectl_apply(fleet: &Fleet, server: &str, yaml: &str) {
    fleet.exec(
        server,
        &format!("k3s kubectl apply -f - <<'EOF'\n{yaml}\nEOF\n"),
    );
}

/// The names of the pods labelled `app` on each node, as `server` lists them.
fn pods_by_node(fleet: &Fleet, server: &str, app: &str) -> Vec<(String, String)> {
    let out = fleet.exec(
        server,
        &format!(
            "k3s kubectl get pods -l app={app} -o \
             jsonpath='{{range .items[*]}}{{.spec.nodeName}} {{.metadata.name}}{{\"\\n\"}}{{end}}'"
        ),
    );
    let mut pods: Vec<(String, String)> = out
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(node, pod)| (node.to_owned(), pod.to_owned()))
        .collect();
    pods.sort();
    pods
}

/// Waits until `deployment` has `ready` ready replicas.
fn wait_ready_replicas(fleet: &Fleet, server: &str, deployment: &str, ready: u32) {
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    loop {
        let got = fleet.exec(
            server,
            &format!("k3s kubectl get deploy {deployment} -o jsonpath='{{.status.readyReplicas}}'"),
        );
        if got.trim() == ready.to_string() {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{deployment}: {got:?} ready replicas, not {ready}"
        );
        std::thread::sleep(Duration::from_secs(2));
    }
}

#[test]
fn an_upgrade_drain_evicts_pods_and_a_disruption_budget_stops_it_at_the_drain_timeout() {
    // Pods now: the real kube-scheduler binds them, the double's kubelet reports them
    // running and finishes their deletion, and the real kubectl drain evicts them.
    let (fleet, ws) = server_and_two_agents_on_old();

    // One `web` pod on each node (a hard spread), none of them protected.
    kubectl_apply(
        &fleet,
        "pi1",
        "apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      topologySpreadConstraints:
      - {maxSkew: 1, topologyKey: kubernetes.io/hostname, whenUnsatisfiable: DoNotSchedule,
         labelSelector: {matchLabels: {app: web}}}
      containers: [{name: web, image: registry.invalid/web:1}]",
    );
    wait_ready_replicas(&fleet, "pi1", "web", 3);
    let before = pods_by_node(&fleet, "pi1", "web");
    let nodes: Vec<&str> = before.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(nodes, ["a1", "a2", "s1"], "{before:?}");

    // The upgrade drains every node in turn: each pod is evicted, and its replacement
    // comes up once there is room again.
    let new = stamped_double(&ws, NEW);
    use_k3s(&ws, NEW, &new);
    ws.pikube(&["apply", READY]).expect_code(0);
    assert!(all_at(&fleet, NEW), "{:?}", versions(&fleet, "pi1"));
    wait_ready_replicas(&fleet, "pi1", "web", 3);
    let after = pods_by_node(&fleet, "pi1", "web");
    for (node, pod) in &before {
        assert!(
            after.iter().all(|(_, p)| p != pod),
            "{pod} on {node} was not evicted: {after:?}"
        );
    }

    // A pod its budget forbids evicting holds a2's drain until --drain-timeout: the
    // rollout stops there, a2 cordoned and on its old release.
    kubectl_apply(
        &fleet,
        "pi1",
        "apiVersion: apps/v1
kind: Deployment
metadata: {name: pinned}
spec:
  replicas: 1
  selector: {matchLabels: {app: pinned}}
  template:
    metadata: {labels: {app: pinned}}
    spec:
      nodeSelector: {kubernetes.io/hostname: a2}
      containers: [{name: pinned, image: registry.invalid/pinned:1}]
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: pinned}
spec:
  minAvailable: 1
  selector: {matchLabels: {app: pinned}}",
    );
    wait_ready_replicas(&fleet, "pi1", "pinned", 1);
    let newer = stamped_double(&ws, "v1.34.5+k3s1");
    use_k3s(&ws, "v1.34.5+k3s1", &newer);
    // --no-drain-servers: s1 restarts with its pod in place; a1, an agent, is drained.
    let web = pods_by_node(&fleet, "pi1", "web");
    let on = |node: &str| {
        web.iter()
            .find(|(n, _)| n == node)
            .map(|(_, pod)| pod.clone())
            .unwrap_or_else(|| panic!("no web pod on {node}: {web:?}"))
    };
    let (on_s1, on_a1) = (on("s1"), on("a1"));
    let started = std::time::Instant::now();
    let blocked = ws
        .pikube(&["apply", READY, "--drain-timeout=5s", "--no-drain-servers"])
        .expect_code(1);
    let web = pods_by_node(&fleet, "pi1", "web");
    assert!(
        web.contains(&("s1".to_owned(), on_s1)) && web.iter().all(|(_, pod)| *pod != on_a1),
        "{web:?}"
    );
    assert!(
        blocked
            .stdout
            .contains("ok      a1: upgraded k3s v1.34.4+k3s1 → v1.34.5+k3s1"),
        "{}",
        blocked.stdout
    );
    assert!(
        blocked
            .stdout
            .contains("FAILED  a2: upgrade to v1.34.5+k3s1 stopped at drain")
            && blocked.stdout.contains(
                "the eviction was refused: Cannot evict pod as it would violate the pod's \
                 disruption budget"
            )
            && blocked.stdout.matches("it stays cordoned").count() == 1,
        "{}",
        blocked.stdout
    );
    let nodes = versions(&fleet, "pi1");
    assert!(
        nodes.contains(&("a2".to_owned(), NEW.to_owned(), true)),
        "{nodes:?}"
    );
    assert_eq!(pods_by_node(&fleet, "pi1", "pinned").len(), 1);
    // Given up on at the timeout, not after kubectl's own default of forever.
    assert!(
        started.elapsed() < Duration::from_secs(150),
        "{:?}",
        started.elapsed()
    );

    // With the budget gone, a pod no controller manages holds a2's drain: kubectl does not
    // delete what nothing would recreate. The failure names it and the way on;
    // --force-drain deletes it and the rollout ends.
    fleet.exec(
        "pi1",
        "k3s kubectl delete deployment/pinned pdb/pinned --wait=false",
    );
    kubectl_apply(
        &fleet,
        "pi1",
        "apiVersion: v1
kind: Pod
metadata: {name: bare, labels: {app: bare}}
spec:
  nodeName: a2
  containers: [{name: bare, image: registry.invalid/bare:1}]",
    );
    assert_eq!(
        pods_by_node(&fleet, "pi1", "bare"),
        [("a2".to_owned(), "bare".to_owned())]
    );
    let refused = ws
        .pikube(&["apply", READY, "--drain-timeout=30s"])
        .expect_code(1);
    assert!(
        refused
            .stdout
            .contains("FAILED  a2: upgrade to v1.34.5+k3s1 stopped at drain")
            && refused.stdout.contains(
                "cannot delete Pods that declare no controller: default/bare; --force-drain \
                 deletes such pods (nothing recreates them), or delete them yourself"
            ),
        "{}",
        refused.stdout
    );
    assert_eq!(
        pods_by_node(&fleet, "pi1", "bare").len(),
        1,
        "kept without --force-drain"
    );
    ws.pikube(&["apply", READY, "--force-drain"]).expect_code(0);
    assert!(
        all_at(&fleet, "v1.34.5+k3s1"),
        "{:?}",
        versions(&fleet, "pi1")
    );
    assert!(pods_by_node(&fleet, "pi1", "bare").is_empty());
}

#[test]
fn an_air_gapped_upgrade_brings_the_new_releases_images_before_the_restart() {
    let fleet = Fleet::up(&["pi1"]);
    let ws = Workspace::new(&fleet, "pi", &[node("pi1", "s1", "server")]);
    let old = stamped_double(&ws, OLD);
    use_k3s(&ws, OLD, &old);
    // Each release's own pause image, in archives as K3s ships them (made by crane).
    let old_pause = "docker.io/rancher/mirrored-pause:3.6";
    let new_pause = "docker.io/rancher/mirrored-pause:3.10";
    let archive_of = |file: &str, tag: &str| {
        support::image_archive::image_archive(ws.path(), file, tag, tag);
        let out = std::process::Command::new("sha256sum")
            .arg(ws.path().join(file))
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap()[..64].to_owned()
    };
    let old_sha = archive_of("images-old.tar.zst", old_pause);
    let new_sha = archive_of("images-new.tar.zst", new_pause);
    let toml = ws.path().join("cluster.toml");
    let text = std::fs::read_to_string(&toml).unwrap();
    std::fs::write(
        &toml,
        format!("{text}\n[k3s.images]\namd64 = \"images-old.tar.zst\"\n"),
    )
    .unwrap();
    ws.pikube(&["apply", READY]).expect_code(0);
    let archive = "/var/lib/rancher/k3s/agent/images/pikube-airgap-images.tar.zst";
    let on_node = || fleet.exec("pi1", &format!("sha256sum {archive}"))[..64].to_owned();
    assert_eq!(on_node(), old_sha);

    use_k3s(&ws, NEW, &k3s_double());
    support::k3s::edit(&ws, "images-old.tar.zst", "images-new.tar.zst");
    let plan = ws.pikube(&["plan"]).expect_code(2);
    assert!(
        plan.stdout.contains(&format!(
            "upgrade k3s {OLD} → {NEW} (rolling: cordon, drain, replace, restart, uncordon), \
             with its airgap images"
        )),
        "{}",
        plan.stdout
    );
    let apply = ws.pikube(&["apply", READY]).expect_code(0);
    assert!(
        apply
            .stdout
            .contains(&format!("ok      s1: upgraded k3s {OLD} → {NEW}")),
        "{}",
        apply.stdout
    );
    assert!(
        apply
            .stderr
            .contains("[upgrade] replacing the airgap images"),
        "{}",
        apply.stderr
    );
    assert_eq!(on_node(), new_sha);
    // Two starts, each importing the archive: the upgrade restarted K3s once, with the new
    // images already in place, and the k3s phase found nothing left to restart for.
    let imports = fleet
        .exec("pi1", "journalctl --no-pager -o cat 2>/dev/null; true")
        .matches(&format!("msg=\"Imported images from {archive} in "))
        .count();
    assert_eq!(imports, 2);
    let held = fleet.exec("pi1", "k3s ctr images ls -q");
    assert!(held.lines().any(|name| name == new_pause), "{held}");
    assert!(all_at(&fleet, NEW), "{:?}", versions(&fleet, "pi1"));
    ws.pikube(&["plan"]).expect_code(0);
}

/// A local apt repository on `fleet_node`, the only source apt knows there, offering 2.0
/// over the installed 1.0 of two packages: `pikube-demo`, whose configuration file
/// /etc/pikube-demo.conf changes between them (and 2.0 asks for a reboot when `reboot` is
/// set), and `pikube-held`, on `apt-mark hold`.
fn pending_os_upgrade(fleet: &Fleet, fleet_node: &str, reboot: bool) {
    let postinst = if reboot {
        "touch /var/run/reboot-required"
    } else {
        "true"
    };
    let script = format!(
        r#"set -e
mk() {{
  d=$(mktemp -d); mkdir -p "$d/DEBIAN" "$d/etc"
  printf 'Package: %s\nVersion: %s\nArchitecture: all\nMaintainer: pikube tests <tests@example.invalid>\nDescription: a package for the OS upgrade test\n' "$1" "$2" > "$d/DEBIAN/control"
  printf '#!/bin/sh\n%s\n' "$3" > "$d/DEBIAN/postinst"; chmod 755 "$d/DEBIAN/postinst"
  printf 'setting=%s\n' "$2" > "$d/etc/$1.conf"; echo "/etc/$1.conf" > "$d/DEBIAN/conffiles"
  dpkg-deb --build "$d" "/srv/repo/$1_$2_all.deb" >/dev/null
}}
mkdir -p /srv/repo
for p in pikube-demo pikube-held; do mk $p 1.0 true; done
mk pikube-demo 2.0 '{postinst}'
mk pikube-held 2.0 true
dpkg -i /srv/repo/pikube-demo_1.0_all.deb /srv/repo/pikube-held_1.0_all.deb >/dev/null
rm /srv/repo/*_1.0_all.deb
apt-mark hold pikube-held >/dev/null
cd /srv/repo
for f in *.deb; do
  dpkg-deb -f "$f"; printf 'Filename: ./%s\nSize: %s\nSHA256: %s\n\n' "$f" "$(stat -c %s "$f")" "$(sha256sum "$f" | cut -d' ' -f1)"
done > Packages
echo 'deb [trusted=yes] file:/srv/repo ./' > /etc/apt/sources.list
rm -f /etc/apt/sources.list.d/*
"#
    );
    fleet.exec(fleet_node, &script);
}

fn boot_id(fleet: &Fleet, fleet_node: &str) -> String {
    fleet.exec(fleet_node, "cat /proc/sys/kernel/random/boot_id")
}

#[test]
fn os_upgrades_are_listed_then_installed_one_node_at_a_time_rebooting_only_where_required() {
    let fleet = Fleet::up(&["pi1", "pi2"]);
    let ws = Workspace::new(
        &fleet,
        "pi",
        &[node("pi1", "s1", "server"), node("pi2", "a1", "agent")],
    );
    ws.pikube(&["apply", READY]).expect_code(0);
    pending_os_upgrade(&fleet, "pi1", false);
    pending_os_upgrade(&fleet, "pi2", true);
    // The user changed s1's configuration file; a1's is as its package left it.
    fleet.exec("pi1", "echo setting=mine > /etc/pikube-demo.conf");

    let check = ws.pikube(&["os-upgrade", "--check"]).expect_code(2);
    for name in ["s1", "a1"] {
        assert!(
            check.stdout.contains(&format!(
                "{name}: 1 to upgrade (kept back, held or phased: pikube-held)"
            )),
            "{}",
            check.stdout
        );
    }
    assert!(
        check.stdout.contains("  pikube-demo 1.0 -> 2.0"),
        "{}",
        check.stdout
    );
    let installed = |n: &str| fleet.exec(n, "dpkg-query -W -f '${Version}' pikube-demo");
    assert_eq!(installed("pi1"), "1.0", "--check installed something");

    let (s1_boot, a1_boot) = (boot_id(&fleet, "pi1"), boot_id(&fleet, "pi2"));
    let upgrade = ws.pikube(&["os-upgrade", READY]).expect_code(0);
    assert!(
        upgrade.stdout.contains(
            "ok      a1: 1 package upgraded, rebooted (kept back, held or phased: pikube-held)"
        ) && upgrade
            .stdout
            .contains("ok      s1: 1 package upgraded (kept back, held or phased: pikube-held)\n"),
        "{}",
        upgrade.stdout
    );
    // Agents first; the agent drained before its upgrade.
    let at = |needle: &str| {
        upgrade
            .stderr
            .find(needle)
            .unwrap_or_else(|| panic!("{needle:?} not in {}", upgrade.stderr))
    };
    assert!(at("a1: [os-upgrade] cordon and drain") < at("s1: [os-upgrade] cordon and drain"));
    assert_eq!(installed("pi1"), "2.0");
    assert_eq!(installed("pi2"), "2.0");
    // dpkg was asked nothing it could not answer: the changed file is kept (the package's
    // new one beside it), the untouched one is the new version's; the held package stays.
    let conf = |n: &str| fleet.exec(n, "cat /etc/pikube-demo.conf");
    assert_eq!(conf("pi1"), "setting=mine\n");
    assert_eq!(
        fleet.exec("pi1", "cat /etc/pikube-demo.conf.dpkg-dist"),
        "setting=2.0\n"
    );
    assert_eq!(conf("pi2"), "setting=2.0\n");
    for n in ["pi1", "pi2"] {
        assert_eq!(
            fleet.exec(n, "dpkg-query -W -f '${Version}' pikube-held"),
            "1.0",
            "{n}: a held package was upgraded"
        );
    }
    assert_eq!(
        boot_id(&fleet, "pi1"),
        s1_boot,
        "s1 rebooted without a reason"
    );
    assert_ne!(boot_id(&fleet, "pi2"), a1_boot, "a1 was not rebooted");
    let nodes = versions(&fleet, "pi1");
    assert!(nodes.iter().all(|(_, _, cordoned)| !cordoned), "{nodes:?}");

    let check = ws.pikube(&["os-upgrade", "--check"]).expect_code(0);
    assert!(
        check
            .stdout
            .contains("s1: up to date (kept back, held or phased: pikube-held)")
            && check.stdout.contains("a1: up to date"),
        "{}",
        check.stdout
    );

    // A run that stopped after apt-get (at its reboot, or waiting for Ready) leaves its node
    // cordoned, marked as this command's, with nothing left to install: the next run brings
    // it back. A cordon of the user's own (s1 here) is left alone.
    fleet.exec(
        "pi1",
        "k3s kubectl cordon a1 && \
         k3s kubectl annotate node a1 pikube.io/cordoned=os-upgrade && \
         k3s kubectl cordon s1",
    );
    let again = ws.pikube(&["os-upgrade", READY]).expect_code(0);
    assert!(
        again.stdout.contains(
            "ok      a1: up to date, Ready and uncordoned (an earlier os-upgrade left it \
             cordoned) (kept back, held or phased: pikube-held)"
        ) && again
            .stdout
            .contains("ok      s1: up to date (kept back, held or phased: pikube-held)"),
        "{}",
        again.stdout
    );
    let nodes = versions(&fleet, "pi1");
    assert!(
        nodes.contains(&("a1".to_owned(), NEW.to_owned(), false))
            && nodes.contains(&("s1".to_owned(), NEW.to_owned(), true)),
        "{nodes:?}"
    );
}
