//! From cluster.toml to a [`Fleet`] ready to talk to.

use std::path::Path;

use anyhow::Context;
use pikube_cluster::config::{self, ClusterConfig, NodeSpec, Role};
use pikube_cluster::fleet::{Fleet, Member};
use pikube_cluster::node_records::{NodeRecord, RecordedRole};
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
    let members = config
        .nodes
        .iter()
        .filter(|node| keep(node))
        .map(|node| member(config, record_of(node, false), node.role.to_string()))
        .collect();
    Ok(Fleet::new(client(config)?, members, config.ssh.parallelism))
}

/// A fleet of nodes cluster.toml may no longer list, reached as they were when recorded
/// (through today's `[ssh]` settings: known_hosts, ssh_config, jump hosts).
pub fn fleet_of_records(config: &ClusterConfig, records: Vec<NodeRecord>) -> anyhow::Result<Fleet> {
    let members = records
        .into_iter()
        .map(|record| {
            let role = match record.role {
                RecordedRole::Server => Role::Server,
                RecordedRole::Agent => Role::Agent,
            };
            member(config, record, role.to_string())
        })
        .collect();
    Ok(Fleet::new(client(config)?, members, config.ssh.parallelism))
}

/// How to reach `node` again later, as `.pikube/<cluster>/nodes.json` keeps it.
pub fn record_of(node: &NodeSpec, initialised_cluster: bool) -> NodeRecord {
    NodeRecord {
        name: node.name.to_string(),
        address: node.address.to_string(),
        user: node.user.clone(),
        port: node.port,
        identity_file: node.identity_file.clone(),
        proxy_jump: node.proxy_jump.clone(),
        role: match node.role {
            Role::Server => RecordedRole::Server,
            Role::Agent => RecordedRole::Agent,
        },
        initialised_cluster,
    }
}

fn client(config: &ClusterConfig) -> anyhow::Result<ClientConfig> {
    ClientConfig::create(
        &config.ssh.known_hosts,
        config.ssh.config_file.as_deref(),
        config.ssh.identity_file.as_deref(),
        config.ssh.connect_timeout,
    )
    .context("preparing the SSH client")
}

fn member(config: &ClusterConfig, node: NodeRecord, role: String) -> Member {
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

/// Takes the cluster's lock for `command` (see `pikube_cluster::run_lock`), saying so when it
/// takes over one whose holder is gone.
pub fn lock_cluster(
    config: &ClusterConfig,
    command: &str,
    lock: &crate::cli::LockArgs,
) -> anyhow::Result<pikube_cluster::run_lock::RunLock> {
    use pikube_cluster::run_lock::{Holder, RunLock, WAIT};
    let dir = crate::commands::k3s_stage::local_state(config)
        .dir()
        .to_owned();
    let taken = RunLock::acquire(
        &dir,
        &Holder::this_process(command),
        WAIT,
        lock.force_unlock,
    )?;
    if let Some(previous) = &taken.took_over {
        eprintln!(
            "note: took over {} from {}, which is no longer running",
            dir.join("lock").display(),
            previous.describe()
        );
    }
    Ok(taken)
}

/// The cluster lock held on a server, with the fleet whose SSH settings (and control
/// sockets) its connection lives on.
pub struct ServerLock {
    lock: pikube_cluster::cluster_lock::ClusterLock,
    servers: Fleet,
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
    use pikube_cluster::cluster_lock::ClusterLock;
    use pikube_cluster::run_lock::{Holder, WAIT};
    let servers = fleet_of(config, |node| {
        node.role == pikube_cluster::config::Role::Server
    })?;
    let mut first = None;
    for connected in servers
        .connect_privileged(progress, &crate::commands::sudo_prompt::sudo_password)
        .await
    {
        match (connected.result, first.is_none()) {
            (Ok(connection), true) => first = Some(connection),
            (Ok(connection), false) => connection.close().await,
            (Err(_), _) => {}
        }
    }
    let Some(server) = first else {
        return Ok(None);
    };
    let node = server.node().to_owned();
    let taken = ClusterLock::acquire(
        server,
        &Holder::this_process(command),
        WAIT,
        lock.force_unlock,
    )
    .await?;
    if let Some((previous, age)) = &taken.took_over {
        eprintln!(
            "note: took over the cluster lock on {node} from {}, untouched for {age} s",
            previous.describe()
        );
    }
    Ok(Some(ServerLock {
        lock: taken,
        servers,
    }))
}

/// Releases the cluster lock; a server rebooted meanwhile is reached again for it. A lock
/// that cannot be released is said to be left (it goes stale by itself in 5 minutes).
pub async fn unlock_server(held: ServerLock) {
    let ServerLock { lock, servers } = held;
    let node = lock.node().to_owned();
    let script = lock.release_script();
    if lock.release().await.is_ok() {
        return;
    }
    let mut released = false;
    for connected in servers
        .connect_privileged(
            &pikube_cluster::progress::SilentProgress,
            &crate::commands::sudo_prompt::sudo_password,
        )
        .await
    {
        let Ok(connection) = connected.result else {
            continue;
        };
        if connected.node == node && !released {
            released = connection
                .run_privileged("releasing the cluster lock", &script, b"")
                .await
                .is_ok();
        }
        connection.close().await;
    }
    if !released {
        eprintln!(
            "warning: the cluster lock on {node} ({}) could not be released: it goes stale in \
             {} s",
            pikube_cluster::cluster_lock::PATH,
            pikube_cluster::cluster_lock::STALE_AFTER.as_secs()
        );
    }
}
