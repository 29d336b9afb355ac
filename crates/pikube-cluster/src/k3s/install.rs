//! Carrying out a node's k3s plan: the binary (checked on the node), files, links, the
//! service; then waiting for it to come up.

use std::time::{Duration, Instant};

use super::node_plan::K3sNodePlan;
use super::paths::Service;
use crate::apply::carry_out as carry_out_change;
use crate::config::NodeName;
use crate::plan::Change;
use crate::progress::Progress;
use crate::ssh::{Connection, SshError};

/// Why a node's K3s changes were not all made.
#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    /// A change failed on the node.
    #[error(transparent)]
    Ssh(#[from] SshError),
    /// A file holding the token was to be written before the token was known (a bug).
    #[error("{node}: internal error: the token for {path} is not known yet")]
    TokenUnknown {
        /// The node.
        node: NodeName,
        /// The file.
        path: String,
    },
    /// The service did not start (or restart) in time.
    #[error("{node}: {service} did not start{within}. Its last log lines:\n{journal}")]
    NotStarted {
        /// The node.
        node: NodeName,
        /// `k3s` or `k3s-agent`.
        service: &'static str,
        /// How long it was given, in words (empty when it failed at once).
        within: String,
        /// The end of its journal.
        journal: String,
    },
}

/// Makes `plan`'s changes on the node, in order, saying each.
pub async fn carry_out(
    connection: &Connection,
    plan: &K3sNodePlan,
    progress: &dyn Progress,
) -> Result<(), InstallError> {
    let node = connection.node();
    for change in &plan.changes {
        progress.node(node, &format!("[k3s] {}", change.summary()));
        if let Change::SecretFile(file) = change {
            if file.content.is_empty() {
                return Err(InstallError::TokenUnknown {
                    node: node.to_owned(),
                    path: file.path.clone(),
                });
            }
        }
        carry_out_change(connection, change).await?;
    }
    Ok(())
}

/// systemd's view of a service, from `systemctl show`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceStatus {
    /// `active`, `activating`, `failed`...
    pub active_state: String,
    /// Changes at every start: tells a restart that happened from one that did not.
    pub invocation_id: String,
    /// How often systemd restarted it.
    pub restarts: u32,
}

pub fn parse_show(text: &str) -> ServiceStatus {
    let mut status = ServiceStatus::default();
    for line in text.lines() {
        match line.split_once('=') {
            Some(("ActiveState", v)) => status.active_state = v.trim().to_owned(),
            Some(("InvocationID", v)) => status.invocation_id = v.trim().to_owned(),
            Some(("NRestarts", v)) => status.restarts = v.trim().parse().unwrap_or(0),
            _ => {}
        }
    }
    status
}

/// What systemd says of `service` on the node now.
pub async fn service_status(
    connection: &Connection,
    service: Service,
) -> Result<ServiceStatus, SshError> {
    let output = connection
        .run(
            "asking systemd about k3s",
            &format!(
                "systemctl show -p ActiveState -p InvocationID -p NRestarts {}.service",
                service.name()
            ),
        )
        .await?;
    Ok(parse_show(&output.stdout))
}

/// Waits until a (re)started service is active in a new invocation. Gives up early when
/// systemd has restarted it twice (k3s exits on a wrong token or an unreachable server, and
/// Restart=always would retry forever), or at the timeout; either way with its journal.
pub async fn wait_started(
    connection: &Connection,
    service: Service,
    before: &ServiceStatus,
    timeout: Duration,
) -> Result<(), InstallError> {
    let started = Instant::now();
    loop {
        let now = service_status(connection, service).await?;
        let new_run = now.invocation_id != before.invocation_id || before.active_state != "active";
        if new_run && now.active_state == "active" {
            return Ok(());
        }
        // A manual (re)start resets systemd's counter, so count from zero, but ignore the
        // old count while the restart job has not been taken up yet.
        let crashing = now.restarts >= 2 && now.restarts != before.restarts;
        if crashing || started.elapsed() >= timeout {
            return Err(InstallError::NotStarted {
                node: connection.node().to_owned(),
                service: service.name(),
                within: if crashing {
                    format!(" (it exited and was restarted {} times)", now.restarts)
                } else {
                    format!(" within {}s", timeout.as_secs())
                },
                journal: journal_tail(connection, service, 15).await,
            });
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// The last lines k3s logged, for error messages; never fails (it is a diagnosis).
pub async fn journal_tail(connection: &Connection, service: Service, lines: usize) -> String {
    let script = format!(
        "journalctl -u {}.service -n {lines} --no-pager -o cat 2>&1",
        service.name()
    );
    match connection
        .run_privileged_unchecked("reading the k3s journal", &script, b"")
        .await
    {
        // K3s may quote its datastore endpoint, password included (review L9).
        Ok(output) if !output.stdout.trim().is_empty() => output
            .stdout
            .lines()
            .map(|l| format!("    {}", crate::plan::redact_url_passwords(l)))
            .collect::<Vec<_>>()
            .join("\n"),
        Ok(_) => "    (the journal is empty)".to_owned(),
        Err(err) => format!("    (could not read the journal: {err})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_systemctl_show() {
        let status = parse_show("ActiveState=activating\nInvocationID=ab12\nNRestarts=3\n");
        assert_eq!(status.active_state, "activating");
        assert_eq!(status.invocation_id, "ab12");
        assert_eq!(status.restarts, 3);
    }
}
