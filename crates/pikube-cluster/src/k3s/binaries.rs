//! The k3s binary for each architecture in the fleet, and its airgap images where wanted:
//! local files from `[k3s.binary]` / `[k3s.images]` (controllers that are offline too), or
//! the official release's assets, downloaded once and cached.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use super::desired::{BinaryArtifact, ImagesArtifact};
use super::paths::{IMAGES_DIR, IMAGES_FILE_STEM};
use crate::config::{Arch, ClusterConfig, ImageArchiveKind};
use crate::k3s_release::{cached_asset, file_sha256, ReleaseAsset, ReleaseError, ReleaseSource};

#[derive(Debug, thiserror::Error)]
pub enum BinaryError {
    #[error("k3s.{table}.{arch}: {path}: {source}")]
    Local {
        table: &'static str,
        arch: Arch,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{what}: {source}")]
    Download {
        what: String,
        #[source]
        source: ReleaseError,
    },
}

/// `arches`: architecture names as the nodes report them (`amd64`, `arm64`, `armhf`, …);
/// ones k3s has no build for are left out (their nodes fail with that reason).
pub async fn resolve_binaries(
    config: &ClusterConfig,
    arches: &BTreeSet<String>,
    source: &ReleaseSource,
    cache_dir: &Path,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<BTreeMap<String, BinaryArtifact>, BinaryError> {
    let version = config.k3s.version.to_string();
    let version = version.as_str();
    let fetch = |asset: ReleaseAsset| async move {
        cached_asset(source, version, asset, cache_dir, progress)
            .await
            .map(|cached| (cached.path, cached.sha256))
            .map_err(|source| BinaryError::Download {
                what: asset.describe(version),
                source,
            })
    };
    let mut out = BTreeMap::new();
    for name in arches {
        let Some(arch) = known_arch(name) else {
            continue;
        };
        let (path, sha256) = match config.k3s.binary(arch) {
            Some(path) => local_file("binary", arch, path).await?,
            None => fetch(ReleaseAsset::Binary(arch)).await?,
        };
        let images = if config.k3s.wants_images(arch) {
            let (path, sha256) = match config.k3s.images.get(&arch) {
                Some(path) => local_file("images", arch, path).await?,
                None => fetch(ReleaseAsset::AirgapImages(arch)).await?,
            };
            Some(ImagesArtifact::new(path, sha256))
        } else {
            None
        };
        let size = std::fs::metadata(&path)
            .map(|m| m.len())
            .unwrap_or_default();
        out.insert(
            name.clone(),
            BinaryArtifact {
                path,
                sha256,
                size,
                version: version.to_owned(),
                images,
            },
        );
    }
    Ok(out)
}

fn known_arch(name: &str) -> Option<Arch> {
    match name {
        "amd64" | "arm64" | "armhf" => Arch::from_uname_machine(name),
        _ => None,
    }
}

/// A local file and its sha256.
async fn local_file(
    table: &'static str,
    arch: Arch,
    path: &Path,
) -> Result<(PathBuf, String), BinaryError> {
    file_sha256(path)
        .await
        .map(|sha256| (path.to_owned(), sha256))
        .map_err(|source| BinaryError::Local {
            table,
            arch,
            path: path.to_owned(),
            source,
        })
}

impl ImagesArtifact {
    fn new(path: PathBuf, sha256: String) -> ImagesArtifact {
        // Local archives were checked when cluster.toml was read, and the release's are
        // `.tar.zst`, which is also what a name K3s would not import is sent as.
        let extension = ImageArchiveKind::of(&path).map_or(".tar.zst", |kind| kind.extension());
        let size = std::fs::metadata(&path)
            .map(|m| m.len())
            .unwrap_or_default();
        ImagesArtifact {
            path,
            sha256,
            size,
            remote: format!("{IMAGES_DIR}/{IMAGES_FILE_STEM}{extension}"),
        }
    }
}
