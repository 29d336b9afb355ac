//! The cluster's health, as `pikube status` reports it after a power cut or a power-on: the
//! API answering, each node Ready, etcd's quorum, clocks in step, certificates not about to
//! expire, and the nodes pikube left cordoned. Read only.

mod certs;
mod snapshots;

pub use certs::{expiries, CertExpiry};
pub use snapshots::{read_scheduled, ScheduledSnapshots};

use pikube_pi::NodeFacts;
use serde::Serialize;

use crate::config::{ClusterConfig, NodeName, Role};
use crate::fleet::{Fleet, NodeResult};
use crate::k3s::cordon::cordoned_by_pikube;
use crate::k3s::{etcd_majority, etcd_members, get_nodes, ClusterNode};
use crate::progress::SilentProgress;
use crate::ssh::{Connection, SudoPassword};

/// A node's clock may be off by this much before etcd and certificates suffer.
pub const CLOCK_TOLERANCE_SECS: f64 = 2.0;
/// A certificate this close to its end is flagged.
pub const CERT_WARNING_DAYS: i64 = 30;

/// What `status` reports after a power-up: the API, etcd's quorum, each node.
#[derive(Debug, Clone, Serialize)]
pub struct ClusterHealth {
    /// No problem found (notes do not count).
    pub healthy: bool,
    /// `None` when no node has K3s.
    pub api: Option<ApiState>,
    /// With embedded etcd only.
    pub etcd: Option<EtcdState>,
    /// Each node of cluster.toml, in file order.
    pub nodes: Vec<NodeHealth>,
    /// Each reason the cluster is not healthy, naming the node.
    pub problems: Vec<String>,
    /// Worth knowing, not a fault (a node pikube left cordoned, K3s not installed yet).
    pub notes: Vec<String>,
}

/// Whether the cluster's API answered.
#[derive(Debug, Clone, Serialize)]
pub struct ApiState {
    /// The server asked.
    pub server: NodeName,
    /// It answered.
    pub answering: bool,
}

/// The embedded etcd's state, as far as the API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct EtcdState {
    /// etcd answers the API server's health check, which needs a quorum.
    pub quorum: bool,
    /// etcd's members as K3s records them on their Nodes (none when the API is down).
    pub members: usize,
    /// Members whose Node is Ready.
    pub members_ready: usize,
    /// Servers whose Node is Ready.
    pub servers_ready: usize,
    /// Servers in cluster.toml.
    pub servers: usize,
}

/// One node's health.
#[derive(Debug, Clone, Serialize)]
pub struct NodeHealth {
    /// Its cluster.toml name.
    pub node: NodeName,
    /// `None` when the cluster's node list could not be read or does not list it.
    pub ready: Option<bool>,
    /// Why pikube cordoned it, if it did and has not uncordoned it.
    pub cordoned_by_pikube: Option<String>,
    /// The K3s version its Node reports (kubeletVersion), when the cluster lists it.
    pub kubelet_version: Option<String>,
    /// Its clock minus this machine's, in seconds, when it was read.
    pub clock_offset_secs: Option<f64>,
    /// Its certificate that expires first.
    pub first_expiry: Option<CertExpiry>,
    /// On a server with embedded etcd: its newest scheduled snapshot.
    pub scheduled_snapshots: Option<ScheduledSnapshots>,
}

