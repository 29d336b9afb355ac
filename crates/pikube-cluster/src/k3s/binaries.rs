//! The k3s binary for each architecture in the fleet, and its airgap images where wanted:
//! local files from `[k3s.binary]` / `[k3s.images]` (controllers that are offline too), or
//! the official release's assets, downloaded once and cached.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use super::desired::{BinaryArtifact, ImagesArtifact};
use super::paths::{IMAGES_DIR, IMAGES_FILE_STEM};
use crate::config::{Arch, ClusterConfig, ImageArchiveKind, Sha256};
use crate::k3s_release::{cached_asset, file_sha256, ReleaseAsset, ReleaseError, ReleaseSource};

/// Why the binary (or images) for an architecture could not be had; no node gets K3s.
#[derive(Debug, thiserror::Error)]
pub enum BinaryError {
    /// A local file named in cluster.toml could not be read.
    #[error("k3s.{table}.{arch}: {path}: {causes}", causes = crate::error_chain::describe(cause))]
    Local {
        /// The table of cluster.toml (`binary`, `images`, `sha256`...).
        table: &'static str,
        /// Its key.
        arch: Arch,
        /// The file.
        path: PathBuf,
        /// Why.
        cause: std::io::Error,
    },
    #[error(
        "k3s.{table}.{arch}: {path} has SHA-256 {actual}, not the pinned {expected}; it is not \
         what you pinned, so no node gets it (if the release changed on purpose, pin the new \
         digest)"
    )]
    /// The file is not the one pinned.
    Pinned {
        /// The table of cluster.toml (`binary`, `images`, `sha256`...).
        table: &'static str,
        /// Its key.
        arch: Arch,
        /// The file.
        path: PathBuf,
        /// The pinned digest.
        expected: Sha256,
        /// The file's.
        actual: Sha256,
    },
    /// The release asset could not be downloaded or verified.
    #[error("{what}: {causes}", causes = crate::error_chain::describe(cause))]
    Download {
        /// The asset, in words.
        what: String,
        /// Why.
        cause: ReleaseError,
    },
}

/// The binary (and images) for each of `arches`, the builds the fleet's nodes run.
pub async fn resolve_binaries(
    config: &ClusterConfig,
    arches: &BTreeSet<Arch>,
    source: &ReleaseSource,
    cache_dir: &Path,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<BTreeMap<Arch, BinaryArtifact>, BinaryError> {
    let version = config.k3s.version.to_string();
    let version = version.as_str();
    let fetch = |asset: ReleaseAsset| async move {
        cached_asset(source, version, asset, cache_dir, progress)
            .await
            .map(|cached| (cached.path, cached.sha256))
            .map_err(|cause| BinaryError::Download {
                what: asset.describe(version),
                cause,
            })
    };
    let mut out = BTreeMap::new();
    for &arch in arches {
        let (path, sha256) = match config.k3s.binary(arch) {
            Some(path) => local_file("binary", arch, path).await?,
            None => fetch(ReleaseAsset::Binary(arch)).await?,
        };
        pinned(
            "sha256",
            arch,
            config.k3s.binary_sha256.get(&arch),
            &path,
            &sha256,
        )?;
        let images = if config.k3s.wants_images(arch) {
            let (path, sha256) = match config.k3s.images.get(&arch) {
                Some(path) => local_file("images", arch, path).await?,
                None => fetch(ReleaseAsset::AirgapImages(arch)).await?,
            };
            let pin = config.k3s.images_sha256.get(&arch);
            pinned("images_sha256", arch, pin, &path, &sha256)?;
            Some(ImagesArtifact::new(path, sha256))
        } else {
            None
        };
        let size = std::fs::metadata(&path)
            .map(|m| m.len())
            .unwrap_or_default();
        out.insert(
            arch,
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

/// The asset at `path` (hashing to `sha256`) against the digest cluster.toml pins, if any.
fn pinned(
    table: &'static str,
    arch: Arch,
    pin: Option<&Sha256>,
    path: &Path,
    sha256: &Sha256,
) -> Result<(), BinaryError> {
    match pin {
        Some(expected) if expected != sha256 => Err(BinaryError::Pinned {
            table,
            arch,
            path: path.to_owned(),
            expected: expected.clone(),
            actual: sha256.clone(),
        }),
        _ => Ok(()),
    }
}

/// A local file and its sha256.
async fn local_file(
    table: &'static str,
    arch: Arch,
    path: &Path,
) -> Result<(PathBuf, Sha256), BinaryError> {
    file_sha256(path)
        .await
        .map(|sha256| (path.to_owned(), sha256))
        .map_err(|cause| BinaryError::Local {
            table,
            arch,
            path: path.to_owned(),
            cause,
        })
}

impl ImagesArtifact {
    fn new(path: PathBuf, sha256: Sha256) -> ImagesArtifact {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_binary_or_archive_that_is_not_the_pinned_one_goes_to_no_node() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("k3s"), b"a k3s binary").unwrap();
        std::fs::write(dir.path().join("images.tar"), b"an image archive").unwrap();
        let binary = Sha256::of(b"a k3s binary").to_string();
        let images = Sha256::of(b"an image archive").to_string();
        let config = |binary_pin: &str, images_pin: &str| {
            let text = format!(
                "[cluster]\nname = \"lab\"\n[k3s]\nversion = \"v1.31.4+k3s1\"\n\
                 [k3s.binary]\narm64 = \"k3s\"\n[k3s.images]\narm64 = \"images.tar\"\n\
                 [k3s.sha256]\narm64 = \"{binary_pin}\"\n\
                 [k3s.images_sha256]\narm64 = \"{images_pin}\"\n\
                 [[nodes]]\nname = \"a\"\naddress = \"10.0.0.1\"\nrole = \"server\"\n"
            );
            let path = dir.path().join("cluster.toml");
            std::fs::write(&path, text).unwrap();
            crate::config::load(&path).unwrap().config
        };
        let arches: BTreeSet<Arch> = [Arch::Arm64].into();
        let source = ReleaseSource::new("http://127.0.0.1:9/unused");
        let resolve = |config: ClusterConfig| {
            let arches = arches.clone();
            let source = source.clone();
            let cache = dir.path().join("cache");
            async move { resolve_binaries(&config, &arches, &source, &cache, &|_| {}).await }
        };

        let both = resolve(config(&binary.to_uppercase(), &images))
            .await
            .unwrap();
        assert_eq!(both[&Arch::Arm64].sha256.as_str(), binary);

        let wrong = "0".repeat(64);
        let err = resolve(config(&wrong, &images))
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("k3s.sha256.arm64: ")
                && err.contains(&format!("has SHA-256 {binary}, not the pinned {wrong}")),
            "{err}"
        );
        let err = resolve(config(&binary, &wrong))
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("k3s.images_sha256.arm64: ")
                && err.contains(&format!("has SHA-256 {images}")),
            "{err}"
        );
    }
}
