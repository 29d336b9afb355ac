//! One pikube at a time on a cluster from this machine: `.pikube/<cluster>/lock`, created
//! with O_EXCL (0600), holding who took it, where, when and for what. Two runs at once would
//! reboot nodes twice, restart K3s under each other's installs, delete each other's
//! temporary files and lose each other's node records.
//!
//! A lock whose process is gone (killed, crashed) is taken over, saying so; a live holder is
//! waited for briefly, then named. `--force-unlock` removes a lock whose holder cannot be
//! checked from here (another host wrote it), never one whose process is alive.

use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rustix::process::Pid;
use serde::{Deserialize, Serialize};

/// How long a second pikube waits for the first before it gives up.
pub const WAIT: Duration = Duration::from_secs(10);
const RETRY_EVERY: Duration = Duration::from_millis(200);

/// Who holds a lock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    /// Who ran it (`$USER`, else the uid).
    pub user: String,
    /// On which machine.
    pub host: String,
    /// Its process there.
    pub pid: u32,
    /// `apply`, `reset`...
    pub command: String,
    /// Seconds since the Unix epoch.
    pub since: u64,
}

impl Holder {
    /// This process, about to run `command`.
    pub fn this_process(command: &str) -> Holder {
        Holder {
            user: std::env::var("USER")
                .or_else(|_| std::env::var("LOGNAME"))
                .unwrap_or_else(|_| format!("uid {}", rustix::process::getuid().as_raw())),
            host: host_name(),
            pid: std::process::id(),
            command: command.to_owned(),
            since: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
        }
    }

    /// `alice@laptop (pid 4242, pikube apply, since 2026-12-05T01:02:03Z)`
    pub fn describe(&self) -> String {
        let since = time::OffsetDateTime::from_unix_timestamp(self.since as i64)
            .ok()
            .and_then(|t| {
                t.format(&time::format_description::well_known::Rfc3339)
                    .ok()
            })
            .unwrap_or_else(|| self.since.to_string());
        format!(
            "{}@{} (pid {}, pikube {}, since {since})",
            self.user, self.host, self.pid, self.command
        )
    }

    /// Whether the holder runs (or ran) on this machine.
    pub fn is_local(&self) -> bool {
        self.host == host_name()
    }

    /// Stands in for a holder whose lock file cannot be read.
    pub fn unreadable() -> Holder {
        Holder {
            user: "?".into(),
            host: "?".into(),
            pid: 0,
            command: "? (the lock file is unreadable)".into(),
            since: 0,
        }
    }

    /// Whether the holder is a process of this host that is gone.
    pub fn is_gone(&self) -> bool {
        if self.host != host_name() {
            return false;
        }
        // Signal 0 only checks that the process exists; EPERM: it does, another user's. A
        // pid that is no process id (0, or beyond i32) cannot be checked: not broken.
        let Some(pid) = i32::try_from(self.pid).ok().and_then(Pid::from_raw) else {
            return false;
        };
        let alive = match rustix::process::test_kill_process(pid) {
            Ok(()) => true,
            Err(err) => err == rustix::io::Errno::PERM,
        };
        !alive
    }
}

/// Why the lock beside cluster.toml was not taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "{path} is held by {holder}: another pikube is working on this cluster; wait for it, \
         or, if that process is gone and this is another machine's lock, run again with \
         --force-unlock",
        holder = holder.describe()
    )]
    /// Another pikube holds it.
    Held {
        /// The lock file.
        path: PathBuf,
        /// Who holds it.
        holder: Holder,
    },
    #[error(
        "{path} is held by {holder}, which is still running here: --force-unlock breaks only \
         a lock whose holder is gone",
        holder = holder.describe()
    )]
    /// `--force-unlock` was asked for, but the holder is alive on this machine.
    HolderAlive {
        /// The lock file.
        path: PathBuf,
        /// Who holds it.
        holder: Holder,
    },
    /// The lock file could not be read, written or removed.
    #[error("{path}: {causes}", causes = crate::error_chain::describe(cause))]
    Io {
        /// The lock file.
        path: PathBuf,
        /// Why.
        cause: io::Error,
    },
}

/// Held while a command works on the cluster; the lock file goes when it is dropped.
#[derive(Debug)]
pub struct RunLock {
    path: PathBuf,
    /// A lock taken over from a holder that was gone, for the caller to mention.
    pub took_over: Option<Holder>,
}

