//! Who initialises the cluster, who joins through whom, with which token, and whether the
//! servers keep Secrets encrypted. Pure: decided from cluster.toml and the nodes' k3s
//! state, so plan and apply agree.

use std::collections::BTreeMap;

use super::paths::Service;
use super::render::Membership;
use super::secrets_encryption::{decide, SecretsEncryptionDecision};
use super::state::K3sNodeState;
use super::token::{AgentToken, ServerToken};
use crate::config::{DatastoreKind, NodeName, SecretsEncryption};

/// The cluster-wide facts of one node needed to decide the topology.
#[derive(Debug, Clone)]
pub struct TopologyNode<'a> {
    pub name: &'a NodeName,
    pub address: &'a str,
    pub service: Service,
    /// `None` when the node could not be reached or read.
    pub state: Option<&'a K3sNodeState>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topology {
    /// The server that starts the cluster (or, on a running cluster, the first server in
    /// file order that has joined it); every other node joins through it.
    pub first_server: NodeName,
    pub join_url: String,
    /// Where agents (and the kubeconfig) point: the API endpoint if there is one.
    pub agent_url: String,
    pub cluster_init: bool,
    /// The first server took the place of the one that started the cluster: see
    /// [`Membership::Successor`].
    pub successor: bool,
    /// Where the other nodes (and pikube) reach each server: its certificate must name it.
    pub server_addresses: BTreeMap<NodeName, String>,
    /// Whether every server keeps Secrets encrypted: one setting for the whole cluster.
    pub secrets_encryption: SecretsEncryptionDecision,
}

/// Why the cluster's shape cannot be decided.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TopologyError {
    /// No node is a server.
    #[error("cluster.toml has no server")]
    NoServer,
    /// A node runs with another token than the one kept here.
    #[error(
        "the cluster runs with another token than {local}: the token on {node} differs. \
         Restore {local} from a backup (or remove it: pikube then adopts the cluster's token)"
    )]
    TokenMismatch {
        /// The node.
        node: NodeName,
        /// The token file here.
        local: String,
    },
    /// cluster.toml leaves secrets_encryption unset, so the running cluster's setting is
    /// kept; but its servers do not share one.
    #[error(
        "the running servers disagree on secrets encryption: it is on on {} and off on {}. \
         K3s needs every server alike and pikube cannot tell which to keep: bring them to one \
         setting with K3s' `k3s secrets-encrypt` (or `pikube reset` the odd ones), or set \
         secrets_encryption in cluster.toml to what the servers that stay have",
        names(on),
        names(off)
    )]
    MixedSecretsEncryption {
        /// The servers running with it.
        on: Vec<NodeName>,
        /// Those running without.
        off: Vec<NodeName>,
    },
}

fn names(nodes: &[NodeName]) -> String {
    nodes
        .iter()
        .map(NodeName::as_str)
        .collect::<Vec<_>>()
        .join(", ")
}

pub const API_PORT: u16 = 6443;

/// The API server's URL on `host` (an IPv6 address bracketed).
pub fn api_url(host: &str) -> String {
    if host.contains(':') {
        format!("https://[{host}]:{API_PORT}")
    } else {
        format!("https://{host}:{API_PORT}")
    }
}

