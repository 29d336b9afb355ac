//! Backups of the cluster's datastore kept on the controller: an etcd snapshot taken on a
//! server with K3s' own `k3s etcd-snapshot save`, or, for a single server on SQLite, its
//! database copied consistently (see `sqlite`); either copied to
//! `.pikube/<cluster>/backups/` (0600) only once its size and SHA-256 match the node's, with
//! a manifest beside it saying what it is. Snapshots that stay on a server die with its SD
//! card; these do not.

pub(crate) mod content;
mod on_servers;
mod sqlite;

pub use on_servers::{list_on_servers, NotAsked, ServerSnapshot, ServerSnapshots};
pub use sqlite::{SQLITE_ARCHIVE_DIR, SQLITE_ITEMS};

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::config::{ClusterConfig, DatastoreKind, NodeName};
use crate::digest::Sha256;
use crate::ssh::{shell_quote, Connection, SshError};

/// Where K3s keeps its snapshots unless `etcd-snapshot-dir` says otherwise.
pub const SNAPSHOT_DIR: &str = "/var/lib/rancher/k3s/server/db/snapshots";

/// Why a backup was not taken or not kept; nothing half-written is left.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// The server could not be reached or a command failed.
    #[error(transparent)]
    Ssh(#[from] SshError),
    /// K3s did not save the snapshot.
    #[error("{node}: `k3s etcd-snapshot save` failed: {reason}")]
    Save {
        /// The server.
        node: NodeName,
        /// What K3s said.
        reason: String,
    },
    /// The single server's database could not be copied.
    #[error("{node}: copying the SQLite datastore failed: {reason}")]
    SqliteCopy {
        /// The server.
        node: NodeName,
        /// Why.
        reason: String,
    },
    /// The snapshot asked for is not on the server.
    #[error("{node}: no snapshot {name} in {SNAPSHOT_DIR}")]
    NotOnNode {
        /// The server.
        node: NodeName,
        /// The snapshot's name.
        name: String,
    },
    #[error(
        "{node}: the snapshot {name} arrived damaged (expected {expected_size} bytes with \
         SHA-256 {expected_sha256}, got {size} bytes with {sha256}); nothing was kept"
    )]
    /// The copy here is not the file on the server.
    Damaged {
        /// The server.
        node: NodeName,
        /// The snapshot's name.
        name: String,
        /// Its size on the server.
        expected_size: u64,
        /// Its SHA-256 on the server.
        expected_sha256: Sha256,
        /// The size that arrived.
        size: u64,
        /// The SHA-256 of what arrived.
        sha256: Sha256,
    },
    /// A file here could not be written or read.
    #[error("{path}: {causes}", causes = crate::error_chain::describe(cause))]
    Local {
        /// The file.
        path: PathBuf,
        /// Why.
        cause: io::Error,
    },
    #[error(
        "{node}: a single server keeps its data in SQLite, where K3s takes no snapshots to \
         pull; `pikube backup` copies the database itself"
    )]
    /// `backup pull` on a SQLite server, which has no snapshots.
    NoSnapshotsOnSqlite {
        /// The server.
        node: NodeName,
    },
    /// K3s, stopped for the copy of its database, did not answer again.
    #[error("{node}: K3s did not come back after the copy of its database: {reason}")]
    NotBack {
        /// The server.
        node: NodeName,
        /// What it said instead.
        reason: String,
    },
}

/// Why pikube neither backs up nor restores a cluster on an external database.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{file}: [k3s] datastore_endpoint keeps the cluster's data in that database; back it up \
     and restore it with the database's own tools (and keep .pikube/{cluster}/token with it)"
)]
pub struct ExternalDatastore {
    /// cluster.toml's path.
    pub file: String,
    /// The cluster's name.
    pub cluster: String,
}

/// Where a cluster keeps its objects, and so what a backup of it is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Datastore {
    /// Embedded etcd (more than one server): a snapshot file of `k3s etcd-snapshot save`.
    #[default]
    Etcd,
    /// One server on K3s' default SQLite: a gzip'd tar of its database, token and
    /// certificates.
    Sqlite,
}

