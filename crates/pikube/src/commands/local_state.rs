//! Where a cluster's local state lives: `.pikube/<cluster>/` beside cluster.toml.

use pikube_cluster::config::ClusterConfig;
use pikube_cluster::state::LocalState;

pub fn local_state(config: &ClusterConfig) -> LocalState {
    LocalState::new(config.dir(), config.name.as_ref())
}
