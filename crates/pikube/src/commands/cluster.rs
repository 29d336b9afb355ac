//! From cluster.toml to a [`Fleet`] ready to talk to.

use std::path::Path;

use anyhow::Context;
use pikube_cluster::config::{self, ClusterConfig, NodeSpec};
use pikube_cluster::fleet::{Fleet, Member};
use pikube_cluster::plan::DesiredNode;
use pikube_cluster::ssh::{ClientConfig, SshTarget};

/// Loads and validates the file; warnings go to standard error.
pub fn load_config(path: &Path) -> anyhow::Result<ClusterConfig> {
    let loaded = config::load(path).map_err(|err| anyhow::anyhow!("{err}"))?;
    for warning in &loaded.warnings {
        eprintln!("warning: {warning}");
    }
    Ok(loaded.config)
}

pub fn fleet(config: &ClusterConfig) -> anyhow::Result<Fleet> {
    fleet_of(config, |_| true)
}

/// A fleet of the nodes `keep` picks (e.g. the servers), in file order.
pub fn fleet_of(config: &ClusterConfig, keep: impl Fn(&NodeSpec) -> bool) -> anyhow::Result<Fleet> {
    let client = ClientConfig::create(
        &config.ssh.known_hosts,
        config.ssh.config_file.as_deref(),
        config.ssh.identity_file.as_deref(),
        config.ssh.connect_timeout,
    )
    .context("preparing the SSH client")?;
    let members = config
        .nodes
        .iter()
        .filter(|node| keep(node))
        .map(|node| Member {
            target: SshTarget {
                node: node.name.to_string(),
                address: node.address.to_string(),
                user: node.user.clone(),
                port: node.port,
                // The cluster-wide key is in the generated ssh_config already.
                identity_file: node
                    .identity_file
                    .clone()
                    .filter(|key| Some(key) != config.ssh.identity_file.as_ref()),
                proxy_jump: node.proxy_jump.clone(),
            },
            desired: DesiredNode {
                name: node.name.to_string(),
            },
            role: node.role.to_string(),
        })
        .collect();
    Ok(Fleet::new(client, members, config.ssh.parallelism))
}
