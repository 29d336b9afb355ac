//! The K3s steps of apply and plan, one pipeline phase each: the servers (the first,
//! then the others one at a time, as etcd grows one member at a time), then the agents in
//! parallel, each Ready before the next step; then labels and taints through the API.
//!
//! The servers step reads every node's K3s state once and decides the topology; it leaves
//! both, with what the agents join with, in a [`K3sSurvey`] that the agents and labels
//! steps take up. Each step has a dry form that changes nothing and lists the changes.

mod agents;
mod join;
mod labels;
mod servers;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use futures::stream::{self, StreamExt};
use pikube_pi::NodeFacts;

use super::cluster_nodes::ClusterNode;
use super::desired::{BinaryArtifact, DesiredK3s};
use super::error::K3sError;
use super::labels::automatic_labels;
use super::node_plan::plan_k3s;
use super::paths::Service;
use super::render::{config_yaml, registration_yaml, NodeConfig};
use super::spec::{K3sMemberSpec, K3sSpec};
use super::state::{read_state, K3sNodeState};
use super::topology::{topology, Topology, TopologyNode};
use crate::config::{Arch, NodeName};
use crate::fleet::NodeResult;
use crate::node_records::Registration;
use crate::plan::Change;
use crate::progress::Progress;
use crate::ssh::Connection;

pub use labels::NodeLabels;

/// A node the stage can work on: connected with root, facts read.
pub struct StageNode {
    /// Its name in cluster.toml.
    pub name: NodeName,
    /// The run's connection to it.
    pub connection: Connection,
    /// What the facts phase read.
    pub facts: NodeFacts,
}

/// What the three K3s steps work from: the wanted K3s, the binaries, and what the earlier
/// phases of the run found.
pub struct K3sStage<'a> {
    /// K3s as cluster.toml wants it on each node.
    pub spec: &'a K3sSpec,
    /// By K3s build.
    pub binaries: &'a BTreeMap<Arch, BinaryArtifact>,
    /// How long a node may take to run K3s and be Ready.
    pub ready_timeout: Duration,
    /// How many agents join at once.
    pub parallelism: usize,
    /// Nodes whose binary the upgrade phase puts in place (in a dry run: would): the plan
    /// counts it as there.
    pub rolled_out: &'a BTreeSet<NodeName>,
    /// K3s states read earlier in this run and still true (in a dry run nothing changes
    /// them): not read again.
    pub read_before: Option<&'a BTreeMap<NodeName, K3sNodeState>>,
    /// The cluster's node list, read earlier in a dry run: not asked again.
    pub live_before: Option<&'a [ClusterNode]>,
    /// The labels and taints pikube last set, per node, from the local node records.
    pub recorded: &'a BTreeMap<NodeName, Registration>,
    /// Take over nodes whose K3s another tool installed (`--adopt`).
    pub adopt: bool,
    /// Nodes whose old Node may be deleted so that they join afresh (`--replace`): the
    /// user says their card was written again.
    pub replace: &'a [NodeName],
}

/// What the servers or agents step did to one node.
#[derive(Debug, Clone, Default)]
pub struct K3sNodeReport {
    /// Each change made, in a few words.
    pub changes: Vec<String>,
    /// Why k3s was (re)started, if it was.
    pub restarted: Option<String>,
    /// What the changes alone do not say (what an adoption kept and replaced).
    pub warnings: Vec<String>,
}

impl K3sNodeReport {
    /// Nothing was changed.
    pub fn is_unchanged(&self) -> bool {
        self.changes.is_empty()
    }
}

/// What the servers or agents step would do to one node.
#[derive(Debug, Clone, Default)]
pub struct K3sNodePlanReport {
    /// Each change it would make.
    pub changes: Vec<Change>,
    /// What the changes alone do not say (what an adoption would keep and replace).
    pub warnings: Vec<String>,
}

