//! A node of a running cluster taken out of service for work that stops it (an OS upgrade,
//! a reboot) and brought back: cordoned (marked as pikube's), drained when it is an agent
//! (servers too when asked), and afterwards waited for until K3s runs there again and the
//! node is Ready, then uncordoned. The callers do this one node at a time, and take a
//! server out only while the others keep etcd's quorum ([`quorum_without`]).

use std::time::{Duration, Instant};

use crate::config::NodeName;
use crate::k3s::cordon::{cordon, uncordon};
use crate::k3s::paths::Service;
use crate::k3s::{drain_node, get_nodes, journal_tail, service_status, ClusterNode, Drain};
use crate::ssh::Connection;

/// How nodes are taken out and brought back.
pub struct Maintenance {
    /// Servers are drained too (agents always are).
    pub drain_servers: bool,
    /// How nodes are drained.
    pub drain: Drain,
    /// How long a node may take to be Ready again.
    pub ready_timeout: Duration,
}

/// What a user reads when work on `name` stops at `step`: and, when the node was left
/// cordoned, how to undo that and how to go on (`again`, the command to run).
pub fn stopped(
    name: &str,
    work: &str,
    step: &str,
    reason: &str,
    cordoned: bool,
    again: &str,
) -> String {
    let left = if cordoned {
        format!(
            "; it stays cordoned (`kubectl uncordon {name}` undoes that); run `{again}` again \
             to go on"
        )
    } else {
        String::new()
    };
    format!("{name}: {work} stopped at {step}: {reason}{left}")
}

/// Where taking a node out or bringing it back stopped.
#[derive(Debug)]
pub struct MaintenanceError {
    /// The step (cordon, drain, restart, Ready, uncordon).
    pub step: &'static str,
    /// What went wrong.
    pub reason: String,
    /// Whether the node was left cordoned.
    pub cordoned: bool,
}

/// How many of `members` etcd members must be up for etcd to have a quorum: a majority.
pub fn etcd_majority(members: usize) -> usize {
    members / 2 + 1
}

/// The Nodes K3s marks as embedded etcd's members.
pub fn etcd_members(live: &[ClusterNode]) -> Vec<&ClusterNode> {
    live.iter().filter(|n| n.etcd_member().is_some()).collect()
}

/// Why a server goes down, which decides whether a cluster of two etcd members may let it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Downtime {
    /// Down for as long as the work takes (an OS upgrade and its reboot): with two members
    /// etcd would stop for all of it, so it is refused.
    Away,
    /// A K3s restart on a new release: with two members etcd stops for any restart whatever
    /// pikube does, and refusing would leave such a cluster unable to upgrade, so the two
    /// restart in turn (only not while the other one is down).
    RestartInTurn,
}

/// Whether embedded etcd keeps its quorum while server `name` is down: the other etcd
/// members (the Nodes K3s marks as such) the API lists Ready must be a majority of all
/// the members, but for two members restarting in turn (see [`Downtime`]). A lone member
/// has no quorum to keep (its API stops whatever the order; its data stays on its disk).
pub fn quorum_without(live: &[ClusterNode], name: &str, downtime: Downtime) -> Result<(), String> {
    let members = etcd_members(live);
    if downtime == Downtime::RestartInTurn
        && members.len() == 2
        && members.iter().all(|n| n.name == name || n.ready)
    {
        return Ok(());
    }
    quorum_lost_without(live, name).map_or(Ok(()), Err)
}

/// Why etcd would lose its quorum with server `name` down, if it would.
fn quorum_lost_without(live: &[ClusterNode], name: &str) -> Option<String> {
    let members = etcd_members(live);
    if members.len() <= 1 {
        return None;
    }
    let needed = etcd_majority(members.len());
    let others_ready = members.iter().filter(|n| n.name != name && n.ready).count();
    if others_ready >= needed {
        return None;
    }
    let not_ready: Vec<&str> = members
        .iter()
        .filter(|n| n.name != name && !n.ready)
        .map(|n| n.name.as_str())
        .collect();
    Some(if not_ready.is_empty() {
        format!(
            "with {} etcd members, etcd loses its quorum whenever one is down, so the API \
             would stop until {name} is back (a third server avoids that)",
            members.len()
        )
    } else {
        format!(
            "{} of the other servers {} NotReady, and etcd needs {needed} of its {} members \
             up: taking {name} down too would stop the API; bring {} back first",
            not_ready.len(),
            if not_ready.len() == 1 { "is" } else { "are" },
            members.len(),
            not_ready.join(", ")
        )
    })
}

impl Maintenance {
    /// Cordons `name` (running K3s `service`) through `api`, with `reason` as pikube's mark,
    /// and drains it when it is an agent or servers are drained too.
    pub async fn take_out(
        &self,
        api: &Connection,
        name: &NodeName,
        service: Service,
        reason: &str,
    ) -> Result<(), MaintenanceError> {
        cordon(api, name, reason)
            .await
            .map_err(|reason| MaintenanceError {
                step: "cordon",
                reason,
                cordoned: false,
            })?;
        if service == Service::Agent || self.drain_servers {
            drain_node(api, name, self.drain)
                .await
                .map_err(|err| MaintenanceError {
                    step: "drain",
                    reason: err.to_string(),
                    cordoned: true,
                })?;
        }
        Ok(())
    }

