//! K3s started on a node and waited for until it serves: what restore does to every node
//! and a SQLite backup to its server once the copy is made.

use std::time::{Duration, Instant};

use super::cluster_nodes::get_nodes;
use super::install::{service_status, wait_started, InstallError};
use super::paths::Service;
use crate::ssh::Connection;

/// Starts `service` and waits for it to run, as install does. `--no-block`: with
/// Type=notify and no start timeout, `systemctl start` would hold for as long as k3s cannot
/// start, and it fails outright on a first attempt that systemd's Restart=always would
/// have retried (a server joining an etcd that has just taken a member can be refused
/// once). `wait_started` tolerates one such restart and reports the journal after more.
pub async fn start_service(
    node: &Connection,
    service: Service,
    timeout: Duration,
) -> Result<(), InstallError> {
    let before = service_status(node, service).await?;
    node.run_privileged(
        "starting K3s",
        &format!("systemctl start --no-block {}.service", service.name()),
        b"",
    )
    .await?;
    wait_started(node, service, &before, timeout).await
}

/// Until `name` is Ready in the node list `api` serves.
pub async fn wait_node_ready(
    api: &Connection,
    name: &str,
    timeout: Duration,
) -> Result<(), String> {
    let started = Instant::now();
    loop {
        let last = match get_nodes(api).await {
            Ok(live) => match live.iter().find(|n| n.name == name) {
                Some(node) if node.ready => return Ok(()),
                Some(_) => "NotReady".to_owned(),
                None => "not in the node list".to_owned(),
            },
            Err(err) => err.to_string(),
        };
        if started.elapsed() >= timeout {
            return Err(format!(
                "not Ready within {} s (last: {last})",
                timeout.as_secs()
            ));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
