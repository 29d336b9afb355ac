//! The double's "certificates": random bytes wrapped in PEM, stable on disk.
//! Nothing here is real X.509; only the bytes' hash matters (token pinning).

use crate::encoding::{pem, random_bytes, sha256_hex};
use crate::files::write_mode;
use std::path::{Path, PathBuf};

pub fn ca_path(data_dir: &Path) -> PathBuf {
    data_dir.join("server/tls/server-ca.crt")
}

/// A fake CA, created on first start and then read back.
pub fn ensure_ca(data_dir: &Path) -> std::io::Result<Vec<u8>> {
    let path = ca_path(data_dir);
    if let Ok(existing) = std::fs::read(&path) {
        if !existing.is_empty() {
            return Ok(existing);
        }
    }
    let ca = pem("CERTIFICATE", &random_bytes(384)).into_bytes();
    install_ca(data_dir, &ca)?;
    Ok(ca)
}

/// Writes a CA received from the server this one joined (plus fake keys).
pub fn install_ca(data_dir: &Path, ca: &[u8]) -> std::io::Result<()> {
    let tls = data_dir.join("server/tls");
    write_mode(&tls.join("server-ca.crt"), ca, 0o644)?;
    let key = pem(
        "EC PRIVATE KEY",
        sha256_hex(&[b"ca-key".as_slice(), ca].concat()).as_bytes(),
    );
    write_mode(&tls.join("server-ca.key"), key.as_bytes(), 0o600)?;
    let client_ca = pem(
        "CERTIFICATE",
        sha256_hex(&[b"client-ca".as_slice(), ca].concat()).as_bytes(),
    );
    write_mode(&tls.join("client-ca.crt"), client_ca.as_bytes(), 0o644)
}

/// Admin client certificate and key for the kubeconfig. Derived from the CA
/// and the server password, so every server of a cluster hands out (and
/// accepts) the same admin credentials, as a shared client CA would.
pub fn admin_credentials(ca: &[u8], server_password: &str) -> (String, String) {
    let seed = |tag: &str| sha256_hex(&[tag.as_bytes(), ca, server_password.as_bytes()].concat());
    let cert = pem(
        "CERTIFICATE",
        format!("system:admin {}", seed("admin-cert")).as_bytes(),
    );
    let key = pem("EC PRIVATE KEY", seed("admin-key").as_bytes());
    (cert, key)
}
