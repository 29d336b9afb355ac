//! The labels phase: labels and taints set through the API on every node the K3s phases
//! installed; those nodes are then recorded (how to reach them, and what pikube set).

use crate::fleet::record_of;
use crate::pipeline::{Mode, NodeOutcome, PhaseReport, Run};
use crate::plan::ChangeArea;

pub(crate) async fn run(run: &mut Run<'_>, report: &mut PhaseReport) {
    let recorded = super::recorded(run);
    let (Some(stage), Some(survey)) = (super::stage(run, &recorded), &run.k3s) else {
        return;
    };
    let unavailable = run.failed.clone();
    let first = survey.first_server().to_owned();
    let results = match run.mode {
        Mode::Apply => {
            stage
                .apply_labels(&run.nodes, &unavailable, survey, run.progress)
                .await
        }
        Mode::Plan => stage.plan_labels(&run.nodes, &unavailable, survey),
    };
    for result in results {
        let labels = match result.result {
            Ok(labels) => labels,
            Err(err) => {
                super::failed(run, report, &result.node, err);
                continue;
            }
        };
        if let Some(summary) = &labels.changed {
            report.push(
                &result.node,
                NodeOutcome::Changed {
                    summary: format!("labels: {summary}"),
                    changes: vec![summary.clone()],
                },
            );
        }
        match run.mode {
            Mode::Apply => {
                if let Some(node) = run.config.node(&result.node) {
                    let record = record_of(node, result.node == first, Some(labels.registration));
                    run.installed.push(record);
                }
            }
            Mode::Plan => {
                if let Some(change) = labels.change {
                    super::add_to_plan(run, &result.node, ChangeArea::Labels, vec![change]);
                }
            }
        }
    }
}
