//! The k3s stage as the commands use it: binaries resolved, the stage built from
//! cluster.toml, local state found.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use anyhow::Context;
use pikube_cluster::config::ClusterConfig;
use pikube_cluster::k3s::{resolve_binaries, BinaryArtifact, K3sSpec, StageNode};
use pikube_cluster::k3s_release::{default_cache_dir, ReleaseSource};
use pikube_cluster::progress::Progress;
use pikube_cluster::state::LocalState;

pub fn local_state(config: &ClusterConfig) -> LocalState {
    LocalState::new(config.dir(), config.name.as_ref())
}

/// The k3s binary for every architecture among `nodes`: local files or the cached
/// official release (downloaded now if need be).
pub async fn binaries(
    config: &ClusterConfig,
    nodes: &[StageNode],
    progress: &dyn Progress,
) -> anyhow::Result<BTreeMap<String, BinaryArtifact>> {
    let arches: BTreeSet<String> = nodes
        .iter()
        .map(|n| n.facts.arch.name().to_owned())
        .collect();
    let cache = default_cache_dir().unwrap_or_else(|| local_state(config).dir().join("cache"));
    let say = |line: &str| progress.step(line);
    resolve_binaries(config, &arches, &ReleaseSource::from_env(), &cache, &say)
        .await
        .context("getting the k3s binary")
}

pub struct StageSettings {
    pub spec: K3sSpec,
    pub ready_timeout: Duration,
    pub parallelism: usize,
}

impl StageSettings {
    pub fn new(config: &ClusterConfig, ready_timeout: Duration) -> StageSettings {
        StageSettings {
            spec: K3sSpec::from_config(config),
            ready_timeout,
            parallelism: config.ssh.parallelism,
        }
    }
}
