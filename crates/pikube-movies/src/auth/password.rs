//! Argon2id password hashes (PHC strings), computed off the async workers.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use rand_core::OsRng;
use tokio::sync::Semaphore;

/// Argon2id's defaults take 19 MiB of memory per hash. Unbounded, a burst of 100 sign-ups
/// would take 1.9 GB at once (and glibc keeps much of it): on a 4 GB Pi, the OOM killer.
/// One hash per core at a time bounds it; the others wait their turn.
static HASHING: Semaphore = Semaphore::const_new(MAX_CONCURRENT_HASHES);
const MAX_CONCURRENT_HASHES: usize = 4;

/// Runs one Argon2 computation on the blocking pool, once a permit is free.
async fn with_permit<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    let _permit = HASHING.acquire().await.ok()?;
    tokio::task::spawn_blocking(work).await.ok()
}

/// Hashes `password` with Argon2id and a random salt. Takes tens of milliseconds by design,
/// so it runs on the blocking pool.
pub async fn hash_password(password: String) -> Result<String, String> {
    with_permit(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|hash| hash.to_string())
            .map_err(|error| format!("hashing a password: {error}"))
    })
    .await
    .unwrap_or_else(|| Err("hashing a password: the hashing task failed".to_owned()))
}

/// Whether `password` matches the stored PHC `hash`. A malformed stored hash counts as no.
pub async fn verify_password(password: String, hash: String) -> bool {
    with_permit(move || {
        PasswordHash::new(&hash)
            .map(|parsed| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok()
            })
            .unwrap_or(false)
    })
    .await
    .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_verifies_its_password_only() {
        let hash = hash_password("correct horse".into()).await.unwrap();
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(verify_password("correct horse".into(), hash.clone()).await);
        assert!(!verify_password("wrong horse".into(), hash).await);
        assert!(!verify_password("x".into(), "not a hash".into()).await);
    }
}
