//! Which nodes an upgrade touches, in what order, and whether it may start at all: no
//! downgrade unless asked, no minor version skipped, no agent ahead of a server, every
//! node of cluster.toml reached and Ready, every etcd member Ready. Pure: the phase reads
//! the cluster, this decides.

use crate::config::{K3sVersion, NodeName};
use crate::k3s::cordon::cordoned_by_pikube;
use crate::k3s::paths::Service;
use crate::k3s::{etcd_members, ClusterNode};

/// A node of cluster.toml whose K3s is installed and running, as the phase found it.
#[derive(Debug, Clone)]
pub struct Candidate {
    /// Its cluster.toml name.
    pub name: NodeName,
    /// The K3s service it runs (server or agent).
    pub service: Service,
    /// Its /usr/local/bin/k3s is not the binary cluster.toml names.
    pub binary_differs: bool,
}

/// What the phase found of the cluster before an upgrade.
#[derive(Debug, Clone, Copy)]
pub struct Survey<'a> {
    /// The nodes of cluster.toml, in file order.
    pub members: &'a [NodeName],
    /// Those whose K3s is installed and running, in file order.
    pub candidates: &'a [Candidate],
    /// Those out of the run (not reached, or failed in an earlier phase), each with its
    /// error: a node powered off fails at its connection while its Node may still show
    /// Ready for a while.
    pub out_of_run: &'a [(NodeName, String)],
    /// The cluster's node list.
    pub live: &'a [ClusterNode],
}

/// One node to upgrade.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeUpgrade {
    /// Its cluster.toml name.
    pub name: NodeName,
    /// The K3s service restarted on it.
    pub service: Service,
    /// What its kubelet reports now.
    pub from: K3sVersion,
    /// False when the binary is in place already and only the running K3s is behind (an
    /// upgrade interrupted before its restart).
    pub replace_binary: bool,
    /// False when K3s runs the target already and only pikube's cordon is left (an upgrade
    /// interrupted before its uncordon, a shutdown): then the node is only uncordoned.
    pub restart: bool,
    /// Why pikube cordoned it earlier, if it did and has not uncordoned it yet.
    pub cordoned: Option<String>,
}

impl NodeUpgrade {
    /// What happens to the node, in a line, for the plan and the report.
    pub fn summary(&self, target: &K3sVersion) -> String {
        if !self.restart {
            format!(
                "uncordon (cordoned by pikube: {})",
                self.cordoned.as_deref().unwrap_or("unknown")
            )
        } else if self.from == *target {
            format!("restart k3s on the new {target} binary (rolling)")
        } else {
            format!(
                "{} k3s {} → {target} (rolling: cordon, drain, replace, restart, uncordon)",
                if *target < self.from {
                    "downgrade"
                } else {
                    "upgrade"
                },
                self.from
            )
        }
    }
}

/// The nodes in the order they go: servers first for an upgrade (agents must never be
/// ahead of their servers), agents first for a downgrade.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UpgradePlan {
    /// One at a time: the servers of an upgrade, the agents of a downgrade.
    pub first: Vec<NodeUpgrade>,
    /// One at a time for servers; up to --max-unavailable at a time for agents.
    pub then: Vec<NodeUpgrade>,
}

impl UpgradePlan {
    /// No node to upgrade.
    pub fn is_empty(&self) -> bool {
        self.first.is_empty() && self.then.is_empty()
    }

    /// Every node, in the order they go.
    pub fn nodes(&self) -> impl Iterator<Item = &NodeUpgrade> {
        self.first.iter().chain(&self.then)
    }
}

