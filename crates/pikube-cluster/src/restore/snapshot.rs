//! Which snapshot a restore uses, checked before anything on the cluster is touched: a
//! backup of `pikube backup` by name, or a snapshot file (with its manifest beside it when
//! there is one). A damaged, foreign or too new snapshot is refused here.

use std::path::{Path, PathBuf};

use crate::backup::{local_backups, token_fingerprint, Datastore, Manifest};
use crate::config::K3sVersion;
use crate::digest::Sha256;

/// Why a backup cannot be restored here; said before anything on the nodes changes.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error(
        "no backup named {name} in {} ({}), and no such file; a snapshot still on a server \
         (`pikube backup list` shows them) is copied here first with `pikube backup pull {name}`",
        dir.display(),
        if known.is_empty() { "it has none".to_owned() } else { format!("it has: {}", known.join(", ")) }
    )]
    /// No backup has that name and no file has that path.
    Unknown {
        /// What was asked for.
        name: String,
        /// The backups folder.
        dir: PathBuf,
        /// The backups it has.
        known: Vec<String>,
    },
    /// The file or its manifest could not be read.
    #[error("{}: {reason}", path.display())]
    Unreadable {
        /// The backup file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    #[error(
        "{}: damaged: {size} bytes with SHA-256 {sha256}, but its manifest says {expected_size} \
         bytes with {expected_sha256}",
        path.display()
    )]
    /// The file is not what its manifest says.
    Damaged {
        /// The backup file.
        path: PathBuf,
        /// Its size.
        size: u64,
        /// Its SHA-256.
        sha256: Sha256,
        /// The manifest's size.
        expected_size: u64,
        /// The manifest's SHA-256.
        expected_sha256: Sha256,
    },
    #[error("{}: a snapshot of cluster {found:?}, and this is cluster {expected:?}", path.display())]
    /// A backup of another cluster.
    OtherCluster {
        /// The backup file.
        path: PathBuf,
        /// The cluster it is of.
        found: String,
        /// This cluster.
        expected: String,
    },
    #[error(
        "{}: taken with another cluster token (fingerprint {found}, this cluster's is \
         {expected}): K3s could not read it back",
        path.display()
    )]
    /// Taken with another token than this cluster's, which K3s would need to read it.
    OtherToken {
        /// The backup file.
        path: PathBuf,
        /// Its token's fingerprint.
        found: String,
        /// This cluster's.
        expected: String,
    },
    #[error(
        "{}: taken with K3s {found}, a newer minor version than this cluster's {wanted}: \
         etcd's data does not go back a minor version; set [k3s] version to {found} or newer \
         first",
        path.display()
    )]
    /// Taken with a newer minor K3s than the cluster's.
    TooNew {
        /// The backup file.
        path: PathBuf,
        /// The K3s it was taken with.
        found: String,
        /// cluster.toml's.
        wanted: K3sVersion,
    },
    #[error(
        "{}: not a snapshot pikube can restore: {reason}; nothing on the cluster was touched",
        path.display()
    )]
    /// The file's content is no backup of either datastore, or not the one its manifest says.
    NotASnapshot {
        /// The backup file.
        path: PathBuf,
        /// What it is instead.
        reason: String,
    },
    #[error(
        "{}: k3s_version {found:?} is not a K3s version (like v1.34.4+k3s1), so whether this \
         cluster's K3s {wanted} can read the snapshot cannot be told; set it to the version \
         the snapshot was taken with",
        manifest.display()
    )]
    /// A manifest whose K3s version cannot be read: the check against a newer minor cannot
    /// be made.
    UnknownVersion {
        /// The manifest.
        manifest: PathBuf,
        /// What it says.
        found: String,
        /// cluster.toml's.
        wanted: K3sVersion,
    },
    #[error(
        "{}: {}, but this cluster runs {}: K3s cannot read one as the other{}",
        path.display(),
        found.describe(),
        match expected { Datastore::Etcd => "embedded etcd (more than one server)", Datastore::Sqlite => "SQLite (one server)" },
        match expected {
            Datastore::Etcd => "; restore it with the one server it was taken on in cluster.toml, then add the others",
            Datastore::Sqlite => "",
        }
    )]
    /// A backup of the other datastore (etcd for SQLite, or the reverse).
    OtherDatastore {
        /// The backup file.
        path: PathBuf,
        /// What it holds.
        found: Datastore,
        /// What this cluster runs.
        expected: Datastore,
    },
}

