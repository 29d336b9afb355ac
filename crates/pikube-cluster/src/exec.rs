//! `pikube exec`: one command on many nodes at once, its output handed over line by line
//! as it comes, each node's exit code at the end. A node that cannot be reached is a
//! result like any other; it never stops the rest.

use futures::stream::{self, StreamExt};

use crate::fleet::{Fleet, NodeResult};
use crate::node_error::NodeError;
use crate::progress::SilentProgress;
use crate::ssh::{CommandOutput, SudoPassword};

/// Runs `script` on every node of `fleet` (as root with `sudo`), `parallelism` at a time,
/// each allowed `limit`; `on_line(node, is_stderr, line)` sees each line as it arrives.
/// Results in file order.
pub async fn exec_all(
    fleet: &Fleet,
    script: &str,
    sudo: bool,
    parallelism: usize,
    limit: std::time::Duration,
    sudo_password: &(dyn Fn(&str) -> Option<SudoPassword> + Sync),
    on_line: &(dyn Fn(&str, bool, &str) + Sync),
) -> Vec<NodeResult<CommandOutput>> {
    let connections = fleet
        .connect_all(&SilentProgress, sudo_password, sudo)
        .await;
    let mut results: Vec<NodeResult<CommandOutput>> = stream::iter(connections)
        .map(|connected| async move {
            let node = connected.node;
            let result = match connected.result {
                Ok(connection) => {
                    let output = connection
                        .run_streaming(
                            script,
                            sudo,
                            &|is_err, line| on_line(&node, is_err, line),
                            limit,
                        )
                        .await
                        .map_err(NodeError::Ssh);
                    connection.close().await;
                    output
                }
                Err(err) => Err(err),
            };
            NodeResult { node, result }
        })
        .buffer_unordered(parallelism.max(1))
        .collect()
        .await;
    let order: Vec<&str> = fleet
        .members()
        .iter()
        .map(|m| m.desired.name.as_str())
        .collect();
    results.sort_by_key(|r| order.iter().position(|n| *n == r.node.as_str()));
    results
}