impl Datastore {
    /// What a backup of `config`'s cluster is; `[k3s] datastore_endpoint` has none pikube
    /// can take or put back.
    pub fn of(config: &ClusterConfig) -> Result<Datastore, ExternalDatastore> {
        match config.datastore() {
            DatastoreKind::EmbeddedEtcd => Ok(Datastore::Etcd),
            DatastoreKind::Sqlite => Ok(Datastore::Sqlite),
            DatastoreKind::External => Err(ExternalDatastore {
                file: config.path.display().to_string(),
                cluster: config.name.as_ref().to_owned(),
            }),
        }
    }

    /// Which a backup file holds, by its content (see `content`), or why it is none that
    /// pikube can restore.
    pub fn of_file(bytes: &[u8]) -> Result<Datastore, String> {
        content::identify(bytes)
    }

    /// What a backup of it is, in words.
    pub fn describe(self) -> &'static str {
        match self {
            Datastore::Etcd => "an etcd snapshot",
            Datastore::Sqlite => "a copy of a single server's SQLite datastore",
        }
    }
}

/// What a backup is, written beside it as `<name>.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// The cluster's name.
    pub cluster: String,
    /// The snapshot's name, as K3s made it: `<prefix>-<node>-<unix time>`.
    pub name: String,
    /// The server it was taken on.
    pub node: NodeName,
    /// `k3s --version` of that server.
    pub k3s_version: String,
    /// The servers of cluster.toml when it was taken.
    pub servers: Vec<NodeName>,
    /// Seconds since the Unix epoch.
    pub taken_at: u64,
    /// The file's size.
    pub size: u64,
    /// The file's SHA-256.
    pub sha256: Sha256,
    /// The first 16 hex digits of the SHA-256 of the cluster token's secret: which token the
    /// snapshot needs to be restored, without the token.
    pub token_fingerprint: String,
    /// What the file is (manifests from before SQLite backups are etcd snapshots).
    #[serde(default)]
    pub datastore: Datastore,
}

impl Manifest {
    /// When it was taken, as RFC 3339 in UTC.
    pub fn taken_at_rfc3339(&self) -> String {
        time::OffsetDateTime::from_unix_timestamp(self.taken_at as i64)
            .ok()
            .and_then(|t| {
                t.format(&time::format_description::well_known::Rfc3339)
                    .ok()
            })
            .unwrap_or_else(|| self.taken_at.to_string())
    }
}

/// Where the snapshot comes from.
#[derive(Debug, Clone, Copy)]
pub enum SnapshotSource<'a> {
    /// A new one, `k3s etcd-snapshot save --name <prefix>`.
    Take {
        /// The name's start; K3s adds the node and the time.
        prefix: &'a str,
    },
    /// One already on the server, by name: a scheduled snapshot, say, which dies with the
    /// server's SD card unless it is copied off.
    Existing {
        /// Its name.
        name: &'a str,
    },
}

impl SnapshotSource<'_> {
    /// What the server is doing for it, for progress and errors.
    pub fn doing(self) -> &'static str {
        match self {
            SnapshotSource::Take { .. } => "saving an etcd snapshot",
            SnapshotSource::Existing { .. } => "looking for the snapshot",
        }
    }
}

/// What to take and where to keep it.
pub struct BackupRequest<'a> {
    /// The cluster's name.
    pub cluster: &'a str,
    /// What a backup of it is.
    pub datastore: Datastore,
    /// A new snapshot or one on the server.
    pub source: SnapshotSource<'a>,
    /// The servers of cluster.toml, for the manifest.
    pub servers: Vec<NodeName>,
    /// The token's secret, only to fingerprint it in the manifest.
    pub token_secret: &'a str,
    /// `.pikube/<cluster>/backups`.
    pub dir: &'a Path,
}

/// The exit code of the script below when the snapshot asked for is not on the server.
const NOT_HERE: i32 = 3;