/// Checks the cluster of `config`, whose nodes' facts (or why they could not be read) are
/// `facts`, as `Fleet::facts` gathered them, in file order.
pub async fn check(
    config: &ClusterConfig,
    facts: &[NodeResult<NodeFacts>],
    sudo_password: &(dyn Fn(&str) -> Option<SudoPassword> + Sync),
) -> ClusterHealth {
    let mut health = ClusterHealth {
        healthy: true,
        api: None,
        etcd: None,
        nodes: facts
            .iter()
            .map(
                |NodeResult {
                     node,
                     result: facts,
                 }| NodeHealth {
                    node: node.clone(),
                    ready: None,
                    cordoned_by_pikube: None,
                    kubelet_version: None,
                    clock_offset_secs: facts.as_ref().ok().and_then(|f| f.clock_offset_secs),
                    first_expiry: None,
                    scheduled_snapshots: None,
                },
            )
            .collect(),
        problems: Vec::new(),
        notes: Vec::new(),
    };
    for node in &health.nodes {
        if let Some(offset) = node
            .clock_offset_secs
            .filter(|o| o.abs() > CLOCK_TOLERANCE_SECS)
        {
            health.problems.push(format!(
                "{}: its clock is {:.1} s {} this machine's (more than {CLOCK_TOLERANCE_SECS} \
                 s): etcd and certificates need clocks in step; check its time sync \
                 (`timedatectl`)",
                node.node,
                offset.abs(),
                if offset > 0.0 { "ahead of" } else { "behind" }
            ));
        }
    }

    let with_k3s: Vec<&str> = facts
        .iter()
        .filter(|r| r.result.as_ref().is_ok_and(has_k3s))
        .map(|r| r.node.as_str())
        .collect();
    if with_k3s.is_empty() {
        if facts.iter().all(|r| r.result.is_ok()) {
            health
                .notes
                .push("K3s is not installed: run `pikube apply`".to_owned());
        }
        health.healthy = health.problems.is_empty();
        return health;
    }

    let fleet = match Fleet::of_config_where(config, |n| with_k3s.contains(&n.name.as_ref())) {
        Ok(fleet) => fleet,
        Err(err) => {
            health.problems.push(crate::error_chain::describe(&err));
            health.healthy = false;
            return health;
        }
    };
    let mut connections: Vec<(NodeName, Connection)> = Vec::new();
    for connected in fleet
        .connect_privileged(&SilentProgress, sudo_password)
        .await
    {
        match connected.result {
            Ok(connection) => connections.push((connected.node, connection)),
            Err(err) => health
                .problems
                .push(format!("{err} (its K3s health was not checked)")),
        }
    }

    let servers: Vec<&(NodeName, Connection)> = connections
        .iter()
        .filter(|(name, _)| config.node(name).is_some_and(|n| n.role == Role::Server))
        .collect();
    let live = api_and_nodes(&mut health, &servers).await;
    if let Some(live) = &live {
        for node in &mut health.nodes {
            let found = live.iter().find(|n| n.name == node.node);
            node.ready = found.map(|n| n.ready);
            node.cordoned_by_pikube = found.and_then(cordoned_by_pikube).map(str::to_owned);
            node.kubelet_version = found.map(|n| n.kubelet_version.clone());
        }
        for node in &health.nodes {
            let registered = with_k3s.contains(&node.node.as_str());
            match node.ready {
                Some(false) => health.problems.push(format!("{}: NotReady", node.node)),
                None if registered => health
                    .problems
                    .push(format!("{}: not in the cluster's node list", node.node)),
                _ => {}
            }
            if let Some(why) = &node.cordoned_by_pikube {
                health.notes.push(format!(
                    "{}: cordoned by pikube ({why}); `pikube apply` uncordons it",
                    node.node
                ));
            }
        }
    }
    let embedded_etcd = !config.k3s.external_datastore() && config.servers().count() > 1;
    if embedded_etcd {
        etcd(&mut health, &servers, live.as_deref(), config).await;
    }

    // Every node's certificates, and each server's scheduled snapshots, read at once: two
    // round trips in parallel per node, not one node after another.
    let servers = &servers;
    let reads =
        futures::future::join_all(connections.iter().map(|(name, connection)| async move {
            let snapshots = async {
                // Not a health problem by itself: `doctor` judges it against the schedule.
                if embedded_etcd && servers.iter().any(|(s, _)| s == name) {
                    read_scheduled(connection).await.ok()
                } else {
                    None
                }
            };
            let (expiries, snapshots) = tokio::join!(certs::read_expiries(connection), snapshots);
            (name, expiries, snapshots)
        }))
        .await;
    for (name, expiries, snapshots) in reads {
        let node = health.nodes.iter().position(|n| n.node == *name);
        match expiries {
            Ok(expiries) => {
                for cert in expiries.iter().filter(|c| c.days_left < CERT_WARNING_DAYS) {
                    health.problems.push(format!(
                        "{name}: {} expires {} ({} days): restarting K3s renews certificates \
                         due within 90 days",
                        cert.file, cert.not_after, cert.days_left
                    ));
                }
                if let Some(i) = node {
                    health.nodes[i].first_expiry = expiries.into_iter().next();
                }
            }
            Err(err) => health
                .problems
                .push(format!("{name}: certificates not checked: {err}")),
        }
        if let (Some(i), Some(found)) = (node, snapshots) {
            health.nodes[i].scheduled_snapshots = Some(found);
        }
    }
    for (_, connection) in connections {
        connection.close().await;
    }
    health.healthy = health.problems.is_empty();
    health
}

/// The K3s version a node runs: as its binary answered the login user, else as its Node
/// reports it (a release before mid-2023 answers `--version` only to root, audit F3).
pub fn k3s_version<'a>(facts: &'a NodeFacts, health: Option<&'a NodeHealth>) -> Option<&'a str> {
    facts
        .k3s
        .version
        .as_deref()
        .or_else(|| health?.kubelet_version.as_deref().filter(|v| !v.is_empty()))
}

fn has_k3s(facts: &NodeFacts) -> bool {
    let k3s = &facts.k3s;
    k3s.is_installed() || k3s.server.is_enabled() || k3s.agent.is_enabled()
}

