//! K3s' bootstrap data in the datastore: the cluster's CAs and service-account key (and,
//! with secrets-encryption, its encryption config) sealed with the token's password under
//! `/bootstrap/<first 12 hex digits of sha256(password)>`. Because it lives in etcd, a
//! snapshot carries it: a restore onto new hardware brings the old CAs back (and the old
//! encryption key), and a server given another token cannot read it.
//!
//! Sealed the way K3s seals it: the AES-256-GCM key is PBKDF2-HMAC-SHA1 of the password
//! with an 8-character random salt, 4096 rounds; stored as `salt:base64(nonce ‖ sealed)`.

use std::path::Path;

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::encoding::{base64, random_bytes, random_hex, sha256_hex};
use crate::kube_client::{self, KubeClient};
use crate::tls::{self, Bootstrap};

const PREFIX: &str = "/bootstrap/";
const ROUNDS: u32 = 4096;
/// What K3s says when the datastore's bootstrap data is sealed with another token.
pub const OTHER_TOKEN: &str = "bootstrap data already found and encrypted with different token";

/// What the datastore keeps for the cluster.
#[derive(Debug, Serialize, Deserialize)]
pub struct BootstrapData {
    /// The shared CA files, as a joining server receives them.
    pub bootstrap: Bootstrap,
    /// `server/cred/encryption-config.json`, when secrets-encryption is on.
    pub encryption_config: Option<String>,
}

/// The datastore key for the data sealed with `password`.
pub fn key(password: &str) -> String {
    format!("{PREFIX}{}", &sha256_hex(password.as_bytes())[..12])
}

fn cipher(password: &str, salt: &str) -> Aes256Gcm {
    let mut key = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<sha1::Sha1>(password.as_bytes(), salt.as_bytes(), ROUNDS, &mut key);
    Aes256Gcm::new_from_slice(&key).expect("a 32-byte key")
}

/// `plain` sealed with `password`.
pub fn seal(password: &str, plain: &[u8]) -> String {
    let salt = random_hex(4);
    let nonce = random_bytes(12);
    let sealed = cipher(password, &salt)
        .encrypt(Nonce::from_slice(&nonce), plain)
        .expect("AES-GCM seals any length here");
    let mut out = nonce;
    out.extend(sealed);
    format!("{salt}:{}", base64(&out))
}

/// What [`seal`] sealed, given the same password.
pub fn open(password: &str, stored: &str) -> Result<Vec<u8>, String> {
    let (salt, sealed) = stored.split_once(':').ok_or("bootstrap data: no salt")?;
    let sealed = base64::engine::general_purpose::STANDARD
        .decode(sealed)
        .map_err(|e| format!("bootstrap data: {e}"))?;
    if sealed.len() < 12 {
        return Err("bootstrap data: too short".into());
    }
    let (nonce, sealed) = sealed.split_at(12);
    cipher(password, salt)
        .decrypt(Nonce::from_slice(nonce), sealed)
        .map_err(|_| OTHER_TOKEN.to_string())
}

/// This server's CA files (and encryption config) as the datastore keeps them.
pub fn from_disk(data_dir: &Path) -> Result<BootstrapData, String> {
    Ok(BootstrapData {
        bootstrap: tls::bootstrap(data_dir)?,
        encryption_config: super::encryption::read(data_dir),
    })
}

/// Puts the data, sealed with `password`, into the datastore.
pub fn store(etcd: &KubeClient, password: &str, data: &BootstrapData) -> Result<(), String> {
    let plain = serde_json::to_vec(data).map_err(|e| e.to_string())?;
    kube_client::json(etcd.post(
        "/v3/kv/put",
        &json!({"key": base64(key(password).as_bytes()), "value": base64(seal(password, &plain).as_bytes())}),
    ))
    .map(|_| ())
    .map_err(|e| format!("storing the bootstrap data: {e}"))
}

/// The data sealed with `password`, if the datastore has any; data sealed with another
/// password only is K3s' "encrypted with different token".
pub fn load(etcd: &KubeClient, password: &str) -> Result<Option<BootstrapData>, String> {
    let found = kube_client::json(etcd.post(
        "/v3/kv/range",
        // `range_end` one past the prefix: every key under /bootstrap/.
        &json!({"key": base64(PREFIX.as_bytes()), "range_end": base64(b"/bootstrap0")}),
    ))
    .map_err(|e| format!("reading the bootstrap data: {e}"))?;
    let kvs = found["kvs"].as_array().cloned().unwrap_or_default();
    if kvs.is_empty() {
        return Ok(None);
    }
    let ours = base64(key(password).as_bytes());
    let Some(kv) = kvs
        .iter()
        .find(|kv| kv["key"].as_str() == Some(ours.as_str()))
    else {
        return Err(OTHER_TOKEN.into());
    };
    let stored = base64::engine::general_purpose::STANDARD
        .decode(kv["value"].as_str().unwrap_or_default())
        .map_err(|e| format!("bootstrap data: {e}"))?;
    let plain = open(password, &String::from_utf8_lossy(&stored))?;
    serde_json::from_slice(&plain)
        .map(Some)
        .map_err(|e| format!("bootstrap data: {e}"))
}

/// Writes the datastore's CA files (and encryption config) to disk, and removes the leaf
/// certificates issued from the CAs they replace, so the next start issues them again.
pub fn install(data_dir: &Path, data: &BootstrapData) -> Result<(), String> {
    tls::replace_cas(data_dir, &data.bootstrap)?;
    if let Some(config) = &data.encryption_config {
        super::encryption::install(data_dir, config)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_data_opens_with_its_password_only() {
        let stored = seal("s3cret", b"the CAs");
        let (salt, rest) = stored.split_once(':').unwrap();
        assert_eq!(salt.len(), 8);
        assert!(!rest.contains("the CAs"));
        assert_eq!(open("s3cret", &stored).unwrap(), b"the CAs");
        assert_eq!(open("other", &stored).unwrap_err(), OTHER_TOKEN);
        // Sealed twice, never the same bytes (a new salt and nonce each time).
        assert_ne!(seal("s3cret", b"the CAs"), stored);
        assert_eq!(
            key("s3cret"),
            format!("/bootstrap/{}", &sha256_hex(b"s3cret")[..12])
        );
    }
}
