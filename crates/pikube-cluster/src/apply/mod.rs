//! Carrying out a node's preparation: its planned changes in order, then (after the reboot
//! if one is due, see crate::reboot) a check of the effective state. The pipeline's prepare
//! and reboot phases call these one node at a time; every step is planned from fresh facts,
//! so a run killed half-way is finished by the next one.

mod carry_out;
mod upload;
mod write_file;

use pikube_pi::NodeFacts;

pub(crate) use carry_out::carry_out;

use crate::facts::gather_facts;
use crate::node_error::NodeError;
use crate::plan::{verify_node, DesiredNode, NodePlan};
use crate::progress::Progress;
use crate::ssh::Connection;

/// Carries out every change of `plan` on the node, in order; stops at the first failure.
pub async fn carry_out_plan(
    connection: &Connection,
    plan: &NodePlan,
    progress: &dyn Progress,
) -> Result<(), NodeError> {
    for planned in &plan.changes {
        progress.node(
            &plan.node,
            &format!("[{}] {}", planned.phase, planned.change.summary()),
        );
        carry_out(connection, &planned.change).await?;
    }
    Ok(())
}

/// Reads the node's facts again and checks that preparation took effect.
pub async fn verify_prepared(
    connection: &Connection,
    desired: &DesiredNode,
) -> Result<NodeFacts, NodeError> {
    let facts = gather_facts(connection).await?;
    let problems = verify_node(desired, &facts);
    if !problems.is_empty() {
        return Err(NodeError::Verify {
            node: desired.name.clone(),
            problems,
        });
    }
    Ok(facts)
}
