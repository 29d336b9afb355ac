//! The k3s stage of apply and plan: the first server, then the other servers one at a
//! time, then the agents in parallel, each Ready before the next step; then labels and
//! taints through the API.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use futures::stream::{self, StreamExt};
use pikube_pi::NodeFacts;

use super::cluster_nodes::{get_nodes, ClusterNode};
use super::desired::{BinaryArtifact, DesiredK3s};
use super::error::K3sError;
use super::install::{carry_out, journal_tail, service_status, wait_started};
use super::labels::{automatic_labels, plan_labels, LabelPlan};
use super::node_plan::{plan_k3s, K3sNodePlan};
use super::paths::Service;
use super::prune::{delete_node, DELETE_TIMEOUT};
use super::render::{config_yaml, env_file, parse_registration, registration_yaml, NodeConfig};
use super::serving::wait_node_ready;
use super::spec::{K3sMemberSpec, K3sSpec};
use super::state::{read_state, K3sNodeState};
use super::token::ServerToken;
use super::topology::{
    cluster_token, existing_agent_secret, existing_secret, topology, Topology, TopologyNode,
};
use crate::fleet::NodeResult;
use crate::node_records::Registration;
use crate::plan::Change;
use crate::progress::Progress;
use crate::ssh::Connection;
use crate::state::{K3sToken, LocalState};

/// A node's labels (`key`, `value`) and taints (`key=value:Effect`).
type LabelsAndTaints = (Vec<(String, String)>, Vec<String>);

/// A node the stage can work on: connected with root, facts read.
pub struct StageNode {
    pub name: String,
    pub connection: Connection,
    pub facts: NodeFacts,
}

pub struct K3sStage<'a> {
    pub spec: &'a K3sSpec,
    /// By architecture name (`amd64`, `arm64`, `armhf`).
    pub binaries: &'a BTreeMap<String, BinaryArtifact>,
    pub ready_timeout: Duration,
    pub parallelism: usize,
    /// Nodes whose binary the upgrade phase puts in place (in a dry run: would): the plan
    /// counts it as there.
    pub rolled_out: &'a BTreeSet<String>,
    /// K3s states read earlier in this run and still true (in a dry run nothing changes
    /// them): not read again.
    pub read_before: Option<&'a BTreeMap<String, K3sNodeState>>,
    /// The cluster's node list, read earlier in a dry run: not asked again.
    pub live_before: Option<&'a [ClusterNode]>,
    /// The labels and taints pikube last set, per node, from the local node records.
    pub recorded: &'a BTreeMap<String, Registration>,
    /// Take over nodes whose K3s another tool installed (`--adopt`).
    pub adopt: bool,
}

/// What the stage did to one node.
#[derive(Debug, Clone, Default)]
pub struct K3sNodeReport {
    pub changes: Vec<String>,
    /// Why k3s was (re)started, if it was.
    pub restarted: Option<String>,
    /// Label and taint changes made through the API.
    pub api_changes: Option<String>,
    /// The node is the server that started the cluster (the others join through it).
    pub initialised_cluster: bool,
    /// The labels and taints pikube wants on it (and set, when the report is Ok).
    pub registration: Registration,
}

impl K3sNodeReport {
    pub fn is_unchanged(&self) -> bool {
        self.changes.is_empty() && self.api_changes.is_none()
    }
}

/// What the stage would do to one node.
#[derive(Debug, Clone, Default)]
pub struct K3sNodePlanReport {
    pub changes: Vec<Change>,
}

/// The nodes the stage saw, their k3s state, and the decisions taken from them.
struct Survey<'n> {
    nodes: BTreeMap<String, (&'n StageNode, K3sNodeState)>,
    failures: BTreeMap<String, K3sError>,
    topology: Topology,
}

