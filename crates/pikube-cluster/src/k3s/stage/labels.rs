//! The labels step: each node the earlier steps installed gets the labels and taints
//! cluster.toml gives it, through the API; those pikube set before and the file no longer
//! names are removed, others' left alone.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::{api, K3sStage, K3sSurvey, StageNode};
use crate::config::NodeName;
use crate::fleet::NodeResult;
use crate::k3s::cluster_nodes::{get_nodes, ClusterNode};
use crate::k3s::error::K3sError;
use crate::k3s::labels::{plan_labels, LabelPlan};
use crate::k3s::render::parse_registration;
use crate::k3s::state::K3sNodeState;
use crate::node_records::Registration;
use crate::plan::Change;
use crate::progress::Progress;
use crate::ssh::Connection;

/// A node's labels and taints after the step.
#[derive(Debug, Clone)]
pub struct NodeLabels {
    /// What pikube wants on it (and set, when the result is Ok): the node record keeps it.
    pub registration: Registration,
    /// The changes made (in a plan: to make) through the API, in a few words.
    pub changed: Option<String>,
    /// In a plan, the command that would make them.
    pub change: Option<Change>,
}

impl K3sStage<'_> {
    /// Sets each installed node's labels and taints (`unavailable`: nodes out of the run).
    pub async fn apply_labels(
        &self,
        nodes: &[StageNode],
        unavailable: &BTreeMap<NodeName, String>,
        survey: &K3sSurvey,
        progress: &dyn Progress,
    ) -> Vec<NodeResult<NodeLabels, K3sError>> {
        let targets = self.installed(nodes, unavailable, survey);
        let Some(api) = api(nodes, survey).filter(|_| !targets.is_empty()) else {
            return Vec::new();
        };
        let live = match get_nodes(api).await {
            Ok(live) => live,
            Err(err) => {
                let cause = Arc::new(err);
                let failed = targets
                    .iter()
                    .map(|(node, _)| {
                        let err = K3sError::LabelsUnchecked {
                            server: survey.first_server().to_owned(),
                            cause: cause.clone(),
                        };
                        (node.name.clone(), Err(err))
                    })
                    .collect();
                return self.in_file_order(failed);
            }
        };
        let mut results = BTreeMap::new();
        for (node, state) in targets {
            let result = self.set_labels(api, node, state, &live, progress).await;
            results.insert(node.name.clone(), result);
        }
        self.in_file_order(results)
    }

    /// One node's labels and taints brought to what pikube wants, through `api`.
    async fn set_labels(
        &self,
        api: &Connection,
        node: &StageNode,
        state: &K3sNodeState,
        live: &[ClusterNode],
        progress: &dyn Progress,
    ) -> Result<NodeLabels, K3sError> {
        let registration = self.registration(node)?;
        let plan = self.label_plan(node, &registration, state, live);
        let changed = match plan.filter(|p| !p.is_empty()) {
            None => None,
            Some(plan) => {
                progress.node(&node.name, &format!("[labels] {}", plan.summary()));
                let script = plan.script(&node.name);
                api.run_privileged("changing labels and taints", &script, b"")
                    .await?;
                Some(plan.summary())
            }
        };
        Ok(NodeLabels {
            registration,
            changed,
            change: None,
        })
    }

    /// What [`K3sStage::apply_labels`] would change, from the node list the servers step
    /// read (nothing when the cluster's API did not answer: K3s not installed yet).
    pub fn plan_labels(
        &self,
        nodes: &[StageNode],
        unavailable: &BTreeMap<NodeName, String>,
        survey: &K3sSurvey,
    ) -> Vec<NodeResult<NodeLabels, K3sError>> {
        let Some(live) = &survey.live else {
            return Vec::new();
        };
        let planned = self
            .installed(nodes, unavailable, survey)
            .into_iter()
            .map(|(node, state)| {
                let labels = self.registration(node).map(|registration| {
                    let plan = self
                        .label_plan(node, &registration, state, live)
                        .filter(|p| !p.is_empty());
                    NodeLabels {
                        registration,
                        changed: plan.as_ref().map(LabelPlan::summary),
                        change: plan.map(|plan| {
                            Change::command(
                                format!("{} (through the API)", plan.summary()),
                                plan.script(&node.name),
                            )
                        }),
                    }
                });
                (node.name.clone(), labels)
            })
            .collect();
        self.in_file_order(planned)
    }

    /// The nodes still in the run that the servers step surveyed: each is installed and
    /// Ready by now (or, in a plan, would be).
    fn installed<'n, 's>(
        &self,
        nodes: &'n [StageNode],
        unavailable: &BTreeMap<NodeName, String>,
        survey: &'s K3sSurvey,
    ) -> Vec<(&'n StageNode, &'s K3sNodeState)> {
        nodes
            .iter()
            .filter(|node| !unavailable.contains_key(&node.name))
            .filter_map(|node| Some((node, survey.states.get(&node.name)?)))
            .collect()
    }

    /// What would bring the live Node to `wanted`; `None` when the cluster does not list it.
    fn label_plan(
        &self,
        node: &StageNode,
        wanted: &Registration,
        state: &K3sNodeState,
        live: &[ClusterNode],
    ) -> Option<LabelPlan> {
        let live_node = live.iter().find(|n| n.name == node.name)?;
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
        Some(plan_labels(
            &wanted.labels,
            &wanted.taints,
            &previous,
            live_node,
        ))
    }
}
