//! The servers phase: registries and S3 keys resolved for every node, each node's K3s state
//! read and the topology decided (kept in the run for the agents and labels phases), then
//! the first server and the other servers one at a time, each Ready before the next.

use crate::k3s::{registries_yaml, registry_ca_files, resolve_datastore_secret, s3_credentials};
use crate::pipeline::{Mode, PhaseReport, PipelineError, Run};

pub(crate) async fn run(run: &mut Run<'_>, report: &mut PhaseReport) -> Result<(), PipelineError> {
    let (local_token, local_agent_token) = match run.mode {
        Mode::Plan => (
            run.local.existing_token()?,
            run.local.existing_agent_token()?,
        ),
        Mode::Apply => (None, None),
    };
    if run.binaries.is_none() {
        // No node is left, or the binary failed them all.
        return Ok(());
    }
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
    if let Err(missing) = resolve_datastore_secret(&mut run.spec.datastore, run.secret) {
        // Without its endpoint a server would start on a datastore of its own.
        report.errors.push(missing.to_string());
        run.fail_all_up(report, |node| format!("{node}: not installed: {missing}"));
        return Ok(());
    }
    let recorded = super::recorded(run);
    let Some(stage) = super::stage(run, &recorded) else {
        return Ok(());
    };
    let unavailable = run.failed.clone();
    match run.mode {
        Mode::Apply => {
            let (results, survey) = stage
                .apply_servers(&run.nodes, &unavailable, &run.local, run.progress)
                .await;
            run.k3s = survey;
            for result in results {
                match result.result {
                    Ok(k3s) => super::applied(report, &result.node, k3s),
                    Err(err) => super::failed(run, report, &result.node, err),
                }
            }
        }
        Mode::Plan => {
            let (results, survey) = stage
                .plan_servers(
                    &run.nodes,
                    &unavailable,
                    local_token.as_ref(),
                    local_agent_token.as_ref(),
                    run.progress,
                )
                .await;
            // Decided from the servers' state as much as from cluster.toml: said, so that
            // a new cluster's default is no surprise.
            if let Some(survey) = &survey {
                report.notes.push(survey.secrets_encryption().to_string());
            }
            run.k3s = survey;
            for result in results {
                match result.result {
                    Ok(k3s) => super::planned(run, report, &result.node, k3s),
                    Err(err) => super::failed(run, report, &result.node, err),
                }
            }
        }
    }
    Ok(())
}
