//! Cluster provisioning: `cluster.toml`, SSH to the fleet, facts, plan and apply.

#![warn(missing_docs)]

pub mod addons;
pub mod apply;
pub mod backup;
pub mod bootstrap;
pub mod cluster_lock;
pub mod config;
pub mod digest;
pub mod doctor;
pub mod error_chain;
pub mod exec;
pub mod facts;
pub mod firstboot;
pub mod fleet;
pub mod health;
pub mod human_duration;
pub mod images;
pub mod k3s;
pub mod k3s_release;
pub mod kubeconfig;
pub mod network;
pub mod node_error;
pub mod node_records;
pub mod os_upgrade;
pub mod pipeline;
pub mod plan;
pub mod private_file;
pub mod progress;
pub mod reboot;
pub mod restore;
pub mod run_lock;
pub mod secrets;
pub mod shutdown;
pub mod ssh;
pub mod state;
pub mod terminal_text;
