//! Who initialises the cluster, who joins through whom, and with which token. Pure:
//! decided from cluster.toml and the nodes' k3s state, so plan and apply agree.

use super::paths::Service;
use super::render::Membership;
use super::state::K3sNodeState;
use super::token::ServerToken;

/// The cluster-wide facts of one node needed to decide the topology.
#[derive(Debug, Clone)]
pub struct TopologyNode<'a> {
    pub name: &'a str,
    pub address: &'a str,
    pub service: Service,
    /// `None` when the node could not be reached or read.
    pub state: Option<&'a K3sNodeState>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topology {
    /// The server that starts the cluster (or, on a running cluster, the first server in
    /// file order that has joined it); every other node joins through it.
    pub first_server: String,
    pub join_url: String,
    /// Where agents (and the kubeconfig) point: the API endpoint if there is one.
    pub agent_url: String,
    pub cluster_init: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TopologyError {
    #[error("cluster.toml has no server")]
    NoServer,
    #[error(
        "the cluster runs with another token than {local}: the token on {node} differs. \
         Restore {local} from a backup (or remove it: pikube then adopts the cluster's token)"
    )]
    TokenMismatch { node: String, local: String },
}

pub const API_PORT: u16 = 6443;

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
            && n
                .state
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
    Ok(Topology {
        first_server: first.name.to_owned(),
        agent_url: api_endpoint.map(api_url).unwrap_or_else(|| join_url.clone()),
        join_url,
        cluster_init: servers.len() > 1 && !external_datastore,
    })
}

impl Topology {
    pub fn membership(&self, node: &str, service: Service) -> Membership {
        match service {
            Service::Server if node == self.first_server => Membership::Init {
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
