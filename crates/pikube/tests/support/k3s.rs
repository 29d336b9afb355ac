//! What the K3s fleet tests read off the nodes, and how they change cluster.toml.

use std::path::PathBuf;

use serde_json::Value;

use super::cluster::{k3s_double, Workspace};
use super::fleet::Fleet;

/// `k3s kubectl get nodes -o json` on a server, as the cluster sees itself.
pub fn cluster_nodes(fleet: &Fleet, server: &str) -> Vec<Value> {
    let json = fleet.exec(server, "k3s kubectl get nodes -o json");
    let list: Value = serde_json::from_str(&json).expect("node list");
    list["items"].as_array().cloned().unwrap_or_default()
}

pub fn cluster_node(fleet: &Fleet, server: &str, name: &str) -> Value {
    cluster_nodes(fleet, server)
        .into_iter()
        .find(|n| n["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("{name} is not in the cluster"))
}

pub fn is_ready(node: &Value) -> bool {
    node["status"]["conditions"].as_array().is_some_and(|c| {
        c.iter()
            .any(|c| c["type"] == "Ready" && c["status"] == "True")
    })
}

/// systemd's id of the current run of a service: it changes when the service restarts.
pub fn invocation(fleet: &Fleet, node: &str, service: &str) -> String {
    let id = fleet.exec(
        node,
        &format!("systemctl show -p InvocationID --value {service}"),
    );
    let id = id.trim().to_owned();
    assert!(!id.is_empty(), "{service} on {node} never ran");
    id
}

/// Replaces the first `from` in cluster.toml with `to`.
pub fn edit(ws: &Workspace, from: &str, to: &str) {
    let path = ws.path().join("cluster.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(from), "{from:?} not in cluster.toml:\n{text}");
    std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
}

/// A copy of the k3s double in the workspace that reports `version` (as a K3s release of
/// that version would), for tests that move between versions.
pub fn stamped_double(ws: &Workspace, version: &str) -> PathBuf {
    let path = ws.path().join(format!("k3s-{version}"));
    let stamped = std::process::Command::new(k3s_double())
        .args(["stamp", version, path.to_str().expect("utf-8 path")])
        .status()
        .expect("run k3s-double stamp");
    assert!(stamped.success(), "k3s-double stamp {version} failed");
    path
}

/// Points cluster.toml at K3s `version`, from `binary` (for amd64, the fleet's nodes).
pub fn use_k3s(ws: &Workspace, version: &str, binary: &std::path::Path) {
    let path = ws.path().join("cluster.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut out = String::new();
    let mut table = "";
    for line in text.lines() {
        if line.starts_with('[') {
            table = line;
        }
        if line.starts_with("version = \"v") {
            out.push_str(&format!("version = \"{version}\""));
        } else if table == "[k3s.binary]" && line.starts_with("amd64 = ") {
            out.push_str(&format!("amd64 = \"{}\"", binary.display()));
        } else {
            out.push_str(line);
        }
        out.push('\n');
    }
    std::fs::write(&path, out).unwrap();
}

/// Waits until `server` sees `name`'s Node NotReady: its kubelet stopped reporting and
/// kube-controller-manager's grace period ran out.
pub fn wait_not_ready(fleet: &Fleet, server: &str, name: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(240);
    while is_ready(&cluster_node(fleet, server, name)) {
        assert!(
            std::time::Instant::now() < deadline,
            "{name} still Ready after 240 s"
        );
        std::thread::sleep(std::time::Duration::from_secs(3));
    }
}
