//! The typed cluster description that the rest of pikube works from.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

use super::addons::Addons;
use super::backup::BackupSettings;
use super::network::{Network, StaticAddress};
use super::registries::Registries;

use super::address::Address;
use super::arch::Arch;
use super::component::K3sComponent;
use super::datastore::{DatastoreKind, ExternalDatastore};
use super::kubelet_arg::KubeletArg;
use super::labels::{LabelKey, LabelValue};
use super::names::{ClusterName, NodeName};
use super::role::Role;
use super::secrets_encryption::SecretsEncryption;
use super::taint::Taint;
use super::version::K3sVersion;
use crate::digest::Sha256;

/// A whole, valid `cluster.toml`.
#[derive(Debug, Clone, Serialize)]
pub struct ClusterConfig {
    /// The file it was read from, as given.
    pub path: PathBuf,
    /// `[cluster] name`: the kubeconfig context, the state directory's name.
    pub name: ClusterName,
    /// `[ssh]`.
    pub ssh: SshSettings,
    /// `[k3s]`.
    pub k3s: K3sSettings,
    /// `[network]`, for the nodes with a static address.
    pub network: Network,
    /// `[addons.*]`: what pikube installs into the cluster once K3s runs.
    pub addons: Addons,
    /// `[backup]`: K3s' scheduled snapshots on the servers (absent: K3s' defaults).
    pub backup: Option<BackupSettings>,
    /// In file order; at least one is a server.
    pub nodes: Vec<NodeSpec>,
}

/// `[ssh]`: defaults for every node. Unset options are left to ssh itself
/// (ssh_config, the agent), which is why they stay `Option`.
#[derive(Debug, Clone, Serialize)]
pub struct SshSettings {
    /// The login user.
    pub user: Option<String>,
    /// The SSH port.
    pub port: Option<u16>,
    /// Resolved against the cluster.toml directory, `~` expanded.
    pub identity_file: Option<PathBuf>,
    /// An ssh_config to use instead of ~/.ssh/config; resolved like `identity_file`.
    pub config_file: Option<PathBuf>,
    /// Pinned host keys; resolved, default `known_hosts` beside cluster.toml.
    pub known_hosts: PathBuf,
    /// OpenSSH `-J` syntax.
    pub proxy_jump: Option<String>,
    /// How long a connection may take to be made.
    #[serde(serialize_with = "seconds")]
    pub connect_timeout: Duration,
    /// How long one remote command may run before pikube stops waiting for it (a hung
    /// `systemctl`, a `df` on a dead NFS mount); some steps get a longer limit of their own.
    #[serde(serialize_with = "seconds")]
    pub command_timeout: Duration,
    /// How many nodes are worked on at once.
    pub parallelism: usize,
}

/// `[k3s]`. Everything but `version` is optional and empty when unset.
#[derive(Debug, Clone, Serialize)]
pub struct K3sSettings {
    /// The K3s every node runs.
    pub version: K3sVersion,
    /// A VIP or DNS name in front of the servers: added to the API
    /// certificate, and used by agents and the kubeconfig instead of the
    /// first server's address.
    pub api_endpoint: Option<Address>,
    /// Further names for the API certificate, in file order, no repeats.
    pub tls_san: Vec<Address>,
    /// Packaged components K3s is told not to deploy.
    pub disable: BTreeSet<K3sComponent>,
    /// Extra kubelet flags for every node, in file order.
    pub kubelet_args: Vec<KubeletArg>,
    /// An external datastore instead of embedded etcd: its endpoint (shown redacted) or
    /// the secret that holds it.
    pub datastore: Option<ExternalDatastore>,
    /// Local binaries for air-gapped installs, resolved like `identity_file`
    /// and known to exist at load time; an architecture without one is
    /// downloaded from the official release.
    pub binaries: BTreeMap<Arch, PathBuf>,
    /// `airgap_images = true`: every node gets the release's image archive for its
    /// architecture in K3s' images directory before K3s starts (audit F7), so no system
    /// pod needs a registry.
    pub airgap_images: bool,
    /// Whether K3s keeps Secrets encrypted (AES-CBC) in its datastore, from the cluster's
    /// first start; unset: on for a new cluster, kept for a running one (security M11).
    pub secrets_encryption: SecretsEncryption,
    /// Local image archives per architecture (for controllers that are offline too), known
    /// to exist and to have an extension K3s imports; they imply air-gap for their
    /// architecture, and the others are downloaded when `airgap_images` is set.
    pub images: BTreeMap<Arch, PathBuf>,
    /// `[k3s.sha256]`: what each architecture's k3s binary must hash to, downloaded or
    /// local; pinned from a source the operator trusts, so that a mirror that serves both a
    /// binary and its checksum cannot vouch for itself (review L7).
    pub binary_sha256: BTreeMap<Arch, Sha256>,
    /// `[k3s.images_sha256]`: the same for the airgap image archives.
    pub images_sha256: BTreeMap<Arch, Sha256>,
    /// `[k3s.registries]`: mirrors and registry settings for registries.yaml (empty: pikube
    /// leaves registries.yaml alone).
    pub registries: Registries,
}

