//! The end of every run, even one a phase stopped: the cluster lock released (reaching its
//! server again if it rebooted), the local lock dropped, every connection closed (a kept
//! master stays a minute for the next run).

use futures::future::join_all;

use crate::pipeline::{PhaseReport, Run};
use crate::ssh::Connection;

pub(super) async fn run(run: &mut Run<'_>, report: &mut PhaseReport) {
    let nodes = std::mem::take(&mut run.nodes);
    let connections = std::mem::take(&mut run.connections);
    join_all(
        nodes
            .into_iter()
            .map(|node| node.connection)
            .chain(connections.into_iter().map(|(_, connection)| connection))
            .map(Connection::close),
    )
    .await;
    if let Some(lock) = run.server_lock.take() {
        if let Err(warning) = lock.release(run.sudo_password).await {
            report.warnings.push(warning);
        }
    }
    run.local_lock = None;
}
