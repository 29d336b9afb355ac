use pikube_pi::NodeFacts;

use super::{ChangeArea, DesiredNode, Phase, PhaseOutcome, Unpreparable};

/// K3s picks its node IP from the default route's interface and does not start without
/// one (its air-gap guide asks offline networks for a dummy one). Changing routes is the
/// network's business, not pikube's: a node without one is stopped here, before anything
/// changes, with how to fix it. A node whose K3s already runs is left be.
pub struct DefaultRoute;

impl Phase for DefaultRoute {
    fn area(&self) -> ChangeArea {
        ChangeArea::Network
    }

    fn plan(&self, _node: &DesiredNode, facts: &NodeFacts) -> Result<PhaseOutcome, Unpreparable> {
        let running = facts.k3s.server.is_active() || facts.k3s.agent.is_active();
        if facts.default_route == Some(false) && !running {
            return Err(Unpreparable::NoDefaultRoute);
        }
        Ok(PhaseOutcome::default())
    }

    fn verify(&self, _node: &DesiredNode, _facts: &NodeFacts) -> Vec<String> {
        Vec::new()
    }
}
