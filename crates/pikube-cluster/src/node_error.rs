use crate::apply::reboot::RebootError;
use crate::facts::GatherError;
use crate::plan::PlanError;
use crate::ssh::SshError;

/// Why work on one node stopped. Every message names the node; the other nodes go on.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error(transparent)]
    Ssh(#[from] SshError),
    #[error(transparent)]
    Gather(#[from] GatherError),
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error(transparent)]
    Reboot(#[from] RebootError),
    #[error("{node}: after apply: {}", .problems.join("; "))]
    Verify { node: String, problems: Vec<String> },
}
