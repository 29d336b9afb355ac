//! A single server's SQLite datastore, backed up as K3s documents it: a copy of
//! `server/db/` and the token that encrypts what the database holds. The database is in WAL
//! mode and written all the time, so a file copy of a running one can miss or tear its last
//! transactions: K3s is stopped for the copy (its pods keep running: the unit stops only
//! K3s' own process) and started again whatever happened. The certificates (`tls/`) and
//! `cred/` go into the same archive, so that a restore brings back the CA that agents and
//! kubeconfigs trust.

use std::time::{Duration, Instant};

use super::{copy_here, BackupError, BackupRequest, Manifest, OnNode, SnapshotSource};
use crate::k3s::paths::Service;
use crate::k3s::{service_status, wait_node_ready, wait_started};
use crate::ssh::{shell_quote, Connection};

/// Where the archives are made on the server (root's alone), outside `db/`, which is what
/// they hold.
pub const SQLITE_ARCHIVE_DIR: &str = "/var/lib/rancher/k3s/server/pikube-backups";

/// What of `/var/lib/rancher/k3s/server` an archive holds, where it exists.
pub const SQLITE_ITEMS: [&str; 5] = ["db", "token", "agent-token", "tls", "cred"];

/// How long K3s may take to serve again after the copy.
const BACK_WITHIN: Duration = Duration::from_secs(300);

pub(super) async fn back_up(
    server: &Connection,
    request: &BackupRequest<'_>,
) -> Result<Manifest, BackupError> {
    let node = server.node().to_owned();
    let prefix = match request.source {
        SnapshotSource::Take { prefix } => prefix,
        SnapshotSource::Existing { .. } => return Err(BackupError::NoSnapshotsOnSqlite { node }),
    };
    let before = service_status(server, Service::Server).await?;
    let script = format!(
        r#"srv=/var/lib/rancher/k3s/server
out={out}
name={prefix}-{node}-$(date +%s)
[ -f "$srv/db/state.db" ] || {{ echo "no SQLite datastore at $srv/db/state.db" >&2; exit 1; }}
mkdir -p "$out" && chmod 0700 "$out" || exit 1
items=""
for item in {items}; do
  if [ -e "$srv/$item" ] || [ -L "$srv/$item" ]; then items="$items $item"; fi
done
systemctl stop k3s || {{ echo "could not stop k3s" >&2; exit 1; }}
# $items: the fixed names above, split on purpose.
(umask 077; tar -czf "$out/$name.partial" -C "$srv" --exclude=db/snapshots $items)
rc=$?
systemctl start --no-block k3s
[ "$rc" -eq 0 ] || {{ rm -f "$out/$name.partial"; echo "tar failed ($rc)" >&2; exit 1; }}
mv "$out/$name.partial" "$out/$name" || exit 1
f=$out/$name
printf '%s %s %s\n' "$name" "$(stat -c %s "$f")" "$(sha256sum < "$f" | cut -d' ' -f1)"
/usr/local/bin/k3s --version | head -n 1"#,
        out = SQLITE_ARCHIVE_DIR,
        prefix = shell_quote(prefix),
        node = shell_quote(&node),
        items = SQLITE_ITEMS.join(" "),
    );
    let saved = server
        .run_privileged_unchecked("copying the SQLite datastore (K3s stopped)", &script, b"")
        .await?;
    // K3s was started again by the script whatever happened; it must serve before the copy
    // is called done, or the backup would have taken the cluster down.
    wait_serving(server, &before)
        .await
        .map_err(|reason| BackupError::NotBack {
            node: node.clone(),
            reason,
        })?;
    if !saved.success() {
        return Err(BackupError::SqliteCopy {
            node,
            reason: saved.last_stderr_line(),
        });
    }
    let file = OnNode::read(SQLITE_ARCHIVE_DIR, &saved.stdout).map_err(|reason| {
        BackupError::SqliteCopy {
            node: node.clone(),
            reason,
        }
    })?;
    let name = file.name.clone();
    let manifest = copy_here(server, request, file).await?;
    // Unlike K3s' snapshots, nothing on the node lists or prunes these: once the copy here
    // is checked, the card's is removed rather than left to fill it backup after backup.
    let _ = server
        .run_privileged(
            "removing the node's copy of the archive",
            &format!(
                "rm -f {}",
                shell_quote(&format!("{SQLITE_ARCHIVE_DIR}/{name}"))
            ),
            b"",
        )
        .await;
    Ok(manifest)
}

/// Until K3s runs again (a new start of the unit) and its own node is Ready.
async fn wait_serving(
    server: &Connection,
    before: &crate::k3s::ServiceStatus,
) -> Result<(), String> {
    let started = Instant::now();
    wait_started(server, Service::Server, before, BACK_WITHIN)
        .await
        .map_err(|err| err.to_string())?;
    wait_node_ready(
        server,
        server.node(),
        BACK_WITHIN.saturating_sub(started.elapsed()),
    )
    .await
}
