//! From cluster.toml (or the records of nodes it no longer lists) to a [`Fleet`] ready to
//! talk to.

use crate::config::{ClusterConfig, NodeSpec, Role};
use crate::node_records::{NodeRecord, Registration};
use crate::plan::DesiredNode;
use crate::ssh::{ClientConfig, SshTarget};

use super::{Fleet, Member};

/// The SSH client's files (known_hosts, the generated ssh_config) could not be set up.
#[derive(Debug, thiserror::Error)]
#[error("preparing the SSH client: {0}")]
pub struct SshClientError(pub std::io::Error);

impl Fleet {
    /// Every node of cluster.toml, in file order.
    pub fn of_config(config: &ClusterConfig) -> Result<Fleet, SshClientError> {
        Fleet::of_config_where(config, |_| true)
    }

    /// The nodes `keep` picks (e.g. the servers), in file order.
    pub fn of_config_where(
        config: &ClusterConfig,
        keep: impl Fn(&NodeSpec) -> bool,
    ) -> Result<Fleet, SshClientError> {
        let members = config
            .nodes
            .iter()
            .filter(|node| keep(node))
            .map(|node| member(config, record_of(node, false, None), node.role))
            .collect();
        Ok(Fleet::new(client(config)?, members, config.ssh.parallelism))
    }

    /// Nodes cluster.toml may no longer list, reached as they were when recorded (through
    /// today's `[ssh]` settings: known_hosts, ssh_config, jump hosts).
    pub fn of_records(
        config: &ClusterConfig,
        records: Vec<NodeRecord>,
    ) -> Result<Fleet, SshClientError> {
        let members = records
            .into_iter()
            .map(|record| {
                let role = record.role;
                member(config, record, role)
            })
            .collect();
        Ok(Fleet::new(client(config)?, members, config.ssh.parallelism))
    }
}

/// How to reach `node` again later, as `.pikube/<cluster>/nodes.json` keeps it.
pub fn record_of(
    node: &NodeSpec,
    initialised_cluster: bool,
    registration: Option<Registration>,
) -> NodeRecord {
    NodeRecord {
        name: node.name.clone(),
        address: node.address.to_string(),
        user: node.user.clone(),
        port: node.port,
        identity_file: node.identity_file.clone(),
        proxy_jump: node.proxy_jump.clone(),
        role: node.role,
        initialised_cluster,
        registration,
    }
}

fn client(config: &ClusterConfig) -> Result<ClientConfig, SshClientError> {
    ClientConfig::create(
        &config.ssh.known_hosts,
        config.ssh.config_file.as_deref(),
        config.ssh.identity_file.as_deref(),
        config.ssh.connect_timeout,
        config.ssh.command_timeout,
    )
    .map_err(SshClientError)
}

fn member(config: &ClusterConfig, node: NodeRecord, role: Role) -> Member {
    Member {
        target: SshTarget {
            node: node.name.clone(),
            address: node.address,
            user: node.user,
            port: node.port,
            // The cluster-wide key is in the generated ssh_config already.
            identity_file: node
                .identity_file
                .filter(|key| Some(key) != config.ssh.identity_file.as_ref()),
            proxy_jump: node.proxy_jump,
        },
        desired: DesiredNode { name: node.name },
        role,
    }
}
