//! Each node's preparation (hostname, memory cgroup, swap) planned from its facts and, in
//! an apply, carried out; the reboot it may need is the next phase's.

use futures::stream::{self, StreamExt};

use crate::apply::carry_out_plan;
use crate::config::NodeName;
use crate::pipeline::{Mode, NodeOutcome, PhaseReport, Run};
use crate::plan::{plan_node, DesiredNode, NodePlan};

pub(super) async fn run(run: &mut Run<'_>, report: &mut PhaseReport) {
    let mut planned: Vec<(NodeName, Result<NodePlan, String>)> = Vec::new();
    for node in run.nodes.iter().filter(|n| run.is_up(&n.name)) {
        let desired = DesiredNode {
            name: node.name.clone(),
        };
        planned.push((
            node.name.clone(),
            plan_node(&desired, &node.facts).map_err(|err| err.to_string()),
        ));
    }
    let mut to_carry_out = Vec::new();
    for (name, plan) in planned {
        match plan {
            Ok(plan) => {
                if run.mode == Mode::Apply && !plan.changes.is_empty() {
                    to_carry_out.push(name.clone());
                } else if run.mode == Mode::Apply {
                    run.progress.node(&name, "already prepared: no changes");
                }
                if !plan.changes.is_empty() {
                    report.push(&name, outcome(&plan));
                }
                run.plans.insert(name, plan);
            }
            Err(err) => run.fail(report, &name, err),
        }
    }
    if to_carry_out.is_empty() {
        return;
    }

    let parallelism = run.config.ssh.parallelism.max(1);
    let progress = run.progress;
    let work = run
        .nodes
        .iter()
        .filter(|n| to_carry_out.contains(&n.name))
        .map(|node| {
            let plan = &run.plans[&node.name];
            async move {
                let result = carry_out_plan(&node.connection, plan, progress).await;
                if let Err(err) = &result {
                    progress.node(&node.name, &format!("FAILED: {err}"));
                }
                (node.name.clone(), result)
            }
        });
    let results: Vec<_> = stream::iter(work).buffered(parallelism).collect().await;
    for (name, result) in results {
        if let Err(err) = result {
            report.nodes.retain(|step| step.node != name);
            run.fail(report, &name, err.to_string());
        }
    }
}

fn outcome(plan: &NodePlan) -> NodeOutcome {
    let count = plan.changes.len();
    NodeOutcome::Changed {
        summary: format!(
            "prepared ({count} change{})",
            if count == 1 { "" } else { "s" }
        ),
        changes: plan
            .changes
            .iter()
            .map(|planned| format!("[{}] {}", planned.phase, planned.change.summary()))
            .collect(),
    }
}