/// A snapshot on this machine, checked.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// The file here.
    pub path: PathBuf,
    /// The name it gets on the server.
    pub name: String,
    /// Its size.
    pub size: u64,
    /// Its SHA-256.
    pub sha256: Sha256,
    /// What it holds.
    pub datastore: Datastore,
    /// Its manifest, when it is a backup pikube took.
    pub manifest: Option<Manifest>,
}

/// Finds `wanted` (a backup's name, or a file) and checks it against its manifest, this
/// cluster's name, its token and its K3s version.
pub fn resolve(
    wanted: &str,
    backups: &Path,
    cluster: &str,
    token_secret: Option<&str>,
    version: &K3sVersion,
    expected: Datastore,
) -> Result<Snapshot, SnapshotError> {
    let unreadable = |path: &Path, reason: String| SnapshotError::Unreadable {
        path: path.to_owned(),
        reason,
    };
    let known = local_backups(backups).map_err(|err| unreadable(backups, err.to_string()))?;
    let (path, manifest, manifest_path) = match known.iter().find(|m| m.name == wanted) {
        Some(manifest) => (
            backups.join(&manifest.name),
            Some(manifest.clone()),
            backups.join(format!("{}.json", manifest.name)),
        ),
        None => {
            let path = PathBuf::from(wanted);
            if !path.is_file() {
                return Err(SnapshotError::Unknown {
                    name: wanted.to_owned(),
                    dir: backups.to_owned(),
                    known: known.iter().map(|m| m.name.clone()).collect(),
                });
            }
            let beside = PathBuf::from(format!("{wanted}.json"));
            let manifest = match std::fs::read(&beside) {
                Ok(text) => Some(
                    serde_json::from_slice::<Manifest>(&text)
                        .map_err(|e| unreadable(&beside, format!("not a backup manifest: {e}")))?,
                ),
                Err(_) => None,
            };
            (path, manifest, beside)
        }
    };
    let bytes = std::fs::read(&path).map_err(|e| unreadable(&path, e.to_string()))?;
    if bytes.is_empty() {
        return Err(unreadable(&path, "empty".to_owned()));
    }
    let size = bytes.len() as u64;
    let sha256 = Sha256::of(&bytes);
    if let Some(manifest) = &manifest {
        if manifest.size != size || manifest.sha256 != sha256 {
            return Err(SnapshotError::Damaged {
                path,
                size,
                sha256,
                expected_size: manifest.size,
                expected_sha256: manifest.sha256.clone(),
            });
        }
    }
    // What the file holds, whether or not a manifest says: K3s would find out only once it
    // is stopped on every node.
    let datastore = match Datastore::of_file(&bytes) {
        Ok(found) => found,
        Err(reason) => return Err(SnapshotError::NotASnapshot { path, reason }),
    };
    if let Some(said) = manifest.as_ref().map(|m| m.datastore) {
        if said != datastore {
            return Err(SnapshotError::NotASnapshot {
                path,
                reason: format!(
                    "its manifest says {}, but it holds {}",
                    said.describe(),
                    datastore.describe()
                ),
            });
        }
    }
    if datastore != expected {
        return Err(SnapshotError::OtherDatastore {
            path,
            found: datastore,
            expected,
        });
    }
    if let Some(manifest) = &manifest {
        if manifest.cluster != cluster {
            return Err(SnapshotError::OtherCluster {
                path,
                found: manifest.cluster.clone(),
                expected: cluster.to_owned(),
            });
        }
        if let Some(secret) = token_secret {
            let expected = token_fingerprint(secret);
            if manifest.token_fingerprint != expected {
                return Err(SnapshotError::OtherToken {
                    path,
                    found: manifest.token_fingerprint.clone(),
                    expected,
                });
            }
        }
        let Ok(found) = manifest.k3s_version.parse::<K3sVersion>() else {
            return Err(SnapshotError::UnknownVersion {
                manifest: manifest_path,
                found: manifest.k3s_version.clone(),
                wanted: *version,
            });
        };
        if (found.major, found.minor) > (version.major, version.minor) {
            return Err(SnapshotError::TooNew {
                path,
                found: manifest.k3s_version.clone(),
                wanted: *version,
            });
        }
    }
    let name = manifest.as_ref().map_or_else(
        || {
            path.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "snapshot".to_owned())
        },
        |m| m.name.clone(),
    );
    Ok(Snapshot {
        path,
        name,
        size,
        sha256,
        datastore,
        manifest,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backup::content::{gzipped_tar, minimal_etcd_snapshot};

    fn etcd() -> Vec<u8> {
        minimal_etcd_snapshot()
    }

    fn sqlite() -> Vec<u8> {
        gzipped_tar(&[
            ("db/state.db", b"SQLite format 3\0..."),
            ("token", b"K10abc::server:secret"),
        ])
    }

    fn backup(dir: &Path, name: &str, bytes: &[u8], cluster: &str, version: &str) {
        let datastore = Datastore::of_file(bytes).unwrap_or(Datastore::Etcd);
        let manifest = Manifest {
            cluster: cluster.to_owned(),
            name: name.to_owned(),
            node: "s1".parse().unwrap(),
            k3s_version: version.to_owned(),
            servers: vec!["s1".parse().unwrap()],
            taken_at: 1_700_000_000,
            size: bytes.len() as u64,
            sha256: Sha256::of(bytes),
            token_fingerprint: token_fingerprint("secret"),
            datastore,
        };
        std::fs::write(dir.join(name), bytes).unwrap();
        std::fs::write(
            dir.join(format!("{name}.json")),
            serde_json::to_vec(&manifest).unwrap(),
        )
        .unwrap();
    }

    /// `wanted` resolved among the backups in `dir` of cluster "lab" on v1.34.4+k3s1.
    fn resolve_in(
        dir: &tempfile::TempDir,
        wanted: &str,
        token_secret: Option<&str>,
        expected: Datastore,
    ) -> Result<Snapshot, SnapshotError> {
        let version: K3sVersion = "v1.34.4+k3s1".parse().unwrap();
        resolve(wanted, dir.path(), "lab", token_secret, &version, expected)
    }

    #[test]
    fn a_backup_is_found_by_name_and_checked() {
        let dir = tempfile::tempdir().unwrap();
        backup(dir.path(), "on-demand-s1-1", &etcd(), "lab", "v1.34.4+k3s1");
        let found = resolve_in(&dir, "on-demand-s1-1", Some("secret"), Datastore::Etcd).unwrap();
        assert_eq!(found.size, etcd().len() as u64);
        assert_eq!(found.name, "on-demand-s1-1");
        let err = resolve_in(&dir, "nope", Some("secret"), Datastore::Etcd).unwrap_err();
        assert!(err.to_string().contains("no backup named nope"), "{err}");
        assert!(err.to_string().contains("it has: on-demand-s1-1"), "{err}");
        assert!(
            err.to_string()
                .ends_with("is copied here first with `pikube backup pull nope`"),
            "{err}"
        );
    }

    #[test]
    fn a_damaged_foreign_or_too_new_snapshot_is_refused_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        backup(dir.path(), "a", &etcd(), "lab", "v1.34.4+k3s1");
        std::fs::write(dir.path().join("a"), &etcd()[..7]).unwrap();
        let err = resolve_in(&dir, "a", None, Datastore::Etcd).unwrap_err();
        assert!(
            matches!(err, SnapshotError::Damaged { size: 7, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("/a: damaged"), "{err}");

        backup(dir.path(), "b", &etcd(), "other", "v1.34.4+k3s1");
        let err = resolve_in(&dir, "b", None, Datastore::Etcd).unwrap_err();
        assert!(
            err.to_string().contains("a snapshot of cluster \"other\""),
            "{err}"
        );

        backup(dir.path(), "c", &etcd(), "lab", "v1.35.1+k3s1");
        let err = resolve_in(&dir, "c", None, Datastore::Etcd).unwrap_err();
        assert!(err.to_string().contains("a newer minor version"), "{err}");

        backup(dir.path(), "d", &etcd(), "lab", "v1.34.4+k3s1");
        let err = resolve_in(&dir, "d", Some("another"), Datastore::Etcd).unwrap_err();
        assert!(err.to_string().contains("another cluster token"), "{err}");

        let empty = dir.path().join("empty.db");
        std::fs::write(&empty, b"").unwrap();
        let err = resolve_in(&dir, empty.to_str().unwrap(), None, Datastore::Etcd).unwrap_err();
        assert!(err.to_string().ends_with("empty.db: empty"), "{err}");
    }

    #[test]
    fn a_backup_of_the_other_datastore_is_refused_saying_which_is_which() {
        let dir = tempfile::tempdir().unwrap();
        // A SQLite backup by its manifest, onto a cluster of three servers.
        backup(dir.path(), "s", &sqlite(), "lab", "v1.34.4+k3s1");
        let err = resolve_in(&dir, "s", None, Datastore::Etcd).unwrap_err();
        assert!(
            err.to_string().contains(
                "a copy of a single server's SQLite datastore, but this cluster runs embedded etcd"
            ),
            "{err}"
        );
        assert!(err.to_string().contains("then add the others"), "{err}");
        let found = resolve_in(&dir, "s", None, Datastore::Sqlite).unwrap();
        assert_eq!(found.datastore, Datastore::Sqlite);

        // Bare files, without a manifest: told apart by their first bytes.
        let bare = dir.path().join("bare-snapshot");
        std::fs::write(&bare, etcd()).unwrap();
        let err = resolve_in(&dir, bare.to_str().unwrap(), None, Datastore::Sqlite).unwrap_err();
        assert!(
            err.to_string()
                .contains("an etcd snapshot, but this cluster runs SQLite (one server)"),
            "{err}"
        );
        let archive = dir.path().join("bare.tar.gz");
        std::fs::write(&archive, sqlite()).unwrap();
        let found = resolve_in(&dir, archive.to_str().unwrap(), None, Datastore::Sqlite).unwrap();
        assert_eq!(found.datastore, Datastore::Sqlite);
    }

    #[test]
    fn a_bare_file_that_is_no_snapshot_is_refused_naming_it_before_anything_else() {
        let dir = tempfile::tempdir().unwrap();
        let garbage = dir.path().join("holiday.jpg");
        std::fs::write(&garbage, b"\xff\xd8\xff\xe0 a photo, not a snapshot").unwrap();
        for expected in [Datastore::Etcd, Datastore::Sqlite] {
            let err = resolve_in(&dir, garbage.to_str().unwrap(), None, expected).unwrap_err();
            assert!(matches!(err, SnapshotError::NotASnapshot { .. }), "{err}");
            let said = err.to_string();
            assert!(
                said.starts_with(&format!(
                    "{}: not a snapshot pikube can restore: neither an etcd snapshot",
                    garbage.display()
                )) && said.ends_with("nothing on the cluster was touched"),
                "{said}"
            );
        }
        // An etcd snapshot cut short, bare: refused for what it is.
        let cut = dir.path().join("cut");
        let whole = etcd();
        std::fs::write(&cut, &whole[..whole.len() - 1000]).unwrap();
        let err = resolve_in(&dir, cut.to_str().unwrap(), None, Datastore::Etcd).unwrap_err();
        assert!(err.to_string().contains("cut short"), "{err}");
        // A gzip that is not a backup of pikube's.
        let tarball = dir.path().join("photos.tar.gz");
        std::fs::write(&tarball, gzipped_tar(&[("IMG_0001.jpg", b"\xff\xd8")])).unwrap();
        let err = resolve_in(&dir, tarball.to_str().unwrap(), None, Datastore::Sqlite).unwrap_err();
        assert!(
            err.to_string()
                .contains("not a SQLite backup of `pikube backup`: it holds no db/state.db"),
            "{err}"
        );
        // A manifest beside a file that is no snapshot, however well its checksums match.
        backup(
            dir.path(),
            "lying",
            b"not a snapshot",
            "lab",
            "v1.34.4+k3s1",
        );
        let err = resolve_in(&dir, "lying", None, Datastore::Etcd).unwrap_err();
        assert!(matches!(err, SnapshotError::NotASnapshot { .. }), "{err}");
    }

    #[test]
    fn a_manifest_whose_k3s_version_does_not_parse_is_refused_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        backup(dir.path(), "v", &etcd(), "lab", "unknown");
        let err = resolve_in(&dir, "v", None, Datastore::Etcd).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "{}: k3s_version \"unknown\" is not a K3s version (like v1.34.4+k3s1), so \
                 whether this cluster's K3s v1.34.4+k3s1 can read the snapshot cannot be told; \
                 set it to the version the snapshot was taken with",
                dir.path().join("v.json").display()
            )
        );
    }
}
