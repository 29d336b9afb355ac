//! Why work on one node stopped: the node's own failures, each naming it.

use crate::config::NodeName;
use crate::facts::GatherError;
use crate::plan::PlanError;
use crate::reboot::RebootError;
use crate::ssh::SshError;

/// Why work on one node stopped. Every message names the node; the other nodes go on.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// Reaching it or running a command failed.
    #[error(transparent)]
    Ssh(#[from] SshError),
    /// Its facts could not be read.
    #[error(transparent)]
    Gather(#[from] GatherError),
    /// Its preparation could not be planned (a file it must not have, no default route).
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// It did not come back from its reboot.
    #[error(transparent)]
    Reboot(#[from] RebootError),
    /// After apply (and any reboot), its facts still show what should have changed.
    #[error("{node}: after apply: {}", .problems.join("; "))]
    Verify {
        /// The node.
        node: NodeName,
        /// Each thing still not as planned.
        problems: Vec<String>,
    },
}
