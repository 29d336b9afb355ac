//! Runs the double as real processes on 127.0.0.1: an HA server, a joining
//! server, two agents, and the refusals (wrong token, wrong CA hash, joining
//! a SQLite server). Each "node" gets its own K3S_DOUBLE_ROOT.

use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_k3s-double");

fn scratch() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("k3s-double-it-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Node {
    root: PathBuf,
    child: Child,
    notify: UnixDatagram,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Node {
    fn start(base: &Path, name: &str, args: &[&str], env: &[(&str, &str)]) -> Node {
        let root = base.join(name);
        std::fs::create_dir_all(&root).unwrap();
        let socket = root.join("notify.sock");
        let notify = UnixDatagram::bind(&socket).unwrap();
        notify
            .set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let log = std::fs::File::create(root.join("log")).unwrap();
        let child = Command::new(BIN)
            .args(args)
            .env("K3S_DOUBLE_ROOT", &root)
            .env("NOTIFY_SOCKET", &socket)
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        Node {
            root,
            child,
            notify,
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.root.join("log")).unwrap_or_default()
    }

    /// Waits for READY=1 on the notify socket.
    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(15);
        let mut buf = [0u8; 64];
        while Instant::now() < deadline {
            if let Ok(n) = self.notify.recv(&mut buf) {
                assert_eq!(&buf[..n], b"READY=1");
                return;
            }
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("exited {status} before READY:\n{}", self.log());
            }
        }
        panic!("no READY=1 within 15 s:\n{}", self.log());
    }

    /// Waits for the process to end by itself.
    fn wait_exit(&mut self) -> std::process::ExitStatus {
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("still running after 15 s:\n{}", self.log());
    }

    fn kubectl(&self, args: &[&str]) -> Output {
        Command::new(BIN)
            .arg("kubectl")
            .args(args)
            .env("K3S_DOUBLE_ROOT", &self.root)
            .env_remove("KUBECONFIG")
            .output()
            .unwrap()
    }

    fn kubectl_ok(&self, args: &[&str]) -> String {
        let out = self.kubectl(args);
        assert!(
            out.status.success(),
            "kubectl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    fn file(&self, rel: &str) -> String {
        std::fs::read_to_string(self.root.join(rel)).unwrap()
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Polls `check` on `get nodes` output for up to 10 s.
fn eventually(node: &Node, args: &[&str], check: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let out = node.kubectl_ok(args);
        if check(&out) || Instant::now() > deadline {
            return out;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[test]
fn ha_cluster_with_agents_and_refusals() {
    let base = scratch();
    let (p1, p2, p3) = (free_port(), free_port(), free_port());
    let url1 = format!("https://127.0.0.1:{p1}");

    // First server: config file + drop-in + flags.
    let conf = base.join("s1/etc/rancher/k3s");
    std::fs::create_dir_all(conf.join("config.yaml.d")).unwrap();
    std::fs::write(
        conf.join("config.yaml"),
        "cluster-init: true\ntoken: secret\nwrite-kubeconfig-mode: \"0644\"\nnode-label: [zone=a]\n",
    )
    .unwrap();
    std::fs::write(
        conf.join("config.yaml.d/10-taint.yaml"),
        "node-taint+: [ctl=yes:NoSchedule]\n",
    )
    .unwrap();
    let p1s = p1.to_string();
    let mut s1 = Node::start(
        &base,
        "s1",
        &["server", "--https-listen-port", &p1s, "--node-name", "s1"],
        &[],
    );
    s1.wait_ready();

    let ca = std::fs::read(s1.root.join("var/lib/rancher/k3s/server/tls/server-ca.crt")).unwrap();
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
    assert!(s1
        .file("etc/rancher/k3s/k3s.yaml")
        .contains(&format!("server: https://127.0.0.1:{p1}")));
    assert_eq!(
        std::fs::read_link(s1.root.join("var/lib/rancher/k3s/server/agent-token")).unwrap(),
        Path::new("token")
    );

    // Two agents: full token via env, short token via flag.
    let mut a1 = Node::start(
        &base,
        "a1",
        &["agent", "--node-name", "a1", "--node-label", "disk=ssd"],
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
        ],
        &[],
    );
    a1.wait_ready();
    a2.wait_ready();

    // A joining server gets the same CA and token, and serves the same nodes.
    let p2s = p2.to_string();
    let mut s2 = Node::start(
        &base,
        "s2",
        &[
            "server",
            "--server",
            &url1,
            "--token",
            "secret",
            "--https-listen-port",
            &p2s,
            "--node-name",
            "s2",
        ],
        &[],
    );
    s2.wait_ready();
    assert_eq!(
        s2.file("var/lib/rancher/k3s/server/token"),
        format!("{full}\n")
    );

    let table = eventually(&s2, &["get", "nodes"], |out| {
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
        assert_eq!(cols[4], "v1.31.4+k3s1", "{line}");
    }

    eventually(&s1, &["get", "nodes"], |out| {
        out.matches(" Ready ").count() == 4
    });
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
    assert_eq!(s1_node["status"]["conditions"][0]["status"], "True");
    assert_eq!(
        s1_node["metadata"]["labels"]["node-role.kubernetes.io/etcd"],
        "true"
    );
    assert_eq!(
        s1_node["status"]["nodeInfo"]["kubeletVersion"],
        "v1.31.4+k3s1"
    );

    // Edits on one server are seen on the other.
    s1.kubectl_ok(&["label", "node", "a1", "tier=edge"]);
    s1.kubectl_ok(&["cordon", "a2"]);
    let seen = eventually(&s2, &["get", "nodes", "--show-labels"], |o| {
        o.contains("tier=edge") && o.contains("SchedulingDisabled")
    });
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

    // kubectl as a multi-call symlink.
    let link = base.join("kubectl");
    std::os::unix::fs::symlink(BIN, &link).unwrap();
    let out = Command::new(&link)
        .args(["get", "node", "a1", "-o", "name"])
        .env("KUBECONFIG", s1.root.join("etc/rancher/k3s/k3s.yaml"))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "node/a1");

    // Refusals: wrong password, wrong CA hash.
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

    // Same node name, different node password.
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
        ],
        &[],
    );
    assert!(!clash.wait_exit().success());
    assert!(
        clash.log().contains("Node password rejected"),
        "{}",
        clash.log()
    );

    // A SQLite server cannot be joined.
    let p3s = p3.to_string();
    let mut lite = Node::start(
        &base,
        "lite",
        &[
            "server",
            "--token",
            "t",
            "--https-listen-port",
            &p3s,
            "--node-name",
            "lite",
        ],
        &[],
    );
    lite.wait_ready();
    let url3 = format!("https://127.0.0.1:{p3}");
    let p4s = free_port().to_string();
    let mut joiner = Node::start(
        &base,
        "joiner",
        &[
            "server",
            "--server",
            &url3,
            "--token",
            "t",
            "--https-listen-port",
            &p4s,
        ],
        &[],
    );
    assert!(!joiner.wait_exit().success());
    assert!(
        joiner
            .log()
            .contains("cluster was not initialized with embedded etcd"),
        "{}",
        joiner.log()
    );

    // Deleting a node; SIGTERM ends a process with status 0.
    sigterm(&a2.child);
    assert_eq!(a2.wait_exit().code(), Some(0), "{}", a2.log());
    assert_eq!(
        s1.kubectl_ok(&["delete", "node", "a2"]).trim(),
        "node \"a2\" deleted"
    );
    let after = eventually(&s2, &["get", "nodes"], |o| !o.contains("a2 "));
    assert!(!after.contains("a2 "), "{after}");
}

fn sigterm(child: &Child) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn version_unknown_flags_and_unsupported_commands() {
    let dir = std::env::temp_dir().join(format!("k3s-double-cli-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let out = Command::new(BIN).arg("--version").output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "k3s version v1.31.4+k3s1 (double)\ngo version go1.22.0 (k3s-double)\n"
    );
    // A copied binary with a .version file claims that version (upgrade tests).
    let copy = dir.join("k3s");
    std::fs::copy(BIN, &copy).unwrap();
    std::fs::write(dir.join("k3s.version"), "v1.32.0+k3s1\n").unwrap();
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
        .expect("the copied binary runs");
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("k3s version v1.32.0+k3s1 (double)\n"));

    let out = Command::new(BIN)
        .args(["server", "--no-such-flag"])
        .env("K3S_DOUBLE_ROOT", &dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("flag provided but not defined: -no-such-flag"));
    let out = Command::new(BIN)
        .args(["etcd-snapshot", "save"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not supported by the double"));
    let out = Command::new(BIN)
        .args(["kubectl", "apply", "-f", "x.yaml"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let out = Command::new(BIN)
        .args(["agent"])
        .env("K3S_DOUBLE_ROOT", &dir)
        .env_remove("K3S_URL")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--server is required"));
}
