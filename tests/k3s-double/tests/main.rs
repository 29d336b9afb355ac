//! k3s-double's integration tests, one binary: each module below was a test binary of its
//! own, and linking one instead of 3 keeps builds short. Run one module with
//! `cargo nextest run -p k3s-double -E 'test(/^MODULE::/)'`.

mod support;

mod cluster;
mod deploy_manifests;
mod snapshots;
