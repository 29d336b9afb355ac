//! The end of apply: the nodes just installed are recorded in local state, and the nodes
//! the cluster has but cluster.toml no longer lists are reported, or with `--prune`
//! drained, deleted and uninstalled.

use std::collections::BTreeMap;
use std::time::Duration;

use pikube_cluster::config::ClusterConfig;
use pikube_cluster::fleet::Fleet;
use pikube_cluster::k3s::{live_nodes, plan_prune, prune_node, K3sSpec, PruneStep, StageNode};
use pikube_cluster::node_records::{merge_records, NodeRecord};
use pikube_cluster::progress::Progress;
use pikube_cluster::ssh::Connection;
use pikube_cluster::state::LocalState;

use crate::commands::cluster::fleet_of_records;
use crate::commands::sudo_prompt::sudo_password;

pub struct PruneSettings<'a> {
    pub config: &'a ClusterConfig,
    pub spec: &'a K3sSpec,
    pub local: &'a LocalState,
    /// `--prune`; without it stale nodes are only warned about.
    pub prune: bool,
    pub drain_timeout: Duration,
    pub delete_timeout: Duration,
}

/// What became of the stale nodes.
#[derive(Default)]
pub struct PruneOutcome {
    /// Summary lines, as apply prints them ("ok      x: pruned (...)").
    pub lines: Vec<String>,
    /// For standard error.
    pub warnings: Vec<String>,
    pub stale: usize,
    pub pruned: usize,
    pub failed: usize,
}

/// `installed`: the nodes the k3s stage left Ready; `all_installed`: every node of
/// cluster.toml is (pruning waits for that: a half-built cluster is no place to judge
/// etcd's quorum).
pub async fn record_and_prune(
    settings: &PruneSettings<'_>,
    nodes: &[StageNode],
    installed: Vec<NodeRecord>,
    all_installed: bool,
    progress: &dyn Progress,
) -> PruneOutcome {
    let mut outcome = PruneOutcome::default();
    let previous = match settings.local.node_records() {
        Ok(records) => Some(records),
        Err(err) => {
            // Never written over: it may be the only trace of how to reach a node.
            outcome.warnings.push(format!("{err}"));
            None
        }
    };
    let live = match live_nodes(settings.spec, nodes).await {
        Ok((api, live)) => Some((api, live)),
        Err(err) => {
            let why = format!("could not look for nodes removed from cluster.toml: {err}");
            if !all_installed {
                // The failures above say why already.
            } else if settings.prune {
                outcome.failed += 1;
                outcome.lines.push(format!("FAILED  nothing pruned: {why}"));
            } else {
                outcome.warnings.push(why);
            }
            None
        }
    };
    let records = previous.clone().unwrap_or_default();
    let steps = live
        .as_ref()
        .map(|(_, live)| plan_prune(live, settings.spec, &records))
        .unwrap_or_default();
    outcome.stale = steps.len();

    let mut pruned: Vec<String> = Vec::new();
    match (&live, settings.prune) {
        (_, false) => {
            for step in &steps {
                outcome.warnings.push(stale_warning(step));
            }
        }
        (Some((api, _)), true) if all_installed => {
            pruned = prune_all(settings, &api.connection, &steps, &mut outcome, progress).await;
        }
        _ => {
            for step in &steps {
                outcome.failed += 1;
                outcome.lines.push(format!(
                    "FAILED  {}: not pruned: nodes of cluster.toml failed above; fix them, then \
                     run `pikube apply --prune` again",
                    step.name
                ));
            }
        }
    }

    if let Some(previous) = previous {
        let configured = |name: &str| settings.spec.member(name).is_some();
        let in_cluster = |name: &str| {
            live.as_ref()
                .is_none_or(|(_, live)| live.iter().any(|n| n.name == name))
        };
        let records = merge_records(previous, installed, |name| {
            pruned.iter().any(|p| p == name) || (!configured(name) && !in_cluster(name))
        });
        if let Err(err) = settings.local.write_node_records(&records) {
            outcome.warnings.push(format!("{err}"));
        }
    }
    outcome
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

/// Prunes the allowed steps one at a time (servers must leave etcd one by one); returns
/// the nodes fully pruned, whose records can go.
async fn prune_all(
    settings: &PruneSettings<'_>,
    api: &Connection,
    steps: &[PruneStep],
    outcome: &mut PruneOutcome,
    progress: &dyn Progress,
) -> Vec<String> {
    let mut pruned = Vec::new();
    let allowed: Vec<&PruneStep> = steps.iter().filter(|s| s.refused.is_none()).collect();
    for step in steps {
        if let Some(why) = &step.refused {
            outcome.failed += 1;
            outcome
                .lines
                .push(format!("FAILED  {}: not pruned: {why}", step.name));
        }
    }
    let records = allowed.iter().filter_map(|s| s.record.clone()).collect();
    let fleet = fleet_of_records(settings.config, records);
    let mut connections = connect(&fleet, &allowed, progress).await;
    for step in allowed {
        progress.node(
            &step.name,
            "pruning: drain, stop K3s, delete, uninstall K3s",
        );
        let connection = connections
            .remove(&step.name)
            .unwrap_or_else(|| Err(no_record(settings, step)));
        let result = prune_node(
            api,
            step,
            connection.as_ref().map_err(Clone::clone),
            settings.drain_timeout,
            settings.delete_timeout,
        )
        .await;
        if let Ok(connection) = connection {
            connection.close().await;
        }
        match result {
            Ok(report) => match &report.uninstalled {
                Ok(_) => {
                    outcome.pruned += 1;
                    pruned.push(step.name.clone());
                    outcome
                        .lines
                        .push(format!("ok      {}: {}", step.name, report.describe()));
                }
                Err(why) => {
                    outcome.failed += 1;
                    outcome.lines.push(format!(
                        "FAILED  {}: {}: K3s could not be uninstalled from it: {why}",
                        step.name,
                        report.describe()
                    ));
                }
            },
            Err(err) => {
                outcome.failed += 1;
                outcome.lines.push(format!("FAILED  {err}"));
            }
        }
    }
    pruned
}

/// Root connections to the recorded nodes of `fleet`, by name; an unreachable node maps
/// to why. The fleet must outlive them: it owns their control sockets.
async fn connect(
    fleet: &anyhow::Result<Fleet>,
    steps: &[&PruneStep],
    progress: &dyn Progress,
) -> BTreeMap<String, Result<Connection, String>> {
    match fleet {
        Ok(fleet) if fleet.members().is_empty() => BTreeMap::new(),
        Ok(fleet) => fleet
            .connect_privileged(progress, &sudo_password)
            .await
            .into_iter()
            .map(|connected| {
                let result = connected.result.map_err(|err| err.to_string());
                (connected.node, result)
            })
            .collect(),
        Err(err) => steps
            .iter()
            .map(|s| (s.name.clone(), Err(crate::error_report::describe(err))))
            .collect(),
    }
}

fn no_record(settings: &PruneSettings<'_>, step: &PruneStep) -> String {
    format!(
        "no record of how to reach it in {} (it joined by hand, or before pikube kept that \
         record): run {} on it",
        settings.local.node_records_path().display(),
        step.service.uninstall_path()
    )
}
