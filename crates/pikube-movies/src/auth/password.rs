//! Argon2id password hashes (PHC strings), computed off the async workers.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use rand_core::OsRng;
use tokio::sync::Semaphore;

/// Argon2id's defaults take 19 MiB of memory per hash. Unbounded, a burst of 100 sign-ups
/// would take 1.9 GB at once (and glibc keeps much of it): on a 4 GB Pi, the OOM killer.
/// One hash per core at a time bounds it; a few more wait their turn, briefly; the rest are
/// told at once that the service is busy, instead of queueing (with their bodies in memory)
/// for as long as a flood lasts (security review M3).
static HASHING: Semaphore = Semaphore::const_new(MAX_CONCURRENT_HASHES);
const MAX_CONCURRENT_HASHES: usize = 4;
/// Hashes that may wait for a permit; beyond, [`Busy`] at once.
const MAX_WAITING_HASHES: usize = 32;
/// The longest a hash waits for a permit.
const MAX_HASH_WAIT: Duration = Duration::from_secs(5);
static WAITING: AtomicUsize = AtomicUsize::new(0);

/// Every hashing slot is taken and the queue is full, or the wait was too long.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("too many passwords are being checked at once; try again in a moment")]
pub struct Busy;

/// Why no hash came out.
#[derive(Debug, thiserror::Error)]
pub enum HashError {
    #[error(transparent)]
    Busy(#[from] Busy),
    /// Argon2 refused to hash (its parameters or the password's length).
    #[error("hashing a password: {0}")]
    Argon2(argon2::password_hash::Error),
    /// The blocking task that hashed panicked or was cancelled as the runtime shut down.
    #[error("hashing a password: the hashing task ended early: {0}")]
    Task(tokio::task::JoinError),
}

/// Leaves the queue when dropped (also when the request is dropped while waiting).
struct Waiting;

impl Drop for Waiting {
    fn drop(&mut self) {
        WAITING.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Runs one Argon2 computation on the blocking pool, once a permit is free; `Ok(Err(_))`
/// when the blocking task failed.
async fn with_permit<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<Result<T, tokio::task::JoinError>, Busy> {
    let permit = match HASHING.try_acquire() {
        Ok(permit) => permit,
        Err(_) => {
            let ahead = WAITING.fetch_add(1, Ordering::Relaxed);
            let _waiting = Waiting;
            if ahead >= MAX_WAITING_HASHES {
                return Err(Busy);
            }
            match tokio::time::timeout(MAX_HASH_WAIT, HASHING.acquire()).await {
                Ok(Ok(permit)) => permit,
                _ => return Err(Busy),
            }
        }
    };
    let done = tokio::task::spawn_blocking(work).await;
    drop(permit);
    Ok(done)
}

/// Hashes `password` with Argon2id and a random salt. Takes tens of milliseconds by design,
/// so it runs on the blocking pool.
pub async fn hash_password(password: String) -> Result<String, HashError> {
    with_permit(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|hash| hash.to_string())
            .map_err(HashError::Argon2)
    })
    .await?
    .unwrap_or_else(|ended| Err(HashError::Task(ended)))
}

/// Whether `password` matches the stored PHC `hash`. A malformed stored hash counts as no.
pub async fn verify_password(password: String, hash: String) -> Result<bool, Busy> {
    let matches = with_permit(move || {
        PasswordHash::new(&hash)
            .map(|parsed| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok()
            })
            .unwrap_or(false)
    })
    .await?;
    Ok(matches.unwrap_or(false))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The hashing slots are one per process: the flood must not meet the other test.
    static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

    #[tokio::test]
    async fn a_hash_verifies_its_password_only() {
        let _alone = ONE_AT_A_TIME.lock().await;
        let hash = hash_password("correct horse".into()).await.unwrap();
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert_eq!(
            verify_password("correct horse".into(), hash.clone()).await,
            Ok(true)
        );
        assert_eq!(verify_password("wrong horse".into(), hash).await, Ok(false));
        assert_eq!(
            verify_password("x".into(), "not a hash".into()).await,
            Ok(false)
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_flood_beyond_the_queue_is_refused_at_once_not_queued() {
        let _alone = ONE_AT_A_TIME.lock().await;
        let hash = hash_password("correct horse".into()).await.unwrap();
        let flood = MAX_CONCURRENT_HASHES + MAX_WAITING_HASHES + 20;
        let answers = futures::future::join_all(
            (0..flood).map(|_| verify_password("wrong horse".into(), hash.clone())),
        )
        .await;
        let busy = answers.iter().filter(|a| **a == Err(Busy)).count();
        let checked = answers.iter().filter(|a| **a == Ok(false)).count();
        assert_eq!(busy + checked, flood, "{answers:?}");
        assert!(busy >= 20, "{busy} of {flood} refused: {answers:?}");
        assert!(checked >= MAX_CONCURRENT_HASHES, "{checked} checked");
        assert_eq!(
            WAITING.load(Ordering::Relaxed),
            0,
            "the queue is left empty"
        );
    }
}
