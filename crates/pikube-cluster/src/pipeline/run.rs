//! What one run of the pipeline knows: the cluster file and the settings it started with,
//! and what each phase leaves for the next (connections, facts, plans, failures, locks).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde::Serialize;

use crate::cluster_lock::ServerLock;
use crate::config::{Arch, ClusterConfig, NodeName};
use crate::fleet::{Fleet, SshClientError};
use crate::k3s::{
    BinaryArtifact, ClusterNode, Drain, K3sNodeState, K3sSpec, K3sSurvey, PruneStep, StageNode,
};
use crate::node_records::NodeRecord;
use crate::plan::NodePlan;
use crate::progress::Progress;
use crate::run_lock::RunLock;
use crate::secrets::SecretKey;
use crate::ssh::{Connection, SudoPassword};
use crate::state::LocalState;

/// Whether a run changes anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Dry: every phase says what it would do and changes nothing, not even local state.
    Plan,
    /// Every phase does what it would say.
    Apply,
}

/// What the command line decides.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The command, as the locks name their holder.
    pub command: &'static str,
    /// How long a node may take to come back from a reboot.
    pub reboot_timeout: Duration,
    /// How long k3s on a node may take to start and be Ready.
    pub ready_timeout: Duration,
    /// Remove the nodes cluster.toml no longer lists; without it they are only reported.
    pub prune: bool,
    /// How nodes are drained (a drain that takes longer fails the node's step).
    pub drain: Drain,
    /// How long deleting a pruned node's Node may take.
    pub delete_timeout: Duration,
    /// Break a stale lock.
    pub force_unlock: bool,
    /// Let an upgrade go to an older K3s.
    pub allow_downgrade: bool,
    /// How many agents an upgrade takes down at once.
    pub max_unavailable: usize,
    /// Drain servers too before their upgrade (agents always are).
    pub drain_servers: bool,
    /// Take over nodes whose K3s another tool (install.sh) installed, replacing its unit,
    /// config and env file; without it they are refused with what would be lost.
    pub adopt: bool,
    /// Nodes re-flashed with the same name: their old Node is deleted before they join.
    pub replace: Vec<NodeName>,
}

impl Settings {
    /// The settings of `plan`: nothing that changes anything is used.
    pub fn plan() -> Settings {
        Settings {
            command: "plan",
            reboot_timeout: Duration::ZERO,
            ready_timeout: Duration::ZERO,
            prune: false,
            drain: Drain {
                timeout: Duration::ZERO,
                force: false,
            },
            delete_timeout: Duration::ZERO,
            force_unlock: false,
            allow_downgrade: false,
            max_unavailable: 1,
            drain_servers: true,
            adopt: false,
            replace: Vec::new(),
        }
    }
}

/// One run of the pipeline: what it started from and what each phase leaves for the next.
pub struct Run<'a> {
    /// Dry or not.
    pub mode: Mode,
    /// The cluster file, as loaded and checked.
    pub config: &'a ClusterConfig,
    /// What the command line decided.
    pub settings: Settings,
    pub(super) progress: &'a dyn Progress,
    /// Asked at most once, and only when a node's sudo wants a password.
    pub(super) sudo_password: &'a (dyn Fn(&str) -> Option<SudoPassword> + Sync),
    /// A secret of secrets.age by name (registry passwords), when the cluster needs one.
    pub(super) secret: &'a (dyn Fn(&SecretKey) -> Option<String> + Sync),
    pub(super) fleet: Fleet,
    pub(super) spec: K3sSpec,
    pub(super) local: LocalState,

    /// connect: the nodes reached, in file order, until facts pairs them with their facts.
    pub(super) connections: Vec<(NodeName, Connection)>,
    /// connect: the nodes reached at their recorded address, not cluster.toml's (moving to
    /// a static address); the lock looks for its server there too.
    pub(super) found_at: BTreeMap<NodeName, String>,
    /// facts: the nodes reached, with their connection and facts (those failed since too).
    pub(super) nodes: Vec<StageNode>,
    /// Nodes out of the run, with the error that put them out.
    pub(super) failed: BTreeMap<NodeName, String>,
    /// prepare: each node's preparation plan; in a plan, the k3s and prune phases add theirs.
    pub(super) plans: BTreeMap<NodeName, NodePlan>,
    /// binaries: by K3s build.
    pub(super) binaries: Option<BTreeMap<Arch, BinaryArtifact>>,
    /// upgrade: each running node's K3s state, and the cluster's node list, as read before
    /// anything changed (a plan reuses them).
    pub(super) k3s_states: BTreeMap<NodeName, K3sNodeState>,
    pub(super) live: Option<Vec<ClusterNode>>,
    /// upgrade: the nodes whose binary it put in place (in a plan: would).
    pub(super) rolled_out: BTreeSet<NodeName>,
    /// k3s-servers: each node's K3s state and the topology, for the agents and labels.
    pub(super) k3s: Option<K3sSurvey>,
    /// labels: the nodes installed and Ready, as the node records keep them.
    pub(super) installed: Vec<NodeRecord>,
    /// prune: in a plan, the stale nodes and what would become of them.
    pub(super) stale: Vec<PruneStep>,
    pub(super) local_lock: Option<RunLock>,
    pub(super) server_lock: Option<ServerLock>,
}

