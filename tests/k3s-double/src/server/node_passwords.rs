//! Node passwords, kept where k3s keeps them: a Secret `<node>.node-password.k3s` in
//! kube-system holding a hash of `/etc/rancher/node/password`. The first registration of a
//! name stores it; a later one with another password is refused. Deleting the Node deletes
//! its Secret (the node controller's finalizer), so a re-flashed node can take the name again.

use crate::encoding::{base64, sha256_hex};
use crate::kube_client::{self, KubeClient};
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
