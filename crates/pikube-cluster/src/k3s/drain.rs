//! `kubectl drain` through a server: the node cordoned, its pods evicted (each within its
//! disruption budget), within pikube's deadline rather than kubectl's default of forever.

use std::time::Duration;

use super::prune::is_not_found;
use crate::config::NodeName;
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
        node: NodeName,
        /// What kubectl said, with why its evictions were refused.
        reason: String,
    },
}

/// How nodes are drained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Drain {
    /// How long a node's pods may take to leave it (kubectl drain --timeout).
    pub timeout: Duration,
    /// Also delete the pods no controller manages (kubectl drain --force): nothing
    /// recreates them, so without it such a pod stops the drain.
    pub force: bool,
}

/// Drains `node`. `false` if the node is gone already.
pub async fn drain_node(
    api: &Connection,
    node: &NodeName,
    drain: Drain,
) -> Result<bool, DrainError> {
    let script = format!(
        "/usr/local/bin/k3s kubectl drain {} --ignore-daemonsets --delete-emptydir-data \
         --timeout={}s{}",
        shell_quote(node),
        drain.timeout.as_secs().max(1),
        if drain.force { " --force" } else { "" }
    );
    // kubectl gives up at its own --timeout; the minute beyond it is for kubectl itself.
    let output = api
        .allowing(drain.timeout + Duration::from_secs(60))
        .run_privileged_unchecked("draining the node", &script, b"")
        .await?;
    if output.success() {
        Ok(true)
    } else if is_not_found(&output.stderr) {
        Ok(false)
    } else {
        Err(DrainError::Kubectl {
            node: node.clone(),
            reason: reason(&output.stderr),
        })
    }
}

/// kubectl's last word, and why it kept retrying an eviction when it did: its last line
/// says only "global timeout reached", the refusal (a disruption budget) comes before. Its
/// advice to "use --force" names kubectl's flag: pikube's is --force-drain.
fn reason(stderr: &str) -> String {
    let last = crate::ssh::last_line(stderr);
    if let Some(unmanaged) = stderr
        .lines()
        .rev()
        .find(|line| line.contains("declare no controller"))
    {
        let unmanaged = unmanaged
            .trim()
            .trim_start_matches("error: ")
            .replace(" (use --force to override)", "");
        return format!(
            "{unmanaged}; --force-drain deletes such pods (nothing recreates them), or \
             delete them yourself"
        );
    }
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

    #[test]
    fn a_pod_no_controller_manages_is_named_with_pikubes_flag_not_kubectls() {
        // The shape of kubectl's refusal; the fleet test (upgrade.rs) sees the result.
        let stderr = "node/a2 already cordoned
            error: unable to drain node \"a2\" due to error: cannot delete Pods that declare \
            no controller (use --force to override): default/bare, continuing command...
            There are pending nodes to be drained:
 a2
            cannot delete Pods that declare no controller (use --force to override): default/bare
";
        assert_eq!(
            reason(stderr),
            "cannot delete Pods that declare no controller: default/bare; --force-drain deletes \
             such pods (nothing recreates them), or delete them yourself"
        );
    }
}