/// One `[[nodes]]` entry, with SSH options already resolved: the node's own
/// value if it set one, else the `[ssh]` value.
#[derive(Debug, Clone, Serialize)]
pub struct NodeSpec {
    /// Its name: hostname and Kubernetes node name.
    pub name: NodeName,
    /// Where pikube reaches it.
    pub address: Address,
    /// The address it should have, when `address` carried a prefix.
    pub static_address: Option<StaticAddress>,
    /// Server or agent.
    pub role: Role,
    /// The login user.
    pub user: Option<String>,
    /// The SSH port.
    pub port: Option<u16>,
    /// The private key, resolved against cluster.toml's directory.
    pub identity_file: Option<PathBuf>,
    /// `None` also when the node opted out with `proxy_jump = ""`.
    pub proxy_jump: Option<String>,
    /// Labels of its Node.
    pub labels: BTreeMap<LabelKey, LabelValue>,
    /// In file order; no two share a key and effect.
    pub taints: Vec<Taint>,
    /// Take over a K3s another tool installed here, keeping its settings cluster.toml
    /// does not make (as `apply --adopt` does for every node).
    pub adopt: bool,
}

impl ClusterConfig {
    /// The servers, in file order.
    pub fn servers(&self) -> impl Iterator<Item = &NodeSpec> {
        self.nodes.iter().filter(|n| n.role == Role::Server)
    }

    /// The agents, in file order.
    pub fn agents(&self) -> impl Iterator<Item = &NodeSpec> {
        self.nodes.iter().filter(|n| n.role == Role::Agent)
    }

    /// The node named `name`.
    pub fn node(&self, name: &str) -> Option<&NodeSpec> {
        self.nodes.iter().find(|n| n.name.as_ref() == name)
    }

    /// Where K3s keeps this cluster's objects.
    pub fn datastore(&self) -> DatastoreKind {
        DatastoreKind::chosen(self.servers().count(), self.k3s.external_datastore())
    }

    /// The directory holding cluster.toml, against which its paths resolve
    /// (`.` when the file was named without a directory).
    pub fn dir(&self) -> &Path {
        dir_of(&self.path)
    }
}

/// The directory holding the cluster file at `path` (`.` for a bare file name), for the
/// commands that work beside it before (or without) loading it.
pub fn dir_of(path: &Path) -> &Path {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    }
}

impl K3sSettings {
    /// Whether the cluster's objects live in a database of someone else's, whether its
    /// endpoint is written here or kept in secrets.age.
    pub fn external_datastore(&self) -> bool {
        self.datastore.is_some()
    }

    /// Every name the API certificate must carry beyond K3s' own defaults:
    /// `api_endpoint` first, then `tls_san`, without repeats.
    pub fn tls_sans(&self) -> Vec<&Address> {
        let mut seen = BTreeSet::new();
        self.api_endpoint
            .iter()
            .chain(&self.tls_san)
            .filter(|a| seen.insert(a.identity()))
            .collect()
    }

    /// Whether nodes of `arch` get an airgap image archive.
    pub fn wants_images(&self, arch: Arch) -> bool {
        self.airgap_images || self.images.contains_key(&arch)
    }

    /// The local binary for `arch`, if one was given.
    pub fn binary(&self, arch: Arch) -> Option<&Path> {
        self.binaries.get(&arch).map(PathBuf::as_path)
    }
}

fn seconds<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(d.as_secs())
}
