//! Runs the double as real processes, each "node" on its own loopback address with its own
//! K3S_DOUBLE_ROOT: an HA pair of servers on real etcd, kube-apiserver and
//! kube-controller-manager, two agents, the real kubectl, and the refusals (wrong token,
//! wrong CA hash, a node password clash, joining a SQLite server).

use crate::support;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};
use support::{address, real_kube_bin, scratch, sha256_hex, sigterm, Node, BIN};

/// Polls `check` on kubectl's output for up to `secs` seconds.
fn eventually(node: &Node, args: &[&str], secs: u64, check: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let out = node.kubectl_ok(args);
        if check(&out) || Instant::now() > deadline {
            return out;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

fn server_args<'a>(ip: &'a str, name: &'a str) -> Vec<&'a str> {
    vec![
        "server",
        "--bind-address",
        ip,
        "--node-ip",
        ip,
        "--node-name",
        name,
    ]
}

#[test]
fn ha_cluster_on_the_real_control_plane_with_agents_and_refusals() {
    let base = scratch("ha");
    let (ip1, ip2, ipa1, ipa2) = (address(1, 1), address(1, 2), address(1, 3), address(1, 4));
    let url1 = format!("https://{ip1}:6443");

    // First server: config file + drop-in + flags; a short node-monitor grace period
    // (a kube-controller-manager flag k3s passes through) so a stopped node shows quickly.
    let conf = base.join("s1/etc/rancher/k3s");
    std::fs::create_dir_all(conf.join("config.yaml.d")).unwrap();
    std::fs::write(
        conf.join("config.yaml"),
        "cluster-init: true\ntoken: secret\nwrite-kubeconfig-mode: \"0644\"\nnode-label: [zone=a]\n\
         kube-controller-manager-arg: [node-monitor-grace-period=15s]\n",
    )
    .unwrap();
    std::fs::write(
        conf.join("config.yaml.d/10-taint.yaml"),
        "node-taint+: [ctl=yes:NoSchedule]\n",
    )
    .unwrap();
    let mut s1 = Node::start(&base, "s1", &server_args(&ip1, "s1"), &[]);
    s1.wait_ready();
    std::fs::write(s1.root.join("endpoint"), format!("https://{ip1}:2379")).unwrap();

    let ca = std::fs::read(s1.root.join("var/lib/rancher/k3s/server/tls/server-ca.crt")).unwrap();
    assert!(String::from_utf8_lossy(&ca).starts_with("-----BEGIN CERTIFICATE-----"));
    let full = format!("K10{}::server:secret", sha256_hex(&ca));
    let token_path = s1.root.join("var/lib/rancher/k3s/server/token");
    assert_eq!(
        s1.file("var/lib/rancher/k3s/server/token"),
        format!("{full}\n")
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&token_path), 0o600);
    assert_eq!(mode(&s1.root.join("etc/rancher/k3s/k3s.yaml")), 0o644);
    assert_eq!(
        mode(&s1.root.join("var/lib/rancher/k3s/server/tls/client-ca.key")),
        0o600
    );
    assert!(s1
        .file("etc/rancher/k3s/k3s.yaml")
        .contains(&format!("server: https://{ip1}:6443")));
    assert_eq!(
        std::fs::read_link(s1.root.join("var/lib/rancher/k3s/server/agent-token")).unwrap(),
        Path::new("token")
    );
    // The API is the real kube-apiserver, over TLS, as the admin kubeconfig's user.
    let version = s1.kubectl_ok(&["version", "-o", "json"]);
    let version: serde_json::Value = serde_json::from_str(&version).unwrap();
    assert_eq!(version["serverVersion"]["gitVersion"], "v1.34.4");
    assert_eq!(
        s1.kubectl_ok(&[
            "auth",
            "whoami",
            "-o",
            "jsonpath={.status.userInfo.username}"
        ]),
        "system:admin"
    );

    // Two agents: full token via env, short token via flag.
    let mut a1 = Node::start(
        &base,
        "a1",
        &[
            "agent",
            "--node-name",
            "a1",
            "--node-ip",
            &ipa1,
            "--node-label",
            "disk=ssd",
        ],
        &[("K3S_URL", &url1), ("K3S_TOKEN", &full)],
    );
    let mut a2 = Node::start(
        &base,
        "a2",
        &[
            "agent",
            "--server",
            &url1,
            "--token=secret",
            "--node-name=a2",
            "--node-ip",
            &ipa2,
        ],
        &[],
    );
    a1.wait_ready();
    a2.wait_ready();
    assert!(a1.log().contains("Node a1 registered"), "{}", a1.log());

    // A joining server gets the same CA and token, joins etcd for real, serves the same nodes.
    let mut args = server_args(&ip2, "s2");
    args.extend(["--server", &url1, "--token", "secret"]);
    let mut s2 = Node::start(&base, "s2", &args, &[]);
    s2.wait_ready();
    std::fs::write(s2.root.join("endpoint"), format!("https://{ip2}:2379")).unwrap();
    assert_eq!(
        s2.file("var/lib/rancher/k3s/server/token"),
        format!("{full}\n")
    );
    // READY=1 comes, as from K3s, only once the datastore and the API are ready: by then
    // the new member is a voting one (a learner fails K3s' etcd test) and this server's own
    // API server answers /readyz. pikube's one-at-a-time join waits on exactly that.
    let members = s1.etcdctl(&["member", "list", "-w", "json"]);
    let members: serde_json::Value = serde_json::from_str(&members).unwrap();
    let members = members["members"].as_array().unwrap();
    assert_eq!(members.len(), 2, "{members:?}");
    assert!(
        members.iter().all(|m| m["isLearner"] != true),
        "{members:?}"
    );
    assert_eq!(s2.kubectl_ok(&["get", "--raw", "/readyz"]), "ok");

    let table = eventually(&s2, &["get", "nodes"], 30, |out| {
        out.matches(" Ready ").count() == 4
    });
    assert_eq!(
        table
            .lines()
            .next()
            .unwrap()
            .split_whitespace()
            .collect::<Vec<_>>(),
        ["NAME", "STATUS", "ROLES", "AGE", "VERSION"]
    );
    for (name, roles) in [
        ("s1", "control-plane,etcd,master"),
        ("s2", "control-plane,etcd,master"),
        ("a1", "<none>"),
        ("a2", "<none>"),
    ] {
        let line = table
            .lines()
            .find(|l| l.starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("{name} missing:\n{table}"));
        let cols: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(cols[1], "Ready", "{line}");
        assert_eq!(cols[2], roles, "{line}");
        assert_eq!(cols[4], "v1.34.4+k3s1", "{line}");
    }

    let labels = s1.kubectl_ok(&["get", "nodes", "--show-labels"]);
    assert!(labels.contains("disk=ssd"), "{labels}");
    assert!(labels.contains("zone=a"), "{labels}");
    let json: serde_json::Value =
        serde_json::from_str(&s1.kubectl_ok(&["get", "nodes", "-o", "json"])).unwrap();
    let items = json["items"].as_array().unwrap();
    assert_eq!(items.len(), 4);
    let s1_node = items
        .iter()
        .find(|n| n["metadata"]["name"] == "s1")
        .unwrap();
    assert_eq!(s1_node["spec"]["taints"][0]["key"], "ctl");
    assert_eq!(
        s1_node["metadata"]["labels"]["node-role.kubernetes.io/etcd"],
        "true"
    );
    assert_eq!(
        s1_node["status"]["nodeInfo"]["kubeletVersion"],
        "v1.34.4+k3s1"
    );
    assert_eq!(s1_node["status"]["nodeInfo"]["architecture"], "amd64");
    // The real controller manager gave every node a pod CIDR.
    let cidrs = eventually(
        &s1,
        &["get", "nodes", "-o", "jsonpath={.items[*].spec.podCIDR}"],
        30,
        |o| o.split_whitespace().count() == 4,
    );
    assert!(
        cidrs.split_whitespace().all(|c| c.starts_with("10.42.")),
        "{cidrs}"
    );
    // Node passwords live where k3s keeps them.
    let secrets = s1.kubectl_ok(&["get", "secrets", "-n", "kube-system", "-o", "name"]);
    for name in ["s1", "s2", "a1", "a2"] {
        assert!(
            secrets.contains(&format!("secret/{name}.node-password.k3s")),
            "{secrets}"
        );
    }

    // Edits on one server are seen on the other: one etcd.
    s1.kubectl_ok(&["label", "node", "a1", "tier=edge"]);
    s1.kubectl_ok(&["cordon", "a2"]);
    let seen = s2.kubectl_ok(&["get", "nodes", "--show-labels"]);
    assert!(
        seen.contains("tier=edge") && seen.contains("Ready,SchedulingDisabled"),
        "{seen}"
    );
    let missing = s1.kubectl(&["get", "node", "nope"]);
    assert!(!missing.status.success());
    assert_eq!(
        String::from_utf8_lossy(&missing.stderr).trim(),
        "Error from server (NotFound): nodes \"nope\" not found"
    );
    // A node's own credentials may not touch another node (the real Node authorizer).
    let a1_cert = a1.root.join("var/lib/rancher/k3s/agent");
    let forbidden = Command::new(real_kube_bin().join("kubectl"))
        .args(["--server", &url1, "label", "node", "a2", "x=y"])
        .arg(format!(
            "--certificate-authority={}",
            a1_cert.join("server-ca.crt").display()
        ))
        .arg(format!(
            "--client-certificate={}",
            a1_cert.join("client-kubelet.crt").display()
        ))
        .arg(format!(
            "--client-key={}",
            a1_cert.join("client-kubelet.key").display()
        ))
        .env("KUBECONFIG", "/dev/null")
        .output()
        .unwrap();
    assert!(!forbidden.status.success());
    assert!(
        String::from_utf8_lossy(&forbidden.stderr).contains("Forbidden"),
        "{}",
        String::from_utf8_lossy(&forbidden.stderr)
    );

    // kubectl as a multi-call symlink.
    let link = base.join("kubectl");
    std::os::unix::fs::symlink(BIN, &link).unwrap();
    let out = Command::new(&link)
        .args(["get", "node", "a1", "-o", "name"])
        .env("KUBECONFIG", s1.root.join("etc/rancher/k3s/k3s.yaml"))
        .env("K3S_DOUBLE_BIN_DIR", real_kube_bin())
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "node/a1");

    // Refusals: wrong password, wrong CA hash, a taken node name.
    let ip_bad = address(1, 9);
    let mut bad = Node::start(
        &base,
        "bad",
        &[
            "agent",
            "--server",
            &url1,
            "--token",
            "wrong",
            "--node-name",
            "bad",
            "--node-ip",
            &ip_bad,
        ],
        &[],
    );
    assert!(!bad.wait_exit().success());
    assert!(bad.log().contains("token is not valid"), "{}", bad.log());
    let other_ca = format!("K10{}::server:secret", sha256_hex(b"another CA"));
    let mut pinned = Node::start(
        &base,
        "pinned",
        &[
            "agent",
            "--server",
            &url1,
            "--token",
            &other_ca,
            "--node-name",
            "pinned",
            "--node-ip",
            &ip_bad,
        ],
        &[],
    );
    assert!(!pinned.wait_exit().success());
    assert!(
        pinned
            .log()
            .contains("token CA hash does not match the Cluster CA certificate hash"),
        "{}",
        pinned.log()
    );
    let mut clash = Node::start(
        &base,
        "clash",
        &[
            "agent",
            "--server",
            &url1,
            "--token",
            "secret",
            "--node-name",
            "a1",
            "--node-ip",
            &ip_bad,
        ],
        &[],
    );
    // K3s' agent waits for the name's record to go rather than giving up.
    let waiting =
        "Waiting to retrieve agent configuration; server is not ready: Node password rejected";
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !clash.log().contains(waiting) {
        assert!(std::time::Instant::now() < deadline, "{}", clash.log());
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    std::thread::sleep(std::time::Duration::from_secs(3));
    assert!(clash.child.try_wait().unwrap().is_none(), "{}", clash.log());
    assert!(
        clash.log().matches(waiting).count() >= 2,
        "it tries again: {}",
        clash.log()
    );
    sigterm(&clash.child);
    assert!(!clash.log().contains("registered"), "{}", clash.log());

    // A stopped agent ends with status 0, and the real node lifecycle controller marks its
    // node NotReady once its lease runs out.
    sigterm(&a2.child);
    assert_eq!(a2.wait_exit().code(), Some(0), "{}", a2.log());
    let after = eventually(&s1, &["get", "node", "a2"], 60, |o| o.contains("NotReady"));
    assert!(after.contains("NotReady"), "{after}");
    // Deleting the node deletes its password, so the name can be taken again.
    assert_eq!(
        s1.kubectl_ok(&["delete", "node", "a2"]).trim(),
        "node \"a2\" deleted"
    );
    let secrets = eventually(
        &s2,
        &["get", "secrets", "-n", "kube-system", "-o", "name"],
        20,
        |o| !o.contains("a2.node-password.k3s"),
    );
    assert!(!secrets.contains("a2.node-password.k3s"), "{secrets}");

    // Deleting a server's Node goes through K3s' finalizers: its password Secret and its
    // etcd member are removed first. K3s still running there loses its etcd and stops,
    // and would join again when restarted (`a_server_whose_node_is_deleted_…`), which is
    // why pikube stops it before the delete.
    let node = s1.kubectl_ok(&["get", "node", "s2", "-o", "jsonpath={.metadata.finalizers}"]);
    assert!(
        node.contains("wrangler.cattle.io/node")
            && node.contains("wrangler.cattle.io/managed-etcd-controller"),
        "{node}"
    );
    s1.kubectl_ok(&["delete", "node", "s2", "--timeout=60s"]);
    let members = s1.etcdctl(&["member", "list", "-w", "json"]);
    let members: serde_json::Value = serde_json::from_str(&members).unwrap();
    assert_eq!(members["members"].as_array().unwrap().len(), 1, "{members}");
    assert!(!s2.wait_exit().success(), "{}", s2.log());
    assert!(s2.log().contains("etcd exited"), "{}", s2.log());

    // A finalizer that cannot finish keeps the Node: delete without waiting, and it stays.
    s1.kubectl_ok(&[
        "patch",
        "node",
        "a1",
        "--type=merge",
        "-p",
        r#"{"metadata":{"finalizers":["example.com/stuck"]}}"#,
    ]);
    s1.kubectl_ok(&["delete", "node", "a1", "--wait=false"]);
    std::thread::sleep(Duration::from_secs(3));
    let stuck = s1.kubectl_ok(&["get", "node", "a1", "-o", "jsonpath={.metadata.finalizers}"]);
    assert_eq!(stuck, r#"["example.com/stuck"]"#);
    s1.kubectl_ok(&[
        "patch",
        "node",
        "a1",
        "--type=merge",
        "-p",
        r#"{"metadata":{"finalizers":null}}"#,
    ]);

    // Its agent still runs: like the kubelet, which registers only when it starts, it keeps
    // renewing its Lease but does not create its Node again.
    s1.kubectl_ok(&["wait", "--for=delete", "node/a1", "--timeout=30s"]);
    let lease = [
        "get",
        "lease",
        "a1",
        "-n",
        "kube-node-lease",
        "-o",
        "jsonpath={.spec.renewTime}",
    ];
    let before = s1.kubectl_ok(&lease);
    let after = eventually(&s1, &lease, 30, |o| o != before);
    assert_ne!(after, before, "the lease is still renewed");
    let nodes = s1.kubectl_ok(&["get", "nodes", "-o", "name"]);
    assert!(!nodes.contains("node/a1"), "{nodes}");
    assert!(a1.child.try_wait().unwrap().is_none(), "{}", a1.log());

    // A joining server whose critical settings differ is refused, as k3s refuses it.
    let ip3 = address(1, 5);
    let mut args = server_args(&ip3, "s3");
    args.extend([
        "--server",
        &url1,
        "--token",
        "secret",
        "--service-cidr",
        "10.96.0.0/12",
    ]);
    let mut s3 = Node::start(&base, "s3", &args, &[]);
    assert!(!s3.wait_exit().success());
    assert!(
        s3.log().contains(
            "failed to validate server configuration: critical configuration value mismatch: service-cidr"
        ),
        "{}",
        s3.log()
    );

    // A server stopped with SIGTERM takes its etcd and API server with it.
    sigterm(&s1.child);
    assert_eq!(s1.wait_exit().code(), Some(0), "{}", s1.log());
    for ip in [&ip1, &ip2] {
        let gone = Command::new("pgrep")
            .args(["-f", &format!("--bind-address={ip}")])
            .output()
            .unwrap();
        assert!(
            gone.stdout.is_empty(),
            "still running: {}",
            String::from_utf8_lossy(&gone.stdout)
        );
    }
}

#[test]
fn a_sqlite_server_cannot_be_joined_and_migrates_to_etcd_with_cluster_init() {
    let base = scratch("sqlite");
    let (ip1, ip2) = (address(2, 1), address(2, 2));
    let mut args = server_args(&ip1, "lite");
    args.extend(["--token", "t"]);
    let mut lite = Node::start(&base, "lite", &args, &[]);
    lite.wait_ready();
    // The real kine keeps the objects in a real SQLite database, as K3s' embedded one does.
    let db = lite.root.join("var/lib/rancher/k3s/server/db/state.db");
    let header = std::fs::read(&db).unwrap();
    assert!(header.starts_with(b"SQLite format 3\0"), "{}", db.display());
    assert!(
        lite.log().contains("Kine available at unix://"),
        "{}",
        lite.log()
    );
    assert!(!lite
        .root
        .join("var/lib/rancher/k3s/server/db/etcd/member")
        .exists());
    // No etcd to snapshot, as K3s says on a SQLite server.
    let save = lite.k3s(&["etcd-snapshot", "save"]);
    assert!(!save.status.success());
    assert!(
        String::from_utf8_lossy(&save.stderr).contains("etcd datastore is not enabled"),
        "{}",
        String::from_utf8_lossy(&save.stderr)
    );
    let url = format!("https://{ip1}:6443");
    let mut args = server_args(&ip2, "joiner");
    args.extend(["--server", &url, "--token", "t"]);
    let mut joiner = Node::start(&base, "joiner", &args, &[]);
    assert!(!joiner.wait_exit().success());
    assert!(
        joiner
            .log()
            .contains("cluster was not initialized with embedded etcd"),
        "{}",
        joiner.log()
    );
    drop(joiner);

    // `--cluster-init` added to the SQLite server: K3s copies its keys into a new etcd
    // member and keeps the database as state.db.migrated.
    lite.kubectl_ok(&["create", "configmap", "kept", "--from-literal=value=42"]);
    drop(lite);
    let mut args = server_args(&ip1, "lite");
    args.extend(["--token", "t", "--cluster-init"]);
    let mut grown = Node::start(&base, "lite", &args, &[]);
    grown.wait_ready();
    assert!(
        grown
            .log()
            .contains("Migrating content from sqlite to etcd"),
        "{}",
        grown.log()
    );
    assert_eq!(
        grown.kubectl_ok(&["get", "configmap", "kept", "-o", "jsonpath={.data.value}"]),
        "42"
    );
    let server = grown.root.join("var/lib/rancher/k3s/server/db");
    assert!(server.join("state.db.migrated").is_file());
    assert!(!server.join("state.db").exists());
    let save = grown.k3s(&["etcd-snapshot", "save"]);
    assert!(
        save.status.success(),
        "{}",
        String::from_utf8_lossy(&save.stderr)
    );
}

#[test]
fn a_joining_server_with_another_agent_token_is_refused() {
    // The agent token is one of the values every server must share: a server joining with
    // another one stops, as K3s does, before it takes an etcd member.
    let base = scratch("agent-token");
    let (ip1, ip2) = (address(4, 1), address(4, 2));
    let mut args = server_args(&ip1, "first");
    args.extend([
        "--cluster-init",
        "--token",
        "secret",
        "--agent-token",
        "agent-one",
    ]);
    let mut first = Node::start(&base, "first", &args, &[]);
    first.wait_ready();
    std::fs::write(first.root.join("endpoint"), format!("https://{ip1}:2379")).unwrap();
    let url = format!("https://{ip1}:6443");
    let mut args = server_args(&ip2, "second");
    args.extend([
        "--server",
        &url,
        "--token",
        "secret",
        "--agent-token",
        "agent-two",
    ]);
    let mut second = Node::start(&base, "second", &args, &[]);
    assert!(!second.wait_exit().success(), "{}", second.log());
    assert!(
        second.log().contains(
            "failed to validate server configuration: critical configuration value mismatch: \
             agent-token"
        ),
        "{}",
        second.log()
    );
    let members = first.etcdctl(&["member", "list", "-w", "json"]);
    let members: serde_json::Value = serde_json::from_str(&members).unwrap();
    assert_eq!(members["members"].as_array().unwrap().len(), 1, "{members}");
}

#[test]
fn version_stamp_unknown_flags_and_unsupported_commands() {
    let dir = scratch("cli");
    let out = Command::new(BIN).arg("--version").output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "k3s version v1.34.4+k3s1 (double)\ngo version go1.24.11 (k3s-double)\n"
    );
    // A stamped copy claims another version and differs in its checksum (upgrade tests).
    let copy = dir.join("k3s");
    let out = Command::new(BIN)
        .args(["stamp", "v1.35.0+k3s1", copy.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Another test thread forking while the copy was open for writing can
    // make exec fail with ETXTBSY for a moment.
    let out = (0..50)
        .find_map(|_| match Command::new(&copy).arg("-v").output() {
            Ok(out) => Some(out),
            Err(_) => {
                std::thread::sleep(Duration::from_millis(100));
                None
            }
        })
        .expect("the stamped binary runs");
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("k3s version v1.35.0+k3s1 (double)\n"));
    assert_ne!(
        sha256_hex(&std::fs::read(BIN).unwrap()),
        sha256_hex(&std::fs::read(&copy).unwrap())
    );
    let out = Command::new(BIN)
        .args(["stamp", "latest", copy.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("\"latest\" is not a K3s version"));

    let out = Command::new(BIN)
        .args(["server", "--no-such-flag"])
        .env("K3S_DOUBLE_ROOT", &dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("flag provided but not defined: -no-such-flag"));
    let out = Command::new(BIN)
        .args(["server"])
        .env("K3S_DOUBLE_ROOT", &dir)
        .env("K3S_DOUBLE_BIN_DIR", dir.join("nowhere"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("tests/real-kube/build"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = Command::new(BIN)
        .args(["agent"])
        .env("K3S_DOUBLE_ROOT", &dir)
        .env_remove("K3S_URL")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--server is required"));
}

#[test]
fn a_server_whose_node_is_deleted_while_it_runs_rejoins_etcd_when_restarted() {
    let base = scratch("tombstone");
    let (ip1, ip2) = (address(5, 1), address(5, 2));
    let url1 = format!("https://{ip1}:6443");
    let mut args = server_args(&ip1, "s1");
    args.extend(["--cluster-init", "--token", "secret"]);
    let mut s1 = Node::start(&base, "s1", &args, &[]);
    s1.wait_ready();
    std::fs::write(s1.root.join("endpoint"), format!("https://{ip1}:2379")).unwrap();
    let mut args = server_args(&ip2, "s2");
    args.extend(["--server", &url1, "--token", "secret"]);
    let mut s2 = Node::start(&base, "s2", &args, &[]);
    s2.wait_ready();
    let members = |node: &Node| -> Vec<serde_json::Value> {
        let list = node.etcdctl(&["member", "list", "-w", "json"]);
        let list: serde_json::Value = serde_json::from_str(&list).unwrap();
        list["members"].as_array().unwrap().clone()
    };
    let first_name = s2.file("var/lib/rancher/k3s/server/db/etcd/name");
    // K3s' etcd controller puts its finalizer on the Node when it first sees it (the double
    // looks every second): a Node deleted before that keeps its member, on K3s too.
    let finalizers = eventually(
        &s1,
        &["get", "node", "s2", "-o", "jsonpath={.metadata.finalizers}"],
        30,
        |o| o.contains("wrangler.cattle.io/managed-etcd-controller"),
    );
    assert!(
        finalizers.contains("wrangler.cattle.io/managed-etcd-controller"),
        "{finalizers}"
    );

    // Its Node deleted while K3s runs there: the member goes, etcd there stops, and K3s
    // leaves a tombstone and dies (systemd would start it again).
    s1.kubectl_ok(&["delete", "node", "s2", "--timeout=60s"]);
    assert_eq!(members(&s1).len(), 1);
    assert!(!s2.wait_exit().success(), "{}", s2.log());
    assert!(
        s2.log()
            .contains("this node has been removed from the cluster"),
        "{}",
        s2.log()
    );
    let tombstone = s2.root.join("var/lib/rancher/k3s/server/db/etcd/tombstone");
    assert!(tombstone.exists());

    // Started again with `server:` in its configuration, it moves its etcd data aside and
    // joins again as a new member, and its Node comes back: the delete is undone.
    drop(s2);
    let mut s2 = Node::start(&base, "s2", &args, &[]);
    s2.wait_ready();
    assert!(
        s2.log()
            .contains("tombstone file has been detected, removing data dir to rejoin the cluster"),
        "{}",
        s2.log()
    );
    let old: Vec<_> = std::fs::read_dir(s2.root.join("var/lib/rancher/k3s/server/db"))
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with("etcd-old-"))
        .collect();
    assert_eq!(old.len(), 1);
    assert!(!tombstone.exists());
    let second_name = s2.file("var/lib/rancher/k3s/server/db/etcd/name");
    assert_ne!(first_name, second_name);
    let now = members(&s1);
    assert_eq!(now.len(), 2, "{now:?}");
    assert!(
        now.iter()
            .any(|m| m["name"] == second_name.trim() && m["isLearner"] != true),
        "{now:?}"
    );
    let node = eventually(&s1, &["get", "nodes", "-o", "name"], 30, |o| {
        o.contains("node/s2")
    });
    assert!(node.contains("node/s2"), "{node}");
}
