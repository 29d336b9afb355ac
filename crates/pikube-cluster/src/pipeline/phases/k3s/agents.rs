//! The agents phase: every agent still in the run joins, in parallel, through the first
//! server the servers phase brought up.

use crate::pipeline::{Mode, PhaseReport, Run};

pub(crate) async fn run(run: &mut Run<'_>, report: &mut PhaseReport) {
    let recorded = super::recorded(run);
    let (Some(stage), Some(survey)) = (super::stage(run, &recorded), &run.k3s) else {
        // The servers phase had nothing to do, or stopped every node with its reason.
        return;
    };
    let unavailable = run.failed.clone();
    match run.mode {
        Mode::Apply => {
            let results = stage
                .apply_agents(&run.nodes, &unavailable, survey, run.progress)
                .await;
            for result in results {
                match result.result {
                    Ok(k3s) => super::applied(report, &result.node, k3s),
                    Err(err) => super::failed(run, report, &result.node, err),
                }
            }
        }
        Mode::Plan => {
            let results = stage.plan_agents(&run.nodes, &unavailable, survey);
            for result in results {
                match result.result {
                    Ok(k3s) => super::planned(run, report, &result.node, k3s),
                    Err(err) => super::failed(run, report, &result.node, err),
                }
            }
        }
    }
}
