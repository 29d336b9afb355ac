//! A restore under way, recorded beside the backups before K3s stops on any node and
//! removed once every node is Ready again. A restore killed half-way, or stopped by a
//! failure, leaves it behind: the cluster may then have nodes stopped, or some servers on
//! the snapshot's data and others on their old data, and the next `pikube restore` and
//! `pikube status` say so and how to finish it rather than leave it to be guessed.

use std::io;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::state::LocalState;

/// The file, in `.pikube/<cluster>/`.
const FILE: &str = "restore-unfinished.json";

/// A restore that started and has not finished.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnfinishedRestore {
    /// The snapshot's name, as `pikube restore` takes it.
    pub snapshot: String,
    /// Its SHA-256, so that another file under the same name is not taken for it.
    pub sha256: String,
    /// When it started (seconds since the Unix epoch).
    pub started_at: u64,
}

/// The record could not be read or written.
#[derive(Debug, thiserror::Error)]
#[error("{}: {cause}", path.display())]
pub struct UnfinishedError {
    /// The file.
    pub path: PathBuf,
    /// Why.
    pub cause: String,
}

impl UnfinishedRestore {
    /// A restore of `snapshot` (with `sha256`) starting now.
    pub fn starting(snapshot: &str, sha256: &str) -> UnfinishedRestore {
        UnfinishedRestore {
            snapshot: snapshot.to_owned(),
            sha256: sha256.to_owned(),
            started_at: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
        }
    }

    /// What a user reads about it: the state the cluster may be in, and the way out.
    pub fn describe(&self) -> String {
        let started = time::OffsetDateTime::from_unix_timestamp(self.started_at as i64)
            .ok()
            .and_then(|t| {
                t.format(&time::format_description::well_known::Rfc3339)
                    .ok()
            })
            .unwrap_or_else(|| self.started_at.to_string());
        format!(
            "a restore of {snapshot} started {started} did not finish: K3s may be stopped on \
             some nodes, and some servers may hold the snapshot's data while others still hold \
             their old data; `pikube restore {snapshot} --yes` finishes it",
            snapshot = self.snapshot
        )
    }

    /// Whether `sha256` is the snapshot it was restoring.
    pub fn is_of(&self, sha256: &str) -> bool {
        self.sha256 == sha256
    }
}

fn path(local: &LocalState) -> PathBuf {
    local.dir().join(FILE)
}

/// The unfinished restore recorded here, if any.
pub fn read(local: &LocalState) -> Result<Option<UnfinishedRestore>, UnfinishedError> {
    let path = path(local);
    let error = |cause: String| UnfinishedError {
        path: path.clone(),
        cause,
    };
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|err| error(format!("not a record of a restore: {err}"))),
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(err) => Err(error(err.to_string())),
    }
}

/// Records `restore` as under way (0600, replacing any older record).
pub fn record(local: &LocalState, restore: &UnfinishedRestore) -> Result<(), UnfinishedError> {
    let error = |cause: String| UnfinishedError {
        path: path(local),
        cause,
    };
    let text = serde_json::to_vec_pretty(restore).map_err(|err| error(err.to_string()))?;
    crate::private_file::replace(local.dir(), FILE, &text).map_err(|err| error(err.to_string()))
}

/// The restore finished: its record goes.
pub fn finished(local: &LocalState) -> Result<(), UnfinishedError> {
    match std::fs::remove_file(path(local)) {
        Ok(()) => Ok(()),
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(err) => Err(UnfinishedError {
            path: path(local),
            cause: err.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_restore_is_recorded_until_it_finishes_and_said_with_the_way_out() {
        let dir = tempfile::tempdir().unwrap();
        let local = LocalState::new(dir.path(), "lab");
        assert_eq!(read(&local).unwrap(), None);
        let restore = UnfinishedRestore {
            snapshot: "before-s1-1".to_owned(),
            sha256: "ab".repeat(32),
            started_at: 0,
        };
        record(&local, &restore).unwrap();
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path(&local))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let read_back = read(&local).unwrap().unwrap();
        assert_eq!(read_back, restore);
        assert!(read_back.is_of(&"ab".repeat(32)) && !read_back.is_of(&"cd".repeat(32)));
        assert_eq!(
            read_back.describe(),
            "a restore of before-s1-1 started 1970-01-01T00:00:00Z did not finish: K3s may be \
             stopped on some nodes, and some servers may hold the snapshot's data while others \
             still hold their old data; `pikube restore before-s1-1 --yes` finishes it"
        );
        finished(&local).unwrap();
        assert_eq!(read(&local).unwrap(), None);
        finished(&local).unwrap();

        std::fs::write(path(&local), b"{").unwrap();
        let err = read(&local).unwrap_err().to_string();
        assert!(
            err.contains("restore-unfinished.json: not a record of a restore"),
            "{err}"
        );
    }
}
