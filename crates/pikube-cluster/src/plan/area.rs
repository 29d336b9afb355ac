//! Which part of a node's setup a planned change belongs to: the label it carries in the
//! plan (`[hostname] …`), in apply's progress and in the plan's JSON (`"phase"`).

use std::fmt;

use serde::Serialize;

/// The part of a node's setup a change belongs to. Finer than the pipeline's phases (its
/// prepare phase plans hostname, cgroups and swap changes), and named as the plan shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeArea {
    /// The default route the node must have, or its static address.
    Network,
    /// The node's hostname.
    Hostname,
    /// The memory cgroup K3s needs.
    Cgroups,
    /// Swap turned off.
    Swap,
    /// A rolling K3s upgrade.
    Upgrade,
    /// K3s itself: binary, configuration, services; a stale node pruned.
    K3s,
    /// Labels and taints set through the API.
    Labels,
    /// The add-ons' manifests on a server.
    Addons,
}

impl ChangeArea {
    /// Its name in the plan (`hostname`, `k3s`).
    pub fn name(self) -> &'static str {
        match self {
            ChangeArea::Network => "network",
            ChangeArea::Hostname => "hostname",
            ChangeArea::Cgroups => "cgroups",
            ChangeArea::Swap => "swap",
            ChangeArea::Upgrade => "upgrade",
            ChangeArea::K3s => "k3s",
            ChangeArea::Labels => "labels",
            ChangeArea::Addons => "addons",
        }
    }
}

impl fmt::Display for ChangeArea {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shown_and_serialised_by_the_same_name() {
        for area in [
            ChangeArea::Network,
            ChangeArea::Hostname,
            ChangeArea::Cgroups,
            ChangeArea::Swap,
            ChangeArea::Upgrade,
            ChangeArea::K3s,
            ChangeArea::Labels,
            ChangeArea::Addons,
        ] {
            assert_eq!(
                serde_json::to_value(area).unwrap(),
                serde_json::Value::from(area.to_string())
            );
        }
        assert_eq!(ChangeArea::K3s.to_string(), "k3s");
    }
}
