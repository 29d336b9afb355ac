//! `cluster.toml`: parsed into typed values at the edge.
//!
//! Everything past this module works with [`ClusterConfig`], never with TOML:
//! names are valid hostnames, addresses parse, the K3s version is pinned,
//! paths are resolved against the file's directory and local K3s binaries
//! exist, and the datastore password never shows. Every problem in a file
//! is reported at once as `file:line:column: field: what is wrong`.

mod addons;
mod address;
mod arch;
mod backup;
mod component;
mod datastore;
mod decode;
mod diagnostic;
mod fields;
mod fleet;
mod image_archive;
mod k3s;
mod kubelet_arg;
mod labels;
mod load;
mod located;
mod model;
mod names;
mod network;
mod nodes;
mod paths;
mod proxy_jump;
mod raw;
mod registries;
mod report;
mod role;
mod secrets_encryption;
mod source_map;
mod ssh;
mod starter;
mod suggest;
mod taint;
mod version;

pub use addons::{Addons, MonitoringAddon, Retention, StorageSize};
pub use address::{
    Address, AddressError, AddressProblem, HostNameProblem, Ipv4Problem, Ipv6Problem,
};
pub use arch::{Arch, InvalidArch};
pub use backup::{BackupSettings, CronSchedule, S3Target, SnapshotSchedule};
pub use component::{InvalidK3sComponent, K3sComponent};
pub use datastore::{
    DatastoreEndpoint, DatastoreKind, ExternalDatastore, InvalidDatastoreEndpoint,
};
pub use diagnostic::{ConfigError, ConfigWarning, Diagnostic};
pub use image_archive::ImageArchiveKind;
pub use kubelet_arg::{InvalidKubeletArg, KubeletArg, KubeletArgProblem};
pub use labels::{InvalidLabel, LabelKey, LabelPrefixProblem, LabelValue, NodeLabelProblem};
pub use load::{load, parse, Loaded};
pub use model::{dir_of, ClusterConfig, K3sSettings, NodeSpec, SshSettings};
pub use names::{ClusterName, InvalidName, LabelProblem, NodeName};
pub use network::{Network, StaticAddress};
pub use registries::{Registries, RegistryAuth, RegistryCa, RegistryConfig, REGISTRY_CA_DIR};
pub use role::{InvalidRole, Role};
pub use secrets_encryption::SecretsEncryption;
// cluster.toml's pins are digests like any other (crate::digest).
pub use crate::digest::{InvalidSha256, Sha256};
pub use starter::starter_file;
pub use taint::{InvalidTaint, Taint, TaintEffect, TaintProblem};
pub use version::{InvalidK3sVersion, K3sVersion};

#[cfg(test)]
mod tests;
