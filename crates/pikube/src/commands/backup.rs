//! `pikube backup [list | prune]`: etcd snapshots, or a single server's SQLite datastore,
//! pulled to this machine.

use anyhow::{bail, Context};
use pikube_cluster::backup::{
    back_up, list_on_servers, local_backups, prune, BackupError, BackupRequest, Datastore,
    Manifest, SnapshotSource,
};
use pikube_cluster::config::{NodeName, Role};
use pikube_cluster::progress::{Progress, SilentProgress, StderrProgress};

use crate::cli::{BackupAction, BackupArgs, FileArgs, LockArgs, OutputFormat, ReportArgs};
use crate::commands::cluster::{
    fleet_of, load_config, lock_cluster, lock_on_server, unlock_server,
};
use crate::commands::local_state::local_state;
use crate::commands::runtime;
use crate::commands::sudo_prompt::sudo_password;
use crate::exit::Outcome;

pub fn run(args: &BackupArgs) -> anyhow::Result<Outcome> {
    match &args.action {
        None => save(
            &args.file,
            &args.lock,
            SnapshotSource::Take { prefix: &args.name },
        ),
        Some(BackupAction::Pull { file, lock, name }) => {
            save(file, lock, SnapshotSource::Existing { name })
        }
        Some(BackupAction::List(report)) => list(report),
        Some(BackupAction::Prune { file, keep }) => {
            let config = load_config(&file.file)?;
            let dir = local_state(&config).dir().join("backups");
            let deleted = prune(&dir, *keep)?;
            for name in &deleted {
                outln!("deleted {name}");
            }
            outln!(
                "{} backup{} deleted, at most {keep} kept in {}",
                deleted.len(),
                if deleted.len() == 1 { "" } else { "s" },
                dir.display()
            );
            Ok(Outcome::Success)
        }
    }
}

/// A new snapshot taken on the first server that answers and can take it, or the one named
/// found on the first server that has it, copied here; the servers passed over are said.
fn save(file: &FileArgs, lock: &LockArgs, source: SnapshotSource<'_>) -> anyhow::Result<Outcome> {
    let config = load_config(&file.file)?;
    let datastore = Datastore::of(&config)?;
    let _lock = lock_cluster(&config, "backup", lock)?;
    let servers = fleet_of(&config, |node| node.role == Role::Server)?;
    let local = local_state(&config);
    let token = local.existing_token()?.with_context(|| {
        format!(
            "no cluster token in {}: back up from the machine that installed the cluster \
             (a snapshot is useless without its token)",
            local.dir().join("token").display()
        )
    })?;
    let dir = local.dir().join("backups");
    let server_names: Vec<NodeName> = config
        .nodes
        .iter()
        .filter(|n| n.role == Role::Server)
        .map(|n| n.name.clone())
        .collect();
    let progress = StderrProgress::new();
    let runtime = runtime()?;
    let cluster_lock = runtime.block_on(lock_on_server(&config, "backup", lock, &progress))?;
    let result = runtime.block_on(async {
        let mut problems = Vec::new();
        let mut answered = 0;
        for connected in servers.connect_privileged(&progress, &sudo_password).await {
            let connection = match connected.result {
                Ok(connection) => {
                    answered += 1;
                    connection
                }
                Err(err) => {
                    problems.push(pikube_cluster::error_chain::describe(&err));
                    continue;
                }
            };
            progress.node(
                &connected.node,
                match datastore {
                    Datastore::Etcd => source.doing(),
                    Datastore::Sqlite => {
                        "copying the SQLite datastore: K3s stops for the copy (its pods keep \
                         running) and is started again"
                    }
                },
            );
            let request = BackupRequest {
                cluster: config.name.as_ref(),
                datastore,
                source,
                servers: server_names.clone(),
                token_secret: token.expose(),
                dir: &dir,
            };
            let result = back_up(&connection, &request).await;
            connection.close().await;
            match result {
                Ok(manifest) => return Ok((manifest, problems)),
                // Nothing could be kept here: another server would not help.
                Err(err @ BackupError::Local { .. }) => {
                    problems.push(pikube_cluster::error_chain::describe(&err));
                    return Err((problems, answered));
                }
                // Another server may have it (each keeps its own snapshots), or take one
                // where this one could not (K3s down or its etcd member unhealthy here).
                Err(err) => problems.push(pikube_cluster::error_chain::describe(&err)),
            }
        }
        Err((problems, answered))
    });
    if let Some(lock) = cluster_lock {
        runtime.block_on(unlock_server(lock));
    }
    match result {
        Ok((manifest, skipped)) => {
            for problem in &skipped {
                errln!("warning: {problem}; the next server was asked");
            }
            outln!(
                "{} {} ({} bytes, sha256 {}) from {} into {}",
                match source {
                    SnapshotSource::Take { .. } => "backed up",
                    SnapshotSource::Existing { .. } => "pulled",
                },
                manifest.name,
                manifest.size,
                manifest.sha256,
                manifest.node,
                dir.display()
            );
            Ok(Outcome::Success)
        }
        Err((problems, _)) if problems.is_empty() => bail!("cluster.toml lists no server"),
        Err((problems, answered)) => {
            for problem in &problems {
                outln!("FAILED  {problem}");
            }
            if answered == 0 {
                outln!("No server of cluster.toml answered: nothing was backed up.");
            }
            Ok(Outcome::Failed)
        }
    }
}

