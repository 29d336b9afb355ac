//! The agents step: every agent still in the run joins through the first server, in
//! parallel (`[ssh] parallelism` at a time), each Ready on the wanted version.

use std::collections::BTreeMap;

use futures::stream::{self, StreamExt};

use super::{api, K3sNodePlanReport, K3sNodeReport, K3sStage, K3sSurvey, StageNode};
use crate::config::NodeName;
use crate::fleet::NodeResult;
use crate::k3s::error::K3sError;
use crate::k3s::paths::Service;
use crate::k3s::spec::K3sMemberSpec;
use crate::k3s::state::K3sNodeState;
use crate::progress::Progress;

impl K3sStage<'_> {
    /// Installs and joins the agents the servers step surveyed and no step put out of the
    /// run (`unavailable`).
    pub async fn apply_agents(
        &self,
        nodes: &[StageNode],
        unavailable: &BTreeMap<NodeName, String>,
        survey: &K3sSurvey,
        progress: &dyn Progress,
    ) -> Vec<NodeResult<K3sNodeReport, K3sError>> {
        let (Some(api), Some(env)) = (api(nodes, survey), &survey.agent_env) else {
            return Vec::new();
        };
        let agents = self.agents(nodes, unavailable, survey);
        if !agents.is_empty() {
            progress.step(&format!("k3s: {} agent(s) join", agents.len()));
        }
        let joined: BTreeMap<NodeName, Result<K3sNodeReport, K3sError>> = stream::iter(agents)
            .map(|(member, node, state)| async move {
                let outcome = self
                    .install_node(
                        node,
                        state,
                        &survey.topology,
                        Some(env.clone()),
                        api,
                        progress,
                    )
                    .await;
                (member.name.clone(), outcome)
            })
            .buffer_unordered(self.parallelism.max(1))
            .collect()
            .await;
        self.in_file_order(joined)
    }

    /// What [`K3sStage::apply_agents`] would do.
    pub fn plan_agents(
        &self,
        nodes: &[StageNode],
        unavailable: &BTreeMap<NodeName, String>,
        survey: &K3sSurvey,
    ) -> Vec<NodeResult<K3sNodePlanReport, K3sError>> {
        let planned = self
            .agents(nodes, unavailable, survey)
            .into_iter()
            .map(|(member, node, state)| {
                let plan = self.plan_node(
                    node,
                    state,
                    &survey.topology,
                    survey.agent_env.clone(),
                    survey.live.as_deref(),
                );
                (member.name.clone(), plan)
            })
            .collect();
        self.in_file_order(planned)
    }

    /// The agents of cluster.toml still in the run, with their node and K3s state.
    fn agents<'s, 'n>(
        &'s self,
        nodes: &'n [StageNode],
        unavailable: &BTreeMap<NodeName, String>,
        survey: &'s K3sSurvey,
    ) -> Vec<(&'s K3sMemberSpec, &'n StageNode, &'s K3sNodeState)> {
        self.spec
            .nodes
            .iter()
            .filter(|m| m.service == Service::Agent && !unavailable.contains_key(&m.name))
            .filter_map(|m| {
                let node = super::stage_node(nodes, &m.name)?;
                Some((m, node, survey.states.get(&m.name)?))
            })
            .collect()
    }
}