/// Takes a snapshot on `server` (or finds the one asked for there) and copies it to
/// `request.dir`; returns its manifest.
pub async fn back_up(
    server: &Connection,
    request: &BackupRequest<'_>,
) -> Result<Manifest, BackupError> {
    if request.datastore == Datastore::Sqlite {
        return sqlite::back_up(server, request).await;
    }
    let node = server.node().to_owned();
    let find = match request.source {
        SnapshotSource::Take { prefix } => format!(
            r#"out=$(/usr/local/bin/k3s etcd-snapshot save --name {prefix} 2>&1) || {{ printf '%s\n' "$out" >&2; exit 1; }}
name=$(printf '%s\n' "$out" | sed -n 's/.*Snapshot \([^ "]*\) saved.*/\1/p' | tail -n 1)
[ -n "$name" ] || {{ printf 'no snapshot name in: %s\n' "$out" >&2; exit 1; }}"#,
            prefix = shell_quote(prefix),
        ),
        SnapshotSource::Existing { name } => format!(
            "name={name}\n[ -f {dir}/\"$name\" ] || exit {NOT_HERE}",
            name = shell_quote(name),
            dir = SNAPSHOT_DIR,
        ),
    };
    let script = format!(
        r#"{find}
f={SNAPSHOT_DIR}/$name
printf '%s %s %s\n' "$name" "$(stat -c %s "$f")" "$(sha256sum < "$f" | cut -d' ' -f1)"
/usr/local/bin/k3s --version | head -n 1"#,
    );
    let saved = server
        .run_privileged_unchecked(request.source.doing(), &script, b"")
        .await?;
    if let (SnapshotSource::Existing { name }, NOT_HERE) = (request.source, saved.code) {
        return Err(BackupError::NotOnNode {
            node,
            name: name.to_owned(),
        });
    }
    if !saved.success() {
        return Err(BackupError::Save {
            node,
            reason: saved.last_stderr_line(),
        });
    }
    let on_node = OnNode::read(SNAPSHOT_DIR, &saved.stdout)
        .map_err(|reason| BackupError::Save { node, reason })?;
    copy_here(server, request, on_node).await
}

/// A backup file made on a server, about to be copied here.
struct OnNode {
    dir: &'static str,
    name: String,
    size: u64,
    sha256: Sha256,
    k3s_version: String,
}

impl OnNode {
    /// What a backup script ends by printing: `<name> <size> <sha256>`, then the first line
    /// of `k3s --version`; or why it cannot be read.
    fn read(dir: &'static str, stdout: &str) -> Result<OnNode, String> {
        let mut lines = stdout.lines();
        let file = lines.next().and_then(|line| {
            let mut fields = line.split_whitespace();
            Some((
                fields.next()?.to_owned(),
                fields.next()?.parse::<u64>().ok()?,
                fields.next()?.parse::<Sha256>().ok()?,
            ))
        });
        let Some((name, size, sha256)) = file else {
            return Err(format!("unexpected output {:?}", stdout.trim()));
        };
        // A backup without its K3s version could not be checked against the cluster's at
        // restore (etcd's data does not go back a minor version): none is kept.
        let said = lines.next().unwrap_or("").trim();
        let k3s_version = said
            .split_whitespace()
            .nth(2)
            .filter(|v| v.parse::<crate::config::K3sVersion>().is_ok())
            .ok_or_else(|| format!("no K3s version in `k3s --version`'s {said:?}"))?
            .to_owned();
        Ok(OnNode {
            dir,
            name,
            size,
            sha256,
            k3s_version,
        })
    }
}

