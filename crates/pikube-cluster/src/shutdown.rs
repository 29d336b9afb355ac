//! Taking the whole cluster down in an order it survives, and bringing it back: every
//! node cordoned (marked as pikube's, so the next apply uncordons it), K3s stopped on the
//! agents first with k3s-killall.sh (so their containers stop too), then on the servers one
//! at a time with the first server last, then the machines powered off (or rebooted) in
//! that same order.

use std::fmt;
use std::time::{Duration, Instant};

use futures::future::join_all;
use serde::Serialize;

use crate::config::{ClusterConfig, NodeName, Role};
use crate::k3s::cordon::cordon;
use crate::k3s::paths::KILLALL;
use crate::progress::Progress;
use crate::reboot::{reboot_node, RebootError};
use crate::ssh::{ClientConfig, Connection, SshError};

/// One node's part, in the order it is taken.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ShutdownStep {
    /// Its cluster.toml name.
    pub node: NodeName,
    /// Server or agent.
    pub role: Role,
}

/// The order: agents (in file order, all at once), then servers in reverse file order, one
/// at a time: the server that started the cluster goes last and comes back first.
pub fn shutdown_order(config: &ClusterConfig) -> Vec<ShutdownStep> {
    let step = |n: &crate::config::NodeSpec| ShutdownStep {
        node: n.name.clone(),
        role: n.role,
    };
    let mut order: Vec<ShutdownStep> = config.agents().map(step).collect();
    let servers: Vec<ShutdownStep> = config.servers().map(step).collect();
    order.extend(servers.into_iter().rev());
    order
}

/// What becomes of the machines once K3s is stopped everywhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PowerAction {
    /// Powered off, and waited for until it stops answering (`pikube shutdown`).
    PowerOff,
    /// Rebooted, and waited for until it is back with a new boot id (`--reboot`).
    Reboot,
}

/// What happened to one node: the steps done, or the one that failed.
#[derive(Debug, Clone, Serialize)]
pub struct ShutdownOutcome {
    /// Its cluster.toml name.
    pub node: NodeName,
    /// The steps done, in order.
    pub done: Vec<String>,
    /// The step that failed, and why; the node's later steps were not taken.
    pub error: Option<String>,
}

/// Takes the cluster down. `nodes`: the nodes reached, as root, in [`shutdown_order`];
/// `api`: a server to cordon through (none: the API is down already, nothing is cordoned);
/// `before_power`: run once K3s is stopped everywhere and before any machine goes down
/// (the cluster lock is released there).
pub async fn shut_down(
    nodes: Vec<(ShutdownStep, Connection)>,
    api: Option<&Connection>,
    client: &ClientConfig,
    action: PowerAction,
    progress: &dyn Progress,
    before_power: impl std::future::Future<Output = ()>,
) -> Vec<ShutdownOutcome> {
    let mut outcomes: Vec<ShutdownOutcome> = nodes
        .iter()
        .map(|(step, _)| ShutdownOutcome {
            node: step.node.clone(),
            done: Vec::new(),
            error: None,
        })
        .collect();

    // 1. Cordoned: nothing new lands anywhere while the cluster goes down.
    if let Some(api) = api {
        for ((step, _), outcome) in nodes.iter().zip(outcomes.iter_mut()) {
            match cordon(api, &step.node, "shutdown").await {
                Ok(()) => outcome.done.push("cordoned".to_owned()),
                Err(why) => progress.node(&step.node, &format!("not cordoned: {why}")),
            }
        }
    }

    // 2. K3s stopped: all agents at once, then the servers one by one.
    let agents: Vec<usize> = (0..nodes.len())
        .filter(|&i| nodes[i].0.role == Role::Agent)
        .collect();
    let stopped = join_all(agents.iter().map(|&i| stop_k3s(&nodes[i].1, progress))).await;
    for (&i, result) in agents.iter().zip(stopped) {
        record(&mut outcomes[i], result, "K3s stopped");
    }
    for i in (0..nodes.len()).filter(|&i| nodes[i].0.role == Role::Server) {
        let result = stop_k3s(&nodes[i].1, progress).await;
        record(&mut outcomes[i], result, "K3s stopped");
    }
    before_power.await;

    // 3. Powered off (or rebooted) in the same order; a node whose K3s did not stop is left
    //    running, so that nothing is cut under a live etcd member.
    let verb = match action {
        PowerAction::PowerOff => "powered off",
        PowerAction::Reboot => "rebooted",
    };
    let mut agent_work = Vec::new();
    let mut server_work = Vec::new();
    for (i, (step, connection)) in nodes.into_iter().enumerate() {
        if outcomes[i].error.is_some() {
            connection.close().await;
            continue;
        }
        match step.role {
            Role::Agent => agent_work.push((i, connection)),
            Role::Server => server_work.push((i, connection)),
        }
    }
    let results = join_all(
        agent_work
            .into_iter()
            .map(|(i, c)| async move { (i, power(c, client, action).await) }),
    )
    .await;
    for (i, result) in results {
        record(&mut outcomes[i], result, verb);
    }
    for (i, connection) in server_work {
        let result = power(connection, client, action).await;
        record(&mut outcomes[i], result, verb);
    }
    outcomes
}

