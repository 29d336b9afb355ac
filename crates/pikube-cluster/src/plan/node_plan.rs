use pikube_pi::NodeFacts;
use serde::Serialize;

use super::{preparation_phases, Change, ChangeArea, DesiredNode, Unpreparable};

use crate::config::NodeName;

/// A change together with the phase that wants it.
#[derive(Debug, Clone, Serialize)]
pub struct PlannedChange {
    /// The area that wants it, as the plan shows it (`hostname`, `k3s`, `labels`).
    pub phase: ChangeArea,
    /// The change.
    #[serde(flatten)]
    pub change: Change,
}

/// Everything apply would do to one node.
#[derive(Debug, Clone, Serialize)]
pub struct NodePlan {
    /// The node, by its cluster.toml name.
    pub node: NodeName,
    /// Each change, in order.
    pub changes: Vec<PlannedChange>,
    /// Why the node must reboot; empty when it need not.
    pub reboot: Vec<String>,
}

impl NodePlan {
    /// Nothing to change, no reboot.
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty() && self.reboot.is_empty()
    }

    /// A change takes effect only after a reboot.
    pub fn needs_reboot(&self) -> bool {
        !self.reboot.is_empty()
    }
}

/// A node that cannot be brought to the wanted state by any change pikube knows.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{node}: {phase}: {problem}")]
pub struct PlanError {
    /// The node.
    pub node: NodeName,
    /// The preparation step.
    pub phase: ChangeArea,
    /// Why, and what to do.
    pub problem: Unpreparable,
}

/// Every preparation step's changes for `node`, from its facts alone.
pub fn plan_node(node: &DesiredNode, facts: &NodeFacts) -> Result<NodePlan, PlanError> {
    let mut plan = NodePlan {
        node: node.name.clone(),
        changes: Vec::new(),
        reboot: Vec::new(),
    };
    for phase in preparation_phases() {
        let outcome = phase.plan(node, facts).map_err(|problem| PlanError {
            node: node.name.clone(),
            phase: phase.area(),
            problem,
        })?;
        plan.changes
            .extend(outcome.changes.into_iter().map(|change| PlannedChange {
                phase: phase.area(),
                change,
            }));
        plan.reboot.extend(outcome.reboot);
    }
    Ok(plan)
}

/// The problems left on a node after apply, each prefixed with its phase.
pub fn verify_node(node: &DesiredNode, facts: &NodeFacts) -> Vec<String> {
    preparation_phases()
        .iter()
        .flat_map(|phase| {
            phase
                .verify(node, facts)
                .into_iter()
                .map(move |problem| format!("{}: {problem}", phase.area()))
        })
        .collect()
}
