use super::cluster_nodes::ClusterNodesError;
use super::install::InstallError;
use super::node_plan::K3sPlanError;
use super::state::StateError;
use super::topology::TopologyError;
use crate::config::NodeName;
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
    /// Something about the cluster as a whole stopped this node.
    #[error("{node}: {message}")]
    Cluster {
        /// The node.
        node: NodeName,
        /// What.
        message: String,
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
    #[error("{node}: local state: {causes}", causes = crate::error_chain::describe(cause))]
    LocalState {
        /// The node.
        node: NodeName,
        /// Why.
        cause: LocalStateError,
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
