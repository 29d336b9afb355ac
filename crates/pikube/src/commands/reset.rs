use pikube_cluster::config::{NodeName, Role};
use pikube_cluster::error_chain::describe;
use pikube_cluster::k3s::{delete_node, reset_node, DELETE_TIMEOUT};
use pikube_cluster::progress::{Progress, StderrProgress};

use crate::cli::ResetArgs;
use crate::commands::cluster::{
    check_node_names, fleet_of, load_config, lock_cluster, lock_on_server, unlock_server,
};
use crate::commands::confirm::confirm;
use crate::commands::runtime;
use crate::commands::sudo_prompt::sudo_password;
use crate::exit::Outcome;

pub fn run(args: &ResetArgs) -> anyhow::Result<Outcome> {
    let config = load_config(&args.file.file)?;
    let _lock = lock_cluster(&config, "reset", &args.lock)?;
    check_node_names(&config, &args.nodes)?;
    let chosen = |name: &str| args.nodes.is_empty() || args.nodes.iter().any(|n| n == name);
    let targets: Vec<NodeName> = config
        .nodes
        .iter()
        .filter(|n| chosen(n.name.as_ref()))
        .map(|n| n.name.clone())
        .collect();
    let what = if args.all {
        "uninstall K3s and undo the OS preparation on"
    } else {
        "uninstall K3s from"
    };
    if !args.yes && !confirm(&format!("This will {what}: {}.", targets.join(", ")))? {
        errln!("nothing done");
        return Ok(Outcome::Failed);
    }

    let fleet = fleet_of(&config, |n| chosen(n.name.as_ref()))?;
    // Nodes that stay: a server among them takes the reset nodes out of the cluster.
    let survivors = fleet_of(&config, |n| {
        !chosen(n.name.as_ref()) && n.role == Role::Server
    })?;
    let progress = StderrProgress::new();
    let runtime = runtime()?;
    let cluster_lock = runtime.block_on(lock_on_server(&config, "reset", &args.lock, &progress))?;
    let failed = runtime.block_on(async {
        let mut failed = 0;
        for connected in fleet.connect_privileged(&progress, &sudo_password).await {
            let node = connected.node;
            let result = match connected.result {
                Ok(connection) => {
                    let result = reset_node(&connection, args.all).await;
                    connection.close().await;
                    result.map_err(|e| describe(&e))
                }
                Err(err) => Err(describe(&err)),
            };
            match result {
                Ok(report) => {
                    let mut text = if report.uninstalled.is_empty() {
                        "k3s was not installed".to_owned()
                    } else {
                        format!("removed {}", report.uninstalled.join(", "))
                    };
                    if !report.restored.is_empty() {
                        text.push_str(&format!(
                            "; restored {} (reboot to take effect)",
                            report.restored.join(", ")
                        ));
                    }
                    outln!("ok      {node}: {text}");
                }
                Err(err) => {
                    failed += 1;
                    outln!("FAILED  {err}");
                }
            }
        }
        // Only now, with its k3s gone, can the node leave the cluster for good (a running
        // agent would register itself again).
        if !args.nodes.is_empty() {
            for connected in survivors
                .connect_privileged(&progress, &sudo_password)
                .await
            {
                let Ok(server) = connected.result else {
                    continue;
                };
                for name in &targets {
                    match delete_node(&server, name, DELETE_TIMEOUT).await {
                        Ok(()) => progress.node(
                            name,
                            &format!("deleted from the cluster (via {})", connected.node),
                        ),
                        Err(err) => progress.step(&describe(&err)),
                    }
                }
                server.close().await;
                break;
            }
        }
        failed
    });
    if let Some(lock) = cluster_lock {
        runtime.block_on(unlock_server(lock));
    }
    Ok(if failed > 0 {
        Outcome::Failed
    } else {
        Outcome::Success
    })
}
