//! `pikube os-upgrade`: the nodes' operating system brought up to date one node at a time
//! (see `pikube_cluster::os_upgrade`), or with `--check` only listed.

use pikube_cluster::config::{NodeName, Role};
use pikube_cluster::error_chain::describe;
use pikube_cluster::k3s::{read_state, Drain};
use pikube_cluster::os_upgrade::{
    pending_on_all, pending_upgrades, OsUpgrade, PendingError, PendingUpgrades,
};
use pikube_cluster::progress::{Progress, StderrProgress};
use pikube_cluster::shutdown::shutdown_order;
use pikube_cluster::ssh::Connection;
use serde_json::json;

use crate::cli::{OsUpgradeArgs, OutputFormat};
use crate::commands::cluster::{
    check_node_names, fleet_of, load_config, lock_cluster, lock_on_server, unlock_server,
};
use crate::commands::runtime;
use crate::commands::sudo_prompt::sudo_password;
use crate::exit::Outcome;

pub fn run(args: &OsUpgradeArgs) -> anyhow::Result<Outcome> {
    let config = load_config(&args.file.file)?;
    check_node_names(&config, &args.nodes)?;
    let chosen = |name: &str| args.nodes.is_empty() || args.nodes.iter().any(|n| n == name);
    // Agents first, then the servers one by one with the first server last: the order a
    // shutdown takes, for the same reason.
    let order: Vec<(NodeName, Role)> = shutdown_order(&config)
        .into_iter()
        .filter(|step| chosen(&step.node))
        .map(|step| (step.node, step.role))
        .collect();
    if args.check {
        return check(args, &config, &order);
    }
    let _lock = lock_cluster(&config, "os-upgrade", &args.lock)?;
    let progress = StderrProgress::new();
    let fleet = fleet_of(&config, |_| true)?;
    let runtime = runtime()?;
    let lines = runtime.block_on(async {
        let server_lock = lock_on_server(&config, "os-upgrade", &args.lock, &progress).await?;
        let mut connections: Vec<(NodeName, Option<Connection>)> = Vec::new();
        let mut lines: Vec<(NodeName, Result<String, String>)> = Vec::new();
        for connected in fleet.connect_privileged(&progress, &sudo_password).await {
            match connected.result {
                Ok(connection) => connections.push((connected.node, Some(connection))),
                Err(err) if chosen(&connected.node) => {
                    lines.push((connected.node, Err(describe(&err))))
                }
                Err(_) => {}
            }
        }
        let upgrade = OsUpgrade {
            client: fleet.client(),
            drain_servers: !args.no_drain_servers,
            drain: Drain {
                timeout: args.drain_timeout,
                force: args.force_drain,
            },
            ready_timeout: args.ready_timeout,
            reboot_timeout: args.reboot_timeout,
            keep_quorum: !args.allow_quorum_loss && !config.k3s.external_datastore(),
        };
        let mut stopped_at: Option<NodeName> = None;
        for (name, role) in &order {
            if lines.iter().any(|(n, _)| n == name) {
                continue;
            }
            if let Some(at) = &stopped_at {
                lines.push((
                    name.clone(),
                    Err(format!("{name}: not upgraded: the rollout stopped at {at}")),
                ));
                continue;
            }
            let Some(index) = connections.iter().position(|(n, _)| n == name) else {
                continue;
            };
            let Some(node) = connections[index].1.take() else {
                continue;
            };
            let say = |line: &str| progress.node(name, &format!("[os-upgrade] {line}"));
            let PendingUpgrades {
                packages: pending,
                kept_back,
            } = match pending_upgrades(&node).await {
                Ok(pending) => pending,
                Err(why) => {
                    lines.push((name.clone(), Err(why.to_string())));
                    connections[index].1 = Some(node);
                    stopped_at = Some(name.clone());
                    continue;
                }
            };
            let kept_back = kept_back_note(&kept_back);
            let service = read_state(&node)
                .await
                .ok()
                .and_then(|state| state.installed_service());
            // The API through another server: this one may reboot.
            let api = connections
                .iter()
                .filter(|(n, _)| n != name)
                .filter(|(n, _)| config.node(n).is_some_and(|s| s.role == Role::Server))
                .find_map(|(_, c)| c.as_ref());
            if pending.is_empty() {
                // An earlier run may have installed everything and stopped before bringing
                // the node back: it is finished now.
                let finished = match service {
                    Some(service) if api.is_some() || *role == Role::Server => {
                        upgrade.finish_earlier(&node, service, api).await
                    }
                    _ => Ok(false),
                };
                connections[index].1 = Some(node);
                match finished {
                    Ok(uncordoned) => {
                        let back = match uncordoned {
                            true => {
                                ", Ready and uncordoned (an earlier os-upgrade left it cordoned)"
                            }
                            false => "",
                        };
                        say(&format!("up to date{back}"));
                        lines.push((name.clone(), Ok(format!("up to date{back}{kept_back}"))));
                    }
                    Err(error) => {
                        progress.node(name, &format!("FAILED: {error}"));
                        lines.push((name.clone(), Err(error)));
                        stopped_at = Some(name.clone());
                    }
                }
                continue;
            }
            if service.is_some() && api.is_none() && *role == Role::Agent {
                lines.push((
                    name.clone(),
                    Err(format!(
                        "{name}: not upgraded: no server answers to drain it through"
                    )),
                ));
                connections[index].1 = Some(node);
                stopped_at = Some(name.clone());
                continue;
            }
            let (node, result) = upgrade.upgrade(node, service, api, pending, &say).await;
            connections[index].1 = node;
            match result {
                Ok(report) => lines.push((
                    name.clone(),
                    Ok(format!(
                        "{} package{} upgraded{}{kept_back}",
                        report.upgraded.len(),
                        if report.upgraded.len() == 1 { "" } else { "s" },
                        if report.rebooted { ", rebooted" } else { "" }
                    )),
                )),
                Err(error) => {
                    progress.node(name, &format!("FAILED: {error}"));
                    lines.push((name.clone(), Err(error)));
                    stopped_at = Some(name.clone());
                }
            }
        }
        if let Some(lock) = server_lock {
            unlock_server(lock).await;
        }
        for (_, connection) in connections {
            if let Some(connection) = connection {
                connection.close().await;
            }
        }
        anyhow::Ok(lines)
    })?;
    let failed = lines.iter().filter(|(_, r)| r.is_err()).count();
    match args.output {
        OutputFormat::Text => {
            for (name, line) in &lines {
                match line {
                    Ok(text) => outln!("ok      {name}: {text}"),
                    Err(error) => outln!("FAILED  {error}"),
                }
            }
            outln!(
                "OS upgrade: {} done, {failed} failed.",
                lines.len() - failed
            );
        }
        OutputFormat::Json => {
            let nodes: Vec<_> = lines
                .iter()
                .map(|(name, line)| match line {
                    Ok(text) => json!({"node": name, "status": "ok", "summary": text}),
                    Err(error) => json!({"node": name, "status": "failed", "error": error}),
                })
                .collect();
            outln!(
                "{}",
                serde_json::to_string_pretty(&json!({"nodes": nodes}))?
            );
        }
    }
    Ok(if failed > 0 {
        Outcome::Failed
    } else {
        Outcome::Success
    })
}

