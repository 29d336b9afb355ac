use std::io;

/// What went wrong talking to a node. Every variant names the node.
#[derive(Debug, thiserror::Error)]
pub enum SshError {
    #[error(
        "{node}: the host key of {address} has CHANGED since it was pinned in {known_hosts}; \
         refusing to connect. If the node was reinstalled, remove its line from that file and \
         run again; otherwise someone may be impersonating it"
    )]
    HostKeyChanged {
        node: String,
        address: String,
        known_hosts: String,
    },
    #[error("{node}: cannot connect to {address}: {reason}")]
    Connect {
        node: String,
        address: String,
        reason: String,
    },
    #[error("{node}: the SSH connection was lost while running {what}")]
    Disconnected { node: String, what: String },
    #[error(
        "{node}: {what} wrote more than {} MiB to {stream}; stopped it there",
        limit >> 20
    )]
    OutputTooLarge {
        node: String,
        what: String,
        stream: &'static str,
        limit: usize,
    },
    #[error(
        "{node}: {what} did not finish within {}; pikube stopped waiting for it (something \
         on the node hangs; [ssh] command_timeout sets the limit)",
        crate::human_duration::human_duration(*limit)
    )]
    TimedOut {
        node: String,
        what: String,
        limit: std::time::Duration,
    },
    #[error("{node}: {what}: the output could not be read or stored")]
    Transfer {
        node: String,
        what: String,
        #[source]
        source: io::Error,
    },
    #[error("{node}: {what} failed (exit {code}): {stderr}")]
    CommandFailed {
        node: String,
        what: String,
        code: i32,
        stderr: String,
    },
    #[error(
        "{node}: sudo needs a password for {user}; set PIKUBE_SUDO_PASSWORD or run pikube \
         from a terminal to be asked once"
    )]
    SudoPasswordNeeded { node: String, user: String },
    #[error("{node}: sudo rejected the password for {user}")]
    SudoPasswordRejected { node: String, user: String },
    #[error("cannot prepare the local SSH client: {0}")]
    Local(#[from] io::Error),
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
            node: "pi-1".into(),
            what: "gathering facts".into(),
            limit: Duration::from_secs(600),
        };
        assert_eq!(
            err.to_string(),
            "pi-1: gathering facts did not finish within 10 min; pikube stopped waiting for \
             it (something on the node hangs; [ssh] command_timeout sets the limit)"
        );
    }
}