/// Asks the servers in turn until one's API answers; its node list then.
async fn api_and_nodes(
    health: &mut ClusterHealth,
    servers: &[&(NodeName, Connection)],
) -> Option<Vec<ClusterNode>> {
    let mut last = None;
    for (name, connection) in servers {
        let ready = connection
            .run_privileged_unchecked(
                "asking the API server whether it is ready",
                "/usr/local/bin/k3s kubectl get --raw /readyz",
                b"",
            )
            .await;
        match ready {
            Ok(output) if output.success() => match get_nodes(connection).await {
                Ok(live) => {
                    health.api = Some(ApiState {
                        server: name.clone(),
                        answering: true,
                    });
                    return Some(live);
                }
                Err(err) => last = Some((name.clone(), err.to_string())),
            },
            Ok(output) => last = Some((name.clone(), output.last_stderr_line())),
            Err(err) => last = Some((name.clone(), err.to_string())),
        }
    }
    match last {
        Some((server, reason)) => {
            health.problems.push(format!(
                "the Kubernetes API answers on no server (last asked: {server}: {reason})"
            ));
            health.api = Some(ApiState {
                server,
                answering: false,
            });
        }
        None => health
            .problems
            .push("no server of cluster.toml could be reached to ask the API".to_owned()),
    }
    None
}

/// etcd's quorum, from the API server's own etcd check on the servers that answer.
async fn etcd(
    health: &mut ClusterHealth,
    servers: &[&(NodeName, Connection)],
    live: Option<&[ClusterNode]>,
    config: &ClusterConfig,
) {
    let mut quorum = false;
    for (_, connection) in servers {
        if let Ok(output) = connection
            .run_privileged_unchecked(
                "asking the API server about etcd",
                "/usr/local/bin/k3s kubectl get --raw /readyz/etcd",
                b"",
            )
            .await
        {
            if output.success() && output.stdout.trim() == "ok" {
                quorum = true;
                break;
            }
        }
    }
    let servers_total = config.servers().count();
    let servers_ready = live.map_or(0, |live| {
        config
            .servers()
            .filter(|s| live.iter().any(|n| n.name == s.name.as_ref() && n.ready))
            .count()
    });
    let members = etcd_members(live.unwrap_or_default());
    let members_ready = members.iter().filter(|n| n.ready).count();
    if !quorum {
        health
            .problems
            .push(no_quorum(members.len(), members_ready, servers_total));
    }
    health.etcd = Some(EtcdState {
        quorum,
        members: members.len(),
        members_ready,
        servers_ready,
        servers: servers_total,
    });
}

/// Why etcd has no quorum, as far as the API shows it: its members and how many are Ready,
/// or, when the API cannot list them (the usual case without quorum), the servers of
/// cluster.toml and that which of them are up is not known from here.
fn no_quorum(members: usize, members_ready: usize, servers: usize) -> String {
    if members == 0 {
        return format!(
            "etcd has no quorum: the API cannot list its members, and a majority of the {servers} \
             servers ({}) must be up; power the others on",
            etcd_majority(servers)
        );
    }
    format!(
        "etcd has no quorum: {members_ready} of its {members} members Ready, and a majority \
         ({}) must be up; power the others on",
        etcd_majority(members)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_quorum_counts_members_only_when_the_api_lists_them() {
        assert_eq!(
            no_quorum(3, 1, 3),
            "etcd has no quorum: 1 of its 3 members Ready, and a majority (2) must be up; \
             power the others on"
        );
        // Without an API there is no member list: no count of Ready ones is claimed.
        assert_eq!(
            no_quorum(0, 0, 3),
            "etcd has no quorum: the API cannot list its members, and a majority of the 3 \
             servers (2) must be up; power the others on"
        );
    }

    fn node_health(kubelet_version: Option<&str>) -> NodeHealth {
        NodeHealth {
            node: "pi-1".parse().unwrap(),
            ready: Some(true),
            cordoned_by_pikube: None,
            kubelet_version: kubelet_version.map(str::to_owned),
            clock_offset_secs: None,
            first_expiry: None,
            scheduled_snapshots: None,
        }
    }

    #[test]
    fn the_version_the_binary_keeps_to_root_comes_from_the_node_list() {
        let answered =
            crate::facts::from_sections(&[("k3s_version", "k3s version v1.31.4+k3s1 (a)")]);
        let listed = node_health(Some("v1.26.5+k3s1"));
        assert_eq!(k3s_version(&answered, Some(&listed)), Some("v1.31.4+k3s1"));

        // Present but unparsed: what a refused `--version` leaves.
        let refused = crate::facts::from_sections(&[("k3s_version", "")]);
        assert!(refused.k3s.is_installed() && refused.k3s.version.is_none());
        assert_eq!(k3s_version(&refused, Some(&listed)), Some("v1.26.5+k3s1"));
        assert_eq!(k3s_version(&refused, None), None);
        assert_eq!(k3s_version(&refused, Some(&node_health(None))), None);
        assert_eq!(k3s_version(&refused, Some(&node_health(Some("")))), None);
    }
}