/// Copies `file` from `server` into `request.dir`, checks it against the node's size and
/// SHA-256, and writes its manifest beside it.
async fn copy_here(
    server: &Connection,
    request: &BackupRequest<'_>,
    file: OnNode,
) -> Result<Manifest, BackupError> {
    let node = server.node().to_owned();
    let OnNode {
        dir,
        name,
        size,
        sha256,
        k3s_version,
    } = file;
    if name.contains('/') || name.starts_with('.') {
        return Err(BackupError::Save {
            node,
            reason: format!("refusing the snapshot name {name:?}"),
        });
    }

    // Streamed into a private temporary file beside the backup, hashed on the way: a
    // snapshot can be hundreds of MB, more than should sit in memory.
    let (file, tmp) =
        crate::private_file::create_temporary(request.dir, &name).map_err(|cause| {
            BackupError::Local {
                path: request.dir.join(&name),
                cause,
            }
        })?;
    let mut file = tokio::fs::File::from_std(file);
    let copied = server
        .allowing(crate::ssh::transfer_limit(size))
        .run_privileged_to_file(
            "copying the snapshot",
            &format!("cat {}", shell_quote(&format!("{dir}/{name}"))),
            &mut file,
        )
        .await;
    let synced = file.sync_all().await;
    drop(file);
    let discard = |err| {
        let _ = fs::remove_file(&tmp);
        err
    };
    let copied = copied.map_err(|err| discard(BackupError::from(err)))?;
    synced.map_err(|cause| {
        discard(BackupError::Local {
            path: tmp.clone(),
            cause,
        })
    })?;
    if copied.bytes != size || copied.sha256 != sha256 {
        return Err(discard(BackupError::Damaged {
            node,
            name,
            expected_size: size,
            expected_sha256: sha256,
            size: copied.bytes,
            sha256: copied.sha256,
        }));
    }
    let manifest = Manifest {
        cluster: request.cluster.to_owned(),
        name: name.clone(),
        node,
        k3s_version,
        servers: request.servers.clone(),
        taken_at: name
            .rsplit('-')
            .next()
            .and_then(|t| t.parse().ok())
            .unwrap_or_else(now),
        size,
        sha256,
        token_fingerprint: token_fingerprint(request.token_secret),
        datastore: request.datastore,
    };
    let json = serde_json::to_vec_pretty(&manifest).expect("a manifest serialises");
    fs::rename(&tmp, request.dir.join(&name)).map_err(|cause| {
        discard(BackupError::Local {
            path: request.dir.join(&name),
            cause,
        })
    })?;
    write_private(request.dir, &format!("{name}.json"), &json)?;
    Ok(manifest)
}

/// Which token a snapshot needs, without the token: the first 16 hex digits of the SHA-256
/// of its secret.
pub fn token_fingerprint(secret: &str) -> String {
    Sha256::of(secret.as_bytes()).as_str()[..16].to_owned()
}

/// The backups kept in `dir`, oldest first (from their manifests).
pub fn local_backups(dir: &Path) -> Result<Vec<Manifest>, BackupError> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(BackupError::Local {
                path: dir.to_owned(),
                cause: source,
            })
        }
    };
    let mut found = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let text = fs::read(&path).map_err(|cause| BackupError::Local {
            path: path.clone(),
            cause,
        })?;
        match serde_json::from_slice::<Manifest>(&text) {
            Ok(manifest) if dir.join(&manifest.name).is_file() => found.push(manifest),
            // A manifest without its snapshot, or not ours: not a backup to list or keep.
            _ => {}
        }
    }
    found.sort_by(|a, b| (a.taken_at, &a.name).cmp(&(b.taken_at, &b.name)));
    Ok(found)
}

/// Deletes all but the newest `keep` backups in `dir`; returns the names deleted.
pub fn prune(dir: &Path, keep: usize) -> Result<Vec<String>, BackupError> {
    let backups = local_backups(dir)?;
    let excess = backups.len().saturating_sub(keep);
    let mut deleted = Vec::new();
    for manifest in &backups[..excess] {
        for file in [manifest.name.clone(), format!("{}.json", manifest.name)] {
            let path = dir.join(&file);
            fs::remove_file(&path).map_err(|cause| BackupError::Local { path, cause })?;
        }
        deleted.push(manifest.name.clone());
    }
    Ok(deleted)
}

