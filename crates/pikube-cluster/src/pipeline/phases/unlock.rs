//! The end of every run, even one a phase stopped: the cluster lock released (reaching its
//! server again if it rebooted), the local lock dropped, every connection closed.

use crate::pipeline::{PhaseReport, Run};

pub(super) async fn run(run: &mut Run<'_>, report: &mut PhaseReport) {
    for node in std::mem::take(&mut run.nodes) {
        node.connection.close().await;
    }
    for (_, connection) in std::mem::take(&mut run.connections) {
        connection.close().await;
    }
    if let Some(lock) = run.server_lock.take() {
        if let Err(warning) = lock.release(run.sudo_password).await {
            report.warnings.push(warning);
        }
    }
    run.local_lock = None;
}
