//! Cluster provisioning: `cluster.toml`, SSH to the fleet, facts, plan and apply.

pub mod config;