impl K3sStage<'_> {
    /// Installs, joins and labels. `unavailable`: nodes that failed before this stage, with
    /// why; every node of the spec gets a result, in file order.
    pub async fn apply(
        &self,
        nodes: &[StageNode],
        unavailable: &BTreeMap<String, String>,
        local: &LocalState,
        progress: &dyn Progress,
    ) -> Vec<NodeResult<K3sNodeReport, K3sError>> {
        let mut results: BTreeMap<String, Result<K3sNodeReport, K3sError>> = BTreeMap::new();
        let survey = match self.survey(nodes, unavailable, progress).await {
            Ok(survey) => survey,
            Err(err) => return self.all_failed(|node| cluster_error(node, &err)),
        };
        let Survey {
            nodes: surveyed,
            failures,
            topology,
        } = survey;
        for (node, err) in failures {
            results.insert(node, Err(err));
        }
        let no_addresses = BTreeMap::new();
        let topo_nodes = self.topology_nodes(&surveyed, &no_addresses);
        let secrets = local
            .token_adopting(existing_secret(&topo_nodes))
            .and_then(|server| {
                let agent = local.agent_token_adopting(existing_agent_secret(&topo_nodes))?;
                Ok((server, agent))
            });
        let (secret, agent_secret) = match secrets {
            Ok(secrets) => secrets,
            Err(err) => {
                let message = err.to_string();
                return self.all_failed(|node| K3sError::Cluster {
                    node: node.to_owned(),
                    message: format!("local state: {message}"),
                });
            }
        };
        let token_path = local.dir().join("token").display().to_string();
        let mut full_token = match cluster_token(&topo_nodes, secret.expose(), &token_path) {
            Ok(token) => token.map(|t| t.expose_full().to_owned()),
            Err(err) => {
                return self.all_failed(|node| K3sError::Topology {
                    node: node.to_owned(),
                    source: err.clone(),
                })
            }
        };

        // 1. The first server.
        let first = topology.first_server.clone();
        let Some((first_node, first_state)) = surveyed.get(&first) else {
            let why = unavailable
                .get(&first)
                .map_or("its k3s state could not be read", String::as_str);
            let reason = format!("the first server {first} is unavailable ({why})");
            return self.in_file_order(self.skip_the_rest(results, &reason));
        };
        progress.step(&format!("k3s: first server {first}"));
        let env = env_file(
            secret.expose(),
            Some(self.spec.server_env(agent_secret.expose())),
        );
        let outcome = self
            .install_node(
                first_node,
                first_state,
                &topology,
                Some(env),
                &first_node.connection,
                progress,
            )
            .await;
        let first_ok = outcome.is_ok();
        let outcome = outcome.map(|report| K3sNodeReport {
            initialised_cluster: true,
            ..report
        });
        results.insert(first.clone(), outcome);
        if first_ok && full_token.is_none() {
            full_token = match read_state(&first_node.connection).await {
                Ok(state) => state.server_token.map(|t| t.expose_full().to_owned()),
                Err(err) => {
                    results.insert(first.clone(), Err(err.into()));
                    None
                }
            };
        }
        let api = &first_node.connection;
        let Some(full_token) = full_token.filter(|_| results[&first].is_ok()) else {
            let reason = format!("the first server {first} did not come up");
            return self.in_file_order(self.skip_the_rest(results, &reason));
        };
        // The CA the token pins, kept so that `pikube kubeconfig` can check the CA a server's
        // k3s.yaml names against it (the local token holds the secret alone).
        if let Some(token) = ServerToken::parse(&full_token) {
            if let Err(err) = local.record_ca_hash(&token.ca_hash()) {
                progress.step(&format!(
                    "warning: the cluster CA's hash was not recorded: {err}"
                ));
            }
        }

        // 2. The other servers, one at a time: etcd grows one member at a time.
        let server_env = || {
            env_file(
                &full_token,
                Some(self.spec.server_env(agent_secret.expose())),
            )
        };
        for member in self
            .spec
            .nodes
            .iter()
            .filter(|m| m.service == Service::Server)
        {
            if member.name == first || results.contains_key(&member.name) {
                continue;
            }
            let Some((node, state)) = surveyed.get(&member.name) else {
                continue;
            };
            progress.step(&format!("k3s: server {} joins", member.name));
            let env = server_env();
            let outcome = self
                .install_node(node, state, &topology, Some(env), api, progress)
                .await;
            results.insert(member.name.clone(), outcome);
        }

        // 3. The agents, in parallel.
        let agents: Vec<_> = self
            .spec
            .nodes
            .iter()
            .filter(|m| m.service == Service::Agent && !results.contains_key(&m.name))
            .filter_map(|m| surveyed.get(&m.name).map(|n| (m, n)))
            .collect();
        if !agents.is_empty() {
            progress.step(&format!("k3s: {} agent(s) join", agents.len()));
        }
        let env = match ServerToken::parse(&full_token) {
            Some(token) => env_file(&token.for_agents(agent_secret.expose()), None),
            // The first server's token always has the full form; a short one would be a
            // server token again, which agents must not get.
            None => {
                let reason = "the first server's token is not in the full K10 form".to_owned();
                return self.in_file_order(self.skip_the_rest(results, &reason));
            }
        };
        let joined: Vec<(String, Result<K3sNodeReport, K3sError>)> = stream::iter(agents)
            .map(|(member, (node, state))| {
                let env = env.clone();
                let topology = &topology;
                async move {
                    let outcome = self
                        .install_node(node, state, topology, Some(env), api, progress)
                        .await;
                    (member.name.clone(), outcome)
                }
            })
            .buffer_unordered(self.parallelism.max(1))
            .collect()
            .await;
        results.extend(joined);

        // 4. Labels and taints on the live nodes.
        match get_nodes(api).await {
            Ok(live) => {
                for (name, result) in results.iter_mut() {
                    let Ok(report) = result else { continue };
                    let Some((node, state)) = surveyed.get(name) else {
                        continue;
                    };
                    let plan = self.label_plan(node, state, &live);
                    let Some(plan) = plan.filter(|p| !p.is_empty()) else {
                        continue;
                    };
                    progress.node(name, &format!("[k3s] {}", plan.summary()));
                    match api
                        .run_privileged("changing labels and taints", &plan.script(name), b"")
                        .await
                    {
                        Ok(_) => report.api_changes = Some(plan.summary()),
                        Err(err) => *result = Err(err.into()),
                    }
                }
            }
            Err(err) => {
                let message = err.to_string();
                for result in results.values_mut().filter(|r| r.is_ok()) {
                    *result = Err(K3sError::Cluster {
                        node: first.clone(),
                        message: format!("labels not checked: {message}"),
                    });
                }
            }
        }
        self.in_file_order(results)
    }

    /// What apply would do; changes nothing, not even local state.
    pub async fn plan(
        &self,
        nodes: &[StageNode],
        unavailable: &BTreeMap<String, String>,
        local_token: Option<&K3sToken>,
        local_agent_token: Option<&K3sToken>,
        progress: &dyn Progress,
    ) -> Vec<NodeResult<K3sNodePlanReport, K3sError>> {
        let mut results: BTreeMap<String, Result<K3sNodePlanReport, K3sError>> = BTreeMap::new();
        let survey = match self.survey(nodes, unavailable, progress).await {
            Ok(survey) => survey,
            Err(err) => return self.all_failed(|node| cluster_error(node, &err)),
        };
        for (node, err) in survey.failures {
            results.insert(node, Err(err));
        }
        let no_addresses = BTreeMap::new();
        let topo_nodes = self.topology_nodes(&survey.nodes, &no_addresses);
        let existing = existing_secret(&topo_nodes).map(str::to_owned);
        let secret = local_token.map(|t| t.expose().to_owned()).or(existing);
        // Apply would generate one if neither exists: its value is unknown here, but any
        // value makes the env files' digests differ, which is what the plan must show.
        let agent_secret = local_agent_token
            .map(|t| t.expose().to_owned())
            .or_else(|| existing_agent_secret(&topo_nodes).map(str::to_owned))
            .unwrap_or_else(|| "(generated by apply)".to_owned());
        let full_token = match &secret {
            Some(secret) => match cluster_token(&topo_nodes, secret, ".pikube token") {
                Ok(token) => token,
                Err(err) => {
                    return self.all_failed(|node| K3sError::Topology {
                        node: node.to_owned(),
                        source: err.clone(),
                    })
                }
            },
            None => None,
        };
        let first = survey.topology.first_server.clone();
        let live = match (self.live_before, survey.nodes.get(&first)) {
            (Some(live), _) => Some(live.to_vec()),
            (None, Some((node, state))) if state.server.active => {
                get_nodes(&node.connection).await.ok()
            }
            _ => None,
        };
        for (name, (node, state)) in &survey.nodes {
            let server_env = Some(self.spec.server_env(agent_secret.as_str()));
            let env = if *name == first {
                secret.as_deref().map(|s| env_file(s, server_env))
            } else {
                // Joining servers share the datastore; agents never talk to it, and get
                // the agent token alone.
                match self.spec.member(name).map(|m| m.service) {
                    Some(Service::Server) => {
                        full_token.map(|t| env_file(t.expose_full(), server_env))
                    }
                    _ => full_token.map(|t| env_file(&t.for_agents(&agent_secret), None)),
                }
            };
            let result = self
                .desired(node, &survey.topology, env)
                .and_then(|desired| {
                    let mut state = state.clone();
                    if self.rolled_out.contains(name) {
                        state.binary_sha256 = Some(desired.binary.sha256.clone());
                        if let Some(images) = &desired.binary.images {
                            state
                                .images
                                .insert(images.remote.clone(), images.sha256.clone());
                        }
                    }
                    plan_k3s(&desired, &state).map_err(|source| K3sError::Plan {
                        node: name.clone(),
                        source,
                    })
                })
                .map(|plan| {
                    let mut changes = plan.changes;
                    let stale = state.installed_service().is_none()
                        && *name != first
                        && live
                            .as_ref()
                            .is_some_and(|live| live.iter().any(|n| &n.name == name));
                    if stale {
                        changes.insert(
                            0,
                            Change::command(
                                "delete its old Node first: the cluster still lists it but its \
                                 K3s is gone (a re-flashed card?)",
                                format!(
                                    "k3s kubectl delete node {}",
                                    crate::ssh::shell_quote(name)
                                ),
                            ),
                        );
                    }
                    if let Some(label_plan) = live
                        .as_ref()
                        .and_then(|live| self.label_plan(node, state, live))
                        .filter(|p| !p.is_empty())
                    {
                        changes.push(Change::command(
                            format!("{} (through the API)", label_plan.summary()),
                            label_plan.script(name),
                        ));
                    }
                    K3sNodePlanReport { changes }
                });
            results.insert(name.clone(), result);
        }
        self.in_file_order(results)
    }

    async fn survey<'n>(
        &self,
        nodes: &'n [StageNode],
        unavailable: &BTreeMap<String, String>,
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
        let mut join_addresses: BTreeMap<String, String> = BTreeMap::new();
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
            self.spec.datastore_endpoint.is_some(),
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
        surveyed: &'s BTreeMap<String, (&StageNode, K3sNodeState)>,
        addresses: &'s BTreeMap<String, String>,
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

    fn member(&self, name: &str) -> Result<&K3sMemberSpec, K3sError> {
        self.spec.member(name).ok_or_else(|| K3sError::Cluster {
            node: name.to_owned(),
            message: "not in cluster.toml".to_owned(),
        })
    }

    fn labels_of(&self, node: &StageNode) -> Result<LabelsAndTaints, K3sError> {
        let member = self.member(&node.name)?;
        let mut labels = automatic_labels(&node.facts);
        labels.extend(member.labels.iter().cloned());
        Ok((labels, member.taints.clone()))
    }

    fn desired(
        &self,
        node: &StageNode,
        topology: &Topology,
        env: Option<String>,
    ) -> Result<DesiredK3s, K3sError> {
        let member = self.member(&node.name)?;
        let arch = node.facts.arch.name().to_owned();
        let binary = self
            .binaries
            .get(&arch)
            .cloned()
            .ok_or_else(|| K3sError::Cluster {
                node: node.name.clone(),
                message: match node.facts.arch.k3s_asset_suffix() {
                    Some(_) => format!("no k3s binary for its architecture ({arch})"),
                    None => format!("k3s has no build for its architecture ({arch})"),
                },
            })?;
        let membership = topology.membership(&member.name, member.service);
        let (labels, taints) = self.labels_of(node)?;
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
            cluster: &self.spec.cluster,
            node: &member.name,
            membership: &membership,
            server: &server,
            kubelet_args: &self.spec.kubelet_args,
        });
        Ok(DesiredK3s {
            node: member.name.clone(),
            membership,
            binary,
            config_yaml,
            registration_yaml: registration_yaml(&labels, &taints),
            registries: self.spec.registries.clone(),
            registry_cas: self.spec.registry_cas.clone(),
            labels,
            taints,
            env,
            adopt: self.adopt,
        })
    }

    fn label_plan(
        &self,
        node: &StageNode,
        state: &K3sNodeState,
        live: &[ClusterNode],
    ) -> Option<LabelPlan> {
        let live_node = live.iter().find(|n| n.name == node.name)?;
        let (labels, taints) = self.labels_of(node).ok()?;
        // What pikube set, from its own record; the node's drop-in only for a node recorded
        // before the record kept it.
        let previous = match self.recorded.get(&node.name) {
            Some(recorded) => (recorded.labels.clone(), recorded.taints.clone()),
            None => state
                .registration
                .as_deref()
                .map(parse_registration)
                .unwrap_or_default(),
        };
        Some(plan_labels(&labels, &taints, &previous, live_node))
    }

    async fn install_node(
        &self,
        node: &StageNode,
        state: &K3sNodeState,
        topology: &Topology,
        env: Option<String>,
        api: &Connection,
        progress: &dyn Progress,
    ) -> Result<K3sNodeReport, K3sError> {
        let result = self
            .install_node_inner(node, state, topology, env, api, progress)
            .await;
        match &result {
            Ok(report) if report.changes.is_empty() => {
                progress.node(&node.name, "k3s: no changes, Ready")
            }
            Ok(_) => progress.node(&node.name, "k3s: Ready"),
            Err(err) => progress.node(&node.name, &format!("FAILED: {err}")),
        }
        result
    }

    async fn install_node_inner(
        &self,
        node: &StageNode,
        state: &K3sNodeState,
        topology: &Topology,
        env: Option<String>,
        api: &Connection,
        progress: &dyn Progress,
    ) -> Result<K3sNodeReport, K3sError> {
        let desired = self.desired(node, topology, env)?;
        let plan: K3sNodePlan = plan_k3s(&desired, state).map_err(|source| K3sError::Plan {
            node: node.name.clone(),
            source,
        })?;
        let service = desired.membership.service();
        let connection = &node.connection;
        if state.installed_service().is_none() && !std::ptr::eq(api, connection) {
            self.forget_stale_node(api, &node.name, progress).await?;
        }
        let before = match plan.restart {
            Some(_) => Some(service_status(connection, service).await?),
            None => None,
        };
        carry_out(connection, &plan, progress).await?;
        if let Some(before) = &before {
            wait_started(connection, service, before, self.ready_timeout).await?;
        }
        let uploaded = plan.changes.iter().any(|c| matches!(c, Change::Upload(_)));
        if uploaded || node.facts.k3s.version.as_deref() != Some(desired.binary.version.as_str()) {
            self.check_version(connection, &desired.binary.version)
                .await?;
        }
        self.wait_ready(api, node, service).await?;
        Ok(K3sNodeReport {
            changes: plan.changes.iter().map(Change::summary).collect(),
            restarted: plan.restart.clone(),
            api_changes: None,
            initialised_cluster: false,
            registration: Registration {
                labels: desired.labels.clone(),
                taints: desired.taints.clone(),
            },
        })
    }

    /// A node with no K3s whose name the cluster still lists was re-flashed (or reset): the
    /// cluster keeps its old node password, which the new card does not have, and would
    /// refuse it ("Node password rejected"); a server's old etcd member would stay too
    /// (audit F11). Deleting the Node lets K3s clean both up before the node joins.
    async fn forget_stale_node(
        &self,
        api: &Connection,
        name: &str,
        progress: &dyn Progress,
    ) -> Result<(), K3sError> {
        let live = get_nodes(api).await?;
        if !live.iter().any(|n| n.name == name) {
            return Ok(());
        }
        progress.node(
            name,
            "[k3s] the cluster still lists this node, whose K3s is gone (a re-flashed card?): \
             deleting its old Node so that it can join again",
        );
        delete_node(api, name, DELETE_TIMEOUT)
            .await
            .map_err(|err| K3sError::Cluster {
                node: name.to_owned(),
                message: format!("its old Node could not be deleted before it joins: {err}"),
            })
    }

    async fn check_version(&self, connection: &Connection, wanted: &str) -> Result<(), K3sError> {
        // As root: k3s releases before June 2023 read config.yaml (0600) even for
        // --version, and fail for any other user.
        let output = connection
            .run_privileged(
                "asking k3s its version",
                "/usr/local/bin/k3s --version",
                b"",
            )
            .await?;
        let found = output
            .stdout
            .split_whitespace()
            .skip_while(|w| *w != "version")
            .nth(1)
            .unwrap_or("an unknown version")
            .to_owned();
        if found == wanted {
            Ok(())
        } else {
            Err(K3sError::WrongVersion {
                node: connection.node().to_owned(),
                found,
                wanted: wanted.to_owned(),
            })
        }
    }

    async fn wait_ready(
        &self,
        api: &Connection,
        node: &StageNode,
        service: Service,
    ) -> Result<(), K3sError> {
        // The API may not answer for a moment after a server (re)starts: that is waited
        // through like NotReady.
        match wait_node_ready(api, &node.name, self.ready_timeout).await {
            Ok(()) => Ok(()),
            Err(_) => Err(K3sError::NotReady {
                node: node.name.clone(),
                secs: self.ready_timeout.as_secs(),
                journal: journal_tail(&node.connection, service, 15).await,
            }),
        }
    }

    /// Every node without a result yet is skipped, for `reason`.
    fn skip_the_rest<T>(
        &self,
        mut results: BTreeMap<String, Result<T, K3sError>>,
        reason: &str,
    ) -> BTreeMap<String, Result<T, K3sError>> {
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

    fn all_failed<T>(&self, error: impl Fn(&str) -> K3sError) -> Vec<NodeResult<T, K3sError>> {
        self.spec
            .nodes
            .iter()
            .map(|m| NodeResult {
                node: m.name.clone(),
                result: Err(error(&m.name)),
            })
            .collect()
    }

    fn in_file_order<T>(
        &self,
        mut results: BTreeMap<String, Result<T, K3sError>>,
    ) -> Vec<NodeResult<T, K3sError>> {
        self.spec
            .nodes
            .iter()
            .map(|m| NodeResult {
                node: m.name.clone(),
                result: results.remove(&m.name).unwrap_or_else(|| {
                    Err(K3sError::Skipped {
                        node: m.name.clone(),
                        reason: "it was not reached".to_owned(),
                    })
                }),
            })
            .collect()
    }
}

fn cluster_error(node: &str, err: &super::topology::TopologyError) -> K3sError {
    K3sError::Topology {
        node: node.to_owned(),
        source: err.clone(),
    }
}