/// `--check`: what each node would upgrade; nothing changes but apt's package lists.
fn check(
    args: &OsUpgradeArgs,
    config: &pikube_cluster::config::ClusterConfig,
    order: &[(NodeName, Role)],
) -> anyhow::Result<Outcome> {
    let fleet = fleet_of(config, |n| {
        order.iter().any(|(name, _)| *name == n.name.as_ref())
    })?;
    let results: Vec<(NodeName, Result<PendingUpgrades, PendingError>)> =
        runtime()?.block_on(pending_on_all(&fleet, &sudo_password));
    let failed = results.iter().filter(|(_, r)| r.is_err()).count();
    let pending = results
        .iter()
        .filter(|(_, r)| r.as_ref().is_ok_and(|p| !p.packages.is_empty()))
        .count();
    match args.output {
        OutputFormat::Text => {
            for (node, result) in &results {
                match result {
                    Ok(pending) if pending.packages.is_empty() => {
                        outln!("{node}: up to date{}", kept_back_note(&pending.kept_back))
                    }
                    Ok(pending) => {
                        outln!(
                            "{node}: {} to upgrade{}",
                            pending.packages.len(),
                            kept_back_note(&pending.kept_back)
                        );
                        for p in &pending.packages {
                            outln!(
                                "  {} {} -> {}",
                                p.name,
                                p.from.as_deref().unwrap_or("(new)"),
                                p.to
                            );
                        }
                    }
                    Err(error) => outln!("error: {error}"),
                }
            }
        }
        OutputFormat::Json => {
            let nodes: Vec<_> = results
                .iter()
                .map(|(node, result)| match result {
                    Ok(pending) => json!({
                        "node": node,
                        "pending": pending.packages,
                        "kept_back": pending.kept_back,
                    }),
                    Err(error) => json!({"node": node, "error": error.to_string()}),
                })
                .collect();
            outln!(
                "{}",
                serde_json::to_string_pretty(&json!({"nodes": nodes}))?
            );
        }
    }
    Ok(if failed > 0 {
        Outcome::Failed
    } else if pending > 0 {
        Outcome::ChangesPending
    } else {
        Outcome::Success
    })
}

/// ` (kept back: a, b)` after a node's line when apt leaves upgradable packages alone (held
/// with `apt-mark hold`, or a phased update), so a user sees they were not forgotten.
fn kept_back_note(kept_back: &[String]) -> String {
    if kept_back.is_empty() {
        String::new()
    } else {
        format!(" (kept back, held or phased: {})", kept_back.join(", "))
    }
}