impl RunLock {
    /// Takes `dir/lock` for `holder`, waiting at most `wait` for a live holder.
    /// `force`: remove a lock whose holder cannot be checked (never a live local one).
    pub fn acquire(
        dir: &Path,
        holder: &Holder,
        wait: Duration,
        force: bool,
    ) -> Result<RunLock, LockError> {
        let path = dir.join("lock");
        let io_err = |path: &Path| {
            let path = path.to_owned();
            move |cause| LockError::Io { path, cause }
        };
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(io_err(dir))?;
        let deadline = Instant::now() + wait;
        let mut took_over = None;
        let mut forced = false;
        loop {
            match fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path)
            {
                Ok(mut file) => {
                    let json = serde_json::to_vec(holder).expect("a holder serialises");
                    file.write_all(&json).map_err(io_err(&path))?;
                    return Ok(RunLock { path, took_over });
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(source) => {
                    return Err(LockError::Io {
                        path,
                        cause: source,
                    })
                }
            }
            let Some(current) = read_holder(&path)? else {
                // Gone between our attempt and this read, or half-written by a run killed
                // at that very moment (then the next round, or --force-unlock, settles it).
                if force && !forced {
                    forced = true;
                    remove(&path)?;
                }
                retry_or(&deadline, || LockError::Held {
                    path: path.clone(),
                    holder: Holder::unreadable(),
                })?;
                continue;
            };
            if current.is_gone() {
                remove(&path)?;
                took_over = Some(current);
                continue;
            }
            if force && !forced {
                if current.host == host_name() {
                    return Err(LockError::HolderAlive {
                        path,
                        holder: current,
                    });
                }
                forced = true;
                remove(&path)?;
                took_over = Some(current);
                continue;
            }
            retry_or(&deadline, || LockError::Held {
                path: path.clone(),
                holder: current.clone(),
            })?;
        }
    }
}

impl Drop for RunLock {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

fn retry_or(deadline: &Instant, err: impl FnOnce() -> LockError) -> Result<(), LockError> {
    if Instant::now() >= *deadline {
        return Err(err());
    }
    std::thread::sleep(RETRY_EVERY);
    Ok(())
}

fn read_holder(path: &Path) -> Result<Option<Holder>, LockError> {
    match fs::read(path) {
        Ok(bytes) => Ok(serde_json::from_slice(&bytes).ok()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(LockError::Io {
            path: path.to_owned(),
            cause: source,
        }),
    }
}

fn remove(path: &Path) -> Result<(), LockError> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(LockError::Io {
            path: path.to_owned(),
            cause: source,
        }),
    }
}

fn host_name() -> String {
    fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "localhost".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn holder(pid: u32, host: &str) -> Holder {
        Holder {
            user: "alice".into(),
            host: host.into(),
            pid,
            command: "apply".into(),
            since: 1_764_900_000,
        }
    }

    #[test]
    fn the_lock_is_exclusive_private_and_released_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let me = Holder::this_process("apply");
        let lock = RunLock::acquire(dir.path(), &me, Duration::ZERO, false).unwrap();
        let path = dir.path().join("lock");
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let written: Holder = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
        assert_eq!(written, me);
        // A second taker (this very process is alive) waits, then is told who holds it.
        let started = Instant::now();
        let err = RunLock::acquire(dir.path(), &me, Duration::from_millis(500), false).unwrap_err();
        assert!(started.elapsed() >= Duration::from_millis(500));
        let text = err.to_string();
        assert!(
            text.contains(&format!("pid {}", me.pid)) && text.contains("pikube apply"),
            "{text}"
        );
        drop(lock);
        assert!(!path.exists());
        RunLock::acquire(dir.path(), &me, Duration::ZERO, false).unwrap();
    }

    #[test]
    fn a_lock_whose_process_is_gone_is_taken_over() {
        let dir = tempfile::tempdir().unwrap();
        // A pid that cannot be alive: past the kernel's maximum.
        let gone = holder(4_194_305, &host_name());
        fs::write(dir.path().join("lock"), serde_json::to_vec(&gone).unwrap()).unwrap();
        let me = Holder::this_process("apply");
        let lock = RunLock::acquire(dir.path(), &me, Duration::ZERO, false).unwrap();
        assert_eq!(lock.took_over, Some(gone));
    }

    #[test]
    fn force_breaks_another_hosts_lock_never_a_live_local_one() {
        let dir = tempfile::tempdir().unwrap();
        let elsewhere = holder(1, "another-laptop");
        fs::write(
            dir.path().join("lock"),
            serde_json::to_vec(&elsewhere).unwrap(),
        )
        .unwrap();
        let me = Holder::this_process("reset");
        let err = RunLock::acquire(dir.path(), &me, Duration::ZERO, false).unwrap_err();
        assert!(err.to_string().contains("alice@another-laptop"), "{err}");
        let lock = RunLock::acquire(dir.path(), &me, Duration::ZERO, true).unwrap();
        assert_eq!(lock.took_over, Some(elsewhere));
        drop(lock);

        let alive = Holder::this_process("apply");
        fs::write(dir.path().join("lock"), serde_json::to_vec(&alive).unwrap()).unwrap();
        let err = RunLock::acquire(dir.path(), &me, Duration::ZERO, true).unwrap_err();
        assert!(matches!(err, LockError::HolderAlive { .. }), "{err}");
    }
}