/// What the servers step read and decided, for the agents and labels steps: the K3s state
/// of every node it could read, the topology, and what agents join with. Not `Debug`: it
/// holds the agents' token.
pub struct K3sSurvey {
    states: BTreeMap<NodeName, K3sNodeState>,
    topology: Topology,
    /// The env file agents join with (their token). In a plan, `None` while the cluster
    /// has no token yet: apply would make one.
    agent_env: Option<String>,
    /// In a plan, the cluster's node list, when its API answered.
    live: Option<Vec<ClusterNode>>,
}

impl K3sSurvey {
    /// The server that started the cluster; every other node joins through it, and the
    /// later steps reach the API on it.
    pub fn first_server(&self) -> &NodeName {
        &self.topology.first_server
    }

    /// Whether the servers keep Secrets encrypted, and why.
    pub fn secrets_encryption(&self) -> super::SecretsEncryptionDecision {
        self.topology.secrets_encryption
    }
}

/// The nodes the stage saw, their k3s state, and the decisions taken from them.
struct Survey<'n> {
    nodes: BTreeMap<NodeName, (&'n StageNode, K3sNodeState)>,
    failures: BTreeMap<NodeName, K3sError>,
    topology: Topology,
}

impl Survey<'_> {
    /// The nodes whose state could not be read (or that failed before the stage), each
    /// with its error, as results of any kind.
    fn take_failures<T>(&mut self) -> impl Iterator<Item = (NodeName, Result<T, K3sError>)> {
        std::mem::take(&mut self.failures)
            .into_iter()
            .map(|(node, err)| (node, Err(err)))
    }

    /// What the later steps need, once this one is done with the borrowed nodes.
    fn keep(self, agent_env: Option<String>, live: Option<Vec<ClusterNode>>) -> K3sSurvey {
        K3sSurvey {
            states: self
                .nodes
                .into_iter()
                .map(|(name, (_, state))| (name, state))
                .collect(),
            topology: self.topology,
            agent_env,
            live,
        }
    }
}

