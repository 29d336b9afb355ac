//! SSH to every node of cluster.toml, able to run commands as root: directly, with
//! passwordless sudo, or with sudo's password (asked at most once). A plan does not insist
//! on root: a node whose sudo wants a password nobody gave is still read, and only what
//! needs root (the k3s state) fails on it.

use crate::config::NodeName;
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
    let mut records = None;
    for connected in connections {
        let err = match connected.result {
            Ok(connection) => {
                run.connections.push((connected.node, connection));
                continue;
            }
            Err(err) => err,
        };
        let records = records.get_or_insert_with(|| run.local.node_records().unwrap_or_default());
        let recorded = records
            .iter()
            .find(|r| r.name == connected.node)
            .map(|r| r.address.clone())
            .filter(|address| moving_from(run, &connected.node, address));
        let Some(address) = recorded else {
            run.fail(report, &connected.node, err.to_string());
            continue;
        };
        run.progress.node(
            &connected.node,
            &format!("not at its address in cluster.toml; trying {address}, where it was last"),
        );
        let found = run
            .fleet
            .connect_at(
                &connected.node,
                &address,
                run.progress,
                run.sudo_password,
                required,
            )
            .await;
        match found {
            Some(Ok(connection)) => {
                run.found_at.insert(connected.node.clone(), address);
                run.connections.push((connected.node, connection));
            }
            Some(Err(again)) => run.fail(
                report,
                &connected.node,
                format!("{err}; nor at {address}, where it was last: {again}"),
            ),
            None => run.fail(report, &connected.node, err.to_string()),
        }
    }
}

/// Whether `node` has a static address in cluster.toml other than `address`, its last
/// known one: the only case where looking for it there is right.
fn moving_from(run: &Run<'_>, node: &NodeName, address: &str) -> bool {
    run.config
        .node(node)
        .and_then(|spec| spec.static_address)
        .is_some_and(|wanted| wanted.ip.to_string() != address)
}
