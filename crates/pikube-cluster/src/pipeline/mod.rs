//! `plan` and `apply` as one ordered list of small phases. Each phase reads what the
//! earlier ones left in the [`Run`], says what it would do in [`Mode::Plan`], does it in
//! [`Mode::Apply`], and reports per node. The dry run is the plan: both commands run this
//! same list, so they cannot disagree, and a new phase (an upgrade, an add-on) slots in
//! by name in [`Phase::ORDER`] and is planned and applied alike.

mod phase;
mod phases;
mod report;
mod run;

pub use phase::Phase;
pub use report::{NodeOutcome, NodeStep, PhaseReport, PipelineReport, Summary};
pub use run::{Mode, Run, Settings};

use crate::cluster_lock::ClusterLockError;
use crate::fleet::SshClientError;
use crate::run_lock::LockError;
use crate::state::StateError;

/// What stops a whole run, not one node: the other phases do not run, but the last one
/// still does (connections close, locks are released).
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// The SSH client could not be set up (its known_hosts, its configuration).
    #[error(transparent)]
    SshClient(#[from] SshClientError),
    /// The lock beside cluster.toml is held, or could not be taken.
    #[error(transparent)]
    LocalLock(#[from] LockError),
    /// The lock on the cluster's first server is held, or could not be taken.
    #[error(transparent)]
    ClusterLock(#[from] ClusterLockError),
    /// The local state (tokens, records) could not be read or written.
    #[error(transparent)]
    State(#[from] StateError),
}

/// Runs every phase of [`Phase::ORDER`] on `run`.
pub async fn run(run: &mut Run<'_>) -> Result<PipelineReport, PipelineError> {
    let mut report = PipelineReport {
        mode: run.mode,
        phases: Vec::new(),
    };
    for &phase in Phase::ORDER {
        if phase == Phase::Unlock {
            break;
        }
        match phases::run_phase(phase, run).await {
            Ok(phase_report) => report.phases.push(phase_report),
            Err(err) => {
                phases::run_phase(Phase::Unlock, run).await?;
                return Err(err);
            }
        }
    }
    report
        .phases
        .push(phases::run_phase(Phase::Unlock, run).await?);
    Ok(report)
}
