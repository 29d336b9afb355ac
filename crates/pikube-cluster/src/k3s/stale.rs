//! Stale nodes: in the cluster's API but no longer in cluster.toml. Pure: which they are,
//! and whether `apply --prune` may remove each, so that plan and apply agree.

use super::cluster_nodes::ClusterNode;
use super::paths::Service;
use super::spec::K3sSpec;
use crate::config::{NodeName, Role};
use crate::node_records::NodeRecord;

/// Labels k3s puts on a server's node (`master` on older releases, `etcd` with embedded
/// etcd); agents carry none of them.
const SERVER_LABELS: [&str; 3] = [
    "node-role.kubernetes.io/control-plane",
    "node-role.kubernetes.io/master",
    "node-role.kubernetes.io/etcd",
];

/// Whether the cluster's labels say the Node is a server (control plane or etcd).
pub fn is_server(node: &ClusterNode) -> bool {
    SERVER_LABELS
        .iter()
        .any(|label| node.labels.get(*label).is_some_and(|v| v == "true"))
}

/// What `apply --prune` would do with one stale node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PruneStep {
    /// The Node's name: one cluster.toml could hold (pikube names every node it installs).
    pub name: NodeName,
    /// What it runs, as far as the cluster says.
    pub service: Service,
    /// A NotReady node is not drained: its pods could never leave it, so kubectl would only
    /// wait for the timeout; they are rescheduled once the node is deleted.
    pub ready: bool,
    /// How to reach it over SSH, from the last apply that installed it.
    pub record: Option<NodeRecord>,
    /// Why it must not be removed, if it must not.
    pub refused: Option<String>,
}

impl PruneStep {
    /// The line plan shows for it.
    pub fn summary(&self) -> String {
        match &self.refused {
            None => format!(
                "remove node {} from the cluster (only with `apply --prune`)",
                self.name
            ),
            Some(why) => format!(
                "remove node {} from the cluster (`apply --prune` refuses: {why})",
                self.name
            ),
        }
    }
}

/// Nodes of `live` that cluster.toml does not list and could not list: their names are not
/// DNS labels (a hostname with a domain, say), so pikube did not install them and leaves them
/// to whoever did; [`plan_prune`] passes them over.
pub fn foreign_nodes<'l>(live: &'l [ClusterNode], spec: &K3sSpec) -> Vec<&'l str> {
    live.iter()
        .map(|n| n.name.as_str())
        .filter(|name| spec.member(name).is_none() && name.parse::<NodeName>().is_err())
        .collect()
}

