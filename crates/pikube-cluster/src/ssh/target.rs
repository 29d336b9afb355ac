use std::path::PathBuf;

use crate::config::NodeName;

/// Where and as whom to reach one node; every field left `None` falls back to ssh_config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshTarget {
    /// The node's name in cluster.toml, used in every message about it.
    pub node: NodeName,
    /// IP address or host name (an ssh_config `Host` alias works too).
    pub address: String,
    /// The login user.
    pub user: Option<String>,
    /// The SSH port.
    pub port: Option<u16>,
    /// The private key.
    pub identity_file: Option<PathBuf>,
    /// OpenSSH `-J` syntax: `[user@]host[:port][,...]`.
    pub proxy_jump: Option<String>,
}

impl SshTarget {
    /// `user@address` as a person would type it, for messages.
    pub fn display(&self) -> String {
        match &self.user {
            Some(user) => format!("{user}@{}", self.address),
            None => self.address.clone(),
        }
    }
}
