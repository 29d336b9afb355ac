//! The nodes whose address in cluster.toml carries a prefix: the file that keeps their
//! static address (in the format of the program that owns their network) and, where the
//! interface does not have it yet, the move to it, one node at a time, each rolled back by
//! the node itself unless pikube reaches it at the new address in time. Later phases use
//! the connection at the new address, so K3s' node-ip follows in the same run.

use crate::error_chain::describe;
use crate::k3s::paths::Service;
use crate::network::{
    current_file_script, managed_path, parse_current_file, plan_change, switch_address,
    AddressChange, StaticNetwork,
};
use crate::pipeline::{Mode, NodeOutcome, PhaseReport, Run};
use crate::plan::NodePlan;

pub(super) async fn run(run: &mut Run<'_>, report: &mut PhaseReport) {
    let mut changes: Vec<AddressChange> = Vec::new();
    let mut failures: Vec<(String, String)> = Vec::new();
    for node in run.nodes.iter().filter(|n| run.is_up(&n.name)) {
        let Some(spec) = run
            .config
            .nodes
            .iter()
            .find(|spec| spec.name.to_string() == node.name)
        else {
            continue;
        };
        let Some(network) = StaticNetwork::of(run.config, spec) else {
            continue;
        };
        // Without a network program plan_change names the problem; with one, the file it
        // reads is read as root (keyfiles are 0600).
        let current = match node.facts.network_stack {
            None => None,
            Some(stack) => {
                let path = managed_path(stack, &network.interface);
                let read = node
                    .connection
                    .run_privileged(&format!("reading {path}"), &current_file_script(&path), b"")
                    .await;
                match read {
                    Ok(output) => parse_current_file(&output.stdout),
                    Err(err) => {
                        failures.push((
                            node.name.clone(),
                            format!("{}: network: reading {path}: {}", node.name, describe(&err)),
                        ));
                        continue;
                    }
                }
            }
        };
        let planned = plan_change(
            &node.name,
            &network,
            &node.facts,
            current.as_deref(),
            run.config.network.rollback_after,
        );
        match planned {
            Ok(None) => {}
            Ok(Some(change)) => {
                let server = run
                    .spec
                    .member(&node.name)
                    .is_some_and(|m| m.service == Service::Server);
                if change.moves() && server && node.facts.k3s.version.is_some() {
                    failures.push((
                        node.name.clone(),
                        format!(
                            "{}: network: it runs a K3s server, which pikube does not move to \
                             another address ({}): the other servers' etcd and the agents \
                             know it by its address. Give it back its address in cluster.toml \
                             ({}), or remove it from the cluster first",
                            node.name,
                            change.summary(),
                            change
                                .old_ip()
                                .map_or_else(|| "its current one".to_owned(), |ip| ip.to_string())
                        ),
                    ));
                } else {
                    changes.push(change);
                }
            }
            Err(err) => failures.push((node.name.clone(), err)),
        }
    }
    for (node, error) in failures {
        run.fail(report, &node, error);
    }
    match run.mode {
        Mode::Plan => {
            for change in changes {
                report.push(&change.node, outcome(&change, "to change"));
                let plan = run
                    .plans
                    .entry(change.node.clone())
                    .or_insert_with(|| NodePlan {
                        node: change.node.clone(),
                        changes: Vec::new(),
                        reboot: Vec::new(),
                    });
                plan.changes.extend(change.planned());
            }
        }
        Mode::Apply => {
            let client = run.fleet.shared_client();
            for change in changes {
                let Some(node) = run.nodes.iter_mut().find(|n| n.name == change.node) else {
                    continue;
                };
                match switch_address(&node.connection, &change, &client, run.progress).await {
                    Ok(reached) => {
                        let old = std::mem::replace(&mut node.connection, reached);
                        old.close().await;
                        report.push(&change.node, outcome(&change, "changed"));
                    }
                    Err(err) => {
                        let error = format!("{}: network: {}", change.node, describe(&err));
                        run.progress.node(&change.node, &format!("FAILED: {error}"));
                        run.fail(report, &change.node, error);
                    }
                }
            }
        }
    }
}

fn outcome(change: &AddressChange, verb: &str) -> NodeOutcome {
    NodeOutcome::Changed {
        summary: format!("network: {} {verb}", change.summary()),
        changes: change
            .planned()
            .iter()
            .map(|planned| planned.change.summary())
            .collect(),
    }
}