pub fn topology(
    nodes: &[TopologyNode<'_>],
    api_endpoint: Option<&str>,
    external_datastore: bool,
    secrets_encryption: SecretsEncryption,
) -> Result<Topology, TopologyError> {
    let servers: Vec<&TopologyNode> = nodes
        .iter()
        .filter(|n| n.service == Service::Server)
        .collect();
    let first_in_file = *servers.first().ok_or(TopologyError::NoServer)?;
    let running = |n: &&&TopologyNode| n.state.is_some_and(|s| s.server_token.is_some());
    // The server that started a running cluster has no `server:` in its config.yaml. It
    // stays the first server whatever the file order says now, so that plans are stable.
    let starter = servers.iter().find(|n| {
        running(n)
            && n.state
                .and_then(|s| s.config.as_deref())
                .is_some_and(|config| !config.lines().any(|l| l.starts_with("server:")))
    });
    let first = match starter {
        Some(server) => *server,
        // Nothing runs yet: the first server in the file starts the cluster.
        None if !servers.iter().any(|n| running(&n)) => first_in_file,
        // It runs, but the server that started it is gone: join through one that runs.
        None => servers
            .iter()
            .find(|n| running(n))
            .copied()
            .unwrap_or(first_in_file),
    };
    let join_url = api_url(first.address);
    let etcd =
        DatastoreKind::chosen(servers.len(), external_datastore) == DatastoreKind::EmbeddedEtcd;
    Ok(Topology {
        first_server: first.name.to_owned(),
        agent_url: api_endpoint
            .map(api_url)
            .unwrap_or_else(|| join_url.clone()),
        join_url,
        cluster_init: etcd,
        successor: etcd && !says_cluster_init(first),
        server_addresses: servers
            .iter()
            .map(|n| (n.name.clone(), n.address.to_owned()))
            .collect(),
        secrets_encryption: decide(secrets_encryption, nodes)?,
    })
}

/// Whether the first server (of a cluster on embedded etcd) is to say `cluster-init`. With
/// its etcd data on disk K3s ignores the key, so pikube's config.yaml keeps it as it is: a
/// server that joined through another, and takes its place once that one is gone for good,
/// is not made to look as if it had started the cluster (nor restarted for it): it is the
/// [`Membership::Successor`]. Without etcd data (a new cluster, a single SQLite server
/// growing to etcd) it starts etcd.
fn says_cluster_init(first: &TopologyNode<'_>) -> bool {
    match first
        .state
        .filter(|s| s.etcd_data)
        .and_then(|s| s.config.as_deref())
    {
        Some(config) if config.starts_with(super::render::CONFIG_HEADER) => {
            config.lines().any(|line| line == "cluster-init: true")
        }
        _ => true,
    }
}

impl Topology {
    pub fn membership(&self, node: &NodeName, service: Service) -> Membership {
        match service {
            Service::Server if *node == self.first_server && self.successor => {
                Membership::Successor
            }
            Service::Server if *node == self.first_server => Membership::Init {
                cluster_init: self.cluster_init,
            },
            Service::Server => Membership::JoinServer {
                url: self.join_url.clone(),
            },
            Service::Agent => Membership::Agent {
                url: self.agent_url.clone(),
            },
        }
    }
}

/// The running cluster's token, from any server that has one; it must be the one kept
/// in local state (`local_secret`), or joins would fail in confusing ways later.
pub fn cluster_token<'a>(
    nodes: &[TopologyNode<'a>],
    local_secret: &str,
    local_path: &str,
) -> Result<Option<&'a ServerToken>, TopologyError> {
    let mut found = None;
    for node in nodes.iter().filter(|n| n.service == Service::Server) {
        if let Some(token) = node.state.and_then(|s| s.server_token.as_ref()) {
            if token.expose_secret() != local_secret {
                return Err(TopologyError::TokenMismatch {
                    node: node.name.to_owned(),
                    local: local_path.to_owned(),
                });
            }
            found.get_or_insert(token);
        }
    }
    Ok(found)
}

/// The token secret a running cluster already has, so that local state can adopt it when
/// `.pikube/` was lost (a new laptop, a fresh clone).
pub fn existing_secret<'a>(nodes: &[TopologyNode<'a>]) -> Option<&'a str> {
    nodes
        .iter()
        .filter(|n| n.service == Service::Server)
        .find_map(|n| n.state.and_then(|s| s.server_token.as_ref()))
        .map(ServerToken::expose_secret)
}

