//! Installing K3s natively over SSH (no install script piped to a shell): the binary,
//! config.yaml, the env file holding the token, the systemd unit, the helper scripts;
//! then joining nodes in order and waiting for each to be Ready; and taking the nodes
//! cluster.toml no longer lists out of the cluster (`apply --prune`).

mod adoption;
mod binaries;
mod cluster_nodes;
pub mod cordon;
mod datastore_secret;
mod desired;
mod drain;
mod error;
mod install;
mod labels;
mod live_nodes;
mod maintenance;
mod node_plan;
pub mod paths;
mod prune;
mod registries;
mod render;
mod reset;
mod s3_keys;
mod secrets_encryption;
mod serving;
mod spec;
mod stage;
mod stale;
mod state;
mod token;
mod topology;
pub mod upgrade;

pub use binaries::{resolve_binaries, BinaryError};
pub use cluster_nodes::{
    get_nodes, parse_nodes, ClusterNode, ClusterNodesError, ETCD_MEMBER_ANNOTATION,
};
pub use datastore_secret::{resolve_datastore_secret, DatastoreSecretError};
pub use desired::{BinaryArtifact, DesiredK3s};
pub use drain::{drain_node, Drain, DrainError};
pub use error::K3sError;
pub use install::{
    carry_out, journal_tail, service_status, wait_started, InstallError, ServiceStatus,
};
pub use labels::{automatic_labels, PI_MODEL_LABEL, STORAGE_LABEL};
pub use live_nodes::live_nodes;
pub use maintenance::{
    etcd_majority, etcd_members, quorum_without, stopped, Downtime, Maintenance, MaintenanceError,
};
pub use node_plan::{plan_k3s, K3sNodePlan, K3sPlanError};
pub use prune::{delete_node, prune_node, PruneError, PruneReport, DELETE_TIMEOUT};
pub use registries::{registries_yaml, registry_ca_files, MissingSecret, RegistryCaFile};
pub use render::{Membership, S3Credentials, ServerOptions};
pub use reset::{reset_node, ResetReport};
pub use s3_keys::{s3_credentials, MissingS3Key};
pub use secrets_encryption::{EncryptionReason, SecretsEncryptionDecision};
pub use serving::{start_service, wait_node_ready};
pub use spec::{K3sMemberSpec, K3sSpec};
pub use stage::{K3sNodePlanReport, K3sNodeReport, K3sStage, K3sSurvey, NodeLabels, StageNode};
pub use stale::{foreign_nodes, is_server, plan_prune, PruneStep};
pub use state::{read_state, K3sNodeState, StateError};
pub use token::ServerToken;
pub use topology::{api_url, TopologyError};
