//! The end of the cluster's work: the nodes just installed are recorded in local state,
//! and the nodes the cluster has but cluster.toml no longer lists are reported, or with
//! `--prune` drained, stopped, deleted and uninstalled, one at a time (servers must leave
//! etcd one by one). Pruning waits until every node of the file is done: a half-built
//! cluster is no place to judge etcd's quorum.

use std::collections::BTreeMap;

use crate::config::NodeName;
use crate::error_chain::describe;
use crate::fleet::Fleet;
use crate::k3s::{foreign_nodes, live_nodes, plan_prune, prune_node, ClusterNode, PruneStep};
use crate::node_records::merge_records;
use crate::pipeline::{Mode, NodeOutcome, PhaseReport, Run};
use crate::plan::{Change, ChangeArea, NodePlan, PlannedChange};
use crate::ssh::{shell_quote_arg, Connection};

pub(super) async fn run(run: &mut Run<'_>, report: &mut PhaseReport) {
    match run.mode {
        Mode::Plan => plan(run, report).await,
        Mode::Apply => apply(run, report).await,
    }
}

/// What `apply --prune` would do; a cluster not running yet has no stale node, one whose
/// API does not answer is an error.
async fn plan(run: &mut Run<'_>, report: &mut PhaseReport) {
    // The node list the upgrade phase read, if it did: nothing changed it since.
    let live = match run.live.clone() {
        Some(live) => Ok(live),
        None => live_nodes(&run.spec, &run.nodes)
            .await
            .map(|(_, live)| live),
    };
    let steps = match live {
        Ok(live) => match run.local.node_records() {
            Ok(records) => {
                warn_of_foreign(&live, run, report);
                plan_prune(&live, &run.spec, &records)
            }
            Err(err) => {
                report.errors.push(err.to_string());
                return;
            }
        },
        Err(_) if !run.nodes.iter().any(|n| n.facts.k3s.server.is_active()) => Vec::new(),
        Err(err) => {
            report.errors.push(format!(
                "could not look for nodes removed from cluster.toml: {err}"
            ));
            return;
        }
    };
    for step in &steps {
        let plan = stale_plan(step);
        report.push(
            &step.name,
            NodeOutcome::Changed {
                summary: step.summary(),
                changes: vec![step.summary()],
            },
        );
        run.plans.insert(step.name.clone(), plan);
    }
    run.stale = steps;
}

async fn apply(run: &mut Run<'_>, report: &mut PhaseReport) {
    let all_installed = run.failed.is_empty();
    let prune = run.settings.prune;
    let previous = match run.local.node_records() {
        Ok(records) => Some(records),
        Err(err) => {
            // Never written over: it may be the only trace of how to reach a node.
            report.warnings.push(err.to_string());
            None
        }
    };
    let live = match live_nodes(&run.spec, &run.nodes).await {
        Ok((api, live)) => Some((&api.connection, live)),
        Err(err) => {
            let why = format!("could not look for nodes removed from cluster.toml: {err}");
            if !all_installed {
                // The failures above say why already.
            } else if prune {
                report.errors.push(format!("nothing pruned: {why}"));
            } else {
                report.warnings.push(why);
            }
            None
        }
    };
    if let Some((_, live)) = &live {
        warn_of_foreign(live, run, report);
    }
    let records = previous.clone().unwrap_or_default();
    let steps = live
        .as_ref()
        .map(|(_, live)| plan_prune(live, &run.spec, &records))
        .unwrap_or_default();

    let mut pruned: Vec<NodeName> = Vec::new();
    match (&live, prune) {
        (_, false) => {
            for step in &steps {
                report.warnings.push(stale_warning(step));
            }
        }
        (Some((api, _)), true) if all_installed => {
            pruned = prune_all(run, api, &steps, report).await;
        }
        _ => {
            for step in &steps {
                report.failed(
                    &step.name,
                    format!(
                        "{}: not pruned: nodes of cluster.toml failed above; fix them, then \
                         run `pikube apply --prune` again",
                        step.name
                    ),
                );
            }
        }
    }

    if let Some(previous) = previous {
        let spec = &run.spec;
        let configured = |name: &str| spec.member(name).is_some();
        let in_cluster = |name: &str| {
            live.as_ref()
                .is_none_or(|(_, live)| live.iter().any(|n| n.name == name))
        };
        let installed = std::mem::take(&mut run.installed);
        let records = merge_records(previous, installed, |name| {
            pruned.iter().any(|p| p == name) || (!configured(name) && !in_cluster(name))
        });
        if let Err(err) = run.local.write_node_records(&records) {
            report.warnings.push(err.to_string());
        }
    }
}

