//! One node's upgrade, step by step, each step named when it fails: cordon, drain, replace
//! the binary (size and SHA-256 checked on the node), restart, wait until the node is
//! Ready on the new version, uncordon. A node that fails stays cordoned: the next apply
//! finds it behind and picks up from there.

use std::time::{Duration, Instant};

use crate::apply::carry_out;
use crate::config::{K3sVersion, NodeName};
use crate::k3s::drain::{drain_node, Drain};
use crate::k3s::install::{journal_tail, service_status, wait_started};
use crate::k3s::node_plan::{binary_change, images_change};
use crate::k3s::paths::Service;
use crate::k3s::{get_nodes, quorum_without, BinaryArtifact, Downtime, StageNode};
use crate::progress::Progress;
use crate::ssh::{shell_quote, Connection, SshError};

use super::preflight::NodeUpgrade;
use crate::k3s::cordon::{cordon, uncordon};

/// Why an upgrade stopped, naming the node and the step; the cluster keeps serving.
#[derive(Debug, thiserror::Error)]
pub enum UpgradeError {
    /// A step on one node failed; the rollout stops there.
    #[error("{node}: upgrade to {target} stopped at {step}: {reason}{cordoned}")]
    Step {
        /// The node.
        node: NodeName,
        /// The version it was going to.
        target: K3sVersion,
        /// The step (cordon, drain, replace, restart, Ready, uncordon).
        step: &'static str,
        /// What went wrong.
        reason: String,
        /// What the node is left as, and how to go on.
        cordoned: String,
    },
    /// etcd was not healthy before anything changed.
    #[error("{node}: upgrade refused: etcd is not healthy ({reason}); nothing was changed")]
    Etcd {
        /// The server asked.
        node: NodeName,
        /// What etcd said.
        reason: String,
    },
    /// The pre-upgrade etcd snapshot failed before anything changed.
    #[error(
        "{node}: upgrade refused: the pre-upgrade snapshot failed ({reason}); nothing was changed"
    )]
    Snapshot {
        /// The server asked.
        node: NodeName,
        /// Why the snapshot failed.
        reason: String,
    },
    /// The connection to a node failed.
    #[error(transparent)]
    Ssh(#[from] SshError),
}

/// How every node of one upgrade goes.
pub struct Rollout<'a> {
    /// The version every node goes to.
    pub target: K3sVersion,
    /// Its binary, for the nodes' architecture.
    pub binary: &'a BinaryArtifact,
    /// Servers are drained too, unless --no-drain-servers (agents always are).
    pub drain_servers: bool,
    /// How nodes are drained.
    pub drain: Drain,
    /// How long a restarted node may take to be Ready on the new version.
    pub ready_timeout: Duration,
    /// Embedded etcd: a server restarts only while the other members keep its quorum
    /// (one of them may have gone down since the preflight).
    pub keep_quorum: bool,
}

