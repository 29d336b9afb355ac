//! Each connected node's facts, read in parallel: what every later phase plans from. A dry
//! run also reads, at the same time over the same connections, each node's K3s state and
//! the cluster's node list: nothing will change them, so the later phases need not ask
//! again, and a no-op plan costs one round trip to each node.

use std::collections::BTreeMap;

use futures::stream::{self, StreamExt};

use crate::config::NodeName;
use crate::facts::gather_facts;
use crate::k3s::paths::Service;
use crate::k3s::{get_nodes, read_state, ClusterNode, StageNode};
use crate::pipeline::{Mode, PhaseReport, Run};
use crate::ssh::Connection;

pub(super) async fn run(run: &mut Run<'_>, report: &mut PhaseReport) {
    let connections = std::mem::take(&mut run.connections);
    let parallelism = run.config.ssh.parallelism.max(1);
    let dry = run.mode == Mode::Plan;
    let read = stream::iter(&connections)
        .map(|(name, connection)| async move {
            let state = async {
                match dry {
                    true => read_state(connection).await.ok(),
                    false => None,
                }
            };
            let (facts, state) = tokio::join!(gather_facts(connection), state);
            (name, facts, state)
        })
        .buffered(parallelism)
        .collect::<Vec<_>>();
    let live = async {
        match dry {
            true => first_node_list(run, &connections).await,
            false => None,
        }
    };
    let (read, live) = tokio::join!(read, live);
    let mut states = BTreeMap::new();
    let mut results = Vec::new();
    for (name, facts, state) in read {
        if let Some(state) = state {
            states.insert(name.clone(), state);
        }
        results.push((name.clone(), facts));
    }
    run.k3s_states = states;
    run.live = live;
    for ((name, connection), (_, facts)) in connections.into_iter().zip(results) {
        match facts {
            Ok(facts) => run.nodes.push(StageNode {
                name,
                connection,
                facts,
            }),
            Err(err) => {
                run.progress.node(&name, &format!("FAILED: {err}"));
                run.fail(report, &name, err.to_string());
                connection.close().await;
            }
        }
    }
}

/// The node list from the first server of cluster.toml whose API answers; `None` when
/// none does (K3s not installed yet, or down: the later phases ask again and say why).
async fn first_node_list(
    run: &Run<'_>,
    connections: &[(NodeName, Connection)],
) -> Option<Vec<ClusterNode>> {
    for member in run
        .spec
        .nodes
        .iter()
        .filter(|m| m.service == Service::Server)
    {
        let Some((_, connection)) = connections.iter().find(|(n, _)| *n == member.name) else {
            continue;
        };
        if let Ok(live) = get_nodes(connection).await {
            return Some(live);
        }
    }
    None
}
