use std::collections::BTreeMap;

use pikube_cluster::apply::ApplyOptions;
use pikube_cluster::k3s::{K3sStage, StageNode};
use pikube_cluster::progress::{Progress, SilentProgress, StderrProgress};

use crate::cli::ApplyArgs;
use crate::commands::cluster::record_of;
use crate::commands::cluster::{fleet, load_config, lock_cluster, lock_on_server, unlock_server};
use crate::commands::k3s_stage::{binaries, local_state, StageSettings};
use crate::commands::prune::{record_and_prune, PruneSettings};
use crate::commands::runtime;
use crate::commands::sudo_prompt::sudo_password;
use crate::exit::Outcome;

/// One node's line in the summary.
struct NodeLine {
    prepared: String,
    k3s: Option<Result<String, String>>,
}

pub fn run(args: &ApplyArgs) -> anyhow::Result<Outcome> {
    let config = load_config(&args.file.file)?;
    let _lock = lock_cluster(&config, "apply", &args.lock)?;
    let fleet = fleet(&config)?;
    let options = ApplyOptions {
        reboot_timeout: args.reboot_timeout,
    };
    let progress: Box<dyn Progress> = if args.quiet {
        Box::new(SilentProgress)
    } else {
        Box::new(StderrProgress::new())
    };
    let progress = progress.as_ref();
    let settings = StageSettings::new(&config, args.ready_timeout);
    let local = local_state(&config);

    let prune_settings = PruneSettings {
        config: &config,
        spec: &settings.spec,
        local: &local,
        prune: args.prune,
        drain_timeout: args.drain_timeout,
        delete_timeout: args.delete_timeout,
    };

    let runtime = runtime()?;
    let cluster_lock = runtime.block_on(lock_on_server(&config, "apply", &args.lock, progress))?;
    let (lines, failures, stale) = runtime.block_on(async {
        progress.step(&format!(
            "preparing {} node{} of cluster {}",
            fleet.members().len(),
            if fleet.members().len() == 1 { "" } else { "s" },
            config.name
        ));
        let prepared = fleet.apply(&options, progress, &sudo_password).await;

        let mut lines: Vec<(String, NodeLine)> = Vec::new();
        let mut failures: BTreeMap<String, String> = BTreeMap::new();
        let mut stage_nodes = Vec::new();
        for result in prepared {
            match result.result {
                Ok((report, connection)) => {
                    let prepared = if report.plan.is_empty() {
                        "prepared".to_owned()
                    } else {
                        format!(
                            "prepared ({} change{}{})",
                            report.plan.changes.len(),
                            plural(report.plan.changes.len()),
                            if report.rebooted { ", rebooted" } else { "" }
                        )
                    };
                    lines.push((
                        result.node.clone(),
                        NodeLine {
                            prepared,
                            k3s: None,
                        },
                    ));
                    stage_nodes.push(StageNode {
                        name: result.node,
                        connection,
                        facts: report.facts,
                    });
                }
                Err(err) => {
                    failures.insert(result.node.clone(), err.to_string());
                }
            }
        }

        let stage_results = match binaries(&config, &stage_nodes, progress).await {
            Ok(binaries) => {
                let stage = K3sStage {
                    spec: &settings.spec,
                    binaries: &binaries,
                    ready_timeout: settings.ready_timeout,
                    parallelism: settings.parallelism,
                };
                let unavailable = failures
                    .keys()
                    .map(|node| (node.clone(), "its preparation failed".to_owned()))
                    .collect();
                Ok(stage
                    .apply(&stage_nodes, &unavailable, &local, progress)
                    .await)
            }
            Err(err) => Err(crate::error_report::describe(&err)),
        };
        let mut installed = Vec::new();
        let mut all_installed = failures.is_empty() && stage_results.is_ok();
        match stage_results {
            Ok(results) => {
                for result in results {
                    match (&result.result, config.node(&result.node)) {
                        (Ok(report), Some(node)) => {
                            installed.push(record_of(node, report.initialised_cluster))
                        }
                        _ => all_installed = false,
                    }
                    if let Some((_, line)) = lines.iter_mut().find(|(n, _)| *n == result.node) {
                        line.k3s = Some(match result.result {
                            Ok(report) if report.is_unchanged() => Ok("k3s unchanged".to_owned()),
                            Ok(report) => {
                                let mut text = format!(
                                    "k3s: {} change{}",
                                    report.changes.len(),
                                    plural(report.changes.len())
                                );
                                if let Some(restart) = &report.restarted {
                                    text.push_str(&format!(", {restart}"));
                                }
                                if let Some(api) = &report.api_changes {
                                    text.push_str(&format!(", {api}"));
                                }
                                Ok(text)
                            }
                            Err(err) => Err(err.to_string()),
                        });
                    }
                }
            }
            Err(err) => {
                for (_, line) in lines.iter_mut() {
                    line.k3s = Some(Err(err.clone()));
                }
            }
        }
        let stale = record_and_prune(
            &prune_settings,
            &stage_nodes,
            installed,
            all_installed,
            progress,
        )
        .await;
        for node in stage_nodes {
            node.connection.close().await;
        }
        (lines, failures, stale)
    });
    if let Some(lock) = cluster_lock {
        runtime.block_on(unlock_server(lock));
    }

    let mut failed = failures.len();
    let mut changed = 0;
    for member in fleet.members() {
        let name = &member.desired.name;
        if let Some(err) = failures.get(name) {
            println!("FAILED  {err}");
            continue;
        }
        let Some((_, line)) = lines.iter().find(|(n, _)| n == name) else {
            continue;
        };
        match &line.k3s {
            Some(Err(err)) => {
                failed += 1;
                println!("FAILED  {err}");
            }
            Some(Ok(k3s)) => {
                if line.prepared != "prepared" || k3s != "k3s unchanged" {
                    changed += 1;
                }
                println!("ok      {name}: {}; {k3s}", line.prepared);
            }
            None => {}
        }
    }
    for line in &stale.lines {
        println!("{line}");
    }
    for warning in &stale.warnings {
        eprintln!("warning: {warning}");
    }
    let pruning = if args.prune && stale.stale > 0 {
        format!(", {} pruned", stale.pruned)
    } else {
        String::new()
    };
    println!(
        "Apply: {changed} changed, {} unchanged, {failed} failed{pruning}.",
        fleet.members().len() - changed - failed
    );
    Ok(if failed > 0 || stale.failed > 0 {
        Outcome::Failed
    } else {
        Outcome::Success
    })
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}
