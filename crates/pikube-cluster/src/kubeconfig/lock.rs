//! The lock kubectl takes before it rewrites a kubeconfig: client-go creates `<file>.lock`
//! with O_CREAT|O_EXCL and removes it when done. Taking the same lock keeps a merge from
//! racing `kubectl config use-context` (or a second pikube) into a lost update.

use std::fs::OpenOptions;
use std::io;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::thread::sleep;
use std::time::{Duration, Instant};

use super::KubeconfigError;

/// How long to wait for someone else's lock. kubectl itself does not wait at all, but its
/// writes take milliseconds, so a short wait rides out a real race and no more.
pub(super) const LOCK_WAIT: Duration = Duration::from_secs(2);
const RETRY_EVERY: Duration = Duration::from_millis(50);

/// Held while the kubeconfig is read, merged and written; removes the lock file when dropped.
#[derive(Debug)]
pub(super) struct KubeconfigLock {
    path: PathBuf,
}

impl KubeconfigLock {
    /// Takes the lock for `kubeconfig`, waiting at most `wait` for another holder to finish.
    pub(super) fn acquire(kubeconfig: &Path, wait: Duration) -> Result<Self, KubeconfigError> {
        let mut name = kubeconfig.as_os_str().to_owned();
        name.push(".lock");
        let path = PathBuf::from(name);
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            // As private as write_private would make it, since the kubeconfig follows.
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(|cause| KubeconfigError::Io {
                    path: dir.to_owned(),
                    cause,
                })?;
        }
        let deadline = Instant::now() + wait;
        loop {
            match OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path)
            {
                Ok(_) => return Ok(Self { path }),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    if Instant::now() >= deadline {
                        return Err(KubeconfigError::Locked { lock: path });
                    }
                    sleep(RETRY_EVERY);
                }
                Err(source) => {
                    return Err(KubeconfigError::Io {
                        path,
                        cause: source,
                    })
                }
            }
        }
    }
}

impl Drop for KubeconfigLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lock_is_exclusive_and_removed_when_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("config");
        let lock_file = dir.path().join("config.lock");

        let held = KubeconfigLock::acquire(&config, Duration::ZERO).unwrap();
        assert!(lock_file.exists());
        let err = KubeconfigLock::acquire(&config, Duration::from_millis(120)).unwrap_err();
        assert!(
            matches!(&err, KubeconfigError::Locked { lock } if lock == &lock_file),
            "{err:?}"
        );
        drop(held);
        assert!(!lock_file.exists());
        KubeconfigLock::acquire(&config, Duration::ZERO).unwrap();
        assert!(!lock_file.exists(), "released again on drop");
    }

    #[test]
    fn a_lock_released_while_waiting_is_taken() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("config");
        let held = KubeconfigLock::acquire(&config, Duration::ZERO).unwrap();
        let releaser = std::thread::spawn(move || {
            sleep(Duration::from_millis(150));
            drop(held);
        });
        KubeconfigLock::acquire(&config, Duration::from_secs(5)).unwrap();
        releaser.join().unwrap();
    }

    #[test]
    fn a_missing_directory_is_created_for_the_lock() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join(".kube").join("config");
        let _held = KubeconfigLock::acquire(&config, Duration::ZERO).unwrap();
        assert!(dir.path().join(".kube/config.lock").exists());
    }
}
