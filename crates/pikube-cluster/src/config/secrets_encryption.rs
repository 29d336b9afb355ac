//! `[k3s] secrets_encryption`: whether K3s keeps Secrets encrypted in its datastore.

use serde::Serialize;

/// What cluster.toml says about secrets encryption. Unset is a setting of its own, not
/// `false`: K3s fixes it at a cluster's first start, so a new cluster gets it on and a
/// running one keeps what it was started with (decided per cluster in
/// `k3s/secrets_encryption.rs`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SecretsEncryption {
    /// The key is absent: on for a new cluster, as it was for a running one.
    #[default]
    Default,
    /// `secrets_encryption = true`.
    On,
    /// `secrets_encryption = false`.
    Off,
}

impl SecretsEncryption {
    /// The key as written, `None` when absent.
    pub fn from_key(written: Option<bool>) -> SecretsEncryption {
        match written {
            None => SecretsEncryption::Default,
            Some(true) => SecretsEncryption::On,
            Some(false) => SecretsEncryption::Off,
        }
    }
}
