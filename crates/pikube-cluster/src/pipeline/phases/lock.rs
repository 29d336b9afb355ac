//! The locks a run that changes the cluster holds: the one beside cluster.toml (runs from
//! this machine), then the cluster's own on its first server that answers (runs from any
//! machine). A plan takes neither: it changes nothing.

use crate::cluster_lock::ServerLock;
use crate::config::Role;
use crate::fleet::Fleet;
use crate::pipeline::{Mode, PhaseReport, PipelineError, Run};
use crate::run_lock::{Holder, RunLock, WAIT};

pub(super) async fn run(run: &mut Run<'_>, report: &mut PhaseReport) -> Result<(), PipelineError> {
    if run.mode == Mode::Plan {
        return Ok(());
    }
    let command = run.settings.command;
    let force = run.settings.force_unlock;
    let local = RunLock::acquire(run.local.dir(), &Holder::this_process(command), WAIT, force)?;
    if let Some(previous) = &local.took_over {
        report.warnings.push(format!(
            "took over {} from {}, which is no longer running",
            run.local.dir().join("lock").display(),
            previous.describe()
        ));
    }
    run.local_lock = Some(local);

    let servers = Fleet::of_config_where(run.config, |node| node.role == Role::Server)?;
    // Nodes the connect phase found where the records last saw them (the servers among
    // them are tried there).
    let server = ServerLock::take(
        servers,
        &run.found_at,
        command,
        force,
        run.progress,
        run.sudo_password,
    )
    .await?;
    if let Some(note) = server.as_ref().and_then(ServerLock::took_over_note) {
        report.warnings.push(note);
    }
    run.server_lock = server;
    Ok(())
}
