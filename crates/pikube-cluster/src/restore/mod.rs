//! Restoring the cluster's etcd from a snapshot, the way K3s documents it, in one command:
//! K3s stopped everywhere, the snapshot pushed to the first server (its SHA-256 checked on
//! the node), `k3s server --cluster-reset --cluster-reset-restore-path` there, that server
//! started and waited for; then each other server's old etcd data moved aside and the
//! server started to rejoin, one at a time; then the agents; every node Ready at the end.
//! The node passwords the snapshot holds may be those of cards that are gone (see
//! `node_passwords`): the rejoining nodes' are removed before they start.
//! A single server on SQLite is restored the same way, but from pikube's copy of its
//! database (see `backup::sqlite`): what the server has is moved aside and the copy unpacked
//! in its place, as K3s documents for SQLite.
//! Every step is safe to run again, so a restore interrupted half-way is finished by
//! running it again; until then it is recorded as unfinished (see `unfinished`).

mod node_passwords;
mod snapshot;
mod space;
pub mod unfinished;

pub use snapshot::{resolve, Snapshot, SnapshotError};
pub use unfinished::UnfinishedRestore;

use std::time::{Duration, Instant};

use futures::future::join_all;

use crate::apply::carry_out;
use crate::backup::{Datastore, SQLITE_ARCHIVE_DIR, SQLITE_ITEMS};
use crate::config::{NodeName, Role};
use crate::k3s::paths::Service;
use crate::k3s::{
    get_nodes, read_state, start_service, wait_node_ready, InstallError, ServerToken, StateError,
};
use crate::plan::{Change, UploadChange};
use crate::progress::Progress;
use crate::ssh::{shell_quote, Connection, SshError};
use crate::state::LocalState;

/// Where the snapshot goes on the first server.
const REMOTE_DIR: &str = "/var/lib/rancher/k3s/server/db/snapshots";
const DB: &str = "/var/lib/rancher/k3s/server/db";

/// Where a restore stopped, and how to go on.
#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    /// No server of cluster.toml answered: nothing was done.
    #[error(
        "cluster: restore stopped at choosing the server to restore on: no server of \
         cluster.toml answers"
    )]
    NoServer,
    /// The restore could not be recorded as under way: it did not start.
    #[error(
        "cluster: restore stopped at recording it as under way: {0}; nothing was stopped or \
         changed"
    )]
    Record(unfinished::UnfinishedError),
    /// It finished, but its record as under way could not be removed.
    #[error(
        "cluster: the restore finished, but {0}: remove that file, or `pikube status` and \
         `pikube apply` take the restore for unfinished"
    )]
    Finished(unfinished::UnfinishedError),
    /// A step failed on a node.
    #[error("{node}: restore stopped at {step}: {cause}{advice}")]
    Step {
        /// The node it stopped on.
        node: NodeName,
        /// The step (stopping K3s, pushing the snapshot, the reset, a rejoin...).
        step: &'static str,
        /// What went wrong.
        cause: StepFailure,
        /// What state that leaves, and how to go on.
        advice: &'static str,
    },
}

/// Why a step of the restore failed. Each shows its cause and returns none from
/// `source()`: the restore's message is the whole story.
#[derive(Debug, thiserror::Error)]
pub enum StepFailure {
    /// The node could not be reached, or a command on it failed.
    #[error("{0}")]
    Ssh(SshError),
    /// K3s did not start (or its state could not be read to start it).
    #[error("{0}")]
    Start(InstallError),
    /// K3s' state on the node could not be read.
    #[error("{0}")]
    State(StateError),
    /// What the node or the API answered: kubectl's or a script's last line, a wait that
    /// ran out.
    #[error("{0}")]
    Answered(String),
    /// Not enough room on a server for the snapshot and etcd's copy of it.
    #[error(
        "{free_mib} MiB free in {dir}, and the restore needs about {needed_mib} MiB there (the \
         snapshot is {snapshot_mib} MiB); free some (old images: k3s crictl rmi --prune; \
         journals: journalctl --vacuum-size=100M) and run it again"
    )]
    NoRoom {
        /// The nearest existing directory to K3s' database.
        dir: String,
        /// What is free there.
        free_mib: u64,
        /// About what the restore needs there.
        needed_mib: u64,
        /// The snapshot's size.
        snapshot_mib: u64,
    },
}

const RERUN: &str = "; run `pikube restore` again with the same snapshot to finish it";

