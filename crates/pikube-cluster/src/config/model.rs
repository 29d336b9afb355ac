//! The typed cluster description that the rest of pikube works from.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

use super::address::Address;
use super::labels::{LabelKey, LabelValue};
use super::names::{ClusterName, NodeName};
use super::role::Role;
use super::version::K3sVersion;

/// A whole, valid `cluster.toml`.
#[derive(Debug, Clone, Serialize)]
pub struct ClusterConfig {
    /// The file it was read from, as given.
    pub path: PathBuf,
    pub name: ClusterName,
    pub ssh: SshSettings,
    pub k3s: K3sSettings,
    /// In file order; at least one is a server.
    pub nodes: Vec<NodeSpec>,
}

/// `[ssh]`: defaults for every node. Unset options are left to ssh itself
/// (ssh_config, the agent), which is why they stay `Option`.
#[derive(Debug, Clone, Serialize)]
pub struct SshSettings {
    pub user: Option<String>,
    pub port: Option<u16>,
    /// Resolved against the cluster.toml directory, `~` expanded.
    pub identity_file: Option<PathBuf>,
    /// An ssh_config to use instead of ~/.ssh/config; resolved like `identity_file`.
    pub config_file: Option<PathBuf>,
    /// Pinned host keys; resolved, default `known_hosts` beside cluster.toml.
    pub known_hosts: PathBuf,
    /// OpenSSH `-J` syntax.
    pub proxy_jump: Option<String>,
    #[serde(serialize_with = "seconds")]
    pub connect_timeout: Duration,
    /// How many nodes are worked on at once.
    pub parallelism: usize,
}

/// `[k3s]`.
#[derive(Debug, Clone, Serialize)]
pub struct K3sSettings {
    pub version: K3sVersion,
}

/// One `[[nodes]]` entry, with SSH options already resolved: the node's own
/// value if it set one, else the `[ssh]` value.
#[derive(Debug, Clone, Serialize)]
pub struct NodeSpec {
    pub name: NodeName,
    pub address: Address,
    pub role: Role,
    pub user: Option<String>,
    pub port: Option<u16>,
    pub identity_file: Option<PathBuf>,
    /// `None` also when the node opted out with `proxy_jump = ""`.
    pub proxy_jump: Option<String>,
    pub labels: BTreeMap<LabelKey, LabelValue>,
}

impl ClusterConfig {
    pub fn servers(&self) -> impl Iterator<Item = &NodeSpec> {
        self.nodes.iter().filter(|n| n.role == Role::Server)
    }

    pub fn agents(&self) -> impl Iterator<Item = &NodeSpec> {
        self.nodes.iter().filter(|n| n.role == Role::Agent)
    }

    pub fn node(&self, name: &str) -> Option<&NodeSpec> {
        self.nodes.iter().find(|n| n.name.as_ref() == name)
    }

    /// The directory holding cluster.toml, against which its paths resolve
    /// (`.` when the file was named without a directory).
    pub fn dir(&self) -> &Path {
        match self.path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        }
    }
}

fn seconds<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(d.as_secs())
}