/// Why a machine was not powered off or rebooted.
#[derive(Debug, thiserror::Error)]
enum PowerError {
    #[error("{0}")]
    Ssh(SshError),
    #[error("{0}")]
    Reboot(RebootError),
    /// Still reachable over SSH this long after it was asked to power off.
    #[error("still answering {} s after the power-off request", .0.as_secs())]
    StillAnswering(Duration),
}

/// How long a machine gets to stop answering once asked to power off.
const POWER_OFF_WAIT: Duration = Duration::from_secs(120);

fn record(outcome: &mut ShutdownOutcome, result: Result<(), impl fmt::Display>, done: &str) {
    match result {
        Ok(()) => outcome.done.push(done.to_owned()),
        Err(why) if outcome.error.is_none() => {
            outcome.error = Some(format!("{}: {done}: no: {why}", outcome.node))
        }
        Err(_) => {}
    }
}

/// k3s-killall.sh: the service stopped, its containers and their mounts gone.
async fn stop_k3s(node: &Connection, progress: &dyn Progress) -> Result<(), SshError> {
    progress.node(node.node(), "stopping K3s (k3s-killall.sh)");
    let script = format!(
        "if [ -x {KILLALL} ]; then {KILLALL}; else systemctl stop k3s k3s-agent 2>/dev/null; true; fi"
    );
    node.run_privileged("stopping K3s", &script, b"")
        .await
        .map(|_| ())
}

/// Powers the node off and waits until it stops answering, or reboots it and waits until
/// it answers with a new boot id.
async fn power(
    connection: Connection,
    client: &ClientConfig,
    action: PowerAction,
) -> Result<(), PowerError> {
    match action {
        PowerAction::Reboot => {
            let boot_id = connection
                .run("reading the boot id", "cat /proc/sys/kernel/random/boot_id")
                .await
                .map_err(PowerError::Ssh)?
                .stdout;
            let back = reboot_node(connection, client, &boot_id, Duration::from_secs(300))
                .await
                .map_err(PowerError::Reboot)?;
            back.close().await;
            Ok(())
        }
        PowerAction::PowerOff => {
            connection
                .run_privileged(
                    "the power-off request",
                    "nohup sh -c 'sleep 1; systemctl poweroff || poweroff' >/dev/null 2>&1 &",
                    b"",
                )
                .await
                .map_err(PowerError::Ssh)?;
            let started = Instant::now();
            while started.elapsed() < POWER_OFF_WAIT {
                if connection.run("checking it is off", "true").await.is_err() {
                    return Ok(());
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(PowerError::StillAnswering(POWER_OFF_WAIT))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agents_go_first_then_servers_with_the_first_server_last() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cluster.toml");
        std::fs::write(
            &path,
            "[cluster]\nname = \"t\"\n[k3s]\nversion = \"v1.34.4+k3s1\"\n\
             [[nodes]]\nname = \"s1\"\naddress = \"10.0.0.1\"\nrole = \"server\"\n\
             [[nodes]]\nname = \"a1\"\naddress = \"10.0.0.2\"\nrole = \"agent\"\n\
             [[nodes]]\nname = \"s2\"\naddress = \"10.0.0.3\"\nrole = \"server\"\n\
             [[nodes]]\nname = \"a2\"\naddress = \"10.0.0.4\"\nrole = \"agent\"\n",
        )
        .unwrap();
        let config = crate::config::load(&path).unwrap().config;
        let order: Vec<NodeName> = shutdown_order(&config)
            .into_iter()
            .map(|s| s.node)
            .collect();
        assert_eq!(order, ["a1", "a2", "s2", "s1"]);
    }
}