/// The stale nodes of `live` (as the API lists them), in name order, each with its
/// verdict. Servers go one at a time: each must leave the configured servers that are
/// Ready enough for the quorum of the servers that remain.
pub fn plan_prune(live: &[ClusterNode], spec: &K3sSpec, records: &[NodeRecord]) -> Vec<PruneStep> {
    let configured = |name: &str| spec.member(name).is_some();
    let ready_configured_servers = live
        .iter()
        .filter(|n| is_server(n) && n.ready && configured(&n.name))
        .count();
    let mut servers_left = live.iter().filter(|n| is_server(n)).count();
    let mut stale: Vec<(NodeName, &ClusterNode)> = live
        .iter()
        .filter(|n| !configured(&n.name))
        .filter_map(|n| Some((n.name.parse().ok()?, n)))
        .collect();
    stale.sort_by(|a, b| a.0.cmp(&b.0));
    stale
        .into_iter()
        .map(|(name, node)| {
            let record = records.iter().find(|r| r.name == node.name).cloned();
            let server = is_server(node) || record.as_ref().is_some_and(|r| r.role == Role::Server);
            // The server that started the cluster goes like any other: the others restart
            // from their own etcd data, and new nodes join through a server of cluster.toml.
            let refused = if !server {
                None
            } else {
                let remaining = servers_left.saturating_sub(1);
                let quorum = match spec.datastore {
                    // An external datastore keeps the state: one server is enough.
                    Some(_) => 1,
                    None => super::etcd_majority(remaining),
                };
                if ready_configured_servers >= quorum {
                    servers_left = remaining;
                    None
                } else {
                    Some(format!(
                        "{remaining} server(s) would remain, and etcd needs {quorum} of them, \
                         but only {ready_configured_servers} server(s) of cluster.toml are Ready"
                    ))
                }
            };
            PruneStep {
                name,
                service: if server {
                    Service::Server
                } else {
                    Service::Agent
                },
                ready: node.ready,
                record,
                refused,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SecretsEncryption;
    use crate::k3s::render::ServerOptions;
    use crate::k3s::spec::K3sMemberSpec;

    fn live(name: &str, server: bool, ready: bool) -> ClusterNode {
        let mut labels = std::collections::BTreeMap::new();
        if server {
            labels.insert(
                "node-role.kubernetes.io/control-plane".into(),
                "true".into(),
            );
        }
        ClusterNode {
            name: name.into(),
            ready,
            labels,
            taints: Vec::new(),
            kubelet_version: String::new(),
            annotations: Default::default(),
            unschedulable: false,
        }
    }

    fn spec(members: &[(&str, Service)]) -> K3sSpec {
        K3sSpec {
            cluster: "lab".into(),
            version: "v1.31.4+k3s1".parse().unwrap(),
            api_endpoint: None,
            server: ServerOptions {
                tls_san: Vec::new(),
                disable: Vec::new(),
                etcd_metrics: false,
                backup: None,
            },
            secrets_encryption: SecretsEncryption::Default,
            kubelet_args: Vec::new(),
            datastore: None,
            s3_credentials: None,
            nodes: members
                .iter()
                .map(|(name, service)| K3sMemberSpec {
                    name: name.parse().unwrap(),
                    address: (*name).into(),
                    service: *service,
                    labels: Vec::new(),
                    taints: Vec::new(),
                    node_ip: None,
                    adopt: false,
                })
                .collect(),
            registries: None,
            registry_cas: Vec::new(),
        }
    }

    fn record(name: &str, role: Role, initialised_cluster: bool) -> NodeRecord {
        NodeRecord {
            name: name.parse().unwrap(),
            address: "10.0.0.9".into(),
            user: None,
            port: None,
            identity_file: None,
            proxy_jump: None,
            role,
            initialised_cluster,
            registration: None,
        }
    }

    #[test]
    fn agents_not_in_the_file_are_stale_and_always_allowed() {
        let spec = spec(&[("s1", Service::Server), ("a1", Service::Agent)]);
        let nodes = [
            live("s1", true, true),
            live("a1", false, true),
            live("a2", false, false),
        ];
        let records = [record("a2", Role::Agent, false)];
        let steps = plan_prune(&nodes, &spec, &records);
        assert_eq!(steps.len(), 1);
        let step = &steps[0];
        assert_eq!(
            (step.name.as_str(), step.service, step.ready),
            ("a2", Service::Agent, false)
        );
        assert!(step.record.is_some() && step.refused.is_none());
        assert!(step.summary().contains("only with `apply --prune`"));
        assert!(plan_prune(&nodes[..2], &spec, &records).is_empty());
    }

    #[test]
    fn nodes_whose_names_no_cluster_toml_could_hold_are_passed_over_and_named() {
        let spec = spec(&[("s1", Service::Server)]);
        let nodes = [
            live("s1", true, true),
            live("a2", false, true),
            live("pi.home.arpa", false, true),
        ];
        let steps = plan_prune(&nodes, &spec, &[]);
        let names: Vec<&str> = steps.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["a2"]);
        assert_eq!(foreign_nodes(&nodes, &spec), ["pi.home.arpa"]);
        assert!(foreign_nodes(&nodes[..2], &spec).is_empty());
    }

    #[test]
    fn servers_go_only_while_quorum_holds_the_first_one_too() {
        let spec3 = spec(&[("s1", Service::Server), ("s2", Service::Server)]);
        let nodes = [
            live("s1", true, true),
            live("s2", true, true),
            live("s3", true, true),
        ];
        // 3 → 2 servers, both Ready and configured: fine.
        let steps = plan_prune(&nodes, &spec3, &[]);
        assert_eq!(steps[0].refused, None, "{steps:?}");
        assert_eq!(steps[0].service, Service::Server);

        // 3 → 1 configured: the first removal leaves 2 members, quorum 2, one Ready.
        let spec1 = spec(&[("s1", Service::Server)]);
        let steps = plan_prune(&nodes, &spec1, &[]);
        assert_eq!(steps.len(), 2);
        let why = steps[0].refused.as_deref().unwrap();
        assert!(why.contains("etcd needs 2"), "{why}");
        assert!(steps[0].summary().contains("refuses"));

        // 2 → 1: the remaining server is its own quorum.
        let steps = plan_prune(&nodes[..2], &spec1, &[]);
        assert_eq!(steps[0].refused, None);

        // A configured server that is down does not count.
        let down = [
            live("s1", true, true),
            live("s2", true, false),
            live("s3", true, true),
        ];
        assert!(plan_prune(&down, &spec3, &[])[0].refused.is_some());

        // The server that started the cluster (its SD card dead) goes under the same rule.
        let records = [record("s3", Role::Server, true)];
        let steps = plan_prune(&nodes, &spec3, &records);
        assert_eq!(steps[0].refused, None, "{steps:?}");
        let why = plan_prune(&down, &spec3, &records)[0]
            .refused
            .clone()
            .unwrap();
        assert!(why.contains("etcd needs 2"), "{why}");
    }
}
