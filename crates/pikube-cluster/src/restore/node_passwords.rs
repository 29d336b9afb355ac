//! The node passwords a restored etcd brings back. K3s keeps a hash of each node's
//! `/etc/rancher/node/password` in the Secret `<node>.node-password.k3s`; the restored
//! ones are those of the SD cards that were in the cluster when the snapshot was taken. On
//! new cards (restore onto new hardware, or a node re-flashed since) they no longer match,
//! and K3s refuses such an agent ("Node password rejected") for as long as the record stays:
//! it waits, NotReady, forever. A server's own node is verified against its own file, so it
//! comes up, with a Warning Event `NodePasswordValidationFailed` on its Node.
//!
//! So the records of the nodes that rejoin are removed while those nodes are stopped (each
//! records its own card's password again when it starts; on the same cards, the same one),
//! and the first server's is removed when K3s reported it stale.

use crate::config::NodeName;
use crate::ssh::{shell_quote, Connection};

const SUFFIX: &str = ".node-password.k3s";

/// Removes the node-password records of `nodes` (absent ones are fine), through the API
/// `api` serves.
pub async fn forget(api: &Connection, nodes: &[NodeName]) -> Result<(), String> {
    if nodes.is_empty() {
        return Ok(());
    }
    let secrets: Vec<String> = nodes
        .iter()
        .map(|node| shell_quote(&format!("{node}{SUFFIX}")))
        .collect();
    let script = format!(
        "/usr/local/bin/k3s kubectl -n kube-system delete secret --ignore-not-found {}",
        secrets.join(" ")
    );
    let output = api
        .run_privileged_unchecked("removing the restored node passwords", &script, b"")
        .await
        .map_err(|err| err.to_string())?;
    if output.success() {
        Ok(())
    } else {
        Err(output.last_stderr_line())
    }
}

/// Whether K3s found `server`'s restored node password to be another card's: the Warning
/// Event it records on the Node after verifying the server against its own file.
pub async fn rejected_own(api: &Connection, server: &str) -> Result<bool, String> {
    let script = format!(
        "/usr/local/bin/k3s kubectl -n default get events -o name --field-selector {}",
        shell_quote(&format!(
            "involvedObject.kind=Node,involvedObject.name={server},\
             reason=NodePasswordValidationFailed"
        ))
    );
    let output = api
        .run_privileged_unchecked("reading K3s' node password events", &script, b"")
        .await
        .map_err(|err| err.to_string())?;
    if output.success() {
        Ok(!output.stdout.trim().is_empty())
    } else {
        Err(output.last_stderr_line())
    }
}
