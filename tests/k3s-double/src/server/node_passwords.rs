//! Node passwords, kept where k3s keeps them: a Secret `<node>.node-password.k3s` in
//! kube-system holding a hash of `/etc/rancher/node/password`. The first registration of a
//! name stores it; a later one with another password is refused (an agent then waits and
//! tries again). Deleting the Node deletes its Secret (the node controller's finalizer), so a
//! re-flashed node can take the name again. A server's own node is verified locally.

use crate::encoding::{base64, sha256_hex};
use crate::kube_client::{self, KubeClient};
use crate::log;
use serde_json::json;

pub const SUFFIX: &str = ".node-password.k3s";

pub const REJECTED: &str = "Node password rejected, duplicate hostname or contents of \
'/etc/rancher/node/password' may not match server node-passwd entry, try enabling a unique \
node name with the --with-node-id flag";

#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    Accepted,
    Rejected,
}

fn secret_path(node: &str) -> String {
    format!("/api/v1/namespaces/kube-system/secrets/{node}{SUFFIX}")
}

/// Stores the password's hash on first use, compares it afterwards.
pub fn check(client: &KubeClient, node: &str, password: &str) -> Result<Verdict, String> {
    let hash = sha256_hex(password.as_bytes());
    let reply = client.get(&secret_path(node)).map_err(|e| e.to_string())?;
    match reply.status {
        200 => {
            let secret: serde_json::Value =
                serde_json::from_slice(&reply.body).map_err(|e| e.to_string())?;
            let stored = secret["data"]["hash"].as_str().unwrap_or_default();
            Ok(if stored == base64(hash.as_bytes()) {
                Verdict::Accepted
            } else {
                Verdict::Rejected
            })
        }
        404 => {
            let secret = json!({
                "apiVersion": "v1",
                "kind": "Secret",
                "type": "k3s.cattle.io/node-password",
                "metadata": {"name": format!("{node}{SUFFIX}"), "namespace": "kube-system"},
                "data": {"hash": base64(hash.as_bytes())},
            });
            kube_client::json(client.post("/api/v1/namespaces/kube-system/secrets", &secret))
                .map(|_| Verdict::Accepted)
                .map_err(|e| format!("failed to save node password: {e}"))
        }
        _ => Err(kube_client::describe(&reply)),
    }
}

/// A server's own node, as K3s verifies it while its apiserver is still starting: against
/// its own password file (which it has just read, so it passes), with the Secret checked
/// afterwards for information only. A Secret holding another card's password (a snapshot
/// restored onto new hardware) does not stop the server: K3s records a Warning Event
/// `NodePasswordValidationFailed` on the Node and goes on; a missing one is created.
pub fn ensure_own(client: &KubeClient, node: &str, password: &str) {
    log::info(&format!("Password verified locally for node {node}"));
    let failed = match check(client, node, password) {
        Ok(Verdict::Accepted) => return,
        Ok(Verdict::Rejected) => REJECTED.to_owned(),
        Err(e) => e,
    };
    log::warn(&format!(
        "Node {node}: deferred node password secret validation failed: {failed}"
    ));
    let event = json!({
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"generateName": format!("{node}."), "namespace": "default"},
        "involvedObject": {"kind": "Node", "name": node, "uid": node},
        "reason": "NodePasswordValidationFailed",
        "message": format!("Deferred node password secret validation failed: {failed}"),
        "type": "Warning",
        "source": {"component": "k3s-supervisor", "host": node},
        "count": 1,
    });
    if let Err(e) = kube_client::json(client.post("/api/v1/namespaces/default/events", &event)) {
        log::warn(&format!("failed to record the event for node {node}: {e}"));
    }
}

/// Deletes the node's password Secret (gone already is done).
pub fn delete(client: &KubeClient, node: &str) -> Result<(), String> {
    match client.delete(&secret_path(node)) {
        Ok(r) if (200..300).contains(&r.status) || r.status == 404 => Ok(()),
        Ok(r) => Err(format!(
            "failed to delete the node password of {node}: {}",
            kube_client::describe(&r)
        )),
        Err(e) => Err(format!("failed to delete the node password of {node}: {e}")),
    }
}
