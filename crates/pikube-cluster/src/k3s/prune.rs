//! Taking a stale node out of the cluster: drained and deleted through a server's API,
//! then K3s uninstalled from the node itself with the same code as `pikube reset`.

use std::time::Duration;

use super::reset::reset_node;
use super::stale::PruneStep;
use crate::ssh::{shell_quote, Connection, SshError};

#[derive(Debug, thiserror::Error)]
pub enum PruneError {
    #[error(transparent)]
    Ssh(#[from] SshError),
    #[error(
        "{node}: not pruned: the drain failed ({reason}); it stays cordoned \
         (`kubectl uncordon {node}` undoes that)"
    )]
    Drain { node: String, reason: String },
    #[error("{node}: not deleted from the cluster: {reason}")]
    Delete { node: String, reason: String },
}

/// What pruning did to one node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PruneReport {
    pub drained: bool,
    /// The k3s services uninstalled (none: K3s was not installed), or why K3s could not
    /// be uninstalled: the node is out of the cluster but still has K3s.
    pub uninstalled: Result<Vec<&'static str>, String>,
}

impl PruneReport {
    /// For the summary: "pruned (drained, deleted, uninstalled)".
    pub fn describe(&self) -> String {
        let mut done = vec![if self.drained {
            "drained"
        } else {
            "not drained: NotReady"
        }];
        done.push("deleted");
        match &self.uninstalled {
            Ok(services) if services.is_empty() => done.push("K3s was not installed"),
            Ok(_) => done.push("uninstalled"),
            Err(_) => done.push("NOT uninstalled"),
        }
        format!("pruned ({})", done.join(", "))
    }
}

/// Drains (if Ready), deletes, uninstalls through `node` (the node's own connection, or
/// why there is none), then deletes again: a kubelet still running between the first
/// delete and the uninstall registers its node anew.
pub async fn prune_node(
    api: &Connection,
    step: &PruneStep,
    node: Result<&Connection, String>,
    drain_timeout: Duration,
) -> Result<PruneReport, PruneError> {
    let drained = step.ready && drain_node(api, &step.name, drain_timeout).await?;
    delete_node(api, &step.name).await?;
    let uninstalled = match node {
        Ok(connection) => reset_node(connection, false)
            .await
            .map(|report| report.uninstalled)
            .map_err(|err| err.to_string()),
        Err(why) => Err(why),
    };
    delete_node(api, &step.name).await?;
    Ok(PruneReport {
        drained,
        uninstalled,
    })
}

/// `kubectl drain`: cordoned, then its pods evicted. `false` if the node is gone already.
pub async fn drain_node(
    api: &Connection,
    node: &str,
    timeout: Duration,
) -> Result<bool, PruneError> {
    let script = format!(
        "/usr/local/bin/k3s kubectl drain {} --ignore-daemonsets --delete-emptydir-data \
         --timeout={}s",
        shell_quote(node),
        timeout.as_secs().max(1)
    );
    let output = api
        .run_privileged_unchecked("draining the node", &script, b"")
        .await?;
    if output.success() {
        Ok(true)
    } else if is_not_found(&output.stderr) {
        Ok(false)
    } else {
        Err(PruneError::Drain {
            node: node.to_owned(),
            reason: last_line(&output.stderr),
        })
    }
}

/// `kubectl delete node`; a node that is not there is deleted already.
pub async fn delete_node(api: &Connection, node: &str) -> Result<(), PruneError> {
    let script = format!(
        "/usr/local/bin/k3s kubectl delete node {}",
        shell_quote(node)
    );
    let output = api
        .run_privileged_unchecked("deleting the node", &script, b"")
        .await?;
    if output.success() || is_not_found(&output.stderr) {
        Ok(())
    } else {
        Err(PruneError::Delete {
            node: node.to_owned(),
            reason: last_line(&output.stderr),
        })
    }
}

/// kubectl's `Error from server (NotFound): nodes "x" not found`.
fn is_not_found(stderr: &str) -> bool {
    stderr.contains("(NotFound)")
}

fn last_line(text: &str) -> String {
    text.lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("no output")
        .trim()
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_read_as_what_was_done() {
        let report = PruneReport {
            drained: true,
            uninstalled: Ok(vec!["k3s-agent"]),
        };
        assert_eq!(report.describe(), "pruned (drained, deleted, uninstalled)");
        let report = PruneReport {
            drained: false,
            uninstalled: Err("no record".into()),
        };
        assert_eq!(
            report.describe(),
            "pruned (not drained: NotReady, deleted, NOT uninstalled)"
        );
        assert!(is_not_found(
            "Error from server (NotFound): nodes \"x\" not found\n"
        ));
        assert_eq!(last_line("a\nerror: b\n\n"), "error: b");
    }
}