fn list(args: &ReportArgs) -> anyhow::Result<Outcome> {
    let config = load_config(&args.file.file)?;
    let dir = local_state(&config).dir().join("backups");
    let local = local_backups(&dir)?;
    if Datastore::of(&config) == Ok(Datastore::Sqlite) {
        return list_sqlite(args, &dir, &local);
    }
    let servers = fleet_of(&config, |node| node.role == Role::Server)?;
    // The snapshots still on the servers (scheduled ones, and those pulled here): each
    // server keeps its own, so every one that answers is asked.
    let on_servers = runtime()?.block_on(async {
        list_on_servers(
            servers
                .connect_privileged(&SilentProgress, &sudo_password)
                .await,
        )
        .await
    });
    match args.output {
        OutputFormat::Json => {
            let json = serde_json::json!({
                "local": local,
                "on_node": on_servers,
            });
            outln!("{}", serde_json::to_string_pretty(&json)?);
        }
        OutputFormat::Text => {
            outln!("On this machine ({}):", dir.display());
            if local.is_empty() {
                outln!("  none");
            }
            for manifest in &local {
                outln!("  {}", describe(manifest));
            }
            for node in &on_servers.asked {
                outln!("On {node}:");
                let held: Vec<_> = on_servers
                    .snapshots
                    .iter()
                    .filter(|s| &s.node == node)
                    .collect();
                if held.is_empty() {
                    outln!("  none");
                }
                for snapshot in held {
                    outln!(
                        "  {}  {} bytes  {}{}",
                        snapshot.name,
                        snapshot
                            .size
                            .map_or_else(|| "?".to_owned(), |size| size.to_string()),
                        snapshot.created_at.as_deref().unwrap_or(""),
                        if snapshot.location.starts_with("file://") {
                            String::new()
                        } else {
                            format!("  at {}", snapshot.location)
                        }
                    );
                }
            }
            for not_asked in &on_servers.not_asked {
                outln!(
                    "Not asked: {} ({}): its snapshots are not listed",
                    not_asked.node,
                    not_asked.reason
                );
            }
            if !on_servers.snapshots.is_empty() {
                outln!("Copy one here with `pikube backup pull NAME`.");
            }
        }
    }
    Ok(Outcome::Success)
}

/// A single server on SQLite has no snapshots of K3s' own: only the copies kept here.
fn list_sqlite(
    args: &ReportArgs,
    dir: &std::path::Path,
    local: &[Manifest],
) -> anyhow::Result<Outcome> {
    match args.output {
        OutputFormat::Json => {
            let json = serde_json::json!({"local": local, "on_node": null, "datastore": "sqlite"});
            outln!("{}", serde_json::to_string_pretty(&json)?);
        }
        OutputFormat::Text => {
            outln!("On this machine ({}):", dir.display());
            if local.is_empty() {
                outln!("  none");
            }
            for manifest in local {
                outln!("  {}", describe(manifest));
            }
            outln!("The server keeps its data in SQLite: K3s takes no snapshots there.");
        }
    }
    Ok(Outcome::Success)
}

fn describe(m: &Manifest) -> String {
    format!(
        "{}  {}{} bytes  {}  from {} (K3s {}), token {}",
        m.name,
        match m.datastore {
            Datastore::Etcd => "",
            Datastore::Sqlite => "SQLite  ",
        },
        m.size,
        m.taken_at_rfc3339(),
        m.node,
        m.k3s_version,
        m.token_fingerprint
    )
}
