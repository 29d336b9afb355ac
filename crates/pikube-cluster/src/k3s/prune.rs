//! Taking a stale node out of the cluster: drained through a server's API, K3s stopped on
//! the node, its Node deleted (with pikube's own deadline), then K3s uninstalled from the
//! node itself with the same code as `pikube reset`.

use std::time::Duration;

use super::drain::{drain_node, Drain, DrainError};
use super::paths::Service;
use super::reset::reset_node;
use super::stale::PruneStep;
use crate::config::NodeName;
use crate::ssh::{shell_quote, CommandOutput, Connection, SshError};

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
        node: NodeName,
        /// Why (boxed: an SSH failure is large, and this error travels in K3sError).
        cause: Box<DrainError>,
    },
    /// K3s was still running on it after `systemctl stop`: its Node is left alone.
    #[error(
        "{node}: not deleted from the cluster: K3s would not stop on it ({service} is \
         {state} after `systemctl stop`), and deleting the Node of a server still running \
         would remove its etcd member under it (a drained node stays cordoned)"
    )]
    Stop {
        /// The node.
        node: NodeName,
        /// The unit, `k3s.service` or `k3s-agent.service`.
        service: String,
        /// What `systemctl is-active` said.
        state: String,
    },
    /// Deleting its Node failed.
    #[error("{node}: not deleted from the cluster: {reason}")]
    Delete {
        /// The node.
        node: NodeName,
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
        node: NodeName,
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
                node: step.name.clone(),
                cause: Box::new(cause),
            })?;
    if let Ok(connection) = node {
        stop_k3s(connection, &step.name, step.service).await?;
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

/// `systemctl stop` of the node's K3s service, then a check that it is not running: a
/// stop that failed (or a unit that came back) must not be followed by the delete. A unit
/// that is not installed is inactive, so there is nothing to do.
async fn stop_k3s(
    connection: &Connection,
    node: &NodeName,
    service: Service,
) -> Result<(), PruneError> {
    let output = connection
        .run_privileged_unchecked(
            "stopping K3s before its node is deleted",
            &stop_script(service),
            b"",
        )
        .await?;
    stopped(&output, node, service)
}

/// Stops the unit; exit 4 with systemd's word for its state when it still runs.
fn stop_script(service: Service) -> String {
    let unit = shell_quote(&format!("{}.service", service.name()));
    format!(
        "systemctl stop {unit} 2>/dev/null\n\
         state=$(systemctl is-active {unit} 2>/dev/null)\n\
         case $state in inactive|failed|unknown|'') exit 0 ;; esac\n\
         printf '%s\\n' \"$state\"\n\
         exit 4"
    )
}

/// What the stop script's output means.
fn stopped(output: &CommandOutput, node: &NodeName, service: Service) -> Result<(), PruneError> {
    if output.success() {
        return Ok(());
    }
    let state = output.last_stdout_line();
    Err(PruneError::Stop {
        node: node.clone(),
        service: format!("{}.service", service.name()),
        state: if state.is_empty() {
            format!("unknown (exit status {})", output.code)
        } else {
            state
        },
    })
}

/// `kubectl delete node` without kubectl's own wait (a week, when a finalizer is stuck),
/// then waits for the Node to go with pikube's deadline; a node that is not there is
/// deleted already.
pub async fn delete_node(
    api: &Connection,
    node: &NodeName,
    timeout: Duration,
) -> Result<(), PruneError> {
    let output = api
        .allowing(timeout + Duration::from_secs(60))
        .run_privileged_unchecked(
            "deleting the node",
            &delete_script(super::paths::BINARY, node, timeout),
            b"",
        )
        .await?;
    deleted(&output, node, timeout)
}

/// Deletes without kubectl's wait, waits with pikube's `timeout`, and when the Node is
/// still there prints its finalizers and exits 3. A Node gone between the wait giving up
/// and the last look is deleted (exit 0), not "finalizers pending" with none named.
fn delete_script(k3s: &str, node: &str, timeout: Duration) -> String {
    let quoted = shell_quote(node);
    format!(
        "k={k3s}\n\
         $k kubectl delete node {quoted} --wait=false >/dev/null || exit 1\n\
         $k kubectl wait --for=delete node/{quoted} --timeout={}s >/dev/null 2>&1 && exit 0\n\
         if left=$($k kubectl get node {quoted} -o jsonpath='{{.metadata.finalizers}}' 2>&1)\n\
         then printf '%s\\n' \"$left\"; exit 3; fi\n\
         case $left in *'(NotFound)'*) exit 0 ;; esac\n\
         printf '%s\\n' \"$left\" >&2\n\
         exit 1",
        timeout.as_secs().max(1),
        k3s = shell_quote(k3s),
    )
}

/// What the delete script's output means.
fn deleted(output: &CommandOutput, node: &NodeName, timeout: Duration) -> Result<(), PruneError> {
    if output.success() || is_not_found(&output.stderr) {
        Ok(())
    } else if output.code == 3 {
        Err(PruneError::Finalizers {
            node: node.clone(),
            finalizers: finalizer_list(&output.stdout),
            timeout,
        })
    } else {
        Err(PruneError::Delete {
            node: node.clone(),
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

    /// Runs `script` with `PATH` starting at `bin`, as the SSH layer would report it.
    fn run(script: &str, bin: &std::path::Path) -> CommandOutput {
        let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
        let output = std::process::Command::new("sh")
            .arg("-c")
            .arg(script)
            .env("PATH", path)
            .output()
            .unwrap();
        CommandOutput {
            code: output.status.code().unwrap(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// An executable `name` in `dir` running `body`.
    fn fake(dir: &std::path::Path, name: &str, body: &str) -> std::path::PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let path = dir.join(name);
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    #[test]
    fn a_node_gone_by_the_last_look_is_deleted_and_a_stuck_one_names_its_finalizers() {
        let timeout = Duration::from_secs(5);
        // kubectl deletes, its wait gives up, then the last `get` says `$GET`.
        let outcome = |get: &str| {
            let dir = tempfile::tempdir().unwrap();
            let k3s = fake(
                dir.path(),
                "k3s",
                &format!("case $2 in delete) exit 0 ;; wait) exit 1 ;; get) {get} ;; esac; exit 9"),
            );
            let output = run(
                &delete_script(&k3s.display().to_string(), "n", timeout),
                dir.path(),
            );
            deleted(&output, &"n".parse().unwrap(), timeout)
        };
        // Gone between the wait and the look: deleted, not "finalizers [] pending".
        assert!(
            outcome("echo 'Error from server (NotFound): nodes \"n\" not found' >&2; exit 1")
                .is_ok()
        );
        match outcome("printf '[\"example.com/stuck\"]'; exit 0") {
            Err(PruneError::Finalizers { finalizers, .. }) => {
                assert_eq!(finalizers, "example.com/stuck")
            }
            other => panic!("{other:?}"),
        }
        // Any other failure of the look is said as kubectl said it.
        match outcome("echo 'The connection to the server was refused' >&2; exit 1") {
            Err(PruneError::Delete { reason, .. }) => {
                assert_eq!(reason, "The connection to the server was refused")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_k3s_that_does_not_stop_keeps_its_node() {
        // systemd's answer to `is-active` after the stop: `$STATE`, the stop failing
        // whenever the unit is still running.
        let outcome = |state: &str| {
            let dir = tempfile::tempdir().unwrap();
            fake(
                dir.path(),
                "systemctl",
                &format!(
                    "case $1 in stop) [ {state} = active ] && exit 1; exit 0 ;; \
                     is-active) echo {state}; [ {state} = active ] ;; esac"
                ),
            );
            let output = run(&stop_script(Service::Server), dir.path());
            stopped(&output, &"s2".parse().unwrap(), Service::Server)
        };
        assert!(outcome("inactive").is_ok());
        // A unit that is not installed: nothing to stop.
        assert!(outcome("unknown").is_ok());
        for state in ["active", "activating", "deactivating"] {
            let err = outcome(state).unwrap_err().to_string();
            assert!(
                err.starts_with(&format!(
                    "s2: not deleted from the cluster: K3s would not stop on it (k3s.service \
                     is {state} after `systemctl stop`)"
                )),
                "{err}"
            );
        }
    }
}
