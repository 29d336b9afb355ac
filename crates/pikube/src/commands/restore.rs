//! `pikube restore`: the cluster's etcd brought back to a backup (see
//! `pikube_cluster::restore`), refused while the cluster serves unless `--force`.

use anyhow::Context;
use pikube_cluster::backup::Datastore;
use pikube_cluster::config::Role;
use pikube_cluster::error_chain::describe;
use pikube_cluster::progress::StderrProgress;
use pikube_cluster::restore::{resolve, restore, serving, unfinished, RestoreNode};

use crate::cli::RestoreArgs;
use crate::commands::cluster::{fleet, load_config, lock_cluster, lock_on_server, unlock_server};
use crate::commands::confirm::dry_run_or_confirm;
use crate::commands::local_state::local_state;
use crate::commands::runtime;
use crate::commands::sudo_prompt::sudo_password;
use crate::exit::Outcome;

pub fn run(args: &RestoreArgs) -> anyhow::Result<Outcome> {
    let config = load_config(&args.file.file)?;
    let local = local_state(&config);
    let token = local.existing_token()?;
    let datastore = Datastore::of(&config)?;
    let snapshot = resolve(
        &args.snapshot,
        &local.dir().join("backups"),
        config.name.as_ref(),
        token.as_ref().map(pikube_cluster::state::K3sToken::expose),
        &config.k3s.version,
        datastore,
    )?;
    let taken = snapshot.manifest.as_ref().map_or_else(
        || "at an unknown time".to_owned(),
        |m| format!("taken {}", m.taken_at_rfc3339()),
    );
    let servers: Vec<String> = config.servers().map(|n| n.name.to_string()).collect();
    let Some(first) = servers.first() else {
        anyhow::bail!("{}: no server to restore on", config.path.display());
    };
    let plan = match datastore {
        Datastore::Sqlite => format!(
            "restore {} ({taken}): stop K3s on every node, move {first}'s SQLite datastore, \
             token and certificates aside (into /var/lib/rancher/k3s/server/pre-restore-<time>) \
             and put the backup's in their place, start {first}, remove the backup's node \
             passwords of the agents (new cards could not rejoin with them) and restart them; \
             every object created or changed since the backup is lost",
            snapshot.name
        ),
        Datastore::Etcd => format!(
        "restore {} ({taken}): stop K3s on every node, reset etcd on {first} from the snapshot, \
         remove the snapshot's node passwords of the other nodes (new cards could not rejoin \
         with them), then rejoin {} one at a time and restart the agents; every object created \
         or changed since the snapshot is lost",
        snapshot.name,
        if servers.len() > 1 {
            servers[1..].join(", ")
        } else {
            "no other server".to_owned()
        }
    ),
    };
    // A restore of this very snapshot stopped half-way: what serves now is (in part) the
    // snapshot's data already, so finishing it needs no --force.
    let unfinished = unfinished::read(&local)?;
    let finishing = unfinished
        .as_ref()
        .is_some_and(|u| u.is_of(&snapshot.sha256.to_string()));
    if let Some(earlier) = &unfinished {
        errln!(
            "{}: {}",
            if finishing { "finishing" } else { "warning" },
            earlier.describe()
        );
    }
    if let Some(outcome) = dry_run_or_confirm(&plan, args.dry_run, args.yes)? {
        return Ok(outcome);
    }
    let _lock = lock_cluster(&config, "restore", &args.lock)?;
    let fleet = fleet(&config)?;
    let progress = StderrProgress::new();
    let runtime = runtime()?;
    let result = runtime.block_on(async {
        let server_lock = lock_on_server(&config, "restore", &args.lock, &progress).await?;
        let mut nodes = Vec::new();
        let mut unreachable = Vec::new();
        for connected in fleet.connect_privileged(&progress, &sudo_password).await {
            match connected.result {
                Ok(connection) => {
                    let role = config.node(&connected.node).map_or(Role::Agent, |n| n.role);
                    nodes.push(RestoreNode {
                        name: connected.node,
                        role,
                        connection,
                    });
                }
                Err(err) => unreachable.push(describe(&err)),
            }
        }
        let outcome = async {
            if !unreachable.is_empty() {
                anyhow::bail!(
                    "not restoring: every node of cluster.toml must answer: {}",
                    unreachable.join("; ")
                );
            }
            if let (Some(why), false) = (serving(&nodes).await, args.force || finishing) {
                anyhow::bail!(
                    "not restoring: {why}. Restoring {} ({taken}) rolls every object back to \
                     then: what was created or changed since is lost. Run again with --force \
                     to go on",
                    snapshot.name
                );
            }
            restore(&nodes, &snapshot, &local, args.ready_timeout, &progress)
                .await
                .context("restore")
        }
        .await;
        for node in nodes {
            node.connection.close().await;
        }
        if let Some(lock) = server_lock {
            unlock_server(lock).await;
        }
        outcome
    })?;
    outln!(
        "ok      {}: {} restored from {} ({taken})",
        result.first_server,
        match datastore {
            Datastore::Etcd => "etcd",
            Datastore::Sqlite => "SQLite datastore",
        },
        snapshot.name
    );
    for server in &result.rejoined_servers {
        outln!("ok      {server}: old etcd data moved aside, rejoined");
    }
    for agent in &result.restarted_agents {
        outln!("ok      {agent}: restarted, Ready");
    }
    if !result.tokens_repointed.is_empty() {
        outln!(
            "ok      tokens: {} now name the CA the snapshot brought back (K3s keeps its CAs \
             in the datastore)",
            result.tokens_repointed.join(", ")
        );
    }
    if !result.node_passwords_removed.is_empty() {
        outln!(
            "ok      node passwords: the snapshot's records of {} removed before they \
             rejoined; each node recorded its card's again",
            result.node_passwords_removed.join(", ")
        );
    }
    if result.first_server_password_was_stale {
        outln!(
            "ok      {}: the snapshot's node password was another card's (K3s: \
             NodePasswordValidationFailed): record removed, K3s records this card's at its \
             next start",
            result.first_server
        );
    }
    for stale in &result.not_in_cluster_toml {
        errln!(
            "warning: {stale}: in the snapshot but not in cluster.toml (old hardware under \
             another name?): `pikube apply --prune` removes it"
        );
    }
    outln!(
        "Restore: done in {:.1} s; every node of cluster.toml is Ready.",
        result.seconds
    );
    Ok(Outcome::Success)
}
