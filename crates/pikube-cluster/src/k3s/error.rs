use super::cluster_nodes::ClusterNodesError;
use super::install::InstallError;
use super::node_plan::K3sPlanError;
use super::state::StateError;
use super::topology::TopologyError;
use crate::ssh::SshError;
use crate::state::StateError as LocalStateError;

/// Why k3s could not be installed on (or planned for) one node. Messages name the node.
#[derive(Debug, thiserror::Error)]
pub enum K3sError {
    #[error(transparent)]
    Ssh(#[from] SshError),
    #[error(transparent)]
    State(#[from] StateError),
    #[error("{node}: {source}")]
    Plan {
        node: String,
        #[source]
        source: K3sPlanError,
    },
    #[error(transparent)]
    Install(#[from] InstallError),
    #[error(transparent)]
    Api(#[from] ClusterNodesError),
    #[error("{node}: {message}")]
    Cluster { node: String, message: String },
    #[error("{node}: not installed: {reason}")]
    Skipped { node: String, reason: String },
    #[error("{node}: {source}")]
    Topology {
        node: String,
        #[source]
        source: TopologyError,
    },
    #[error("{node}: local state: {source}")]
    LocalState {
        node: String,
        #[source]
        source: LocalStateError,
    },
    #[error("{node}: not Ready within {secs}s. Last lines of its k3s journal:\n{journal}")]
    NotReady {
        node: String,
        secs: u64,
        journal: String,
    },
    #[error(
        "{node}: the k3s binary reports {found}, but [k3s] version says {wanted}: \
         point [k3s.binary] at the {wanted} binary (or change the version)"
    )]
    WrongVersion {
        node: String,
        found: String,
        wanted: String,
    },
}
