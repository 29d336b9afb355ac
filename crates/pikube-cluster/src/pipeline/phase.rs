//! The phases, by name, in the order they run.

use serde::Serialize;

/// One step of `plan` and `apply`, named as the report names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    /// SSH to every node, as root where it can (sudo's password asked once, if needed).
    Connect,
    /// Each node's facts: OS, model, boot files, k3s service.
    Facts,
    /// The fleet checked as a whole: one machine reached twice, cloned machine-ids.
    Validate,
    /// The lock beside cluster.toml, then the cluster's own on its first server.
    Lock,
    /// Hostname, memory cgroup, swap: each node's planned changes carried out.
    Prepare,
    /// The nodes whose changes need it rebooted, then every changed node verified.
    Reboot,
    /// The nodes with a static address in cluster.toml: the file that keeps it, and the
    /// move to it, rolled back by the node itself unless reached at the new address.
    Network,
    /// The k3s binary for each architecture of the fleet, from a local file or the release.
    Binaries,
    /// Nodes running another K3s than cluster.toml's rolled over to it: preflight, an etcd
    /// snapshot, servers one at a time, then agents; each cordoned, drained, restarted on
    /// the new binary, Ready on the new version, uncordoned.
    Upgrade,
    /// Every node's K3s state read and the topology decided; then K3s installed and
    /// configured on the first server, then on the other servers one at a time, each Ready
    /// before the next (etcd grows one member at a time).
    K3sServers,
    /// K3s installed and configured on the agents, in parallel, each Ready.
    K3sAgents,
    /// Labels and taints set through the API on the nodes installed; those nodes recorded.
    Labels,
    /// The add-ons of cluster.toml written to every server's manifests folder, where K3s
    /// applies them; those turned off deleted, then their files removed.
    Addons,
    /// The nodes the cluster has and cluster.toml no longer lists: reported, or with
    /// `--prune` drained, stopped, deleted and uninstalled. Installed nodes recorded.
    Prune,
    /// Locks released and connections closed; runs even after a phase stopped the run.
    Unlock,
}

impl Phase {
    /// Every phase, in the order a run takes them.
    pub const ORDER: &'static [Phase] = &[
        Phase::Connect,
        Phase::Facts,
        Phase::Validate,
        Phase::Lock,
        Phase::Prepare,
        Phase::Reboot,
        Phase::Network,
        Phase::Binaries,
        Phase::Upgrade,
        Phase::K3sServers,
        Phase::K3sAgents,
        Phase::Labels,
        Phase::Addons,
        Phase::Prune,
        Phase::Unlock,
    ];

    /// Its name in the report (`k3s-servers`).
    pub fn name(self) -> &'static str {
        match self {
            Phase::Connect => "connect",
            Phase::Facts => "facts",
            Phase::Validate => "validate",
            Phase::Lock => "lock",
            Phase::Prepare => "prepare",
            Phase::Reboot => "reboot",
            Phase::Network => "network",
            Phase::Binaries => "binaries",
            Phase::Upgrade => "upgrade",
            Phase::K3sServers => "k3s-servers",
            Phase::K3sAgents => "k3s-agents",
            Phase::Labels => "labels",
            Phase::Addons => "addons",
            Phase::Prune => "prune",
            Phase::Unlock => "unlock",
        }
    }
}

impl std::fmt::Display for Phase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
