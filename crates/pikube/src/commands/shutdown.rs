//! `pikube shutdown`: the cluster taken down in an order it survives (see
//! `pikube_cluster::shutdown`), or rebooted with `--reboot`.

use pikube_cluster::config::Role;
use pikube_cluster::error_chain::describe;
use pikube_cluster::progress::StderrProgress;
use pikube_cluster::shutdown::{shut_down, shutdown_order, PowerAction, ShutdownStep};
use serde_json::json;

use crate::cli::{OutputFormat, ShutdownArgs};
use crate::commands::cluster::{fleet, load_config, lock_cluster, lock_on_server, unlock_server};
use crate::commands::confirm::dry_run_or_confirm;
use crate::commands::runtime;
use crate::commands::sudo_prompt::sudo_password;
use crate::exit::Outcome;

pub fn run(args: &ShutdownArgs) -> anyhow::Result<Outcome> {
    let config = load_config(&args.file.file)?;
    let order = shutdown_order(&config);
    let (action, verb) = if args.reboot {
        (PowerAction::Reboot, "reboot")
    } else {
        (PowerAction::PowerOff, "power off")
    };
    let names = |role: Role| {
        order
            .iter()
            .filter(|s| s.role == role)
            .map(|s| s.node.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let plan = format!(
        "cordon every node; stop K3s (k3s-killall.sh) on the agents at once ({}), then on the \
         servers one at a time ({}); then {verb} them in that order",
        names(Role::Agent),
        names(Role::Server)
    );
    if let Some(outcome) = dry_run_or_confirm(&plan, args.dry_run, args.yes)? {
        return Ok(outcome);
    }
    let _lock = lock_cluster(&config, "shutdown", &args.lock)?;
    let fleet = fleet(&config)?;
    let progress = StderrProgress::new();
    let runtime = runtime()?;
    let outcomes = runtime.block_on(async {
        let server_lock = lock_on_server(&config, "shutdown", &args.lock, &progress).await?;
        let mut nodes: Vec<(ShutdownStep, pikube_cluster::ssh::Connection)> = Vec::new();
        let mut unreachable = Vec::new();
        let mut api = None;
        for connected in fleet.connect_privileged(&progress, &sudo_password).await {
            match connected.result {
                Ok(connection) => {
                    let Some(step) = order.iter().find(|s| s.node == connected.node) else {
                        continue;
                    };
                    nodes.push((step.clone(), connection));
                }
                Err(err) => unreachable.push(describe(&err)),
            }
        }
        // The API, to cordon through: its own connection, since the nodes' go down.
        let servers = crate::commands::cluster::fleet_of(&config, |n| n.role == Role::Server)?;
        for connected in servers.connect_privileged(&progress, &sudo_password).await {
            match (connected.result, &api) {
                (Ok(connection), None) => api = Some(connection),
                (Ok(connection), Some(_)) => connection.close().await,
                (Err(_), _) => {}
            }
        }
        nodes.sort_by_key(|(step, _)| order.iter().position(|s| s == step));
        let release = async {
            if let Some(lock) = server_lock {
                unlock_server(lock).await;
            }
        };
        let outcomes = shut_down(
            nodes,
            api.as_ref(),
            fleet.client(),
            action,
            &progress,
            release,
        )
        .await;
        if let Some(api) = api {
            api.close().await;
        }
        anyhow::Ok((outcomes, unreachable))
    })?;
    let (outcomes, unreachable) = outcomes;
    let failed = unreachable.len() + outcomes.iter().filter(|o| o.error.is_some()).count();
    match args.output {
        OutputFormat::Text => {
            for outcome in &outcomes {
                match &outcome.error {
                    Some(error) => outln!("FAILED  {error}"),
                    None => outln!("ok      {}: {}", outcome.node, outcome.done.join(", ")),
                }
            }
            for error in &unreachable {
                outln!("FAILED  {error}");
            }
            outln!(
                "Shutdown: {} done, {failed} failed.{}",
                outcomes.len() - (failed - unreachable.len()),
                if args.reboot {
                    " They are back up, still cordoned: `pikube status` shows the cluster's \
                     health and `pikube apply` uncordons them."
                } else {
                    " Once they are powered on, `pikube status` shows the cluster's health and \
                     `pikube apply` uncordons the nodes."
                }
            );
        }
        OutputFormat::Json => {
            let value = json!({"nodes": outcomes, "unreachable": unreachable, "failed": failed});
            outln!("{}", serde_json::to_string_pretty(&value)?);
        }
    }
    Ok(if failed > 0 {
        Outcome::Failed
    } else {
        Outcome::Success
    })
}
