//! Rolling K3s upgrades: which nodes run another version than cluster.toml's (or another
//! binary), whether going there is safe (preflight.rs), and one node at a time: cordon,
//! drain, replace the binary, restart, wait until Ready on the new version, uncordon
//! (rollout.rs). Servers go first, one at a time; then the agents a few at a time.

mod preflight;
mod rollout;

pub use preflight::{plan_upgrade, Candidate, NodeUpgrade, Survey, UpgradePlan};
pub use rollout::{etcd_ready, pre_upgrade_snapshot, Rollout, UpgradeError};