/// Decides the upgrade to `target` of the cluster `survey` found. Every reason to refuse is
/// given at once.
pub fn plan_upgrade(
    target: &K3sVersion,
    survey: Survey<'_>,
    allow_downgrade: bool,
) -> Result<UpgradePlan, Vec<String>> {
    let Survey {
        members,
        candidates,
        out_of_run,
        live,
    } = survey;
    let mut problems = Vec::new();
    let mut running: Vec<(&Candidate, &ClusterNode, K3sVersion)> = Vec::new();
    for candidate in candidates {
        // Not registered yet: a first install, which the k3s phase does.
        let Some(node) = live.iter().find(|n| n.name == candidate.name) else {
            continue;
        };
        match node.kubelet_version.parse::<K3sVersion>() {
            Ok(version) => running.push((candidate, node, version)),
            Err(_) => problems.push(format!(
                "{}: its kubelet reports version {:?}, which is not a K3s version",
                candidate.name, node.kubelet_version
            )),
        }
    }
    let upgrades: Vec<NodeUpgrade> = running
        .iter()
        .filter_map(|(candidate, node, from)| {
            let behind = candidate.binary_differs || from != target;
            let cordoned = cordoned_by_pikube(node).map(str::to_owned);
            (behind || cordoned.is_some()).then(|| NodeUpgrade {
                name: candidate.name.clone(),
                service: candidate.service,
                from: *from,
                replace_binary: candidate.binary_differs,
                restart: behind,
                cordoned,
            })
        })
        .collect();
    if upgrades.is_empty() && problems.is_empty() {
        return Ok(UpgradePlan::default());
    }

    for step in upgrades.iter().filter(|step| step.restart) {
        let from = step.from;
        if *target < from && !allow_downgrade {
            problems.push(format!(
                "{}: runs {from}, newer than {target}: a downgrade is refused unless \
                 --allow-downgrade (etcd's data may not go back; restore a snapshot instead)",
                step.name
            ));
        }
        // One minor version at a time, up or (allowed) down.
        let next_minor = if *target < from {
            from.minor.checked_sub(1)
        } else {
            Some(from.minor + 1)
        };
        let skips = target.major != from.major || target.minor.abs_diff(from.minor) > 1;
        if skips {
            let first = match next_minor {
                Some(minor) => format!(
                    "set [k3s] version to a v{}.{minor}.x release first",
                    from.major
                ),
                None => "there is no minor version to go through".to_owned(),
            };
            problems.push(format!(
                "{}: {from} → {target} skips a minor version: Kubernetes {} one minor \
                 version at a time; {first}",
                step.name,
                if *target < from {
                    "goes back"
                } else {
                    "upgrades"
                },
            ));
        }
    }
    // Only pikube's cordons left to undo restart nothing: they need no healthy cluster (a
    // shutdown's, after a power-on with one Pi still dead).
    if upgrades.iter().any(|step| step.restart) {
        problems.extend(unhealthy(members, candidates, out_of_run, live));
    }
    let oldest_server = running
        .iter()
        .filter(|(c, _, _)| c.service == Service::Server)
        .min_by_key(|(_, _, v)| *v);
    if let Some((server, _, server_version)) = oldest_server {
        for (agent, _, version) in running
            .iter()
            .filter(|(c, _, _)| c.service == Service::Agent)
        {
            if version > server_version && !allow_downgrade {
                problems.push(format!(
                    "{}: the agent runs {version}, ahead of the server {} ({server_version}): \
                     servers must never be behind their agents",
                    agent.name, server.name
                ));
            }
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }

    let (servers, agents): (Vec<_>, Vec<_>) = upgrades
        .into_iter()
        .partition(|step| step.service == Service::Server);
    let downgrade = upgrades_down(&servers, &agents, target);
    Ok(if downgrade {
        UpgradePlan {
            first: agents,
            then: servers,
        }
    } else {
        UpgradePlan {
            first: servers,
            then: agents,
        }
    })
}

/// Why the cluster is not healthy enough for an upgrade to start: a node of cluster.toml
/// not reached, NotReady, or running K3s without a Node; an etcd member NotReady (one
/// cluster.toml no longer lists, too: it still counts for etcd's quorum).
fn unhealthy(
    members: &[NodeName],
    candidates: &[Candidate],
    out_of_run: &[(NodeName, String)],
    live: &[ClusterNode],
) -> Vec<String> {
    const WHY: &str = "an upgrade starts only on a healthy cluster";
    let mut problems = Vec::new();
    for (name, error) in out_of_run {
        let error = match error.starts_with(&format!("{name}:")) {
            true => error.clone(),
            false => format!("{name}: {error}"),
        };
        problems.push(format!(
            "{error}; {WHY}, every node of cluster.toml answering and Ready"
        ));
    }
    for name in members {
        if out_of_run.iter().any(|(n, _)| n == name) {
            continue;
        }
        match live.iter().find(|n| n.name == name.as_str()) {
            Some(node) if !node.ready => problems.push(format!("{name}: not Ready: {WHY}")),
            Some(_) => {}
            // Never installed: the k3s phase installs it on the target at once.
            None if !candidates.iter().any(|c| c.name == *name) => {}
            None => problems.push(format!(
                "{name}: K3s runs there but the cluster lists no Node {name}: {WHY}"
            )),
        }
    }
    for member in etcd_members(live) {
        let listed = members.iter().any(|m| m.as_str() == member.name);
        if !member.ready && !listed {
            problems.push(format!(
                "{}: an etcd member, not Ready (and not in cluster.toml): {WHY}; etcd needs \
                 every member up while its servers restart one at a time",
                member.name
            ));
        }
    }
    problems
}

fn upgrades_down(servers: &[NodeUpgrade], agents: &[NodeUpgrade], target: &K3sVersion) -> bool {
    servers.iter().chain(agents).any(|step| *target < step.from)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::k3s::cordon::CORDON_ANNOTATION;

    fn v(text: &str) -> K3sVersion {
        text.parse().unwrap()
    }

    fn live(name: &str, version: &str, ready: bool) -> ClusterNode {
        ClusterNode {
            name: name.to_owned(),
            ready,
            labels: BTreeMap::new(),
            taints: Vec::new(),
            kubelet_version: version.to_owned(),
            annotations: Default::default(),
            unschedulable: false,
        }
    }

    fn candidate(name: &str, service: Service, binary_differs: bool) -> Candidate {
        Candidate {
            name: name.parse().unwrap(),
            service,
            binary_differs,
        }
    }

    /// The upgrade of a cluster whose nodes are `candidates`, every one reached.
    fn plan_of(
        target: &K3sVersion,
        candidates: &[Candidate],
        live: &[ClusterNode],
        allow_downgrade: bool,
    ) -> Result<UpgradePlan, Vec<String>> {
        let members: Vec<NodeName> = candidates.iter().map(|c| c.name.clone()).collect();
        let survey = Survey {
            members: &members,
            candidates,
            out_of_run: &[],
            live,
        };
        plan_upgrade(target, survey, allow_downgrade)
    }

    fn cluster() -> Vec<Candidate> {
        vec![
            candidate("s1", Service::Server, true),
            candidate("a1", Service::Agent, true),
            candidate("s2", Service::Server, true),
        ]
    }

    #[test]
    fn servers_go_first_in_file_order_then_the_agents() {
        let nodes = [
            live("s1", "v1.33.5+k3s1", true),
            live("a1", "v1.33.5+k3s1", true),
            live("s2", "v1.33.5+k3s1", true),
        ];
        let plan = plan_of(&v("v1.34.4+k3s1"), &cluster(), &nodes, false).unwrap();
        let names =
            |steps: &[NodeUpgrade]| steps.iter().map(|s| s.name.clone()).collect::<Vec<_>>();
        assert_eq!(names(&plan.first), ["s1", "s2"]);
        assert_eq!(names(&plan.then), ["a1"]);
        assert!(plan.first[0]
            .summary(&v("v1.34.4+k3s1"))
            .contains("upgrade k3s v1.33.5+k3s1 → v1.34.4+k3s1"));
    }

    #[test]
    fn nodes_at_the_target_with_its_binary_are_left_alone() {
        let nodes = [
            live("s1", "v1.34.4+k3s1", true),
            live("a1", "v1.33.5+k3s1", true),
            live("s2", "v1.34.4+k3s1", true),
        ];
        let candidates = vec![
            candidate("s1", Service::Server, false),
            candidate("a1", Service::Agent, true),
            candidate("s2", Service::Server, false),
        ];
        let plan = plan_of(&v("v1.34.4+k3s1"), &candidates, &nodes, false).unwrap();
        assert!(plan.first.is_empty());
        assert_eq!(plan.then.len(), 1);
        // Nothing at all to do: no checks either (a NotReady node is the k3s phase's).
        let done = [live("s1", "v1.34.4+k3s1", false)];
        let plan = plan_of(
            &v("v1.34.4+k3s1"),
            &[candidate("s1", Service::Server, false)],
            &done,
            false,
        )
        .unwrap();
        assert!(plan.is_empty());
    }

    #[test]
    fn a_binary_in_place_with_the_old_k3s_still_running_is_restarted_only() {
        let nodes = [live("s1", "v1.33.5+k3s1", true)];
        let plan = plan_of(
            &v("v1.34.4+k3s1"),
            &[candidate("s1", Service::Server, false)],
            &nodes,
            false,
        )
        .unwrap();
        assert_eq!(plan.first.len(), 1);
        assert!(!plan.first[0].replace_binary);
    }

    #[test]
    fn a_node_at_the_target_still_cordoned_by_an_upgrade_is_only_uncordoned() {
        let mut done = live("s1", "v1.34.4+k3s1", true);
        done.annotations.insert(
            CORDON_ANNOTATION.to_owned(),
            "upgrade to v1.34.4+k3s1".to_owned(),
        );
        done.unschedulable = true;
        let plan = plan_of(
            &v("v1.34.4+k3s1"),
            &[candidate("s1", Service::Server, false)],
            &[done],
            false,
        )
        .unwrap();
        assert_eq!(plan.first.len(), 1);
        assert!(!plan.first[0].restart && !plan.first[0].replace_binary);
        assert!(plan.first[0]
            .summary(&v("v1.34.4+k3s1"))
            .starts_with("uncordon"));
        // Another node powered off does not hold an uncordon back: nothing restarts.
        let members: Vec<NodeName> = vec!["s1".parse().unwrap(), "s2".parse().unwrap()];
        let mut done = live("s1", "v1.34.4+k3s1", true);
        done.annotations
            .insert(CORDON_ANNOTATION.to_owned(), "shutdown".to_owned());
        let survey = Survey {
            members: &members,
            candidates: &[candidate("s1", Service::Server, false)],
            out_of_run: &[("s2".parse().unwrap(), "s2: cannot connect".to_owned())],
            live: &[done, live("s2", "v1.34.4+k3s1", false)],
        };
        let plan = plan_upgrade(&v("v1.34.4+k3s1"), survey, false).unwrap();
        assert_eq!(plan.first.len(), 1);
    }

    #[test]
    fn a_skipped_minor_a_downgrade_a_not_ready_node_are_each_named() {
        let nodes = [
            live("s1", "v1.32.1+k3s1", true),
            live("a1", "v1.33.5+k3s1", false),
            live("s2", "v1.35.0+k3s1", true),
        ];
        let problems = plan_of(&v("v1.34.4+k3s1"), &cluster(), &nodes, false).unwrap_err();
        let all = problems.join("\n");
        assert!(
            all.contains("s1: v1.32.1+k3s1 → v1.34.4+k3s1 skips a minor version"),
            "{all}"
        );
        assert!(all.contains("a v1.33.x release first"), "{all}");
        assert!(
            all.contains("s2: runs v1.35.0+k3s1, newer than v1.34.4+k3s1"),
            "{all}"
        );
        assert!(all.contains("a1: not Ready"), "{all}");
        assert!(
            all.contains("a1: the agent runs v1.33.5+k3s1, ahead of the server s1"),
            "{all}"
        );
    }

    #[test]
    fn an_allowed_downgrade_takes_the_agents_first() {
        let nodes = [
            live("s1", "v1.34.4+k3s1", true),
            live("a1", "v1.34.4+k3s1", true),
            live("s2", "v1.34.4+k3s1", true),
        ];
        let plan = plan_of(&v("v1.34.1+k3s1"), &cluster(), &nodes, true).unwrap();
        assert_eq!(plan.first[0].name, "a1");
        assert!(plan.first[0]
            .summary(&v("v1.34.1+k3s1"))
            .starts_with("downgrade"));
    }

    #[test]
    fn an_unreadable_kubelet_version_is_named_and_an_unregistered_node_is_not_an_upgrade() {
        let nodes = [live("s1", "v1.34.4-custom", true)];
        let problems = plan_of(&v("v1.34.4+k3s1"), &cluster(), &nodes, false).unwrap_err();
        assert!(problems[0].contains("s1: its kubelet reports version \"v1.34.4-custom\""));
        let plan = plan_of(&v("v1.34.4+k3s1"), &cluster(), &[], false).unwrap();
        assert!(plan.is_empty());
    }

    #[test]
    fn a_node_not_reached_a_missing_node_and_an_etcd_member_down_each_refuse() {
        let members: Vec<NodeName> = ["s1", "s2", "s3", "a1"]
            .iter()
            .map(|n| n.parse().unwrap())
            .collect();
        let candidates = vec![
            candidate("s1", Service::Server, true),
            candidate("s2", Service::Server, true),
            candidate("a1", Service::Agent, true),
        ];
        let mut old_server = live("s0", "v1.33.5+k3s1", false);
        old_server.annotations.insert(
            crate::k3s::ETCD_MEMBER_ANNOTATION.to_owned(),
            "s0-1a2b".to_owned(),
        );
        // s3 is powered off: the API may still show it Ready, pikube cannot reach it.
        let nodes = [
            live("s1", "v1.33.5+k3s1", true),
            live("s3", "v1.33.5+k3s1", true),
            live("a1", "v1.33.5+k3s1", true),
            old_server,
        ];
        let out_of_run = [(
            "s3".parse().unwrap(),
            "s3: cannot connect to 10.0.0.3: No route to host".to_owned(),
        )];
        let survey = Survey {
            members: &members,
            candidates: &candidates,
            out_of_run: &out_of_run,
            live: &nodes,
        };
        let all = plan_upgrade(&v("v1.34.4+k3s1"), survey, false)
            .unwrap_err()
            .join("\n");
        assert!(
            all.contains(
                "s3: cannot connect to 10.0.0.3: No route to host; an upgrade starts only on a \
                 healthy cluster, every node of cluster.toml answering and Ready"
            ),
            "{all}"
        );
        assert!(
            all.contains("s2: K3s runs there but the cluster lists no Node s2"),
            "{all}"
        );
        assert!(
            all.contains("s0: an etcd member, not Ready (and not in cluster.toml)"),
            "{all}"
        );
        // Reached, listed, Ready, the stale member gone: the upgrade goes.
        let nodes = [
            live("s1", "v1.33.5+k3s1", true),
            live("s2", "v1.33.5+k3s1", true),
            live("s3", "v1.33.5+k3s1", true),
            live("a1", "v1.33.5+k3s1", true),
        ];
        let candidates = vec![
            candidate("s1", Service::Server, true),
            candidate("s2", Service::Server, true),
            candidate("s3", Service::Server, true),
            candidate("a1", Service::Agent, true),
        ];
        let survey = Survey {
            members: &members,
            candidates: &candidates,
            out_of_run: &[],
            live: &nodes,
        };
        let plan = plan_upgrade(&v("v1.34.4+k3s1"), survey, false).unwrap();
        assert_eq!(plan.first.len(), 3);
    }

    #[test]
    fn an_allowed_downgrade_still_goes_back_one_minor_version_at_a_time() {
        let nodes = [live("s1", "v1.34.4+k3s1", true)];
        let s1 = [candidate("s1", Service::Server, true)];
        let problems = plan_of(&v("v1.32.9+k3s1"), &s1, &nodes, true).unwrap_err();
        assert_eq!(
            problems,
            [
                "s1: v1.34.4+k3s1 → v1.32.9+k3s1 skips a minor version: Kubernetes goes back one \
              minor version at a time; set [k3s] version to a v1.33.x release first"
            ]
        );
        assert!(plan_of(&v("v1.33.9+k3s1"), &s1, &nodes, true).is_ok());
    }
}
