//! The host keys pikube pins on first contact (OpenSSH's `accept-new`), told to the user
//! with their fingerprints, so that a key pinned from the wrong machine can be caught by
//! comparing it with the node's own (review L9: trust on first use, said out loud).

use std::collections::BTreeSet;
use std::path::Path;

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use base64::Engine as _;
use sha2::{Digest, Sha256};

/// One key found in the pinned file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PinnedKey {
    /// As OpenSSH wrote them: `address` or `[address]:port`, comma-separated.
    pub hosts: String,
    /// `ssh-ed25519`, `ecdsa-sha2-nistp256`...
    pub key_type: String,
    /// As `ssh-keygen -l` prints it: `SHA256:` and the unpadded base64 of the key's hash.
    pub fingerprint: String,
}

impl PinnedKey {
    /// Whether this key was pinned for `address` reached on `port`.
    pub fn is_for(&self, address: &str, port: u16) -> bool {
        let wanted = if port == 22 {
            address.to_owned()
        } else {
            format!("[{address}]:{port}")
        };
        self.hosts.split(',').any(|host| host == wanted)
    }
}

/// The lines of the pinned file now (none when it does not exist yet).
pub fn snapshot(path: &Path) -> BTreeSet<String> {
    std::fs::read_to_string(path)
        .map(|text| text.lines().map(str::to_owned).collect())
        .unwrap_or_default()
}

/// The keys added to the file since `before`.
pub fn pinned_since(path: &Path, before: &BTreeSet<String>) -> Vec<PinnedKey> {
    snapshot(path)
        .iter()
        .filter(|line| !before.contains(*line))
        .filter_map(|line| parse_line(line))
        .collect()
}

fn parse_line(line: &str) -> Option<PinnedKey> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') || line.starts_with('@') {
        return None;
    }
    let mut fields = line.split_whitespace();
    let hosts = fields.next()?;
    let key_type = fields.next()?;
    let blob = STANDARD.decode(fields.next()?).ok()?;
    Some(PinnedKey {
        hosts: hosts.to_owned(),
        key_type: key_type.to_owned(),
        fingerprint: format!("SHA256:{}", STANDARD_NO_PAD.encode(Sha256::digest(&blob))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_keys_are_found_with_the_fingerprint_ssh_keygen_prints() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("host_key");
        let made = std::process::Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-f"])
            .arg(&key)
            .status()
            .unwrap();
        assert!(made.success());
        let public = std::fs::read_to_string(dir.path().join("host_key.pub")).unwrap();
        let listed = std::process::Command::new("ssh-keygen")
            .arg("-lf")
            .arg(dir.path().join("host_key.pub"))
            .output()
            .unwrap();
        let expected = String::from_utf8(listed.stdout)
            .unwrap()
            .split_whitespace()
            .nth(1)
            .unwrap()
            .to_owned();

        let known = dir.path().join("known_hosts");
        std::fs::write(
            &known,
            "10.0.0.1 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOld\n",
        )
        .unwrap();
        let before = snapshot(&known);
        let fields: Vec<&str> = public.split_whitespace().collect();
        let mut text = std::fs::read_to_string(&known).unwrap();
        text.push_str(&format!("[10.0.0.2]:2222 {} {}\n", fields[0], fields[1]));
        std::fs::write(&known, text).unwrap();

        let pinned = pinned_since(&known, &before);
        assert_eq!(pinned.len(), 1, "{pinned:?}");
        assert_eq!(pinned[0].key_type, "ssh-ed25519");
        assert_eq!(pinned[0].fingerprint, expected);
        assert!(pinned[0].is_for("10.0.0.2", 2222));
        assert!(!pinned[0].is_for("10.0.0.2", 22) && !pinned[0].is_for("10.0.0.1", 2222));
        assert!(pinned_since(&known, &snapshot(&known)).is_empty());
        assert!(snapshot(&dir.path().join("missing")).is_empty());
    }
}