impl Rollout<'_> {
    /// Carries out `step` on `node`; `api` is a server's connection to reach the
    /// Kubernetes API through, ideally not `node`'s own. Every failure names the step.
    pub async fn upgrade(
        &self,
        node: &StageNode,
        step: &NodeUpgrade,
        api: &Connection,
        progress: &dyn Progress,
    ) -> Result<(), UpgradeError> {
        let name = &node.name;
        let connection = &node.connection;
        let service = step.service;
        let stop = |step: &'static str, reason: String, cordoned: bool| UpgradeError::Step {
            node: name.to_owned(),
            target: self.target,
            step,
            reason,
            cordoned: if cordoned {
                format!(
                    "; it stays cordoned (`kubectl uncordon {name}` undoes that); the next \
                     `pikube apply` goes on from here"
                )
            } else {
                "; the next `pikube apply` goes on from here".to_owned()
            },
        };

        if step.restart && service == Service::Server && self.keep_quorum {
            let quorum = match get_nodes(api).await {
                Ok(live) => quorum_without(&live, name, Downtime::RestartInTurn),
                Err(err) => Err(format!("the cluster's node list: {err}")),
            };
            quorum.map_err(|reason| stop("the quorum check", reason, false))?;
        }
        if step.restart {
            progress.node(
                name,
                &format!("[upgrade] cordon and drain, then k3s {}", self.target),
            );
            cordon(api, name, &format!("upgrade to {}", self.target))
                .await
                .map_err(|reason| stop("cordon", reason, false))?;
            if service == Service::Agent || self.drain_servers {
                drain_node(api, name, self.drain)
                    .await
                    .map_err(|err| stop("drain", err.to_string(), true))?;
            }
            if step.replace_binary {
                progress.node(
                    name,
                    &format!("[upgrade] replacing the k3s binary ({})", self.target),
                );
                carry_out(connection, &binary_change(self.binary))
                    .await
                    .map_err(|err| stop("replacing the binary", err.to_string(), true))?;
                // The new release's system images, in before it starts (air-gapped nodes
                // could not pull them).
                if let Some(images) = &self.binary.images {
                    progress.node(name, "[upgrade] replacing the airgap images");
                    carry_out(connection, &images_change(images, &self.binary.version))
                        .await
                        .map_err(|err| {
                            stop("replacing the airgap images", err.to_string(), true)
                        })?;
                }
            }
            progress.node(name, &format!("[upgrade] restarting {}", service.name()));
            let restarted = async {
                let before = service_status(connection, service)
                    .await
                    .map_err(|err| err.to_string())?;
                let restart = format!("systemctl restart {}", service.name());
                connection
                    .run_privileged("restarting k3s", &restart, b"")
                    .await
                    .map_err(|err| err.to_string())?;
                wait_started(connection, service, &before, self.ready_timeout)
                    .await
                    .map_err(|err| err.to_string())
            }
            .await;
            restarted.map_err(|reason| stop("restart", reason, true))?;
        }
        self.wait_ready_on_target(node, service, api)
            .await
            .map_err(|reason| stop("waiting for Ready on the new version", reason, true))?;
        uncordon(api, name)
            .await
            .map_err(|reason| stop("uncordon", reason, true))?;
        progress.node(
            name,
            &format!("[upgrade] Ready on {}, uncordoned", self.target),
        );
        Ok(())
    }

    /// Until the node's kubelet reports the target version and the node is Ready. A server
    /// restarting may take the API down for a moment: not answering is waited for too.
    async fn wait_ready_on_target(
        &self,
        node: &StageNode,
        service: Service,
        api: &Connection,
    ) -> Result<(), String> {
        let started = Instant::now();
        let target = self.target.to_string();
        let mut seen = "not listed yet".to_owned();
        loop {
            if let Ok(live) = get_nodes(api).await {
                if let Some(found) = live.iter().find(|n| n.name == node.name) {
                    if found.ready && found.kubelet_version == target {
                        return Ok(());
                    }
                    seen = format!(
                        "{}, version {}",
                        if found.ready { "Ready" } else { "NotReady" },
                        found.kubelet_version
                    );
                }
            }
            if started.elapsed() >= self.ready_timeout {
                return Err(format!(
                    "not Ready on {target} within {} s (last seen: {seen}). Its last log \
                     lines:\n{}",
                    self.ready_timeout.as_secs(),
                    journal_tail(&node.connection, service, 15).await
                ));
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
}

/// Whether etcd answers as healthy through the API server on `server`.
pub async fn etcd_ready(server: &Connection) -> Result<(), UpgradeError> {
    let output = server
        .run_privileged_unchecked(
            "asking the API server about etcd",
            "/usr/local/bin/k3s kubectl get --raw /readyz/etcd",
            b"",
        )
        .await?;
    if output.success() && output.stdout.trim() == "ok" {
        Ok(())
    } else {
        Err(UpgradeError::Etcd {
            node: server.node().to_owned(),
            reason: if output.success() {
                output.stdout.trim().to_owned()
            } else {
                output.last_stderr_line()
            },
        })
    }
}

/// `k3s etcd-snapshot save --name pre-upgrade-<version>` on `server`, kept on the node with
/// the scheduled ones (`pikube backup list` shows it); returns what K3s said it saved.
pub async fn pre_upgrade_snapshot(
    server: &Connection,
    target: &K3sVersion,
) -> Result<String, UpgradeError> {
    // A snapshot name becomes a file name: `+` is kept out of it.
    let name = format!("pre-upgrade-{}", target.to_string().replace('+', "-"));
    let script = format!(
        "/usr/local/bin/k3s etcd-snapshot save --name {} 2>&1",
        shell_quote(&name)
    );
    let output = server
        .run_privileged_unchecked("saving the pre-upgrade snapshot", &script, b"")
        .await?;
    if !output.success() {
        return Err(UpgradeError::Snapshot {
            node: server.node().to_owned(),
            reason: output.last_stdout_line(),
        });
    }
    Ok(name)
}
