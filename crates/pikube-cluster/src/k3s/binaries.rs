//! The k3s binary for each architecture in the fleet: a local file from `[k3s.binary]`
//! (air-gapped installs), or the official release, downloaded once and cached.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::desired::BinaryArtifact;
use crate::config::{Arch, ClusterConfig};
use crate::k3s_release::{cached_binary, ReleaseArch, ReleaseError, ReleaseSource};

#[derive(Debug, thiserror::Error)]
pub enum BinaryError {
    #[error("k3s.binary.{arch}: {path}: {source}")]
    Local {
        arch: String,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("k3s {version} for {arch}: {source}")]
    Download {
        version: String,
        arch: String,
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
    let mut out = BTreeMap::new();
    for name in arches {
        let Some(arch) = known_arch(name) else {
            continue;
        };
        let artifact = match config.k3s.binaries.get(&arch) {
            Some(path) => {
                local_artifact(path, &version)
                    .await
                    .map_err(|source| BinaryError::Local {
                        arch: name.clone(),
                        path: path.clone(),
                        source,
                    })?
            }
            None => {
                let release_arch = match arch {
                    Arch::Amd64 => ReleaseArch::Amd64,
                    Arch::Arm64 => ReleaseArch::Arm64,
                    Arch::Armhf => ReleaseArch::Armhf,
                };
                let download = |source| BinaryError::Download {
                    version: version.clone(),
                    arch: name.clone(),
                    source,
                };
                let cached = cached_binary(source, &version, release_arch, cache_dir, progress)
                    .await
                    .map_err(download)?;
                let size = std::fs::metadata(&cached.path)
                    .map(|m| m.len())
                    .unwrap_or_default();
                BinaryArtifact {
                    path: cached.path,
                    sha256: cached.sha256,
                    size,
                    version: version.clone(),
                }
            }
        };
        out.insert(name.clone(), artifact);
    }
    Ok(out)
}

fn known_arch(name: &str) -> Option<Arch> {
    match name {
        "amd64" | "arm64" | "armhf" => Arch::from_uname_machine(name),
        _ => None,
    }
}

async fn local_artifact(path: &Path, version: &str) -> std::io::Result<BinaryArtifact> {
    let path = path.to_owned();
    let version = version.to_owned();
    // Hashing ~70 MB takes a moment: off the async threads.
    tokio::task::spawn_blocking(move || {
        let mut file = std::fs::File::open(&path)?;
        let mut hasher = Sha256::new();
        let mut buffer = vec![0; 1 << 16];
        let mut size = 0u64;
        loop {
            let n = file.read(&mut buffer)?;
            if n == 0 {
                break;
            }
            size += n as u64;
            hasher.update(&buffer[..n]);
        }
        let sha256 = hasher
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        Ok(BinaryArtifact {
            path,
            sha256,
            size,
            version,
        })
    })
    .await
    .map_err(std::io::Error::other)?
}