/// Nodes pikube cannot have installed (their names are not node names) are left alone, and
/// said so, rather than passed over in silence.
fn warn_of_foreign(live: &[ClusterNode], run: &Run<'_>, report: &mut PhaseReport) {
    for name in foreign_nodes(live, &run.spec) {
        report.warnings.push(format!(
            "{name} is in the cluster but not in cluster.toml, and its name is not a node name \
             cluster.toml could hold, so pikube did not install it and leaves it alone \
             (`kubectl delete node {name}` removes it once it is gone)"
        ));
    }
}

fn stale_warning(step: &PruneStep) -> String {
    let mut text = format!(
        "{} is in the cluster but not in cluster.toml: `pikube apply --prune` drains it, \
         deletes it from the cluster and uninstalls K3s from it",
        step.name
    );
    if let Some(why) = &step.refused {
        text.push_str(&format!(" (it would refuse now: {why})"));
    }
    text
}

/// Prunes the allowed steps one at a time; returns the nodes fully pruned, whose records
/// can go.
async fn prune_all(
    run: &Run<'_>,
    api: &Connection,
    steps: &[PruneStep],
    report: &mut PhaseReport,
) -> Vec<NodeName> {
    let mut pruned = Vec::new();
    let allowed: Vec<&PruneStep> = steps.iter().filter(|s| s.refused.is_none()).collect();
    for step in steps {
        if let Some(why) = &step.refused {
            report.failed(&step.name, format!("{}: not pruned: {why}", step.name));
        }
    }
    let records = allowed.iter().filter_map(|s| s.record.clone()).collect();
    let fleet = Fleet::of_records(run.config, records);
    let mut connections = connect(run, &fleet, &allowed).await;
    for step in allowed {
        run.progress.node(
            &step.name,
            "pruning: drain, stop K3s, delete, uninstall K3s",
        );
        let connection = connections
            .remove(&step.name)
            .unwrap_or_else(|| Err(no_record(run, step)));
        let result = prune_node(
            api,
            step,
            connection.as_ref().map_err(Clone::clone),
            run.settings.drain,
            run.settings.delete_timeout,
        )
        .await;
        if let Ok(connection) = connection {
            connection.close().await;
        }
        match result {
            Ok(pruning) => match &pruning.uninstalled {
                Ok(_) => {
                    pruned.push(step.name.clone());
                    report.push(
                        &step.name,
                        NodeOutcome::Changed {
                            summary: pruning.describe(),
                            changes: vec![pruning.describe()],
                        },
                    );
                }
                Err(why) => report.failed(
                    &step.name,
                    format!(
                        "{}: {}: K3s could not be uninstalled from it: {why}",
                        step.name,
                        pruning.describe()
                    ),
                ),
            },
            Err(err) => report.failed(&step.name, err.to_string()),
        }
    }
    pruned
}

/// Root connections to the recorded nodes of `fleet`, by name; an unreachable node maps
/// to why. The fleet must outlive them: it owns their control sockets.
async fn connect(
    run: &Run<'_>,
    fleet: &Result<Fleet, crate::fleet::SshClientError>,
    steps: &[&PruneStep],
) -> BTreeMap<NodeName, Result<Connection, String>> {
    match fleet {
        Ok(fleet) if fleet.members().is_empty() => BTreeMap::new(),
        Ok(fleet) => fleet
            .connect_privileged(run.progress, run.sudo_password)
            .await
            .into_iter()
            .map(|connected| {
                let result = connected.result.map_err(|err| err.to_string());
                (connected.node, result)
            })
            .collect(),
        Err(err) => steps
            .iter()
            .map(|s| (s.name.clone(), Err(describe(err))))
            .collect(),
    }
}

fn no_record(run: &Run<'_>, step: &PruneStep) -> String {
    format!(
        "no record of how to reach it in {} (it joined by hand, or before pikube kept that \
         record): run {} on it",
        run.local.node_records_path().display(),
        step.service.uninstall_path()
    )
}

/// What plan shows for a stale node: the commands apply --prune runs.
fn stale_plan(step: &PruneStep) -> NodePlan {
    let node = shell_quote_arg(&step.name);
    let script = format!(
        "/usr/local/bin/k3s kubectl drain {node} --ignore-daemonsets --delete-emptydir-data && \
         systemctl stop {service} (on {node}) && \
         /usr/local/bin/k3s kubectl delete node {node} --wait=false && \
         /usr/local/bin/k3s kubectl wait --for=delete node/{node}",
        service = step.service.name()
    );
    NodePlan {
        node: step.name.clone(),
        changes: vec![PlannedChange {
            phase: ChangeArea::K3s,
            change: Change::command(step.summary(), script),
        }],
        reboot: Vec::new(),
    }
}
