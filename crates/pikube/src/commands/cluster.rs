//! From cluster.toml to a [`Fleet`] ready to talk to, and the locks commands take.

use std::path::Path;

use pikube_cluster::cluster_lock::ServerLock;
use pikube_cluster::config::{self, ClusterConfig, NodeName, NodeSpec, Role};
use pikube_cluster::fleet::Fleet;

use crate::commands::sudo_prompt::sudo_password;

/// Loads and validates the file; warnings go to standard error.
pub fn load_config(path: &Path) -> anyhow::Result<ClusterConfig> {
    let loaded = config::load(path).map_err(|err| anyhow::anyhow!("{err}"))?;
    for warning in &loaded.warnings {
        errln!("warning: {warning}");
    }
    super::sudo_prompt::secrets_beside(loaded.config.dir());
    Ok(loaded.config)
}

/// Refuses node names cluster.toml does not have, naming the ones it has.
pub fn check_node_names(config: &ClusterConfig, names: &[NodeName]) -> anyhow::Result<()> {
    for name in names {
        if config.node(name).is_none() {
            let known: Vec<String> = config.nodes.iter().map(|n| n.name.to_string()).collect();
            anyhow::bail!(
                "no node {name} in {} (nodes: {})",
                config.path.display(),
                known.join(", ")
            );
        }
    }
    Ok(())
}

pub fn fleet(config: &ClusterConfig) -> anyhow::Result<Fleet> {
    Ok(Fleet::of_config(config)?)
}

/// A fleet of the nodes `keep` picks (e.g. the servers), in file order.
pub fn fleet_of(config: &ClusterConfig, keep: impl Fn(&NodeSpec) -> bool) -> anyhow::Result<Fleet> {
    Ok(Fleet::of_config_where(config, keep)?)
}

/// Takes the cluster's lock for `command` (see `pikube_cluster::run_lock`), saying so when it
/// takes over one whose holder is gone.
pub fn lock_cluster(
    config: &ClusterConfig,
    command: &str,
    lock: &crate::cli::LockArgs,
) -> anyhow::Result<pikube_cluster::run_lock::RunLock> {
    use pikube_cluster::run_lock::{Holder, RunLock, WAIT};
    let dir = crate::commands::local_state::local_state(config)
        .dir()
        .to_owned();
    let taken = RunLock::acquire(
        &dir,
        &Holder::this_process(command),
        WAIT,
        lock.force_unlock,
    )?;
    if let Some(previous) = &taken.took_over {
        errln!(
            "note: took over {} from {}, which is no longer running",
            dir.join("lock").display(),
            previous.describe()
        );
    }
    Ok(taken)
}

/// Takes the cluster's own lock on the first server of cluster.toml that answers, so that
/// runs from two machines cannot overlap. `None` when no server answers: the command then
/// meets the same unreachable servers and says so itself.
pub async fn lock_on_server(
    config: &ClusterConfig,
    command: &str,
    lock: &crate::cli::LockArgs,
    progress: &dyn pikube_cluster::progress::Progress,
) -> anyhow::Result<Option<ServerLock>> {
    let servers = fleet_of(config, |node| node.role == Role::Server)?;
    let taken = ServerLock::take(
        servers,
        &std::collections::BTreeMap::new(),
        command,
        lock.force_unlock,
        progress,
        &sudo_password,
    )
    .await?;
    if let Some(note) = taken.as_ref().and_then(ServerLock::took_over_note) {
        errln!("note: {note}");
    }
    Ok(taken)
}

/// Releases the cluster lock; one that cannot be released is said to be left.
pub async fn unlock_server(held: ServerLock) {
    if let Err(warning) = held.release(&sudo_password).await {
        errln!("warning: {warning}");
    }
}
