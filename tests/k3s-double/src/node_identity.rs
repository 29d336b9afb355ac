//! Who this node is: its name, its node password, and the labels and taints
//! its kubelet registers with.

use crate::config::Settings;
use crate::files::write_mode;
use crate::kubelet::{NodeSpec, Taint};
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
    Server { etcd: bool },
}

/// The labels the kubelet registers with (its automatic ones, then `--node-label`).
pub fn kubelet_labels(
    name: &str,
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
    for entry in node_labels {
        let (k, v) = entry.split_once('=').unwrap_or((entry, ""));
        if k.is_empty() {
            return Err(format!("invalid node-label {entry:?}"));
        }
        put(k, v);
    }
    Ok(labels)
}

/// The role labels k3s' supervisor puts on a server's node (a kubelet may not set them).
pub fn role_labels(role: Role) -> BTreeMap<String, String> {
    let Role::Server { etcd } = role;
    let mut labels = BTreeMap::new();
    labels.insert(
        "node-role.kubernetes.io/control-plane".into(),
        "true".into(),
    );
    labels.insert("node-role.kubernetes.io/master".into(), "true".into());
    if etcd {
        labels.insert("node-role.kubernetes.io/etcd".into(), "true".into());
    }
    labels
}

/// What this node's kubelet registers: name, labels, taints, version and address.
pub fn node_spec(settings: &Settings, name: &str, internal_ip: String) -> Result<NodeSpec, String> {
    let taints = settings
        .list("node-taint")
        .iter()
        .map(|t| Taint::parse(t))
        .collect::<Result<_, _>>()?;
    Ok(NodeSpec {
        name: name.to_string(),
        labels: kubelet_labels(name, &settings.list("node-label"))?,
        taints,
        version: crate::version::current(),
        internal_ip,
    })
}

/// `--node-ip`, else the address this node reaches `toward` (host:port) from.
pub fn node_ip(settings: &Settings, toward: Option<&str>) -> String {
    if let Some(ip) = settings.list("node-ip").first() {
        return ip.clone();
    }
    let target = toward.unwrap_or("10.255.255.255:6443");
    std::net::UdpSocket::bind("0.0.0.0:0")
        .and_then(|s| s.connect(target).map(|()| s))
        .and_then(|s| s.local_addr())
        .map(|a| a.ip().to_string())
        .unwrap_or_else(|_| "127.0.0.1".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubelet_and_role_labels() {
        let labels = kubelet_labels("pi1", &["zone=a".into()]).unwrap();
        assert_eq!(labels["kubernetes.io/hostname"], "pi1");
        assert_eq!(labels["kubernetes.io/os"], "linux");
        assert_eq!(labels["zone"], "a");
        assert!(!labels.keys().any(|k| k.starts_with("node-role.")));
        assert!(kubelet_labels("pi2", &["=x".into()]).is_err());
        let server = role_labels(Role::Server { etcd: true });
        assert_eq!(server["node-role.kubernetes.io/control-plane"], "true");
        assert_eq!(server["node-role.kubernetes.io/etcd"], "true");
        assert!(
            !role_labels(Role::Server { etcd: false }).contains_key("node-role.kubernetes.io/etcd")
        );
    }
}