/// The agent token secret the servers already use, for the same reason.
pub fn existing_agent_secret<'a>(nodes: &[TopologyNode<'a>]) -> Option<&'a str> {
    nodes
        .iter()
        .filter(|n| n.service == Service::Server)
        .find_map(|n| n.state.and_then(|s| s.agent_token.as_ref()))
        .map(AgentToken::expose_secret)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn running(config: &str) -> K3sNodeState {
        let hash = "ab".repeat(32);
        let mut state = crate::k3s::state::parse_state("@@pikube-facts v1\n@@pikube-facts end\n")
            .expect("empty state parses");
        state.config = Some(config.to_owned());
        state.server_token = ServerToken::parse(&format!("K10{hash}::server:secret"));
        state
    }

    fn node<'a>(
        name: &'a str,
        service: Service,
        state: Option<&'a K3sNodeState>,
    ) -> TopologyNode<'a> {
        TopologyNode {
            // Leaked: a test's few names must outlive the nodes borrowing them.
            name: Box::leak(Box::new(name.parse::<NodeName>().unwrap())),
            address: name,
            service,
            state,
        }
    }

    #[test]
    fn the_first_server_starts_etcd_and_agents_use_the_endpoint() {
        let nodes = [
            node("s1", Service::Server, None),
            node("s2", Service::Server, None),
            node("s3", Service::Server, None),
            node("a1", Service::Agent, None),
        ];
        let topo = topology(&nodes, Some("k3s.lan"), false, SecretsEncryption::Default).unwrap();
        assert_eq!(topo.first_server, "s1");
        assert_eq!(
            topo.membership(&"s1".parse::<NodeName>().unwrap(), Service::Server),
            Membership::Init { cluster_init: true }
        );
        assert_eq!(
            topo.membership(&"s2".parse::<NodeName>().unwrap(), Service::Server),
            Membership::JoinServer {
                url: "https://s1:6443".into()
            }
        );
        assert_eq!(
            topo.membership(&"a1".parse::<NodeName>().unwrap(), Service::Agent),
            Membership::Agent {
                url: "https://k3s.lan:6443".into()
            }
        );
        // One server, or an external datastore: no embedded etcd.
        assert!(
            !topology(&nodes[..1], None, false, SecretsEncryption::Default)
                .unwrap()
                .cluster_init
        );
        assert!(
            !topology(&nodes, None, true, SecretsEncryption::Default)
                .unwrap()
                .cluster_init
        );
    }

    #[test]
    fn a_running_cluster_keeps_the_server_that_started_it() {
        let starter = running("node-name: s2\ncluster-init: true\n");
        let joined = running("node-name: s3\nserver: https://s2:6443\n");
        let nodes = [
            node("s1", Service::Server, None),
            node("s2", Service::Server, Some(&starter)),
            node("s3", Service::Server, Some(&joined)),
        ];
        assert_eq!(
            topology(&nodes, None, false, SecretsEncryption::Default)
                .unwrap()
                .first_server,
            "s2"
        );
        // The starter gone: join through any server that runs.
        let nodes = [
            node("s1", Service::Server, None),
            node("s3", Service::Server, Some(&joined)),
        ];
        assert_eq!(
            topology(&nodes, None, false, SecretsEncryption::Default)
                .unwrap()
                .first_server,
            "s3"
        );
        assert_eq!(api_url("fd00::1"), "https://[fd00::1]:6443");
    }

    #[test]
    fn a_server_taking_the_place_of_one_gone_joins_nothing_and_starts_no_cluster() {
        let header = "# Managed by pikube for cluster lab: `pikube apply` rewrites this\n";
        let on_etcd = |config: String| {
            let mut state = running(&config);
            state.etcd_data = true;
            state
        };
        // s1 started the cluster and is gone for good; s2 and s3 joined through it.
        let s2 = on_etcd(format!("{header}node-name: s2\nserver: https://s1:6443\n"));
        let s3 = on_etcd(format!("{header}node-name: s3\nserver: https://s1:6443\n"));
        let nodes = [
            node("s2", Service::Server, Some(&s2)),
            node("s3", Service::Server, Some(&s3)),
            node("a1", Service::Agent, None),
        ];
        let topo = topology(&nodes, None, false, SecretsEncryption::Default).unwrap();
        assert_eq!(topo.first_server, "s2");
        let s2_name = "s2".parse::<NodeName>().unwrap();
        assert_eq!(
            topo.membership(&s2_name, Service::Server),
            Membership::Successor
        );
        assert_eq!(
            topo.membership(&"s3".parse::<NodeName>().unwrap(), Service::Server),
            Membership::JoinServer {
                url: "https://s2:6443".into()
            }
        );
        assert_eq!(
            topo.membership(&"a1".parse::<NodeName>().unwrap(), Service::Agent),
            Membership::Agent {
                url: "https://s2:6443".into()
            }
        );
        // Once it says neither, it stays as it is: the next apply changes nothing.
        let s2 = on_etcd(format!("{header}node-name: s2\n"));
        let nodes = [
            node("s2", Service::Server, Some(&s2)),
            node("s3", Service::Server, Some(&s3)),
        ];
        let topo = topology(&nodes, None, false, SecretsEncryption::Default).unwrap();
        assert_eq!(
            topo.membership(&s2_name, Service::Server),
            Membership::Successor
        );
        // The server that started it keeps its `cluster-init`; a SQLite server (no etcd
        // data) growing to etcd gets it.
        let s1 = on_etcd(format!("{header}node-name: s1\ncluster-init: true\n"));
        let sqlite = running(&format!("{header}node-name: s1\n"));
        for state in [&s1, &sqlite] {
            let nodes = [
                node("s1", Service::Server, Some(state)),
                node("s2", Service::Server, None),
                node("s3", Service::Server, None),
            ];
            let topo = topology(&nodes, None, false, SecretsEncryption::Default).unwrap();
            assert!(topo.cluster_init && !topo.successor);
        }
    }

    #[test]
    fn another_token_in_the_cluster_is_refused_and_a_lost_one_adopted() {
        let state = running("cluster-init: true\n");
        let nodes = [node("s1", Service::Server, Some(&state))];
        assert_eq!(existing_secret(&nodes), Some("secret"));
        assert!(cluster_token(&nodes, "secret", "t").unwrap().is_some());
        let err = cluster_token(&nodes, "other", ".pikube/lab/token").unwrap_err();
        assert!(err.to_string().contains(".pikube/lab/token"), "{err}");
    }
}