/// A node of cluster.toml, reached as root.
pub struct RestoreNode {
    /// Its cluster.toml name.
    pub name: NodeName,
    /// Server or agent.
    pub role: Role,
    /// The connection, as root.
    pub connection: Connection,
}

/// Whether the cluster is up and serving now: the reason a restore is refused without
/// `--force`, or `None` when it is not serving.
pub async fn serving(nodes: &[RestoreNode]) -> Option<String> {
    for node in nodes.iter().filter(|n| n.role == Role::Server) {
        if let Ok(live) = get_nodes(&node.connection).await {
            let ready = live.iter().filter(|n| n.ready).count();
            return Some(format!(
                "the cluster is serving: its API answers on {} and {ready} of {} nodes are Ready",
                node.name,
                live.len()
            ));
        }
    }
    None
}

/// What the restore did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RestoreReport {
    /// The server the snapshot was restored on.
    pub first_server: NodeName,
    /// The other servers, which rejoined it with their old etcd data moved aside.
    pub rejoined_servers: Vec<NodeName>,
    /// The agents, started again.
    pub restarted_agents: Vec<NodeName>,
    /// The nodes whose restored node-password records were removed before they rejoined.
    pub node_passwords_removed: Vec<NodeName>,
    /// The nodes whose tokens named another CA than the one the snapshot brought back (new
    /// hardware), pointed at it before they rejoined.
    pub tokens_repointed: Vec<NodeName>,
    /// Whether the first server's restored node password was another card's, its record
    /// removed after K3s said so.
    pub first_server_password_was_stale: bool,
    /// Nodes the snapshot lists that cluster.toml does not (the old hardware under other
    /// names): NotReady until `pikube apply --prune` removes them.
    pub not_in_cluster_toml: Vec<String>,
    /// How long it took.
    pub seconds: f64,
}

