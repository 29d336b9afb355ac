//! What a run did (or, dry, would do), phase by phase and node by node: typed, so that the
//! binary only renders it, as text or JSON.

use serde::Serialize;

use super::{Mode, Phase};

use crate::config::NodeName;

/// The whole run: `apply -o json` prints it as it is.
#[derive(Debug, Serialize)]
pub struct PipelineReport {
    /// A plan (dry) or an apply.
    pub mode: Mode,
    /// Each phase that ran, in order; the unlock phase always last.
    pub phases: Vec<PhaseReport>,
}

/// One phase of the run.
#[derive(Debug, Serialize)]
pub struct PhaseReport {
    /// Which phase.
    pub phase: Phase,
    /// How long the phase took, for whoever wonders where a run's time goes.
    pub seconds: f64,
    /// The nodes this phase changed, would change, or failed on; a node it had nothing to
    /// do with is left out.
    pub nodes: Vec<NodeStep>,
    /// Failures of the phase as a whole (no node's own), e.g. the cluster's API not
    /// answering when stale nodes are looked for.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<String>,
    /// What the phase thinks the user should know, though nothing failed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// What the phase decided for the cluster as a whole, for the user to see (the
    /// servers' secrets encryption).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl PhaseReport {
    /// An empty report of `phase`.
    pub fn new(phase: Phase) -> PhaseReport {
        PhaseReport {
            phase,
            seconds: 0.0,
            nodes: Vec::new(),
            errors: Vec::new(),
            warnings: Vec::new(),
            notes: Vec::new(),
        }
    }

    /// What became of `node` in this phase.
    pub fn push(&mut self, node: &NodeName, outcome: NodeOutcome) {
        self.nodes.push(NodeStep {
            node: node.clone(),
            outcome,
        });
    }

    /// `node` failed in this phase, for `error` (which names it).
    pub fn failed(&mut self, node: &NodeName, error: String) {
        self.push(node, NodeOutcome::Failed { error });
    }
}

/// What one phase did to one node.
#[derive(Debug, Serialize)]
pub struct NodeStep {
    /// The node, by its cluster.toml name (a pruned node: the name it had there).
    pub node: NodeName,
    /// What became of it.
    #[serde(flatten)]
    pub outcome: NodeOutcome,
}

/// What became of a node in a phase (`status` in the JSON).
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum NodeOutcome {
    /// Nothing to do.
    Unchanged,
    /// Done, or in a plan to be done: `summary` in a few words, then each change.
    Changed {
        /// The changes in a few words.
        summary: String,
        /// Each change.
        changes: Vec<String>,
    },
    /// The error names the node; the node's later phases are skipped.
    Failed {
        /// Why, naming the node and the step.
        error: String,
    },
}

/// How the nodes of cluster.toml came out of the run, and the stale nodes pruned.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Nodes a phase changed (or would), none failed.
    pub changed: usize,
    /// Nodes nothing was done to.
    pub unchanged: usize,
    /// Nodes a phase failed on.
    pub failed: usize,
    /// Nodes no longer in cluster.toml taken out of the cluster.
    pub pruned: usize,
}

impl PipelineReport {
    /// Every step of `node`, in phase order.
    pub fn steps_of<'r>(&'r self, node: &'r str) -> impl Iterator<Item = (Phase, &'r NodeOutcome)> {
        self.phases.iter().flat_map(move |phase| {
            phase
                .nodes
                .iter()
                .filter(move |step| step.node == node)
                .map(move |step| (phase.phase, &step.outcome))
        })
    }

    /// The first failure of `node`, if any.
    pub fn failure_of<'r>(&'r self, node: &'r str) -> Option<&'r str> {
        self.steps_of(node).find_map(|(_, outcome)| match outcome {
            NodeOutcome::Failed { error } => Some(error.as_str()),
            _ => None,
        })
    }

    /// The nodes of the file (`members`) changed, unchanged and failed; stale nodes pruned.
    pub fn summary(&self, members: &[NodeName]) -> Summary {
        let mut summary = Summary::default();
        for member in members {
            if self.failure_of(member).is_some() {
                summary.failed += 1;
            } else if self
                .steps_of(member)
                .any(|(_, outcome)| matches!(outcome, NodeOutcome::Changed { .. }))
            {
                summary.changed += 1;
            } else {
                summary.unchanged += 1;
            }
        }
        summary.pruned = self
            .phases
            .iter()
            .filter(|phase| phase.phase == Phase::Prune)
            .flat_map(|phase| &phase.nodes)
            .filter(|step| !members.contains(&step.node))
            .filter(|step| matches!(step.outcome, NodeOutcome::Changed { .. }))
            .count();
        summary
    }

    /// Whether anything failed: a node, a stale node, or a phase as a whole.
    pub fn has_failures(&self) -> bool {
        self.phases.iter().any(|phase| {
            !phase.errors.is_empty()
                || phase
                    .nodes
                    .iter()
                    .any(|step| matches!(step.outcome, NodeOutcome::Failed { .. }))
        })
    }

    /// Every phase's warnings, in phase order.
    pub fn warnings(&self) -> impl Iterator<Item = &str> {
        self.phases
            .iter()
            .flat_map(|phase| phase.warnings.iter().map(String::as_str))
    }

    /// Every phase's notes, in phase order.
    pub fn notes(&self) -> impl Iterator<Item = &str> {
        self.phases
            .iter()
            .flat_map(|phase| phase.notes.iter().map(String::as_str))
    }

    /// Every phase's errors of its own (no node's), in phase order.
    pub fn errors(&self) -> impl Iterator<Item = &str> {
        self.phases
            .iter()
            .flat_map(|phase| phase.errors.iter().map(String::as_str))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn changed(summary: &str) -> NodeOutcome {
        NodeOutcome::Changed {
            summary: summary.to_owned(),
            changes: vec![summary.to_owned()],
        }
    }

    fn name(name: &str) -> NodeName {
        name.parse().unwrap()
    }

    #[test]
    fn a_node_counts_once_failed_beats_changed_and_stale_nodes_count_as_pruned() {
        let mut prepare = PhaseReport::new(Phase::Prepare);
        prepare.push(&name("one"), changed("1 change"));
        prepare.push(&name("two"), changed("1 change"));
        let mut k3s = PhaseReport::new(Phase::K3sServers);
        k3s.push(&name("one"), changed("k3s: 2 changes"));
        k3s.failed(&name("two"), "two: k3s did not start".to_owned());
        let mut prune = PhaseReport::new(Phase::Prune);
        prune.push(&name("old"), changed("pruned"));
        prune.failed(&name("older"), "older: not pruned".to_owned());
        let report = PipelineReport {
            mode: Mode::Apply,
            phases: vec![prepare, k3s, prune],
        };
        let members = ["one", "two", "three"].map(name);
        assert_eq!(
            report.summary(&members),
            Summary {
                changed: 1,
                unchanged: 1,
                failed: 1,
                pruned: 1
            }
        );
        assert_eq!(report.failure_of("two"), Some("two: k3s did not start"));
        assert_eq!(report.failure_of("one"), None);
        assert!(report.has_failures());
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["phases"][1]["phase"], "k3s-servers");
        assert_eq!(json["phases"][1]["nodes"][1]["status"], "failed");
        assert_eq!(json["phases"][0]["nodes"][0]["summary"], "1 change");
    }
}
