use std::collections::BTreeMap;
use std::time::Duration;

use pikube_cluster::k3s::{K3sStage, StageNode};
use pikube_cluster::plan::{render_plan_text, NodePlan, PlannedChange};
use pikube_cluster::progress::SilentProgress;
use serde_json::json;

use crate::cli::{OutputFormat, ReportArgs};
use crate::commands::cluster::{fleet, load_config};
use crate::commands::k3s_stage::{binaries, local_state, StageSettings};
use crate::commands::runtime;
use crate::commands::sudo_prompt::sudo_password;
use crate::exit::Outcome;

pub fn run(args: &ReportArgs) -> anyhow::Result<Outcome> {
    let config = load_config(&args.file.file)?;
    let fleet = fleet(&config)?;
    let settings = StageSettings::new(&config, Duration::ZERO);
    let local_token = local_state(&config).existing_token()?;
    let (plans, mut errors) = runtime()?.block_on(async {
        let inspected = fleet.inspect(&SilentProgress, &sudo_password).await;
        let mut plans: Vec<NodePlan> = Vec::new();
        let mut errors: Vec<(String, String)> = Vec::new();
        let mut nodes = Vec::new();
        for result in inspected {
            match result.result {
                Ok(node) => {
                    plans.push(node.plan);
                    nodes.push(StageNode {
                        name: result.node,
                        connection: node.connection,
                        facts: node.facts,
                    });
                }
                Err(err) => errors.push((result.node, err.to_string())),
            }
        }
        match binaries(&config, &nodes, &SilentProgress).await {
            Ok(binaries) => {
                let stage = K3sStage {
                    spec: &settings.spec,
                    binaries: &binaries,
                    ready_timeout: settings.ready_timeout,
                    parallelism: settings.parallelism,
                };
                let unavailable: BTreeMap<String, String> = errors
                    .iter()
                    .map(|(node, err)| (node.clone(), err.clone()))
                    .collect();
                let k3s = stage
                    .plan(&nodes, &unavailable, local_token.as_ref(), &SilentProgress)
                    .await;
                for result in k3s {
                    let Some(plan) = plans.iter_mut().find(|p| p.node == result.node) else {
                        continue;
                    };
                    match result.result {
                        Ok(report) => {
                            plan.changes
                                .extend(report.changes.into_iter().map(|change| PlannedChange {
                                    phase: "k3s",
                                    change,
                                }))
                        }
                        // A node that could not be inspected has its error listed already.
                        Err(_) if errors.iter().any(|(node, _)| *node == result.node) => {}
                        Err(err) => errors.push((result.node, err.to_string())),
                    }
                }
            }
            Err(err) => errors.push(("k3s".to_owned(), format!("{err:#}"))),
        }
        for node in nodes {
            node.connection.close().await;
        }
        (plans, errors)
    });
    errors.dedup_by(|a, b| a.0 == b.0);
    let changed = plans.iter().filter(|p| !p.is_empty()).count();
    let reboots = plans.iter().filter(|p| p.needs_reboot()).count();

    match args.output {
        OutputFormat::Text => {
            print!("{}", render_plan_text(&plans));
            for (_, err) in &errors {
                println!("error: {err}");
            }
            println!(
                "Plan: {changed} node{} to change ({reboots} to reboot), {} unchanged{}.",
                if changed == 1 { "" } else { "s" },
                plans.len() - changed,
                if errors.is_empty() {
                    String::new()
                } else {
                    format!(", {} failed", errors.len())
                }
            );
        }
        OutputFormat::Json => {
            let value = json!({
                "nodes": plans,
                "errors": errors.iter().map(|(node, error)| json!({"node": node, "error": error})).collect::<Vec<_>>(),
                "summary": {"changed": changed, "reboots": reboots, "unchanged": plans.len() - changed, "failed": errors.len()},
            });
            println!("{}", serde_json::to_string_pretty(&value)?);
        }
    }
    Ok(if !errors.is_empty() {
        Outcome::Failed
    } else if changed > 0 {
        Outcome::ChangesPending
    } else {
        Outcome::Success
    })
}
