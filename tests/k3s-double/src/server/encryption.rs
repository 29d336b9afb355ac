//! `secrets-encryption`, as K3s sets it up: at the first start an AES-CBC key in an
//! `EncryptionConfiguration` at `server/cred/encryption-config.json` (0600), which the real
//! kube-apiserver reads through `--encryption-provider-config`, so Secrets are stored
//! encrypted in etcd; joining servers receive the same file with the bootstrap data.
//! Turning it on or off for a running cluster (`k3s secrets-encrypt`) is not modelled.

use crate::encoding::{base64, random_bytes};
use crate::files::write_mode;
use std::path::{Path, PathBuf};

pub fn config_path(data_dir: &Path) -> PathBuf {
    data_dir.join("server/cred/encryption-config.json")
}

/// The configuration file, created with a new key unless it is there.
pub fn ensure(data_dir: &Path) -> Result<PathBuf, String> {
    let path = config_path(data_dir);
    if !path.exists() {
        let config = serde_json::json!({
            "kind": "EncryptionConfiguration",
            "apiVersion": "apiserver.config.k8s.io/v1",
            "resources": [{
                "resources": ["secrets"],
                "providers": [
                    {"aescbc": {"keys": [{"name": "aescbckey", "secret": base64(&random_bytes(32))}]}},
                    {"identity": {}}
                ]
            }]
        });
        install(data_dir, &config.to_string())?;
    }
    Ok(path)
}

/// Writes the configuration a joining server received.
pub fn install(data_dir: &Path, text: &str) -> Result<(), String> {
    let path = config_path(data_dir);
    write_mode(&path, text.as_bytes(), 0o600).map_err(|e| format!("{}: {e}", path.display()))
}

/// The configuration to hand a joining server, when this cluster has one.
pub fn read(data_dir: &Path) -> Option<String> {
    std::fs::read_to_string(config_path(data_dir)).ok()
}