/// Writes `name` in `dir` (made 0700) as 0600, whole or not at all.
fn write_private(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), BackupError> {
    crate::private_file::replace(dir, name, bytes).map_err(|cause| BackupError::Local {
        path: dir.join(name),
        cause,
    })
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(servers: usize, endpoint: &str) -> ClusterConfig {
        let mut text =
            format!("[cluster]\nname = \"lab\"\n[k3s]\nversion = \"v1.34.4+k3s1\"\n{endpoint}\n");
        for i in 0..servers {
            text += &format!(
                "[[nodes]]\nname = \"s{i}\"\naddress = \"10.0.0.{i}\"\nrole = \"server\"\n"
            );
        }
        text += "[[nodes]]\nname = \"a\"\naddress = \"10.0.1.1\"\nrole = \"agent\"\n";
        crate::config::parse(&text, Path::new("lab/cluster.toml"))
            .unwrap_or_else(|err| panic!("{err}"))
            .config
    }

    #[test]
    fn the_datastore_is_the_one_k3s_chooses_and_an_external_one_is_refused_once() {
        assert_eq!(Datastore::of(&config(1, "")), Ok(Datastore::Sqlite));
        assert_eq!(Datastore::of(&config(3, "")), Ok(Datastore::Etcd));
        let external = "datastore_endpoint = \"postgres://k3s:s3cret@db/k3s\"";
        let refused = Datastore::of(&config(2, external)).unwrap_err().to_string();
        assert_eq!(
            refused,
            "lab/cluster.toml: [k3s] datastore_endpoint keeps the cluster's data in that \
             database; back it up and restore it with the database's own tools (and keep \
             .pikube/lab/token with it)"
        );
        assert!(!refused.contains("s3cret"));
    }

    fn manifest(name: &str, taken_at: u64) -> Manifest {
        Manifest {
            cluster: "lab".into(),
            name: name.into(),
            node: "s1".parse().unwrap(),
            k3s_version: "v1.34.4+k3s1".into(),
            servers: vec!["s1".parse().unwrap()],
            taken_at,
            size: 3,
            sha256: Sha256::of(b"abc"),
            token_fingerprint: "0123456789abcdef".into(),
            datastore: Datastore::Etcd,
        }
    }

    #[test]
    fn a_backup_scripts_last_lines_are_read_or_named_as_unexpected() {
        let sum = "ab".repeat(32);
        let file = OnNode::read(
            SNAPSHOT_DIR,
            &format!("on-demand-s1-5 1234 {sum}\nk3s version v1.34.4+k3s1 (0123abcd)\n"),
        )
        .unwrap();
        assert_eq!(
            (file.name.as_str(), file.size, file.sha256.as_str()),
            ("on-demand-s1-5", 1234, sum.as_str())
        );
        assert_eq!(file.k3s_version, "v1.34.4+k3s1");
        let err = OnNode::read(SNAPSHOT_DIR, "Snapshot saved\n")
            .err()
            .unwrap();
        assert_eq!(err, "unexpected output \"Snapshot saved\"");
        // A sum that is not sha256sum's cannot be checked against: not taken.
        let err = OnNode::read(SNAPSHOT_DIR, "on-demand-s1-5 1234 abcd\n")
            .err()
            .unwrap();
        assert_eq!(err, "unexpected output \"on-demand-s1-5 1234 abcd\"");
    }

    #[test]
    fn backups_are_listed_oldest_first_and_pruned_to_the_newest() {
        let dir = tempfile::tempdir().unwrap();
        let backups = dir.path().join("backups");
        for (name, at) in [
            ("on-demand-s1-30", 30),
            ("on-demand-s1-10", 10),
            ("on-demand-s1-20", 20),
        ] {
            write_private(&backups, name, b"abc").unwrap();
            let json = serde_json::to_vec(&manifest(name, at)).unwrap();
            write_private(&backups, &format!("{name}.json"), &json).unwrap();
        }
        // A manifest whose snapshot is gone is not a backup.
        let orphan = serde_json::to_vec(&manifest("on-demand-s1-5", 5)).unwrap();
        write_private(&backups, "on-demand-s1-5.json", &orphan).unwrap();
        let listed: Vec<String> = local_backups(&backups)
            .unwrap()
            .into_iter()
            .map(|m| m.name)
            .collect();
        assert_eq!(
            listed,
            ["on-demand-s1-10", "on-demand-s1-20", "on-demand-s1-30"]
        );
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&backups), 0o700);
        assert_eq!(mode(&backups.join("on-demand-s1-10")), 0o600);

        assert_eq!(
            prune(&backups, 1).unwrap(),
            ["on-demand-s1-10", "on-demand-s1-20"]
        );
        let left: Vec<String> = local_backups(&backups)
            .unwrap()
            .into_iter()
            .map(|m| m.name)
            .collect();
        assert_eq!(left, ["on-demand-s1-30"]);
        assert!(!backups.join("on-demand-s1-10.json").exists());
        assert_eq!(local_backups(&dir.path().join("none")).unwrap(), []);
    }
}
