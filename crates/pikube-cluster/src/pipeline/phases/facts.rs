//! Each connected node's facts, read in parallel: what every later phase plans from.

use futures::stream::{self, StreamExt};

use crate::facts::gather_facts;
use crate::k3s::StageNode;
use crate::pipeline::{PhaseReport, Run};

pub(super) async fn run(run: &mut Run<'_>, report: &mut PhaseReport) {
    let connections = std::mem::take(&mut run.connections);
    let parallelism = run.config.ssh.parallelism.max(1);
    let read: Vec<_> = stream::iter(connections)
        .map(|(name, connection)| async move {
            let facts = gather_facts(&connection).await;
            (name, connection, facts)
        })
        .buffered(parallelism)
        .collect()
        .await;
    for (name, connection, facts) in read {
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
