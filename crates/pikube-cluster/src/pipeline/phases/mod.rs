//! One file per phase; [`run_phase`] dispatches by name.

mod addons;
mod binaries;
mod connect;
mod facts;
mod k3s;
mod lock;
mod network;
mod prepare;
mod prune;
mod reboot;
mod unlock;
mod upgrade;
mod validate;

use super::{Phase, PhaseReport, PipelineError, Run};

pub(super) async fn run_phase(
    phase: Phase,
    run: &mut Run<'_>,
) -> Result<PhaseReport, PipelineError> {
    let started = std::time::Instant::now();
    let mut report = PhaseReport::new(phase);
    match phase {
        Phase::Connect => connect::run(run, &mut report).await,
        Phase::Facts => facts::run(run, &mut report).await,
        Phase::Validate => validate::run(run, &mut report).await,
        Phase::Lock => lock::run(run, &mut report).await?,
        Phase::Prepare => prepare::run(run, &mut report).await,
        Phase::Reboot => reboot::run(run, &mut report).await,
        Phase::Network => network::run(run, &mut report).await,
        Phase::Binaries => binaries::run(run, &mut report).await,
        Phase::Upgrade => upgrade::run(run, &mut report).await,
        Phase::K3sServers => k3s::servers::run(run, &mut report).await?,
        Phase::K3sAgents => k3s::agents::run(run, &mut report).await,
        Phase::Labels => k3s::labels::run(run, &mut report).await,
        Phase::Addons => addons::run(run, &mut report).await?,
        Phase::Prune => prune::run(run, &mut report).await,
        Phase::Unlock => unlock::run(run, &mut report).await,
    }
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}
