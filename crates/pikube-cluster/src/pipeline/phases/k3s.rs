//! K3s on every node still in the run: the first server, the other servers one at a time,
//! the agents in parallel, each Ready before the next step; then labels and taints through
//! the API (see `k3s::K3sStage`). A plan surveys the same state and lists the changes.

use std::collections::BTreeMap;

use crate::fleet::record_of;
use crate::k3s::{
    registries_yaml, registry_ca_files, s3_credentials, K3sError, K3sNodeReport, K3sStage,
};
use crate::node_records::Registration;
use crate::pipeline::{Mode, NodeOutcome, PhaseReport, PipelineError, Run};
use crate::plan::{NodePlan, PlannedChange};

pub(super) async fn run(run: &mut Run<'_>, report: &mut PhaseReport) -> Result<(), PipelineError> {
    let (local_token, local_agent_token) = match run.mode {
        Mode::Plan => (
            run.local.existing_token()?,
            run.local.existing_agent_token()?,
        ),
        Mode::Apply => (None, None),
    };
    let Some(binaries) = &run.binaries else {
        // No node is left, or the binary failed them all.
        return Ok(());
    };
    match registries_yaml(&run.config.k3s.registries, run.secret) {
        Ok(registries) => {
            run.spec.registries = registries;
            run.spec.registry_cas = registry_ca_files(&run.config.k3s.registries);
        }
        Err(missing) => {
            // Without its password a registry would be left half-configured on every node.
            report.errors.push(missing.to_string());
            run.fail_all_up(report, |node| format!("{node}: not installed: {missing}"));
            return Ok(());
        }
    }
    let s3 = run.config.backup.as_ref().and_then(|b| b.s3.as_ref());
    if let Some(s3) = s3 {
        let env = |name: &str| std::env::var(name).ok();
        match s3_credentials(s3, run.secret, &env) {
            Ok(keys) => run.spec.s3_credentials = Some(keys),
            Err(missing) => {
                // Servers told to send snapshots to S3 without keys would log a failed
                // upload at every snapshot, and nobody reads those logs.
                report.errors.push(missing.to_string());
                run.fail_all_up(report, |node| format!("{node}: not installed: {missing}"));
                return Ok(());
            }
        }
    }
    // Unreadable records are the prune phase's to report; here they only mean the nodes'
    // own drop-ins are read for what pikube set before.
    let recorded: BTreeMap<String, Registration> = run
        .local
        .node_records()
        .unwrap_or_default()
        .into_iter()
        .filter_map(|record| Some((record.name, record.registration?)))
        .collect();
    let stage = K3sStage {
        spec: &run.spec,
        recorded: &recorded,
        adopt: run.settings.adopt,
        binaries,
        ready_timeout: run.settings.ready_timeout,
        parallelism: run.config.ssh.parallelism,
        rolled_out: &run.rolled_out,
        // A dry run changed nothing since the upgrade phase read them; a real one may have.
        read_before: (run.mode == Mode::Plan).then_some(&run.k3s_states),
        live_before: match run.mode {
            Mode::Plan => run.live.as_deref(),
            Mode::Apply => None,
        },
    };
    let unavailable = run.failed.clone();
    match run.mode {
        Mode::Apply => {
            let results = stage
                .apply(&run.nodes, &unavailable, &run.local, run.progress)
                .await;
            for result in results {
                match result.result {
                    Ok(k3s) => {
                        if let Some(node) = run.config.node(&result.node) {
                            run.installed.push(record_of(
                                node,
                                k3s.initialised_cluster,
                                Some(k3s.registration.clone()),
                            ));
                        }
                        if !k3s.is_unchanged() {
                            report.push(&result.node, applied(k3s));
                        }
                    }
                    Err(err) => failed(run, report, &result.node, err),
                }
            }
        }
        Mode::Plan => {
            let results = stage
                .plan(
                    &run.nodes,
                    &unavailable,
                    local_token.as_ref(),
                    local_agent_token.as_ref(),
                    run.progress,
                )
                .await;
            for result in results {
                match result.result {
                    Ok(k3s) if k3s.changes.is_empty() => {}
                    Ok(k3s) => {
                        let count = k3s.changes.len();
                        report.push(
                            &result.node,
                            NodeOutcome::Changed {
                                summary: format!("k3s: {count} change{}", plural(count)),
                                changes: k3s.changes.iter().map(|c| c.summary()).collect(),
                            },
                        );
                        let plan =
                            run.plans
                                .entry(result.node.clone())
                                .or_insert_with(|| NodePlan {
                                    node: result.node.clone(),
                                    changes: Vec::new(),
                                    reboot: Vec::new(),
                                });
                        plan.changes
                            .extend(k3s.changes.into_iter().map(|change| PlannedChange {
                                phase: "k3s",
                                change,
                            }));
                    }
                    Err(err) => failed(run, report, &result.node, err),
                }
            }
        }
    }
    Ok(())
}

/// A node that failed before this phase has said why already.
fn failed(run: &mut Run<'_>, report: &mut PhaseReport, node: &str, err: K3sError) {
    if run.is_up(node) {
        run.fail(report, node, err.to_string());
    }
}

fn applied(k3s: K3sNodeReport) -> NodeOutcome {
    let count = k3s.changes.len();
    let mut summary = format!("k3s: {count} change{}", plural(count));
    if let Some(restart) = &k3s.restarted {
        summary.push_str(&format!(", {restart}"));
    }
    let mut changes = k3s.changes;
    if let Some(api) = k3s.api_changes {
        summary.push_str(&format!(", {api}"));
        changes.push(api);
    }
    NodeOutcome::Changed { summary, changes }
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}
