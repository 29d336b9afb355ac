//! Who this node is: its name, its node password, and the labels and taints
//! its kubelet registers with.

use crate::config::Settings;
use crate::files::write_mode;
use crate::nodes::{Registration, Taint};
use std::collections::BTreeMap;

/// `--node-name`, else the hostname (lower-cased, as k3s does);
/// `--with-node-id` appends a stable random suffix.
pub fn node_name(settings: &Settings, data_dir: &std::path::Path) -> String {
    let base = settings
        .str("node-name")
        .map(str::to_string)
        .unwrap_or_else(hostname)
        .to_lowercase();
    if !settings.bool("with-node-id") {
        return base;
    }
    let id_file = data_dir.join("agent/node-id");
    let id = std::fs::read_to_string(&id_file)
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| {
            let id = crate::encoding::random_hex(4);
            let _ = write_mode(&id_file, id.as_bytes(), 0o600);
            id
        });
    format!("{base}-{id}")
}

pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "localhost".into())
}

/// `/etc/rancher/node/password`, created on first use.
pub fn node_password() -> std::io::Result<String> {
    let path = crate::roots::node_password();
    if let Ok(existing) = std::fs::read_to_string(&path) {
        let existing = existing.trim().to_string();
        if !existing.is_empty() {
            return Ok(existing);
        }
    }
    let password = crate::encoding::random_hex(16);
    write_mode(&path, format!("{password}\n").as_bytes(), 0o600)?;
    Ok(password)
}

pub fn arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "arm" => "arm",
        other => other,
    }
}

/// The server roles a node shows in `kubectl get nodes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Agent,
    Server { etcd: bool },
}

/// Automatic labels, role labels, then `--node-label` entries.
pub fn labels(
    name: &str,
    role: Role,
    node_labels: &[String],
) -> Result<BTreeMap<String, String>, String> {
    let mut labels = BTreeMap::new();
    let mut put = |k: &str, v: &str| {
        labels.insert(k.to_string(), v.to_string());
    };
    put("beta.kubernetes.io/arch", arch());
    put("beta.kubernetes.io/os", "linux");
    put("kubernetes.io/arch", arch());
    put("kubernetes.io/hostname", name);
    put("kubernetes.io/os", "linux");
    put("node.kubernetes.io/instance-type", "k3s");
    if let Role::Server { etcd } = role {
        put("node-role.kubernetes.io/control-plane", "true");
        put("node-role.kubernetes.io/master", "true");
        if etcd {
            put("node-role.kubernetes.io/etcd", "true");
        }
    }
    for entry in node_labels {
        let (k, v) = entry.split_once('=').unwrap_or((entry, ""));
        if k.is_empty() {
            return Err(format!("invalid node-label {entry:?}"));
        }
        put(k, v);
    }
    Ok(labels)
}

pub fn registration(
    settings: &Settings,
    name: &str,
    role: Role,
    password: &str,
) -> Result<Registration, String> {
    let taints = settings
        .list("node-taint")
        .iter()
        .map(|t| Taint::parse(t))
        .collect::<Result<_, _>>()?;
    Ok(Registration {
        name: name.to_string(),
        password: password.to_string(),
        labels: labels(name, role, &settings.list("node-label"))?,
        taints,
        version: crate::version::current(),
        internal_ip: settings
            .list("node-ip")
            .first()
            .cloned()
            .unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_and_agent_labels() {
        let server = labels("pi1", Role::Server { etcd: true }, &["zone=a".into()]).unwrap();
        assert_eq!(server["node-role.kubernetes.io/control-plane"], "true");
        assert_eq!(server["node-role.kubernetes.io/etcd"], "true");
        assert_eq!(server["kubernetes.io/hostname"], "pi1");
        assert_eq!(server["kubernetes.io/os"], "linux");
        assert_eq!(server["zone"], "a");
        let sqlite = labels("pi1", Role::Server { etcd: false }, &[]).unwrap();
        assert!(!sqlite.contains_key("node-role.kubernetes.io/etcd"));
        let agent = labels("pi2", Role::Agent, &[]).unwrap();
        assert!(!agent.keys().any(|k| k.starts_with("node-role.")));
        assert!(labels("pi2", Role::Agent, &["=x".into()]).is_err());
    }
}
