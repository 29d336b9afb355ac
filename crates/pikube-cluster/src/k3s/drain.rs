//! `kubectl drain` through a server: the node cordoned, its pods evicted (each within its
//! disruption budget), within pikube's deadline rather than kubectl's default of forever.

use std::time::Duration;

use super::prune::is_not_found;
use crate::ssh::{shell_quote, Connection, SshError};

/// Why a drain did not finish.
#[derive(Debug, thiserror::Error)]
pub enum DrainError {
    /// The command could not be run.
    #[error(transparent)]
    Ssh(#[from] SshError),
    /// kubectl gave up.
    #[error("kubectl drain {node} did not finish: {reason}")]
    Kubectl {
        /// The node.
        node: String,
        /// What kubectl said, with why its evictions were refused.
        reason: String,
    },
}

/// Drains `node`. `false` if the node is gone already.
pub async fn drain_node(
    api: &Connection,
    node: &str,
    timeout: Duration,
) -> Result<bool, DrainError> {
    let script = format!(
        "/usr/local/bin/k3s kubectl drain {} --ignore-daemonsets --delete-emptydir-data \
         --timeout={}s",
        shell_quote(node),
        timeout.as_secs().max(1)
    );
    // kubectl gives up at its own --timeout; the minute beyond it is for kubectl itself.
    let output = api
        .allowing(timeout + Duration::from_secs(60))
        .run_privileged_unchecked("draining the node", &script, b"")
        .await?;
    if output.success() {
        Ok(true)
    } else if is_not_found(&output.stderr) {
        Ok(false)
    } else {
        Err(DrainError::Kubectl {
            node: node.to_owned(),
            reason: reason(&output.stderr),
        })
    }
}

/// kubectl's last word, and why it kept retrying an eviction when it did: its last line
/// says only "global timeout reached", the refusal (a disruption budget) comes before.
fn reason(stderr: &str) -> String {
    let last = crate::ssh::last_line(stderr);
    let refused = stderr.lines().rev().find_map(|line| {
        let (_, rest) = line.split_once("(will retry after ")?;
        let (_, why) = rest.split_once("): ")?;
        Some(why.trim().trim_end_matches('.').to_owned())
    });
    match refused {
        Some(why) if !last.contains(&why) => format!("{last}; the eviction was refused: {why}"),
        _ => last,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_drain_that_times_out_says_why_its_evictions_were_refused() {
        // What the real kubectl printed in the fleet test with a PodDisruptionBudget.
        let stderr = "evicting pod default/pinned-6f-x\n\
            error when evicting pods/\"pinned-6f-x\" -n \"default\" (will retry after 5s): \
            Cannot evict pod as it would violate the pod's disruption budget.\n\
            error when evicting pods/\"pinned-6f-x\" -n \"default\": global timeout reached: 5s\n";
        assert_eq!(
            reason(stderr),
            "error when evicting pods/\"pinned-6f-x\" -n \"default\": global timeout reached: \
             5s; the eviction was refused: Cannot evict pod as it would violate the pod's \
             disruption budget"
        );
        assert_eq!(reason("error: no such node\n"), "error: no such node");
    }
}
