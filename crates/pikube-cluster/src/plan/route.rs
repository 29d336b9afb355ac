use pikube_pi::NodeFacts;

use super::{ChangeArea, DesiredNode, Phase, PhaseOutcome};

/// K3s picks its node IP from the default route's interface and does not start without
/// one (its air-gap guide asks offline networks for a dummy one). Changing routes is the
/// network's business, not pikube's: a node without one is stopped here, before anything
/// changes, with how to fix it. A node whose K3s already runs is left be.
pub struct DefaultRoute;

impl Phase for DefaultRoute {
    fn area(&self) -> ChangeArea {
        ChangeArea::Network
    }

    fn plan(&self, _node: &DesiredNode, facts: &NodeFacts) -> Result<PhaseOutcome, String> {
        let running = facts.k3s.server.is_active() || facts.k3s.agent.is_active();
        if facts.default_route == Some(false) && !running {
            return Err(
                "no default route (ip route shows no `default`): K3s chooses its \
                 node IP from it and would not start. Give the node a gateway, or on a \
                 network without one add a route through a dummy interface, e.g. `ip link \
                 add dummy0 type dummy && ip link set dummy0 up && ip addr add \
                 203.0.113.254/31 dev dummy0 && ip route add default via 203.0.113.255 dev \
                 dummy0 metric 1000` (made permanent in the OS's network configuration)"
                    .to_owned(),
            );
        }
        Ok(PhaseOutcome::default())
    }

    fn verify(&self, _node: &DesiredNode, _facts: &NodeFacts) -> Vec<String> {
        Vec::new()
    }
}
