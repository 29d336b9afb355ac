//! SSH to every node of cluster.toml, able to run commands as root: directly, with
//! passwordless sudo, or with sudo's password (asked at most once). A plan does not insist
//! on root: a node whose sudo wants a password nobody gave is still read, and only what
//! needs root (the k3s state) fails on it.

use crate::pipeline::{Mode, PhaseReport, Run};

pub(super) async fn run(run: &mut Run<'_>, report: &mut PhaseReport) {
    let count = run.fleet.members().len();
    run.progress.step(&format!(
        "connecting to {count} node{} of cluster {}",
        if count == 1 { "" } else { "s" },
        run.config.name
    ));
    let required = run.mode == Mode::Apply;
    let connections = run
        .fleet
        .connect_all(run.progress, run.sudo_password, required)
        .await;
    for connected in connections {
        match connected.result {
            Ok(connection) => run.connections.push((connected.node, connection)),
            Err(err) => run.fail(report, &connected.node, err.to_string()),
        }
    }
}