/// Restores `snapshot` onto the cluster of `nodes` (in cluster.toml order; the first server
/// of the file is restored, the others rejoin it). From the first node stopped until every
/// node is Ready, `local` records it as unfinished.
pub async fn restore(
    nodes: &[RestoreNode],
    snapshot: &Snapshot,
    local: &LocalState,
    ready_timeout: Duration,
    progress: &dyn Progress,
) -> Result<RestoreReport, RestoreError> {
    let started = Instant::now();
    let servers: Vec<&RestoreNode> = nodes.iter().filter(|n| n.role == Role::Server).collect();
    let agents: Vec<&RestoreNode> = nodes.iter().filter(|n| n.role == Role::Agent).collect();
    let Some(first) = servers.first() else {
        return Err(RestoreError::NoServer);
    };

    // 0. Room for it on every server, before anything is stopped.
    progress.step("restore: checking free space on the servers");
    space::check_space(&servers, &snapshot.name, snapshot.size).await?;
    let under_way = UnfinishedRestore::starting(&snapshot.name, &snapshot.sha256.to_string());
    unfinished::record(local, &under_way).map_err(RestoreError::Record)?;

    // 1. K3s stopped everywhere: etcd must not run anywhere while its data is replaced.
    progress.step("restore: stopping K3s on every node");
    let stops = nodes.iter().map(|node| async move {
        let service = match node.role {
            Role::Server => "k3s",
            Role::Agent => "k3s-agent",
        };
        let result = node
            .connection
            .run_privileged("stopping K3s", &format!("systemctl stop {service}"), b"")
            .await;
        (node, result)
    });
    for (node, result) in join_all(stops).await {
        if let Err(err) = result {
            return Err(RestoreError::Step {
                node: node.name.clone(),
                step: "stopping K3s",
                cause: StepFailure::Ssh(err),
                advice: RERUN,
            });
        }
    }

    // 2. The snapshot on the first server, checked there by size and SHA-256.
    let remote_dir = match snapshot.datastore {
        Datastore::Etcd => REMOTE_DIR,
        Datastore::Sqlite => SQLITE_ARCHIVE_DIR,
    };
    let remote = format!("{remote_dir}/{}", snapshot.name);
    progress.node(&first.name, &format!("restore: pushing {}", snapshot.name));
    let upload = Change::Upload(UploadChange {
        summary: format!("the snapshot {}", snapshot.name),
        local: snapshot.path.clone(),
        remote: remote.clone(),
        sha256: snapshot.sha256.clone(),
        size: snapshot.size,
        mode: 0o600,
    });
    let step = |node: &NodeName, step: &'static str, cause: StepFailure| RestoreError::Step {
        node: node.clone(),
        step,
        cause,
        advice: RERUN,
    };
    carry_out(&first.connection, &upload)
        .await
        .map_err(|err| step(&first.name, "pushing the snapshot", StepFailure::Ssh(err)))?;

    // 3. The data put back: etcd reset from the snapshot, or the SQLite copy unpacked.
    match snapshot.datastore {
        Datastore::Etcd => reset_etcd(first, &remote).await?,
        Datastore::Sqlite => unpack_sqlite(first, &remote).await?,
    }

    // 4. The first server back, alone, serving the restored data.
    start_service(&first.connection, Service::Server, ready_timeout)
        .await
        .map_err(|err| step(&first.name, "starting K3s", StepFailure::Start(err)))?;
    wait_node_ready(&first.connection, &first.name, ready_timeout)
        .await
        .map_err(|reason| {
            step(
                &first.name,
                "waiting for the API",
                StepFailure::Answered(reason),
            )
        })?;
    progress.node(&first.name, "restore: serving the restored data");

    // 4b. The CA the restored data brought back (K3s keeps the CAs in the datastore, sealed
    //     with the token): on new cards it is not the one the other nodes' tokens pin, and
    //     K3s refuses to join a server whose CA the token does not name. Their tokens are
    //     pointed at it; the secrets in them stay as they are.
    let restored_token = read_state(&first.connection)
        .await
        .map_err(|err| {
            step(
                &first.name,
                "reading the restored cluster's token",
                StepFailure::State(err),
            )
        })?
        .server_token
        .ok_or_else(|| {
            step(
                &first.name,
                "reading the restored cluster's token",
                StepFailure::Answered("K3s wrote no server token".to_owned()),
            )
        })?;
    let mut tokens_repointed = Vec::new();
    for node in servers[1..].iter().chain(&agents) {
        let service = Service::from(node.role);
        let repointed = pin_restored_ca(node, service, &restored_token)
            .await
            .map_err(|err| {
                step(
                    &node.name,
                    "pointing its token at the restored CA",
                    StepFailure::Ssh(err),
                )
            })?;
        if repointed {
            tokens_repointed.push(node.name.clone());
        }
    }

    // 5. The restored node passwords of the nodes that rejoin, removed while they are
    //    stopped: on new cards K3s would refuse the agents for as long as they stay.
    let rejoining: Vec<NodeName> = servers[1..]
        .iter()
        .chain(&agents)
        .map(|n| n.name.clone())
        .collect();
    progress.node(
        &first.name,
        "restore: removing the restored node passwords of the nodes that rejoin",
    );
    node_passwords::forget(&first.connection, &rejoining)
        .await
        .map_err(|reason| {
            step(
                &first.name,
                "removing the restored node passwords",
                StepFailure::Answered(reason),
            )
        })?;
    let mut report = RestoreReport {
        first_server: first.name.clone(),
        node_passwords_removed: rejoining,
        tokens_repointed,
        rejoined_servers: Vec::new(),
        restarted_agents: Vec::new(),
        first_server_password_was_stale: false,
        not_in_cluster_toml: Vec::new(),
        seconds: 0.0,
    };

    // 6. The other servers rejoin one at a time, their old etcd data moved aside.
    for server in &servers[1..] {
        progress.node(
            &server.name,
            "restore: old etcd data moved aside, rejoining",
        );
        let aside = format!("if [ -d {DB} ]; then mv {DB} {DB}.pre-restore-$(date +%s); fi");
        server
            .connection
            .run_privileged("moving the old etcd data aside", &aside, b"")
            .await
            .map_err(|err| {
                step(
                    &server.name,
                    "moving the old etcd data aside",
                    StepFailure::Ssh(err),
                )
            })?;
        start_service(&server.connection, Service::Server, ready_timeout)
            .await
            .map_err(|err| step(&server.name, "rejoining", StepFailure::Start(err)))?;
        wait_node_ready(&first.connection, &server.name, ready_timeout)
            .await
            .map_err(|reason| {
                step(
                    &server.name,
                    "waiting for it to rejoin",
                    StepFailure::Answered(reason),
                )
            })?;
        report.rejoined_servers.push(server.name.clone());
    }

    // 7. The agents, all at once; then every node Ready.
    progress.step("restore: starting the agents");
    for (agent, result) in join_all(agents.iter().map(|a| async move {
        (
            a,
            start_service(&a.connection, Service::Agent, ready_timeout).await,
        )
    }))
    .await
    {
        result.map_err(|err| step(&agent.name, "starting K3s", StepFailure::Start(err)))?;
        report.restarted_agents.push(agent.name.clone());
    }
    for agent in &agents {
        wait_node_ready(&first.connection, &agent.name, ready_timeout)
            .await
            .map_err(|reason| {
                step(
                    &agent.name,
                    "waiting for Ready",
                    StepFailure::Answered(reason),
                )
            })?;
    }

    // 8. The first server's own record, when K3s found it to be another card's: removed, so
    //    that K3s records this card's at its next start instead of refusing it then.
    let stale = node_passwords::rejected_own(&first.connection, &first.name)
        .await
        .map_err(|reason| {
            step(
                &first.name,
                "reading K3s' node password events",
                StepFailure::Answered(reason),
            )
        })?;
    if stale {
        node_passwords::forget(&first.connection, std::slice::from_ref(&first.name))
            .await
            .map_err(|reason| {
                step(
                    &first.name,
                    "removing its stale node password",
                    StepFailure::Answered(reason),
                )
            })?;
        report.first_server_password_was_stale = true;
    }
    if let Ok(live) = get_nodes(&first.connection).await {
        report.not_in_cluster_toml = live
            .into_iter()
            .filter(|l| !nodes.iter().any(|n| n.name == l.name))
            .map(|l| l.name)
            .collect();
    }
    unfinished::finished(local).map_err(RestoreError::Finished)?;
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