impl K3sStage<'_> {
    async fn survey<'n>(
        &self,
        nodes: &'n [StageNode],
        unavailable: &BTreeMap<NodeName, String>,
        progress: &dyn Progress,
    ) -> Result<Survey<'n>, super::topology::TopologyError> {
        // An address that is an ssh_config alias or a name only this machine resolves means
        // nothing to the other nodes: they join through the IP the node was reached at. Asked
        // alongside the state, on the same connection, so it costs no extra round trip time.
        // A node unavailable (failed before this stage) is left alone even if connected.
        let surveys: Vec<_> =
            stream::iter(nodes.iter().filter(|n| !unavailable.contains_key(&n.name)))
                .map(|node| async move {
                    let known = self.read_before.and_then(|states| states.get(&node.name));
                    let state = async {
                        match known {
                            Some(state) => Ok(state.clone()),
                            None => read_state(&node.connection).await,
                        }
                    };
                    let (state, reached_at) = tokio::join!(state, self.reached_at(node));
                    let state = state.map_err(K3sError::from);
                    if let Err(err) = &state {
                        progress.node(&node.name, &format!("FAILED: {err}"));
                    }
                    (node, state, reached_at)
                })
                .buffered(self.parallelism.max(1))
                .collect()
                .await;
        let mut surveyed = BTreeMap::new();
        let mut failures = BTreeMap::new();
        let mut join_addresses: BTreeMap<NodeName, String> = BTreeMap::new();
        for (node, state, reached_at) in surveys {
            if let Some(ip) = reached_at {
                join_addresses.insert(node.name.clone(), ip);
            }
            match state {
                Ok(state) => {
                    surveyed.insert(node.name.clone(), (node, state));
                }
                Err(err) => {
                    failures.insert(node.name.clone(), err);
                }
            }
        }
        for (name, reason) in unavailable {
            failures
                .entry(name.clone())
                .or_insert_with(|| K3sError::Skipped {
                    node: name.clone(),
                    reason: reason.clone(),
                });
        }
        let topo_nodes = self.topology_nodes(&surveyed, &join_addresses);
        let topology = topology(
            &topo_nodes,
            self.spec.api_endpoint.as_deref(),
            self.spec.datastore.is_some(),
            self.spec.secrets_encryption,
        )?;
        Ok(Survey {
            nodes: surveyed,
            failures,
            topology,
        })
    }

    /// The IP `node` was reached at, when cluster.toml names it by something other than an
    /// IP; None when it is an IP already or the shell did not say.
    async fn reached_at(&self, node: &StageNode) -> Option<String> {
        let member = self.spec.member(&node.name)?;
        if member.address.parse::<std::net::IpAddr>().is_ok() {
            return None;
        }
        let output = node
            .connection
            .run(
                "finding the address it was reached at",
                "echo \"$SSH_CONNECTION\"",
            )
            .await
            .ok()?;
        output.stdout.split_whitespace().nth(2).map(str::to_owned)
    }

    /// `addresses`: where other nodes reach a node, when not at its cluster.toml address.
    fn topology_nodes<'s>(
        &'s self,
        surveyed: &'s BTreeMap<NodeName, (&StageNode, K3sNodeState)>,
        addresses: &'s BTreeMap<NodeName, String>,
    ) -> Vec<TopologyNode<'s>> {
        self.spec
            .nodes
            .iter()
            .map(|m| TopologyNode {
                name: &m.name,
                address: addresses.get(&m.name).unwrap_or(&m.address),
                service: m.service,
                state: surveyed.get(&m.name).map(|(_, s)| s),
            })
            .collect()
    }

    fn member(&self, name: &NodeName) -> Result<&K3sMemberSpec, K3sError> {
        self.spec
            .member(name)
            .ok_or_else(|| K3sError::NotConfigured {
                node: name.to_owned(),
            })
    }

    /// The labels (automatic, then cluster.toml's) and taints pikube wants on `node`.
    fn registration(&self, node: &StageNode) -> Result<Registration, K3sError> {
        let member = self.member(&node.name)?;
        let mut labels = automatic_labels(&node.facts);
        labels.extend(member.labels.iter().cloned());
        Ok(Registration {
            labels,
            taints: member.taints.clone(),
        })
    }

    fn desired(
        &self,
        node: &StageNode,
        topology: &Topology,
        env: Option<String>,
    ) -> Result<DesiredK3s, K3sError> {
        let member = self.member(&node.name)?;
        let machine = node.facts.arch.name();
        let binary = match Arch::of_machine(&node.facts.arch) {
            None => Err(K3sError::NoBuild {
                node: node.name.clone(),
                machine: machine.to_owned(),
            }),
            Some(arch) => self
                .binaries
                .get(&arch)
                .cloned()
                .ok_or_else(|| K3sError::NoBinary {
                    node: node.name.clone(),
                    arch,
                }),
        }?;
        let membership = topology.membership(&member.name, member.service);
        let Registration { labels, taints } = self.registration(node)?;
        // A server's certificate names every address it is reached at (audit F9): where
        // cluster.toml puts it, and the IP pikube reached it at (the one joiners use).
        // K3s adds only the IPs it detects itself, which need not be those.
        let mut server = self.spec.server.clone();
        if member.service == Service::Server {
            let reached = topology.server_addresses.get(&member.name);
            for address in std::iter::once(&member.address).chain(reached) {
                if !server.tls_san.contains(address) {
                    server.tls_san.push(address.clone());
                }
            }
        }
        let config_yaml = config_yaml(&NodeConfig {
            node_ip: member.node_ip,
            cluster: &self.spec.cluster,
            node: &member.name,
            membership: &membership,
            server: &server,
            secrets_encryption: topology.secrets_encryption.on,
            kubelet_args: &self.spec.kubelet_args,
        });
        Ok(DesiredK3s {
            node: member.name.clone(),
            membership,
            binary,
            config_yaml,
            registration_yaml: registration_yaml(&labels, &taints, self.spec.version),
            registries: self.spec.registries.clone(),
            registry_cas: self.spec.registry_cas.clone(),
            labels,
            taints,
            env,
            adopt: self.adopt || member.adopt,
        })
    }

    /// Every node without a result yet is skipped, for `reason`.
    fn skip_the_rest<T>(
        &self,
        mut results: BTreeMap<NodeName, Result<T, K3sError>>,
        reason: &str,
    ) -> BTreeMap<NodeName, Result<T, K3sError>> {
        for member in &self.spec.nodes {
            results.entry(member.name.clone()).or_insert_with(|| {
                Err(K3sError::Skipped {
                    node: member.name.clone(),
                    reason: reason.to_owned(),
                })
            });
        }
        results
    }

    fn all_failed<T>(&self, error: impl Fn(&NodeName) -> K3sError) -> Vec<NodeResult<T, K3sError>> {
        self.spec
            .nodes
            .iter()
            .map(|m| NodeResult {
                node: m.name.clone(),
                result: Err(error(&m.name)),
            })
            .collect()
    }

    /// The results in file order; a node without one is left out (another step had it).
    fn in_file_order<T>(
        &self,
        mut results: BTreeMap<NodeName, Result<T, K3sError>>,
    ) -> Vec<NodeResult<T, K3sError>> {
        self.spec
            .nodes
            .iter()
            .filter_map(|m| {
                let result = results.remove(&m.name)?;
                Some(NodeResult {
                    node: m.name.clone(),
                    result,
                })
            })
            .collect()
    }

    /// What the servers or agents step would change on `node`, which joins with `env`.
    fn plan_node(
        &self,
        node: &StageNode,
        state: &K3sNodeState,
        topology: &Topology,
        env: Option<String>,
        live: Option<&[ClusterNode]>,
    ) -> Result<K3sNodePlanReport, K3sError> {
        let name = &node.name;
        let desired = self.desired(node, topology, env)?;
        let mut expected = state.clone();
        if self.rolled_out.contains(name) {
            expected.binary_sha256 = Some(desired.binary.sha256.clone());
            if let Some(images) = &desired.binary.images {
                expected
                    .images
                    .insert(images.remote.clone(), images.sha256.clone());
            }
        }
        let plan = plan_k3s(&desired, &expected).map_err(|cause| K3sError::Plan {
            node: name.clone(),
            cause,
        })?;
        let mut changes = plan.changes;
        let stale = match live {
            Some(live) if state.installed_service().is_none() && *name != topology.first_server => {
                self.stale_node(name, live)?
            }
            _ => false,
        };
        if stale {
            changes.insert(
                0,
                Change::command(
                    "delete its old Node first: the cluster still lists it but its K3s is \
                     gone (a re-flashed card?)",
                    format!("k3s kubectl delete node {}", crate::ssh::shell_quote(name)),
                ),
            );
        }
        Ok(K3sNodePlanReport {
            changes,
            warnings: plan.warnings,
        })
    }

    /// Whether `name`, a node without K3s, has an old Node in the cluster (`live`) to delete
    /// before it joins (audit F11). Only a NotReady one, and only when the user named the
    /// node in `--replace`: a Ready one means another machine runs K3s under that name.
    fn stale_node(&self, name: &NodeName, live: &[ClusterNode]) -> Result<bool, K3sError> {
        match live.iter().find(|n| n.name == name.as_str()) {
            None => Ok(false),
            Some(old) if old.ready => Err(K3sError::StaleNodeRunning { node: name.clone() }),
            Some(_) if !self.replace.contains(name) => {
                Err(K3sError::StaleNodeUnconfirmed { node: name.clone() })
            }
            Some(_) => Ok(true),
        }
    }
}

/// `name`'s node among those the stage can work on.
fn stage_node<'n>(nodes: &'n [StageNode], name: &str) -> Option<&'n StageNode> {
    nodes.iter().find(|n| n.name == name)
}

/// The connection to the first server, through which the later steps reach the API.
fn api<'n>(nodes: &'n [StageNode], survey: &K3sSurvey) -> Option<&'n Connection> {
    stage_node(nodes, survey.first_server()).map(|n| &n.connection)
}

fn cluster_error(node: &NodeName, err: &super::topology::TopologyError) -> K3sError {
    K3sError::Topology {
        node: node.to_owned(),
        cause: err.clone(),
    }
}
