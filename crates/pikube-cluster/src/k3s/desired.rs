//! One node's k3s as pikube should leave it.

use std::path::PathBuf;

use super::render::Membership;

use crate::config::NodeName;
use crate::digest::Sha256;

/// A k3s binary on the controller, ready to be pushed to nodes of one architecture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BinaryArtifact {
    /// The file here.
    pub path: PathBuf,
    /// Its SHA-256.
    pub sha256: Sha256,
    /// Its size.
    pub size: u64,
    /// The version it claims (`[k3s] version`), checked on the node after install.
    pub version: String,
    /// The same release's airgap images, when its nodes get them: they go with the binary
    /// (before the first start, and on every upgrade).
    pub images: Option<ImagesArtifact>,
}

/// An airgap image archive on the controller, for K3s' images directory on the nodes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImagesArtifact {
    /// The file here.
    pub path: PathBuf,
    /// Its SHA-256.
    pub sha256: Sha256,
    /// Its size.
    pub size: u64,
    /// Where it goes: pikube's one archive in the images directory, named with the
    /// extension K3s tells its format by.
    pub remote: String,
}

/// K3s as one node should have it: what the node plan compares its state with.
#[derive(Clone)]
pub struct DesiredK3s {
    /// The node.
    pub node: NodeName,
    /// Server or agent, and whom it joins.
    pub membership: Membership,
    /// The binary for its architecture.
    pub binary: BinaryArtifact,
    /// `/etc/rancher/k3s/config.yaml`.
    pub config_yaml: String,
    /// pikube's drop-in with the node's labels and taints.
    pub registration_yaml: String,
    /// Labels and taints pikube sets, also through the API.
    pub labels: Vec<(String, String)>,
    /// Taints, `key=value:Effect`.
    pub taints: Vec<String>,
    /// registries.yaml (secret: registry passwords); `None`: pikube does not manage it.
    pub registries: Option<String>,
    /// The registry CAs registries.yaml names, written with it.
    pub registry_cas: Vec<super::RegistryCaFile>,
    /// The env file (secret). `None` while the token is not known yet: a joining node's
    /// token comes from the first server once that has started.
    pub env: Option<String>,
    /// Take over a K3s another tool installed (`--adopt`), replacing its unit, config and
    /// env file; without it such a node is refused.
    pub adopt: bool,
}

/// The env file holds the token: never in debug output.
impl std::fmt::Debug for DesiredK3s {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DesiredK3s")
            .field("node", &self.node)
            .field("membership", &self.membership)
            .field("binary", &self.binary)
            .field("labels", &self.labels)
            .field("taints", &self.taints)
            .field("env", &self.env.as_ref().map(|_| "<redacted>"))
            .field(
                "registries",
                &self.registries.as_ref().map(|_| "<redacted>"),
            )
            .finish_non_exhaustive()
    }
}
