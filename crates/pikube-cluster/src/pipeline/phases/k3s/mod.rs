//! K3s on every node still in the run, in three phases over one [`K3sStage`]: the servers
//! (which also read every node's K3s state and leave it in the run's `K3sSurvey`), the
//! agents, then labels and taints through the API. A plan surveys the same state and lists
//! the changes each phase would make.

pub(super) mod agents;
pub(super) mod labels;
pub(super) mod servers;

use std::collections::BTreeMap;

use crate::config::NodeName;
use crate::k3s::{K3sError, K3sNodePlanReport, K3sNodeReport, K3sStage};
use crate::node_records::Registration;
use crate::pipeline::{Mode, NodeOutcome, PhaseReport, Run};
use crate::plan::{Change, ChangeArea, NodePlan, PlannedChange};

/// The labels and taints pikube last set on each node, from the local node records.
fn recorded(run: &Run<'_>) -> BTreeMap<NodeName, Registration> {
    // Unreadable records are the prune phase's to report; here they only mean the nodes'
    // own drop-ins are read for what pikube set before.
    run.local
        .node_records()
        .unwrap_or_default()
        .into_iter()
        .filter_map(|record| Some((record.name, record.registration?)))
        .collect()
}

/// The stage over what the earlier phases left; `None` when no node is left, or the
/// binary failed them all.
fn stage<'r>(
    run: &'r Run<'_>,
    recorded: &'r BTreeMap<NodeName, Registration>,
) -> Option<K3sStage<'r>> {
    Some(K3sStage {
        spec: &run.spec,
        recorded,
        adopt: run.settings.adopt,
        replace: &run.settings.replace,
        binaries: run.binaries.as_ref()?,
        ready_timeout: run.settings.ready_timeout,
        parallelism: run.config.ssh.parallelism,
        rolled_out: &run.rolled_out,
        // A dry run changed nothing since the upgrade phase read them; a real one may have.
        read_before: (run.mode == Mode::Plan).then_some(&run.k3s_states),
        live_before: match run.mode {
            Mode::Plan => run.live.as_deref(),
            Mode::Apply => None,
        },
    })
}

/// A node that failed before this phase has said why already.
fn failed(run: &mut Run<'_>, report: &mut PhaseReport, node: &NodeName, err: K3sError) {
    if run.is_up(node) {
        run.fail(report, node, err.to_string());
    }
}

/// A node the servers or agents phase installed or changed.
fn applied(report: &mut PhaseReport, node: &NodeName, k3s: K3sNodeReport) {
    report
        .warnings
        .extend(k3s.warnings.iter().map(|w| format!("{node}: {w}")));
    if k3s.is_unchanged() {
        return;
    }
    let count = k3s.changes.len();
    let mut summary = format!("k3s: {count} change{}", plural(count));
    if let Some(restart) = &k3s.restarted {
        summary.push_str(&format!(", {restart}"));
    }
    report.push(
        node,
        NodeOutcome::Changed {
            summary,
            changes: k3s.changes,
        },
    );
}

/// What the servers or agents phase would change on a node, in the report and the node's
/// plan.
fn planned(run: &mut Run<'_>, report: &mut PhaseReport, node: &NodeName, k3s: K3sNodePlanReport) {
    report
        .warnings
        .extend(k3s.warnings.iter().map(|w| format!("{node}: {w}")));
    if k3s.changes.is_empty() {
        return;
    }
    let count = k3s.changes.len();
    report.push(
        node,
        NodeOutcome::Changed {
            summary: format!("k3s: {count} change{}", plural(count)),
            changes: k3s.changes.iter().map(Change::summary).collect(),
        },
    );
    add_to_plan(run, node, ChangeArea::K3s, k3s.changes);
}

fn add_to_plan(
    run: &mut Run<'_>,
    node: &NodeName,
    phase: ChangeArea,
    changes: Vec<crate::plan::Change>,
) {
    let plan = run
        .plans
        .entry(node.to_owned())
        .or_insert_with(|| NodePlan {
            node: node.to_owned(),
            changes: Vec::new(),
            reboot: Vec::new(),
        });
    plan.changes.extend(
        changes
            .into_iter()
            .map(|change| PlannedChange { phase, change }),
    );
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}
