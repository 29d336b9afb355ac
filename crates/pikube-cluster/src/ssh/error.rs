use std::io;

use crate::config::NodeName;

/// What went wrong talking to a node. Every variant names the node.
#[derive(Debug, thiserror::Error)]
pub enum SshError {
    #[error(
        "{node}: the host key of {address} has CHANGED since it was pinned in {known_hosts}; \
         refusing to connect. If the node was reinstalled, remove its line from that file and \
         run again; otherwise someone may be impersonating it"
    )]
    /// The node's host key is not the one pinned: never connected to, never retried.
    HostKeyChanged {
        /// The node, by its cluster.toml name.
        node: NodeName,
        /// Where it was reached.
        address: String,
        /// The file holding the pinned key.
        known_hosts: String,
    },
    #[error("{node}: cannot connect to {address}: {reason}")]
    /// No connection could be made (refused, unreachable, authentication failed).
    Connect {
        /// The node, by its cluster.toml name.
        node: NodeName,
        /// Where it was tried.
        address: String,
        /// What ssh said.
        reason: String,
    },
    #[error(
        "{node}: the SSH connection was lost while running {what}{}",
        cause.as_ref().map(|c| format!(" ({})", crate::error_chain::describe(c))).unwrap_or_default()
    )]
    /// The connection dropped while a command ran.
    Disconnected {
        /// The node, by its cluster.toml name.
        node: NodeName,
        /// What was being done, in words (`reading the k3s state`).
        what: String,
        /// What the SSH client said, when it said anything.
        cause: Option<openssh::Error>,
    },
    #[error(
        "{node}: {what} wrote more than {} MiB to {stream}; stopped it there",
        limit >> 20
    )]
    /// A command wrote more than pikube keeps; it was stopped.
    OutputTooLarge {
        /// The node, by its cluster.toml name.
        node: NodeName,
        /// What was being done, in words (`reading the k3s state`).
        what: String,
        /// `stdout` or `stderr`.
        stream: &'static str,
        /// The most bytes kept.
        limit: usize,
    },
    #[error(
        "{node}: {what} did not finish within {}; pikube stopped waiting for it (something \
         on the node hangs; [ssh] command_timeout sets the limit)",
        crate::human_duration::human_duration(*limit)
    )]
    /// A command did not finish in time.
    TimedOut {
        /// The node, by its cluster.toml name.
        node: NodeName,
        /// What was being done, in words (`reading the k3s state`).
        what: String,
        /// How long it was given.
        limit: std::time::Duration,
    },
    #[error("{node}: {what}: the output could not be read or stored: {cause}")]
    /// A command's input or output could not be moved.
    Transfer {
        /// The node, by its cluster.toml name.
        node: NodeName,
        /// What was being done, in words (`reading the k3s state`).
        what: String,
        /// Why.
        cause: io::Error,
    },
    #[error("{node}: {what} failed (exit {code}): {stderr}")]
    /// A command exited non-zero.
    CommandFailed {
        /// The node, by its cluster.toml name.
        node: NodeName,
        /// What was being done, in words (`reading the k3s state`).
        what: String,
        /// Its exit code.
        code: i32,
        /// What it wrote to standard error.
        stderr: String,
    },
    #[error(
        "{node}: sudo needs a password for {user}; set PIKUBE_SUDO_PASSWORD or run pikube \
         from a terminal to be asked once"
    )]
    /// sudo wants a password and none was given.
    SudoPasswordNeeded {
        /// The node, by its cluster.toml name.
        node: NodeName,
        /// The user pikube logs in as.
        user: String,
    },
    #[error("{node}: sudo rejected the password for {user}")]
    /// sudo refused the password given.
    SudoPasswordRejected {
        /// The node, by its cluster.toml name.
        node: NodeName,
        /// The user pikube logs in as.
        user: String,
    },
    /// Something on this machine failed (the control directory, starting ssh).
    #[error("cannot prepare the local SSH client: {0}")]
    Local(io::Error),
}

// Shown in the message, so not also returned as its source: each cause is read once.
impl From<io::Error> for SshError {
    fn from(err: io::Error) -> Self {
        SshError::Local(err)
    }
}

impl SshError {
    /// True when a retry cannot help (a changed host key must never be retried).
    pub fn is_host_key_changed(&self) -> bool {
        matches!(self, SshError::HostKeyChanged { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_timeout_names_the_node_the_step_and_the_limit_readably() {
        let err = SshError::TimedOut {
            node: "pi-1".parse().unwrap(),
            what: "gathering facts".into(),
            limit: Duration::from_secs(600),
        };
        assert_eq!(
            err.to_string(),
            "pi-1: gathering facts did not finish within 10 min; pikube stopped waiting for \
             it (something on the node hangs; [ssh] command_timeout sets the limit)"
        );
    }

    #[test]
    fn a_lost_connection_says_what_the_ssh_client_said() {
        let lost = |cause| SshError::Disconnected {
            node: "pi-1".parse().unwrap(),
            what: "reading the k3s state".into(),
            cause,
        };
        let said = lost(Some(openssh::Error::Disconnected)).to_string();
        let cause = openssh::Error::Disconnected.to_string();
        assert!(said.starts_with("pi-1: the SSH connection was lost while running reading"));
        assert!(said.ends_with(&format!(" ({cause})")), "{said}");
        assert!(std::error::Error::source(&lost(Some(openssh::Error::Disconnected))).is_none());
        assert_eq!(
            lost(None).to_string(),
            "pi-1: the SSH connection was lost while running reading the k3s state"
        );
    }
}
