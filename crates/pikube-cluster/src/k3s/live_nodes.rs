//! The cluster's node list, asked of the first server of cluster.toml that answers: the
//! view stale nodes are found in, and the server that then removes them.

use super::cluster_nodes::{get_nodes, ClusterNode, ClusterNodesError};
use super::paths::Service;
use super::spec::K3sSpec;
use super::stage::StageNode;

/// The server that answered (one of `nodes`) and the nodes it lists.
pub async fn live_nodes<'n>(
    spec: &K3sSpec,
    nodes: &'n [StageNode],
) -> Result<(&'n StageNode, Vec<ClusterNode>), ClusterNodesError> {
    let mut last_error = None;
    for member in spec.nodes.iter().filter(|m| m.service == Service::Server) {
        let Some(node) = nodes.iter().find(|n| n.name == member.name) else {
            continue;
        };
        match get_nodes(&node.connection).await {
            Ok(live) => return Ok((node, live)),
            Err(err) => last_error = Some(err),
        }
    }
    Err(last_error.unwrap_or(ClusterNodesError::NoServer))
}
