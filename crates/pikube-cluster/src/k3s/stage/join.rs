//! One node installed or joined: its K3s files and service brought to what cluster.toml
//! says, then the node running the wanted version and Ready, or why not.

use super::{K3sNodeReport, K3sStage, StageNode};
use crate::config::NodeName;
use crate::k3s::cluster_nodes::get_nodes;
use crate::k3s::error::K3sError;
use crate::k3s::install::{carry_out, journal_tail, service_status, wait_started};
use crate::k3s::node_plan::{plan_k3s, K3sNodePlan};
use crate::k3s::paths::Service;
use crate::k3s::prune::{delete_node, DELETE_TIMEOUT};
use crate::k3s::serving::wait_node_ready;
use crate::k3s::state::K3sNodeState;
use crate::k3s::topology::Topology;
use crate::plan::Change;
use crate::progress::Progress;
use crate::ssh::Connection;

impl K3sStage<'_> {
    /// Brings `node`'s K3s to what cluster.toml says (joining through `api` with `env`),
    /// then waits until it runs the wanted version and is Ready; says how it ended.
    pub(super) async fn install_node(
        &self,
        node: &StageNode,
        state: &K3sNodeState,
        topology: &Topology,
        env: Option<String>,
        api: &Connection,
        progress: &dyn Progress,
    ) -> Result<K3sNodeReport, K3sError> {
        let result: Result<K3sNodeReport, K3sError> = async {
            let desired = self.desired(node, topology, env)?;
            let plan: K3sNodePlan = plan_k3s(&desired, state).map_err(|cause| K3sError::Plan {
                node: node.name.clone(),
                cause,
            })?;
            let service = desired.membership.service();
            let connection = &node.connection;
            if state.installed_service().is_none() && !std::ptr::eq(api, connection) {
                self.forget_stale_node(api, &node.name, progress).await?;
            }
            let before = match plan.restart {
                Some(_) => Some(service_status(connection, service).await?),
                None => None,
            };
            carry_out(connection, &plan, progress).await?;
            if let Some(before) = &before {
                wait_started(connection, service, before, self.ready_timeout).await?;
            }
            let uploaded = plan.changes.iter().any(|c| matches!(c, Change::Upload(_)));
            if uploaded
                || node.facts.k3s.version.as_deref() != Some(desired.binary.version.as_str())
            {
                self.check_version(connection, &desired.binary.version)
                    .await?;
            }
            self.wait_ready(api, node, service).await?;
            Ok(K3sNodeReport {
                changes: plan.changes.iter().map(Change::summary).collect(),
                restarted: plan.restart,
                warnings: plan.warnings,
            })
        }
        .await;
        match &result {
            Ok(report) if report.changes.is_empty() => {
                progress.node(&node.name, "k3s: no changes, Ready")
            }
            Ok(_) => progress.node(&node.name, "k3s: Ready"),
            Err(err) => progress.node(&node.name, &format!("FAILED: {err}")),
        }
        result
    }

    /// A node with no K3s whose name the cluster still lists was re-flashed (or reset): the
    /// cluster keeps its old node password, which the new card does not have, and would
    /// refuse it ("Node password rejected"); a server's old etcd member would stay too
    /// (audit F11). Deleting the Node lets K3s clean both up before the node joins.
    async fn forget_stale_node(
        &self,
        api: &Connection,
        name: &NodeName,
        progress: &dyn Progress,
    ) -> Result<(), K3sError> {
        let live = get_nodes(api).await?;
        if !self.stale_node(name, &live)? {
            return Ok(());
        }
        progress.node(
            name,
            "[k3s] the cluster still lists this node, whose K3s is gone (a re-flashed card?): \
             deleting its old Node so that it can join again",
        );
        delete_node(api, name, DELETE_TIMEOUT)
            .await
            .map_err(|cause| K3sError::StaleNode {
                node: name.to_owned(),
                cause,
            })
    }

    async fn check_version(&self, connection: &Connection, wanted: &str) -> Result<(), K3sError> {
        // As root: k3s releases before June 2023 read config.yaml (0600) even for
        // --version, and fail for any other user.
        let output = connection
            .run_privileged(
                "asking k3s its version",
                "/usr/local/bin/k3s --version",
                b"",
            )
            .await?;
        let found = output
            .stdout
            .split_whitespace()
            .skip_while(|w| *w != "version")
            .nth(1)
            .unwrap_or("an unknown version")
            .to_owned();
        if found == wanted {
            Ok(())
        } else {
            Err(K3sError::WrongVersion {
                node: connection.node().to_owned(),
                found,
                wanted: wanted.to_owned(),
            })
        }
    }

    async fn wait_ready(
        &self,
        api: &Connection,
        node: &StageNode,
        service: Service,
    ) -> Result<(), K3sError> {
        // The API may not answer for a moment after a server (re)starts: that is waited
        // through like NotReady.
        match wait_node_ready(api, &node.name, self.ready_timeout).await {
            Ok(()) => Ok(()),
            Err(_) => Err(K3sError::NotReady {
                node: node.name.clone(),
                secs: self.ready_timeout.as_secs(),
                journal: journal_tail(&node.connection, service, 15).await,
            }),
        }
    }
}
