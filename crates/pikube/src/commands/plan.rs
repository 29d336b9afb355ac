use std::collections::BTreeMap;
use std::time::Duration;

use pikube_cluster::k3s::{live_nodes, plan_prune, K3sSpec, K3sStage, PruneStep, StageNode};
use pikube_cluster::plan::{render_plan_text, Change, NodePlan, PlannedChange};
use pikube_cluster::progress::SilentProgress;
use pikube_cluster::ssh::shell_quote_arg;
use pikube_cluster::state::LocalState;
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
    let local = local_state(&config);
    let local_token = local.existing_token()?;
    let (mut plans, mut errors, stale) = runtime()?.block_on(async {
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
        // The k3s survey and the API's node list are independent round trips: ask both at once.
        let k3s = async {
            let binaries = binaries(&config, &nodes, &SilentProgress).await?;
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
            anyhow::Ok(
                stage
                    .plan(&nodes, &unavailable, local_token.as_ref(), &SilentProgress)
                    .await,
            )
        };
        let (k3s, stale) = tokio::join!(k3s, stale_nodes(&settings.spec, &nodes, &local));
        match k3s {
            Ok(k3s) => {
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
            Err(err) => errors.push(("k3s".to_owned(), crate::error_report::describe(&err))),
        }
        let stale = match stale {
            Ok(steps) => steps,
            Err(err) => {
                errors.push(("cluster".to_owned(), err));
                Vec::new()
            }
        };
        for node in nodes {
            node.connection.close().await;
        }
        (plans, errors, stale)
    });
    errors.dedup_by(|a, b| a.0 == b.0);
    plans.extend(stale.iter().map(stale_plan));
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
                "stale": stale.iter().map(|step| json!({
                    "node": step.name,
                    "role": step.service.command(),
                    "prune_refused": step.refused,
                })).collect::<Vec<_>>(),
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

/// The nodes the cluster has and cluster.toml no longer lists, with what `apply --prune`
/// would do. A cluster not running yet has none; one whose API does not answer is an error.
async fn stale_nodes(
    spec: &K3sSpec,
    nodes: &[StageNode],
    local: &LocalState,
) -> Result<Vec<PruneStep>, String> {
    match live_nodes(spec, nodes).await {
        Ok((_, live)) => {
            let records = local.node_records().map_err(|err| err.to_string())?;
            Ok(plan_prune(&live, spec, &records))
        }
        Err(_) if !nodes.iter().any(|n| n.facts.k3s.server.is_active()) => Ok(Vec::new()),
        Err(err) => Err(format!(
            "could not look for nodes removed from cluster.toml: {err}"
        )),
    }
}

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
            phase: "k3s",
            change: Change::command(step.summary(), script),
        }],
        reboot: Vec::new(),
    }
}
