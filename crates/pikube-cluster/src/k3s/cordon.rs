//! The cordons pikube makes (an upgrade, a shutdown) are marked as its own with an
//! annotation saying why, so that a run stopped before its uncordon is finished by the next
//! apply, and a cordon of the user's own is never undone.

use super::ClusterNode;
use crate::config::NodeName;
use crate::ssh::{shell_quote, Connection};

/// The annotation on a Node pikube cordoned, saying why, so that the next apply (and
/// only pikube) uncordons it.
pub const CORDON_ANNOTATION: &str = "pikube.io/cordoned";

/// Why pikube cordoned `node` ("upgrade to v1.34.4+k3s1", "shutdown"), if it did.
pub fn cordoned_by_pikube(node: &ClusterNode) -> Option<&str> {
    node.annotations.get(CORDON_ANNOTATION).map(String::as_str)
}

/// `kubectl cordon`, marked with `reason`, through the API on `api`.
pub async fn cordon(api: &Connection, node: &NodeName, reason: &str) -> Result<(), String> {
    let quoted = shell_quote(node);
    let script = format!(
        "k=/usr/local/bin/k3s\n$k kubectl cordon {quoted} && \
         $k kubectl annotate node {quoted} --overwrite {CORDON_ANNOTATION}={}",
        shell_quote(reason)
    );
    run_api(api, "cordoning the node", &script).await
}

/// `kubectl uncordon`, and the mark removed.
pub async fn uncordon(api: &Connection, node: &NodeName) -> Result<(), String> {
    let quoted = shell_quote(node);
    let script = format!(
        "k=/usr/local/bin/k3s\n$k kubectl uncordon {quoted} && \
         $k kubectl annotate node {quoted} {CORDON_ANNOTATION}-"
    );
    run_api(api, "uncordoning the node", &script).await
}

/// A kubectl script through `api`; its last error line when it fails.
async fn run_api(api: &Connection, what: &str, script: &str) -> Result<(), String> {
    match api.run_privileged_unchecked(what, script, b"").await {
        Ok(output) if output.success() => Ok(()),
        Ok(output) => Err(output.last_stderr_line()),
        Err(err) => Err(err.to_string()),
    }
}
