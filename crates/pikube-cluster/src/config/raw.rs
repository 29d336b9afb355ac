//! The file's shape as serde sees it: every key optional, every position kept.
//!
//! Required keys are `Option` here on purpose: a missing key then becomes a
//! semantic problem reported with all the others, instead of serde stopping
//! at the first one. Numbers are `i64` so out-of-range values (port 0,
//! port 70000) get a precise message rather than a serde type error.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

use super::located::Located;

pub(crate) type Text = Spanned<String>;
pub(crate) type Int = Spanned<i64>;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFile {
    pub(crate) cluster: Option<Located<RawCluster>>,
    pub(crate) ssh: Option<Located<RawSsh>>,
    pub(crate) k3s: Option<Located<RawK3s>>,
    pub(crate) network: Option<Located<RawNetwork>>,
    pub(crate) addons: Option<Located<RawAddons>>,
    pub(crate) backup: Option<Located<RawBackup>>,
    pub(crate) nodes: Option<Located<Vec<Located<RawNode>>>>,
}

/// `[addons.*]`: what pikube installs into the cluster through K3s' manifests folder.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAddons {
    pub(crate) monitoring: Option<Located<RawMonitoring>>,
}

/// `[addons.monitoring]`: Prometheus, Grafana and the exporters.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawMonitoring {
    pub(crate) enabled: Option<Spanned<bool>>,
    pub(crate) retention: Option<Text>,
    pub(crate) storage: Option<Text>,
    /// The name of the secret (in secrets.age) holding Grafana's admin password.
    pub(crate) grafana_password_secret: Option<Text>,
}

/// `[backup]`: K3s' scheduled etcd snapshots.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawBackup {
    pub(crate) schedule: Option<Text>,
    pub(crate) retention: Option<Int>,
    pub(crate) s3: Option<Located<RawS3>>,
}

/// `[backup.s3]`: where the snapshots are copied; keys named, never written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawS3 {
    pub(crate) endpoint: Option<Text>,
    pub(crate) bucket: Option<Text>,
    pub(crate) region: Option<Text>,
    pub(crate) folder: Option<Text>,
    pub(crate) insecure: Option<Spanned<bool>>,
    pub(crate) access_key_secret: Option<Text>,
    pub(crate) secret_key_secret: Option<Text>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCluster {
    pub(crate) name: Option<Text>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSsh {
    pub(crate) user: Option<Text>,
    pub(crate) port: Option<Int>,
    pub(crate) identity_file: Option<Text>,
    pub(crate) config_file: Option<Text>,
    pub(crate) known_hosts: Option<Text>,
    pub(crate) proxy_jump: Option<Text>,
    pub(crate) connect_timeout: Option<Int>,
    pub(crate) command_timeout: Option<Int>,
    pub(crate) parallelism: Option<Int>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawK3s {
    pub(crate) version: Option<Text>,
    pub(crate) api_endpoint: Option<Text>,
    pub(crate) tls_san: Option<Vec<Text>>,
    pub(crate) disable: Option<Vec<Text>>,
    pub(crate) kubelet_args: Option<Vec<Text>>,
    pub(crate) datastore_endpoint: Option<Text>,
    pub(crate) datastore_endpoint_secret: Option<Text>,
    /// Architecture to local binary; a map rather than a struct so that an
    /// unknown architecture is one error among all the others, with a hint
    /// for `uname -m` names, instead of stopping the parse.
    pub(crate) binary: Option<BTreeMap<Text, Text>>,
    /// Push the release's airgap image archive to every node (downloaded like the binary).
    pub(crate) airgap_images: Option<Spanned<bool>>,
    /// K3s' `secrets-encryption`, from the cluster's first start.
    pub(crate) secrets_encryption: Option<Spanned<bool>>,
    /// Architecture to local airgap image archive (implies air-gap for that architecture).
    pub(crate) images: Option<BTreeMap<Text, Text>>,
    /// Architecture to the SHA-256 its k3s binary must have, wherever it comes from.
    pub(crate) sha256: Option<BTreeMap<Text, Text>>,
    /// Architecture to the SHA-256 its airgap image archive must have.
    pub(crate) images_sha256: Option<BTreeMap<Text, Text>>,
    pub(crate) registries: Option<Located<RawRegistries>>,
}

/// `[k3s.registries]`: K3s' registries.yaml, with credentials named, not written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRegistries {
    /// Registry name (or `*`) to mirror endpoints, in order.
    pub(crate) mirrors: Option<BTreeMap<Text, Vec<Text>>>,
    pub(crate) configs: Option<BTreeMap<Text, RawRegistryConfig>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRegistryConfig {
    pub(crate) username: Option<Text>,
    /// The name of the secret (in secrets.age) holding the password.
    pub(crate) password_secret: Option<Text>,
    pub(crate) insecure_skip_verify: Option<Spanned<bool>>,
    /// A CA certificate (PEM) the registry's TLS certificate is checked against, relative
    /// to cluster.toml.
    pub(crate) ca_file: Option<Text>,
}

/// `[network]`: shared by the nodes whose address carries a prefix.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawNetwork {
    pub(crate) gateway: Option<Text>,
    pub(crate) dns: Option<Vec<Text>>,
    pub(crate) interface: Option<Text>,
    pub(crate) rollback_after: Option<Int>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawNode {
    pub(crate) name: Option<Text>,
    pub(crate) address: Option<Text>,
    pub(crate) role: Option<Text>,
    pub(crate) user: Option<Text>,
    pub(crate) port: Option<Int>,
    pub(crate) identity_file: Option<Text>,
    pub(crate) proxy_jump: Option<Text>,
    pub(crate) labels: Option<BTreeMap<Text, Text>>,
    pub(crate) taints: Option<Vec<Text>>,
    pub(crate) adopt: Option<Spanned<bool>>,
}
