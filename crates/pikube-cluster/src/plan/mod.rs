//! What `apply` would do, node by node: a pipeline of small phases, each able to say
//! what it would change before anything is changed.

mod area;
mod cgroups;
mod change;
mod hostname;
mod node_plan;
mod redact;
mod render;
mod route;
mod swap;
#[cfg(test)]
mod tests;
mod unpreparable;

pub use area::ChangeArea;
pub use change::{Change, CommandChange, FileChange, SecretFileChange, UploadChange};
pub use node_plan::{plan_node, verify_node, NodePlan, PlanError, PlannedChange};
pub(crate) use redact::is_secret;
pub use redact::{redact_secrets, redact_url_passwords};
pub use render::render_plan_text;
pub use unpreparable::Unpreparable;

use pikube_pi::NodeFacts;

use crate::config::NodeName;

/// The node as pikube should leave it.
#[derive(Debug, Clone)]
pub struct DesiredNode {
    /// The node's name in cluster.toml: also its hostname.
    pub name: NodeName,
}

/// What one phase wants done on one node.
#[derive(Debug, Default)]
pub struct PhaseOutcome {
    /// Each change, in the order it is made.
    pub changes: Vec<Change>,
    /// Why the node must reboot for this phase to take effect, if it must.
    pub reboot: Option<String>,
}

/// One step of node preparation. `plan` reads facts only and never fails on odd facts:
/// a node that cannot be brought to the wanted state yields a [`PlanError`].
pub trait Phase: Sync {
    /// Its name in the plan (`hostname`, `cgroups`, `swap`).
    fn area(&self) -> ChangeArea;
    /// What it would change on a node with `facts`; `Err` says why the node cannot be
    /// brought there.
    fn plan(&self, node: &DesiredNode, facts: &NodeFacts) -> Result<PhaseOutcome, Unpreparable>;
    /// Checks the effective state after apply (and after any reboot); returns problems.
    fn verify(&self, node: &DesiredNode, facts: &NodeFacts) -> Vec<String>;
}

/// The preparation pipeline, in the order apply runs it.
pub fn preparation_phases() -> &'static [&'static dyn Phase] {
    &[
        &route::DefaultRoute,
        &hostname::Hostname,
        &cgroups::MemoryCgroup,
        &swap::SwapOff,
    ]
}