    /// Waits until `node` is Ready in the API `api` serves, then uncordons it.
    pub async fn bring_back(
        &self,
        api: &Connection,
        node: &Connection,
        service: Service,
    ) -> Result<(), MaintenanceError> {
        let cordoned = |step, reason| MaintenanceError {
            step,
            reason,
            cordoned: true,
        };
        wait_ready(api, node, service, self.ready_timeout)
            .await
            .map_err(|reason| cordoned("waiting for Ready", reason))?;
        uncordon(api, node.node())
            .await
            .map_err(|reason| cordoned("uncordon", reason))
    }
}

/// Until K3s runs on the node again and the node is Ready in the API. Ready alone is not
/// enough: right after a quick reboot the API still shows the Ready of before, until the
/// node's lease runs out; K3s' service is active only once it has started again (it
/// notifies systemd when it is up).
async fn wait_ready(
    api: &Connection,
    node: &Connection,
    service: Service,
    timeout: Duration,
) -> Result<(), String> {
    let started = Instant::now();
    let mut running = false;
    loop {
        if !running {
            running = service_status(node, service)
                .await
                .is_ok_and(|status| status.active_state == "active");
        }
        if running {
            if let Ok(live) = get_nodes(api).await {
                if live
                    .iter()
                    .any(|n| n.name == node.node().as_str() && n.ready)
                {
                    return Ok(());
                }
            }
        }
        if started.elapsed() >= timeout {
            return Err(format!(
                "not Ready within {} s. Its last log lines:\n{}",
                timeout.as_secs(),
                journal_tail(node, service, 15).await
            ));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(name: &str, member: bool, ready: bool) -> ClusterNode {
        let mut annotations = std::collections::BTreeMap::new();
        if member {
            annotations.insert(
                crate::k3s::ETCD_MEMBER_ANNOTATION.to_owned(),
                format!("{name}-1a2b3c4d"),
            );
        }
        ClusterNode {
            name: name.to_owned(),
            ready,
            labels: Default::default(),
            taints: Vec::new(),
            kubelet_version: "v1.34.4+k3s1".to_owned(),
            annotations,
            unschedulable: false,
        }
    }

    #[test]
    fn a_server_goes_down_only_while_the_others_are_a_majority() {
        let three = [
            node("s1", true, true),
            node("s2", true, true),
            node("s3", true, true),
            node("a1", false, false),
        ];
        let quorum_without =
            |live: &[ClusterNode], name: &str| quorum_without(live, name, Downtime::Away);
        // An agent NotReady does not count; two of three stay up.
        assert_eq!(quorum_without(&three, "s2"), Ok(()));

        let one_down = [
            node("s1", true, true),
            node("s2", true, true),
            node("s3", true, false),
        ];
        let refused = quorum_without(&one_down, "s2").unwrap_err();
        assert!(
            refused.starts_with("1 of the other servers is NotReady, and etcd needs 2 of its 3")
                && refused.ends_with("bring s3 back first"),
            "{refused}"
        );
        // The NotReady one itself may go: the other two are up.
        assert_eq!(quorum_without(&one_down, "s3"), Ok(()));

        let two = [node("s1", true, true), node("s2", true, true)];
        let refused = quorum_without(&two, "s1").unwrap_err();
        assert!(
            refused.starts_with("with 2 etcd members, etcd loses its quorum"),
            "{refused}"
        );

        assert_eq!(quorum_without(&[node("s1", true, true)], "s1"), Ok(()));
    }

    #[test]
    fn an_upgrade_restarts_a_server_while_the_others_are_up_and_two_in_turn() {
        let quorum_through_restart =
            |live: &[ClusterNode], name: &str| quorum_without(live, name, Downtime::RestartInTurn);
        let two = [node("s1", true, true), node("s2", true, true)];
        assert_eq!(quorum_through_restart(&two, "s1"), Ok(()));
        // The one case the two kinds of downtime differ in.
        assert!(quorum_without(&two, "s1", Downtime::Away).is_err());
        let two_one_down = [node("s1", true, true), node("s2", true, false)];
        let refused = quorum_through_restart(&two_one_down, "s1").unwrap_err();
        assert!(
            refused.starts_with("1 of the other servers is NotReady")
                && refused.ends_with("bring s2 back first"),
            "{refused}"
        );
        let one_down = [
            node("s1", true, true),
            node("s2", true, true),
            node("s3", true, false),
        ];
        assert!(quorum_through_restart(&one_down, "s2").is_err());
        assert_eq!(quorum_through_restart(&one_down, "s3"), Ok(()));
    }
}