impl<'a> Run<'a> {
    /// A run of `config` that has done nothing yet; fails only when the SSH client cannot
    /// be set up.
    pub fn new(
        mode: Mode,
        config: &'a ClusterConfig,
        settings: Settings,
        progress: &'a dyn Progress,
        sudo_password: &'a (dyn Fn(&str) -> Option<SudoPassword> + Sync),
        secret: &'a (dyn Fn(&SecretKey) -> Option<String> + Sync),
    ) -> Result<Run<'a>, SshClientError> {
        Ok(Run {
            mode,
            config,
            settings,
            progress,
            sudo_password,
            secret,
            fleet: Fleet::of_config(config)?,
            spec: K3sSpec::from_config(config),
            local: LocalState::new(config.dir(), config.name.as_ref()),
            connections: Vec::new(),
            found_at: BTreeMap::new(),
            nodes: Vec::new(),
            failed: BTreeMap::new(),
            plans: BTreeMap::new(),
            binaries: None,
            k3s_states: BTreeMap::new(),
            live: None,
            rolled_out: BTreeSet::new(),
            k3s: None,
            installed: Vec::new(),
            stale: Vec::new(),
            local_lock: None,
            server_lock: None,
        })
    }

    /// The nodes of cluster.toml, in file order.
    pub fn members(&self) -> Vec<NodeName> {
        self.config
            .nodes
            .iter()
            .map(|node| node.name.clone())
            .collect()
    }

    /// After a plan: what would change on each node of the file (and each stale node), in
    /// file order, stale nodes last.
    pub fn plans(&self) -> Vec<&NodePlan> {
        let members = self.members();
        let mut plans: Vec<&NodePlan> = members
            .iter()
            .filter_map(|name| self.plans.get(name))
            .collect();
        plans.extend(
            self.plans
                .iter()
                .filter(|(name, _)| !members.contains(name))
                .map(|(_, plan)| plan),
        );
        plans
    }

    /// After a plan: the nodes the cluster has and cluster.toml no longer lists.
    pub fn stale(&self) -> &[PruneStep] {
        &self.stale
    }

    /// The servers of cluster.toml still in the run, in file order.
    pub(super) fn servers_up(&self) -> Vec<&StageNode> {
        self.nodes
            .iter()
            .filter(|n| self.is_up(&n.name))
            .filter(|n| {
                self.spec
                    .member(&n.name)
                    .is_some_and(|m| m.service == crate::k3s::paths::Service::Server)
            })
            .collect()
    }

    /// Puts `node` out of the run with `error`, recording it in `report`. Its connection
    /// stays open: the cluster may still be reached through it.
    pub(super) fn fail(&mut self, report: &mut super::PhaseReport, node: &NodeName, error: String) {
        self.failed
            .entry(node.to_owned())
            .or_insert_with(|| error.clone());
        report.failed(node, error);
    }

    /// Puts every node still in the run out of it, each with `error(node)`: for a phase
    /// whose failure leaves no node anything to do.
    pub(super) fn fail_all_up(
        &mut self,
        report: &mut super::PhaseReport,
        error: impl Fn(&str) -> String,
    ) {
        let up: Vec<NodeName> = self
            .nodes
            .iter()
            .filter(|n| self.is_up(&n.name))
            .map(|n| n.name.clone())
            .collect();
        for node in up {
            let message = error(&node);
            self.fail(report, &node, message);
        }
    }

    /// Whether `node` is still in the run.
    pub(super) fn is_up(&self, node: &str) -> bool {
        !self.failed.contains_key(node)
    }
}
