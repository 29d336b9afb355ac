//! Taking a stale node out of the cluster: drained through a server's API, K3s stopped on
//! the node, its Node deleted (with pikube's own deadline), then K3s uninstalled from the
//! node itself with the same code as `pikube reset`.

use std::time::Duration;

use super::drain::{drain_node, Drain, DrainError};
use super::paths::Service;
use super::reset::reset_node;
use super::stale::PruneStep;
use crate::ssh::{shell_quote, Connection, SshError};

/// Why a node was not taken out of the cluster.
#[derive(Debug, thiserror::Error)]
pub enum PruneError {
    /// A command failed or the connection did.
    #[error(transparent)]
    Ssh(#[from] SshError),
    #[error(
        "{node}: not pruned: {causes}; it stays cordoned (`kubectl uncordon {node}` undoes \
         that)",
        causes = crate::error_chain::describe(cause)
    )]
    /// The drain failed; the node stays cordoned.
    Drain {
        /// The node.
        node: String,
        /// Why (boxed: an SSH failure is large, and this error travels in K3sError).
        cause: Box<DrainError>,
    },
    /// Deleting its Node failed.
    #[error("{node}: not deleted from the cluster: {reason}")]
    Delete {
        /// The node.
        node: String,
        /// What kubectl said.
        reason: String,
    },
    #[error(
        "{node}: not deleted from the cluster within {}s: K3s' finalizers [{finalizers}] are \
         still pending (for an etcd server: is etcd healthy, with quorum?); it is marked for \
         deletion and goes once they finish",
        timeout.as_secs()
    )]
    /// Its Node is marked for deletion, but K3s' finalizers had not finished in time.
    Finalizers {
        /// The node.
        node: String,
        /// The finalizers still pending.
        finalizers: String,
        /// How long they were waited for.
        timeout: Duration,
    },
}

/// How long a Node may take to go once deleted, unless told otherwise: K3s' finalizers
/// remove its node password and, for an etcd server, its etcd member first.
pub const DELETE_TIMEOUT: Duration = Duration::from_secs(60);

/// What pruning did to one node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PruneReport {
    /// It was drained first (a node the cluster lists).
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

/// Drains (if Ready), stops K3s on the node, deletes its Node, uninstalls K3s through
/// `node` (the node's own connection, or why there is none).
///
/// K3s stops before the delete: deleting an etcd server's Node removes its etcd member, and
/// a K3s still running there restarts and tries to rejoin, racing the uninstall (it can leave
/// a dead member or learner behind). A running agent does not create its Node again by
/// itself (the kubelet registers only when it starts), but one that restarts before the
/// uninstall (a crash and `Restart=always`, a reboot) would: stopped, it cannot.
pub async fn prune_node(
    api: &Connection,
    step: &PruneStep,
    node: Result<&Connection, String>,
    drain: Drain,
    delete_timeout: Duration,
) -> Result<PruneReport, PruneError> {
    let drained = step.ready
        && drain_node(api, &step.name, drain)
            .await
            .map_err(|cause| PruneError::Drain {
                node: step.name.to_string(),
                cause: Box::new(cause),
            })?;
    if let Ok(connection) = node {
        stop_k3s(connection, step.service).await?;
    }
    delete_node(api, &step.name, delete_timeout).await?;
    let uninstalled = match node {
        Ok(connection) => reset_node(connection, false)
            .await
            .map(|report| report.uninstalled)
            .map_err(|err| err.to_string()),
        Err(why) => Err(why),
    };
    Ok(PruneReport {
        drained,
        uninstalled,
    })
}

/// `systemctl stop` of the node's K3s service (nothing to do if it is not installed).
async fn stop_k3s(connection: &Connection, service: Service) -> Result<(), PruneError> {
    let script = format!(
        "systemctl stop {} 2>/dev/null || true",
        shell_quote(service.name())
    );
    connection
        .run_privileged("stopping K3s before its node is deleted", &script, b"")
        .await?;
    Ok(())
}

/// `kubectl delete node` without kubectl's own wait (a week, when a finalizer is stuck),
/// then waits for the Node to go with pikube's deadline; a node that is not there is
/// deleted already.
pub async fn delete_node(
    api: &Connection,
    node: &str,
    timeout: Duration,
) -> Result<(), PruneError> {
    let quoted = shell_quote(node);
    let script = format!(
        "k=/usr/local/bin/k3s\n\
         $k kubectl delete node {quoted} --wait=false >/dev/null || exit 1\n\
         $k kubectl wait --for=delete node/{quoted} --timeout={}s >/dev/null 2>&1 && exit 0\n\
         $k kubectl get node {quoted} -o jsonpath='{{.metadata.finalizers}}' 2>/dev/null\n\
         exit 3",
        timeout.as_secs().max(1)
    );
    let output = api
        .allowing(timeout + Duration::from_secs(60))
        .run_privileged_unchecked("deleting the node", &script, b"")
        .await?;
    if output.success() || is_not_found(&output.stderr) {
        Ok(())
    } else if output.code == 3 {
        Err(PruneError::Finalizers {
            node: node.to_owned(),
            finalizers: finalizer_list(&output.stdout),
            timeout,
        })
    } else {
        Err(PruneError::Delete {
            node: node.to_owned(),
            reason: output.last_stderr_line(),
        })
    }
}

/// kubectl's jsonpath of a string list, `["a","b"]`, as `a, b`.
fn finalizer_list(jsonpath: &str) -> String {
    serde_json::from_str::<Vec<String>>(jsonpath.trim())
        .map(|list| list.join(", "))
        .unwrap_or_else(|_| jsonpath.trim().to_owned())
}

/// kubectl's `Error from server (NotFound): nodes "x" not found`.
pub(super) fn is_not_found(stderr: &str) -> bool {
    stderr.contains("(NotFound)")
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
        assert_eq!(
            finalizer_list("[\"wrangler.cattle.io/node\",\"x/y\"]\n"),
            "wrangler.cattle.io/node, x/y"
        );
    }
}
