use std::sync::Arc;

use super::cluster_nodes::ClusterNodesError;
use super::install::InstallError;
use super::node_plan::K3sPlanError;
use super::prune::PruneError;
use super::state::StateError;
use super::topology::TopologyError;
use crate::config::{Arch, NodeName};
use crate::ssh::SshError;
use crate::state::StateError as LocalStateError;

/// Why k3s could not be installed on (or planned for) one node. Messages name the node.
#[derive(Debug, thiserror::Error)]
pub enum K3sError {
    /// The node could not be reached, or a command failed.
    #[error(transparent)]
    Ssh(#[from] SshError),
    /// Its K3s state could not be read.
    #[error(transparent)]
    State(#[from] StateError),
    /// Its changes could not be planned (another tool's K3s, a role change).
    #[error("{node}: {causes}", causes = crate::error_chain::describe(cause))]
    Plan {
        /// The node.
        node: NodeName,
        /// Why.
        cause: K3sPlanError,
    },
    /// A change could not be made, or K3s did not start.
    #[error(transparent)]
    Install(#[from] InstallError),
    /// The cluster's API could not be asked.
    #[error(transparent)]
    Api(#[from] ClusterNodesError),
    /// The stage was asked about a node cluster.toml does not list.
    #[error("{node}: not in cluster.toml")]
    NotConfigured {
        /// The node.
        node: NodeName,
    },
    /// K3s publishes no build for the node's machine (armv6l, say).
    #[error("{node}: k3s has no build for its architecture ({machine})")]
    NoBuild {
        /// The node.
        node: NodeName,
        /// What `uname -m` said.
        machine: String,
    },
    /// No binary was made ready for the node's K3s build.
    #[error("{node}: no k3s binary for its architecture ({arch})")]
    NoBinary {
        /// The node.
        node: NodeName,
        /// Its K3s build.
        arch: Arch,
    },
    /// A node without K3s whose name a Ready Node still has: some machine runs K3s as it.
    #[error(
        "{node}: K3s is not installed here, yet the cluster has a Ready Node named {node}: \
         another machine still runs K3s under this name. Check {node}'s address in \
         cluster.toml, or stop K3s on that machine first; its Node is not deleted"
    )]
    StaleNodeRunning {
        /// The node.
        node: NodeName,
    },
    /// A node without K3s whose name a NotReady Node still has: a re-flashed card, most
    /// likely, but deleting a Node is not done without being told.
    #[error(
        "{node}: K3s is not installed here, but the cluster still lists a Node named {node} \
         (NotReady): a re-flashed card? K3s refuses it (\"Node password rejected\") until that \
         Node is deleted, which also removes its node password and a server's etcd member. \
         Run `pikube apply --replace {node}` to delete it and join this machine in its place"
    )]
    StaleNodeUnconfirmed {
        /// The node.
        node: NodeName,
    },
    /// A re-flashed node's old Node stayed in the cluster, so it cannot join.
    #[error(
        "{node}: its old Node could not be deleted before it joins: {causes}",
        causes = crate::error_chain::describe(cause)
    )]
    StaleNode {
        /// The node.
        node: NodeName,
        /// Why.
        cause: PruneError,
    },
    /// The cluster's node list could not be read, so the node's labels were not checked.
    #[error(
        "{server}: labels not checked: {causes}",
        causes = crate::error_chain::describe(&**cause)
    )]
    LabelsUnchecked {
        /// The server asked.
        server: NodeName,
        /// Why (one failure, shared by every node it stopped).
        cause: Arc<ClusterNodesError>,
    },
    /// Not worked on, because of another node (the first server down).
    #[error("{node}: not installed: {reason}")]
    Skipped {
        /// The node.
        node: NodeName,
        /// Why.
        reason: String,
    },
    /// The cluster's shape could not be decided (no server, two clusters).
    #[error("{node}: {causes}", causes = crate::error_chain::describe(cause))]
    Topology {
        /// The node.
        node: NodeName,
        /// Why.
        cause: TopologyError,
    },
    /// The token or records here could not be used.
    #[error("{node}: local state: {causes}", causes = crate::error_chain::describe(&**cause))]
    LocalState {
        /// The node.
        node: NodeName,
        /// Why (one failure, shared by every node it stopped).
        cause: Arc<LocalStateError>,
    },
    /// K3s started but the node did not become Ready in time.
    #[error("{node}: not Ready within {secs}s. Last lines of its k3s journal:\n{journal}")]
    NotReady {
        /// The node.
        node: NodeName,
        /// How long it was waited for.
        secs: u64,
        /// The end of its K3s journal.
        journal: String,
    },
    #[error(
        "{node}: the k3s binary reports {found}, but [k3s] version says {wanted}: \
         point [k3s.binary] at the {wanted} binary (or change the version)"
    )]
    /// The binary put there is not the version cluster.toml names.
    WrongVersion {
        /// The node.
        node: NodeName,
        /// What it reports.
        found: String,
        /// cluster.toml's version.
        wanted: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_local_state_failure_is_told_on_every_node_it_stopped_once_each() {
        let cause = Arc::new(LocalStateError::Io {
            path: "/lab/.pikube/lab/token".into(),
            cause: std::io::Error::from(std::io::ErrorKind::PermissionDenied),
        });
        let on = |node: &str| K3sError::LocalState {
            node: node.parse().unwrap(),
            cause: cause.clone(),
        };
        let said = on("s1").to_string();
        assert_eq!(
            said,
            format!(
                "s1: local state: /lab/.pikube/lab/token: {}",
                std::io::Error::from(std::io::ErrorKind::PermissionDenied)
            )
        );
        assert!(on("a1").to_string().starts_with("a1: local state: /lab/"));
        assert!(std::error::Error::source(&on("s1")).is_none());
        let no_build = K3sError::NoBuild {
            node: "pi-zero".parse().unwrap(),
            machine: "armv6l".into(),
        };
        assert_eq!(
            no_build.to_string(),
            "pi-zero: k3s has no build for its architecture (armv6l)"
        );
    }
}
