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
        let wanted = host_field(address, port);
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

/// `address` as known_hosts names it when reached on `port`.
fn host_field(address: &str, port: u16) -> String {
    if port == 22 {
        address.to_owned()
    } else {
        format!("[{address}]:{port}")
    }
}

/// Pins for `to` the keys already pinned for `from` (both on `port`): the same machine,
/// moved to another address by pikube itself, is then checked against the key it had,
/// not trusted anew. Found with `ssh-keygen -F`, which reads hashed entries too. Returns
/// how many keys were pinned (none when `from` has none, e.g. an ssh_config alias).
pub fn pin_for_new_address(path: &Path, from: &str, to: &str, port: u16) -> std::io::Result<usize> {
    let found = std::process::Command::new("ssh-keygen")
        .arg("-F")
        .arg(host_field(from, port))
        .arg("-f")
        .arg(path)
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()?;
    let present = snapshot(path);
    let host = host_field(to, port);
    let mut added = String::new();
    let mut count = 0;
    for line in String::from_utf8_lossy(&found.stdout).lines() {
        let mut fields = line.split_whitespace();
        let (Some(first), Some(key_type), Some(key)) =
            (fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        if first.starts_with('#') || first.starts_with('@') {
            continue;
        }
        let pinned = format!("{host} {key_type} {key}");
        if !present.contains(&pinned) && !added.contains(&pinned) {
            added.push_str(&pinned);
            added.push('\n');
            count += 1;
        }
    }
    if count > 0 {
        use std::io::Write as _;
        let mut file = std::fs::OpenOptions::new().append(true).open(path)?;
        file.write_all(added.as_bytes())?;
    }
    Ok(count)
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

    #[test]
    fn a_moved_machine_keeps_its_key_hashed_entries_included() {
        let dir = tempfile::tempdir().unwrap();
        let known = dir.path().join("known_hosts");
        let made = std::process::Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-f"])
            .arg(dir.path().join("host_key"))
            .status()
            .unwrap();
        assert!(made.success());
        let public = std::fs::read_to_string(dir.path().join("host_key.pub")).unwrap();
        let key = public.split_whitespace().nth(1).unwrap();
        std::fs::write(
            &known,
            format!("10.0.0.1 ssh-ed25519 {key}\n[10.0.0.9]:2222 ssh-ed25519 {key}\n"),
        )
        .unwrap();
        assert_eq!(
            pin_for_new_address(&known, "10.0.0.1", "10.0.0.50", 22).unwrap(),
            1
        );
        let text = std::fs::read_to_string(&known).unwrap();
        assert!(
            text.ends_with(&format!("10.0.0.50 ssh-ed25519 {key}\n")),
            "{text}"
        );
        // Once only; nothing for an address with no key; ports are told apart.
        assert_eq!(
            pin_for_new_address(&known, "10.0.0.1", "10.0.0.50", 22).unwrap(),
            0
        );
        assert_eq!(
            pin_for_new_address(&known, "10.0.0.7", "10.0.0.8", 22).unwrap(),
            0
        );
        assert_eq!(
            pin_for_new_address(&known, "10.0.0.9", "10.0.0.10", 2222).unwrap(),
            1
        );
        assert!(std::fs::read_to_string(&known)
            .unwrap()
            .contains("[10.0.0.10]:2222 ssh-ed25519"));

        // Hashed as Debian's ssh_config asks (HashKnownHosts yes): still found.
        let hashed = dir.path().join("hashed");
        std::fs::write(&hashed, format!("10.0.0.1 ssh-ed25519 {key}\n")).unwrap();
        let status = std::process::Command::new("ssh-keygen")
            .arg("-H")
            .arg("-f")
            .arg(&hashed)
            .output()
            .unwrap();
        assert!(status.status.success());
        assert!(!std::fs::read_to_string(&hashed)
            .unwrap()
            .contains("10.0.0.1"));
        assert_eq!(
            pin_for_new_address(&hashed, "10.0.0.1", "10.0.0.2", 22).unwrap(),
            1
        );
    }
}
