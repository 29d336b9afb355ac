//! pikube-cluster's integration tests, one binary: each module below was a test binary of its
//! own, and linking one instead of 6 keeps builds short. Run one module with
//! `cargo nextest run -p pikube-cluster -E 'test(/^MODULE::/)'`.

mod cluster_overview;
mod config;
mod k3s_release;
mod kubeconfig;
mod monitoring_addon;
mod snapshot_files;
