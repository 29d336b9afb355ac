//! Add-ons: what pikube installs into the cluster once K3s runs, through K3s' own
//! mechanism. Every server applies the files in its manifests folder at start and whenever
//! one changes; K3s does not copy that folder between servers, so pikube writes the same
//! files to every server, and K3s leaves what a removed file made in place, so pikube
//! deletes an add-on's objects before it removes the add-on's files.
//!
//! Each add-on renders to whole files: one that `plan` shows line by line, and, when the
//! add-on has a secret, a second one that is never shown and is written 0600. Files
//! pikube wrote start with [`MARKER`]; no other file in the folder is touched.

mod monitoring;
mod server_files;

pub use monitoring::{monitoring_files, MONITORING};
pub use server_files::{read_server_files, ServerFile, ServerFilesError};

use crate::digest::Sha256;
use crate::plan::Change;

/// Where K3s looks for manifests to apply.
pub const MANIFESTS_DIR: &str = "/var/lib/rancher/k3s/server/manifests";

/// The first line of every file pikube writes there.
pub const MARKER: &str = "# Written by pikube for an add-on of cluster.toml: do not edit, \
                          `pikube apply` rewrites it.";

/// One file of an add-on, as it should be on every server.
#[derive(Clone, PartialEq, Eq)]
pub struct AddonFile {
    /// The add-on it belongs to, as cluster.toml names it (`monitoring`).
    pub addon: &'static str,
    /// The file name in [`MANIFESTS_DIR`]; K3s names the add-on after it, so it is an
    /// RFC 1123 name with `.yaml`.
    pub name: String,
    /// The whole file, marker first.
    pub content: String,
    /// For a file holding a secret: what it holds, for people; its content is never shown.
    pub secret: Option<&'static str>,
}

impl std::fmt::Debug for AddonFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AddonFile")
            .field("addon", &self.addon)
            .field("name", &self.name)
            .field("secret", &self.secret)
            .finish_non_exhaustive()
    }
}

impl AddonFile {
    /// Where it goes on a server.
    pub fn path(&self) -> String {
        format!("{MANIFESTS_DIR}/{}", self.name)
    }

    /// Its content's SHA-256, as the server's copy is compared by.
    pub fn sha256(&self) -> Sha256 {
        Sha256::of(self.content.as_bytes())
    }

    /// The change that puts this file on a server that has `current` (or nothing), if any.
    pub fn change(&self, current: Option<&ServerFile>) -> Option<Change> {
        if current.is_some_and(|c| c.sha256 == self.sha256()) {
            return None;
        }
        Some(match self.secret {
            Some(holds) => Change::SecretFile(crate::plan::SecretFileChange {
                path: self.path(),
                exists: current.is_some(),
                holds: holds.to_owned(),
                content: self.content.clone(),
            }),
            None => Change::owned_file(
                &self.path(),
                current.and_then(|c| c.content.as_deref()),
                self.content.clone(),
                0o600,
            ),
        })
    }
}

/// The add-on a file pikube wrote belongs to: `pikube-<addon>.yaml` or
/// `pikube-<addon>-secret.yaml`.
pub fn addon_of(file_name: &str) -> Option<&str> {
    let stem = file_name.strip_prefix("pikube-")?.strip_suffix(".yaml")?;
    Some(stem.strip_suffix("-secret").unwrap_or(stem))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_name_says_its_addon() {
        assert_eq!(addon_of("pikube-monitoring.yaml"), Some("monitoring"));
        assert_eq!(
            addon_of("pikube-monitoring-secret.yaml"),
            Some("monitoring")
        );
        assert_eq!(addon_of("traefik.yaml"), None);
        assert_eq!(addon_of("pikube-monitoring.yml"), None);
    }
}