/// The CA hash in the tokens of `node`'s env file (`K10<hash>::…`) set to the one the
/// restored cluster's token names; true when they named another.
async fn pin_restored_ca(
    node: &RestoreNode,
    service: Service,
    restored: &ServerToken,
) -> Result<bool, SshError> {
    node.connection
        .run_privileged(
            "pointing the token at the restored CA",
            &repin_script(&service.env_path(), &restored.ca_hash()),
            b"",
        )
        .await
        .map(|output| output.stdout.contains("repinned"))
}

/// Rewrites the env file `env` (sed's temporary file renamed over it, its mode kept) only
/// when its tokens pin another CA than `ca_hash`; prints `repinned` when it did. Only the
/// hash, never a secret, is in the script.
fn repin_script(env: &str, ca_hash: &str) -> String {
    let pinned = "K10[0-9a-fA-F]{64}::";
    format!(
        r#"f={env}
[ -f "$f" ] || exit 0
if grep -Eq '^K3S_(AGENT_)?TOKEN="?{pinned}' "$f" && ! grep -Eq '^K3S_TOKEN="?K10{ca_hash}::' "$f"; then
  sed -i -E 's/^(K3S_(AGENT_)?TOKEN="?){pinned}/\1K10{ca_hash}::/' "$f" && echo repinned
fi"#,
        env = crate::ssh::shell_quote(env),
    )
}

/// etcd reset from the snapshot at `remote`: a one-member cluster holding its data. The
/// token comes from the service's own env file, as when systemd starts K3s.
async fn reset_etcd(first: &RestoreNode, remote: &str) -> Result<(), RestoreError> {
    let step = |cause: StepFailure| RestoreError::Step {
        node: first.name.clone(),
        step: "k3s server --cluster-reset",
        cause,
        advice: RERUN,
    };
    let reset = format!(
        "set -a; . /etc/systemd/system/k3s.service.env; set +a\n\
         out=$(/usr/local/bin/k3s server --cluster-reset --cluster-reset-restore-path={} 2>&1)\n\
         rc=$?\n\
         printf '%s\\n' \"$out\" | tail -n 20\n\
         exit $rc",
        shell_quote(remote)
    );
    let output = first
        .connection
        .run_privileged_unchecked("resetting etcd from the snapshot", &reset, b"")
        .await
        .map_err(|err| step(StepFailure::Ssh(err)))?;
    if !output.success() || !output.stdout.contains("reset") {
        return Err(step(StepFailure::Answered(output.last_stdout_line())));
    }
    Ok(())
}

