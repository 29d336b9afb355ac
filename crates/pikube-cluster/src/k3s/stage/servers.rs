//! The servers step: every node's K3s state read, the topology decided, the tokens found
//! or made; then the first server, then the other servers one at a time (etcd grows one
//! member at a time), each Ready before the next.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::{cluster_error, K3sNodePlanReport, K3sNodeReport, K3sStage, K3sSurvey, StageNode};
use crate::config::NodeName;
use crate::fleet::NodeResult;
use crate::k3s::cluster_nodes::get_nodes;
use crate::k3s::error::K3sError;
use crate::k3s::paths::Service;
use crate::k3s::render::env_file;
use crate::k3s::state::read_state;
use crate::k3s::token::ServerToken;
use crate::k3s::topology::{cluster_token, existing_agent_secret, existing_secret};
use crate::progress::Progress;
use crate::state::{K3sToken, LocalState};

/// A step's results, and what the later steps need (`None` when they have nothing to do:
/// every node left has a result saying why).
pub type ServersStep<T> = (Vec<NodeResult<T, K3sError>>, Option<K3sSurvey>);

impl K3sStage<'_> {
    /// Installs and joins the servers. `unavailable`: nodes that failed before this step,
    /// with why. Results: each server's, and any node's whose state could not be read;
    /// when the cluster cannot go on (its first server down), every node's.
    pub async fn apply_servers(
        &self,
        nodes: &[StageNode],
        unavailable: &BTreeMap<NodeName, String>,
        local: &LocalState,
        progress: &dyn Progress,
    ) -> ServersStep<K3sNodeReport> {
        let mut results: BTreeMap<NodeName, Result<K3sNodeReport, K3sError>> = BTreeMap::new();
        let mut survey = match self.survey(nodes, unavailable, progress).await {
            Ok(survey) => survey,
            Err(err) => return (self.all_failed(|node| cluster_error(node, &err)), None),
        };
        results.extend(survey.take_failures());
        let no_addresses = BTreeMap::new();
        let topo_nodes = self.topology_nodes(&survey.nodes, &no_addresses);
        let secrets = local
            .token_adopting(existing_secret(&topo_nodes))
            .and_then(|server| {
                let agent = local.agent_token_adopting(existing_agent_secret(&topo_nodes))?;
                Ok((server, agent))
            });
        let (secret, agent_secret) = match secrets {
            Ok(secrets) => secrets,
            Err(err) => {
                let cause = Arc::new(err);
                let failed = self.all_failed(|node| K3sError::LocalState {
                    node: node.to_owned(),
                    cause: cause.clone(),
                });
                return (failed, None);
            }
        };
        let token_path = local.dir().join("token").display().to_string();
        let mut full_token = match cluster_token(&topo_nodes, secret.expose(), &token_path) {
            Ok(token) => token.map(|t| t.expose_full().to_owned()),
            Err(err) => {
                let failed = self.all_failed(|node| K3sError::Topology {
                    node: node.to_owned(),
                    cause: err.clone(),
                });
                return (failed, None);
            }
        };

        // 1. The first server.
        let first = survey.topology.first_server.clone();
        let Some((first_node, first_state)) = survey.nodes.get(&first) else {
            let why = unavailable
                .get(&first)
                .map_or("its k3s state could not be read", String::as_str);
            let reason = format!("the first server {first} is unavailable ({why})");
            return (
                self.in_file_order(self.skip_the_rest(results, &reason)),
                None,
            );
        };
        progress.step(&format!("k3s: first server {first}"));
        // The server that starts the cluster has the short secret (no CA to pin yet); one
        // in the place of a server gone keeps the full token it joined with.
        let first_token = match &full_token {
            Some(full) if survey.topology.successor => full.as_str(),
            _ => secret.expose(),
        };
        let env = env_file(
            first_token,
            Some(self.spec.server_env(agent_secret.expose())),
        );
        let outcome = self
            .install_node(
                first_node,
                first_state,
                &survey.topology,
                Some(env),
                &first_node.connection,
                progress,
            )
            .await;
        let first_ok = outcome.is_ok();
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
            return (
                self.in_file_order(self.skip_the_rest(results, &reason)),
                None,
            );
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
        for member in self
            .spec
            .nodes
            .iter()
            .filter(|m| m.service == Service::Server)
        {
            if member.name == first || results.contains_key(&member.name) {
                continue;
            }
            let Some((node, state)) = survey.nodes.get(&member.name) else {
                continue;
            };
            progress.step(&format!("k3s: server {} joins", member.name));
            let env = env_file(
                &full_token,
                Some(self.spec.server_env(agent_secret.expose())),
            );
            let outcome = self
                .install_node(node, state, &survey.topology, Some(env), api, progress)
                .await;
            results.insert(member.name.clone(), outcome);
        }
        let Some(token) = ServerToken::parse(&full_token) else {
            // The first server's token always has the full form; a short one would be a
            // server token again, which agents must not get.
            let reason = "the first server's token is not in the full K10 form";
            return (
                self.in_file_order(self.skip_the_rest(results, reason)),
                None,
            );
        };
        let agent_env = env_file(&token.for_agents(agent_secret.expose()), None);
        (
            self.in_file_order(results),
            Some(survey.keep(Some(agent_env), None)),
        )
    }

    /// What [`K3sStage::apply_servers`] would do; changes nothing, not even local state.
    pub async fn plan_servers(
        &self,
        nodes: &[StageNode],
        unavailable: &BTreeMap<NodeName, String>,
        local_token: Option<&K3sToken>,
        local_agent_token: Option<&K3sToken>,
        progress: &dyn Progress,
    ) -> ServersStep<K3sNodePlanReport> {
        let mut survey = match self.survey(nodes, unavailable, progress).await {
            Ok(survey) => survey,
            Err(err) => return (self.all_failed(|node| cluster_error(node, &err)), None),
        };
        let mut results: BTreeMap<NodeName, Result<K3sNodePlanReport, K3sError>> =
            survey.take_failures().collect();
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
                    let failed = self.all_failed(|node| K3sError::Topology {
                        node: node.to_owned(),
                        cause: err.clone(),
                    });
                    return (failed, None);
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
        let server_env = || Some(self.spec.server_env(agent_secret.as_str()));
        for (name, (node, state)) in &survey.nodes {
            if self.spec.member(name).map(|m| m.service) != Some(Service::Server) {
                continue;
            }
            // The first server keeps the short secret (but for one in the place of a server
            // gone: see apply); joining servers share the datastore and get the full token.
            let env = if *name == first && !survey.topology.successor {
                secret.as_deref().map(|s| env_file(s, server_env()))
            } else {
                full_token.map(|t| env_file(t.expose_full(), server_env()))
            };
            let plan = self.plan_node(node, state, &survey.topology, env, live.as_deref());
            results.insert(name.clone(), plan);
        }
        // Agents never talk to the datastore, and get the agent token alone.
        let agent_env = full_token.map(|t| env_file(&t.for_agents(&agent_secret), None));
        (
            self.in_file_order(results),
            Some(survey.keep(agent_env, live)),
        )
    }
}
