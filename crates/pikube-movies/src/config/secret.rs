//! The key that signs and checks the bearer tokens every service accepts.

use std::fmt;

use rand_core::{OsRng, RngCore};

/// An HMAC key for HS256 tokens. Never printed.
#[derive(Clone)]
pub struct JwtSecret(Vec<u8>);

/// Shorter keys are guessable offline from any token; RFC 7518 asks for at least 256 bits.
pub const MIN_SECRET_BYTES: usize = 32;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "MOVIES_JWT_SECRET is {0} bytes long; it must be at least 32 (e.g. `openssl rand -hex 32`)"
)]
pub struct ShortSecret(usize);

impl JwtSecret {
    pub fn new(secret: &str) -> Result<Self, ShortSecret> {
        if secret.len() < MIN_SECRET_BYTES {
            return Err(ShortSecret(secret.len()));
        }
        Ok(JwtSecret(secret.as_bytes().to_vec()))
    }

    /// A fresh random key: tokens it signs stop working when the process ends.
    pub fn random() -> Self {
        let mut key = vec![0u8; 32];
        OsRng.fill_bytes(&mut key);
        JwtSecret(key)
    }

    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for JwtSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("JwtSecret(<redacted>)")
    }
}
