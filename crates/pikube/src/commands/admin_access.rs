//! The admin user a node is set up with (`firstboot`, `bootstrap`): its name from
//! cluster.toml, and the public keys it logs in with.

use std::path::{Path, PathBuf};

use anyhow::Context;
use pikube_cluster::config::{ClusterConfig, NodeSpec};
use pikube_cluster::firstboot::AuthorizedKey;

/// The node's login user (its own `user`, else `[ssh] user`): what the card creates.
pub fn admin_user(config: &ClusterConfig, node: &NodeSpec) -> anyhow::Result<String> {
    let Some(user) = node.user.clone() else {
        anyhow::bail!(
            "{}: the node is set up for the user pikube logs in as, and cluster.toml names none: set \
             [ssh] user (or the node's user) in {}",
            node.name,
            config.path.display()
        );
    };
    let valid = user.len() <= 32
        && user.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
        && user
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '-'));
    if user == "root" || !valid {
        anyhow::bail!(
            "{}: user {user:?} cannot be the admin user pikube sets up: a lowercase name of \
             letters, digits, '_' and '-' (at most 32), other than root",
            node.name
        );
    }
    Ok(user)
}

/// --authorized-key files, else the node's identity_file with .pub, else ssh-agent's first
/// key, else the usual ~/.ssh/*.pub.
pub fn keys_for(authorized_key: &[PathBuf], node: &NodeSpec) -> anyhow::Result<Vec<AuthorizedKey>> {
    if !authorized_key.is_empty() {
        return authorized_key.iter().map(|path| key_file(path)).collect();
    }
    if let Some(identity) = &node.identity_file {
        let public = PathBuf::from(format!("{}.pub", identity.display()));
        if public.is_file() {
            return Ok(vec![key_file(&public)?]);
        }
    }
    if let Some(key) = agent_key() {
        return Ok(vec![key]);
    }
    let home = std::env::var_os("HOME").map(PathBuf::from);
    for name in ["id_ed25519.pub", "id_ecdsa.pub", "id_rsa.pub"] {
        if let Some(path) = home.as_ref().map(|h| h.join(".ssh").join(name)) {
            if path.is_file() {
                return Ok(vec![key_file(&path)?]);
            }
        }
    }
    anyhow::bail!(
        "{}: no public key for the admin user: give --authorized-key FILE, or set [ssh] \
         identity_file (its .pub beside it), or load a key into ssh-agent",
        node.name
    )
}

fn key_file(path: &Path) -> anyhow::Result<AuthorizedKey> {
    let text = std::fs::read_to_string(path).with_context(|| format!("{}", path.display()))?;
    text.parse().with_context(|| format!("{}", path.display()))
}

fn agent_key() -> Option<AuthorizedKey> {
    std::env::var_os("SSH_AUTH_SOCK")?;
    let output = std::process::Command::new("ssh-add")
        .arg("-L")
        .stdin(std::process::Stdio::null())
        .output()
        .ok()?;
    if !output.status.success() {
        return None;
    }
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .find_map(|line| line.parse().ok())
}