/// The SQLite copy at `remote` unpacked over the server's directory, what was there moved
/// aside first (into `pre-restore-<time>`, nothing deleted). K3s is stopped.
async fn unpack_sqlite(first: &RestoreNode, remote: &str) -> Result<(), RestoreError> {
    let script = format!(
        r#"srv=/var/lib/rancher/k3s/server
archive={archive}
tar -tzf "$archive" >/dev/null || {{ echo "$archive is not a readable archive" >&2; exit 1; }}
tar -tzf "$archive" | grep -qx 'db/state.db' || {{ echo "$archive holds no db/state.db" >&2; exit 1; }}
aside=$srv/pre-restore-$(date +%s)
mkdir -m 0700 "$aside" || exit 1
for item in {items}; do
  if [ -e "$srv/$item" ] || [ -L "$srv/$item" ]; then mv "$srv/$item" "$aside/" || exit 1; fi
done
tar -xzf "$archive" -C "$srv" || {{ echo "unpacking $archive failed" >&2; exit 1; }}
echo "$aside""#,
        archive = shell_quote(remote),
        items = SQLITE_ITEMS.join(" "),
    );
    let output = first
        .connection
        .run_privileged_unchecked("putting the SQLite datastore back", &script, b"")
        .await
        .map_err(|err| RestoreError::Step {
            node: first.name.clone(),
            step: "putting the SQLite datastore back",
            cause: StepFailure::Ssh(err),
            advice: RERUN,
        })?;
    if !output.success() {
        return Err(RestoreError::Step {
            node: first.name.clone(),
            step: "putting the SQLite datastore back",
            cause: StepFailure::Answered(output.last_stderr_line()),
            advice: RERUN,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stopped_restore_says_where_why_and_what_now_in_one_line() {
        assert_eq!(
            RestoreError::NoServer.to_string(),
            "cluster: restore stopped at choosing the server to restore on: no server of \
             cluster.toml answers"
        );
        let full = RestoreError::Step {
            node: "s1".parse().unwrap(),
            step: "checking free space",
            cause: StepFailure::NoRoom {
                dir: "/var/lib/rancher".to_owned(),
                free_mib: 10,
                needed_mib: 300,
                snapshot_mib: 100,
            },
            advice: "; nothing was stopped or changed",
        };
        assert_eq!(
            full.to_string(),
            "s1: restore stopped at checking free space: 10 MiB free in /var/lib/rancher, and \
             the restore needs about 300 MiB there (the snapshot is 100 MiB); free some (old \
             images: k3s crictl rmi --prune; journals: journalctl --vacuum-size=100M) and run \
             it again; nothing was stopped or changed"
        );
        let answered = RestoreError::Step {
            node: "s2".parse().unwrap(),
            step: "waiting for Ready",
            cause: StepFailure::Answered("not Ready within 5 s (last: NotReady)".to_owned()),
            advice: RERUN,
        };
        assert_eq!(
            answered.to_string(),
            "s2: restore stopped at waiting for Ready: not Ready within 5 s (last: NotReady); \
             run `pikube restore` again with the same snapshot to finish it"
        );
        assert!(std::error::Error::source(&answered).is_none());
    }

    #[test]
    fn tokens_are_pointed_at_the_restored_ca_and_only_when_they_name_another() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let env = dir.path().join("k3s.service.env");
        let (old, new) = ("ab".repeat(32), "cd".repeat(32));
        std::fs::write(
            &env,
            format!(
                "# Managed by pikube\nK3S_TOKEN=\"K10{old}::server:s3cret\"\n\
                 K3S_AGENT_TOKEN=\"K10{old}::node:n0de\"\nOTHER=K10{old}::x\n"
            ),
        )
        .unwrap();
        std::fs::set_permissions(&env, std::fs::Permissions::from_mode(0o600)).unwrap();
        let run = |hash: &str| {
            let out = std::process::Command::new("sh")
                .arg("-c")
                .arg(repin_script(env.to_str().unwrap(), hash))
                .output()
                .unwrap();
            assert!(out.status.success(), "{out:?}");
            String::from_utf8(out.stdout).unwrap()
        };
        assert_eq!(run(&new), "repinned\n");
        assert_eq!(
            std::fs::read_to_string(&env).unwrap(),
            format!(
                "# Managed by pikube\nK3S_TOKEN=\"K10{new}::server:s3cret\"\n\
                 K3S_AGENT_TOKEN=\"K10{new}::node:n0de\"\nOTHER=K10{old}::x\n"
            )
        );
        let mode = std::fs::metadata(&env).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        // Already pinned: not rewritten. A short token (no pin) and no file: left alone.
        assert_eq!(run(&new), "");
        std::fs::write(&env, "K3S_TOKEN=\"s3cret\"\n").unwrap();
        assert_eq!(run(&new), "");
        assert_eq!(
            std::fs::read_to_string(&env).unwrap(),
            "K3S_TOKEN=\"s3cret\"\n"
        );
        std::fs::remove_file(&env).unwrap();
        assert_eq!(run(&new), "");
        assert!(repin_script("/x", &new).find("s3cret").is_none());
    }
}
