//! The cache: `<cache_dir>/<version>/<asset>` beside the release's checksum file.

use std::fs::Permissions;
use std::io::{self, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Instant;

use super::checksum::{expected_sha256, ChecksumProblem};
use super::fetch::Fetcher;
use super::url::redact;
use super::{ReleaseError, ReleaseSource};
use crate::config::Arch;
use crate::digest::Sha256;

/// A checksum file lists a few dozen assets; anything much bigger is not one.
const CHECKSUM_FILE_LIMIT: usize = 1024 * 1024;

/// A verified release asset in the cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedAsset {
    /// Where it is in the cache.
    pub path: PathBuf,
    /// Its digest, as published by the release.
    pub sha256: Sha256,
}

/// What pikube takes from a k3s release for one architecture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReleaseAsset {
    /// The k3s binary.
    Binary(Arch),
    /// The archive of the images K3s' system pods run, for offline nodes.
    AirgapImages(Arch),
}

impl ReleaseAsset {
    /// Its file name in the release.
    pub fn name(self) -> &'static str {
        match self {
            ReleaseAsset::Binary(arch) => arch.asset_name(),
            ReleaseAsset::AirgapImages(arch) => arch.airgap_images_asset(),
        }
    }

    fn arch(self) -> Arch {
        match self {
            ReleaseAsset::Binary(arch) | ReleaseAsset::AirgapImages(arch) => arch,
        }
    }

    /// What it is, for messages: `k3s v1.31.4+k3s1 for arm64`.
    pub fn describe(self, version: &str) -> String {
        match self {
            ReleaseAsset::Binary(arch) => format!("k3s {version} for {arch}"),
            ReleaseAsset::AirgapImages(arch) => {
                format!("the airgap images of k3s {version} for {arch}")
            }
        }
    }

    fn mode(self) -> u32 {
        match self {
            ReleaseAsset::Binary(_) => 0o755,
            ReleaseAsset::AirgapImages(_) => 0o644,
        }
    }
}

/// The k3s binary `version` for `arch` (see [`cached_asset`]).
pub async fn cached_binary(
    source: &ReleaseSource,
    version: &str,
    arch: Arch,
    cache_dir: &Path,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<CachedAsset, ReleaseError> {
    cached_asset(
        source,
        version,
        ReleaseAsset::Binary(arch),
        cache_dir,
        progress,
    )
    .await
}

/// `asset` of release `version`: from the cache when it is there and still matches its
/// checksum (without touching the network), otherwise downloaded from `source`, verified
/// against the architecture's checksum file and cached. `progress` gets a line at the
/// start and at the end of a download.
pub async fn cached_asset(
    source: &ReleaseSource,
    version: &str,
    asset: ReleaseAsset,
    cache_dir: &Path,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<CachedAsset, ReleaseError> {
    check_version(version)?;
    let dir = cache_dir.join(version);
    let file = dir.join(asset.name());
    let sums = dir.join(asset.arch().checksum_asset());

    if let Some(hit) = from_cache(&file, &sums, asset.name(), progress).await? {
        return Ok(hit);
    }

    let created = !dir.try_exists().map_err(io_at(&dir))?;
    std::fs::create_dir_all(&dir).map_err(io_at(&dir))?;
    let result = download(source, version, asset, &dir, progress).await;
    if result.is_err() && created {
        // Leave no empty version directory behind; fails harmlessly if anything is in it.
        let _ = std::fs::remove_dir(&dir);
    }
    result
}

/// The version becomes a directory name: only what k3s versions are made of, so a version
/// such as `../..` cannot point the cache anywhere else.
fn check_version(version: &str) -> Result<(), ReleaseError> {
    let valid = version.starts_with(|c: char| c.is_ascii_alphanumeric())
        && version
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '+' | '-' | '_'));
    if valid {
        Ok(())
    } else {
        Err(ReleaseError::InvalidVersion {
            version: version.to_owned(),
        })
    }
}

/// The cached asset if it is there and matches the cached checksum file. A damaged or
/// partial cache is not an error: it is downloaded again.
async fn from_cache(
    file: &Path,
    sums: &Path,
    asset: &str,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<Option<CachedAsset>, ReleaseError> {
    let sums_text = match std::fs::read_to_string(sums) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_at(sums)(e)),
    };
    let Ok(expected) = expected_sha256(&sums_text, asset) else {
        return Ok(None);
    };
    let Some(actual) = hash_file(file).await? else {
        return Ok(None);
    };
    if actual != expected {
        progress(&format!(
            "cached {} does not match its checksum; downloading it again",
            file.display()
        ));
        return Ok(None);
    }
    progress(&format!("using cached {}", file.display()));
    Ok(Some(CachedAsset {
        path: file.to_owned(),
        sha256: actual,
    }))
}

async fn download(
    source: &ReleaseSource,
    version: &str,
    release_asset: ReleaseAsset,
    dir: &Path,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<CachedAsset, ReleaseError> {
    let asset = release_asset.name();
    let checksum_asset = release_asset.arch().checksum_asset();
    let sums_url = source.asset_url(version, checksum_asset);
    let asset_url = source.asset_url(version, asset);
    progress(&format!(
        "downloading {} from {}",
        release_asset.describe(version),
        redact(&asset_url)
    ));
    let started = Instant::now();
    let fetcher = Fetcher::new()?;

    // The checksum comes first: without it there is nothing to verify against, and no
    // reason to fetch 70 MB (or 200 MB of images).
    let sums_text = fetcher.text(&sums_url, CHECKSUM_FILE_LIMIT).await?;
    let expected = expected_sha256(&sums_text, asset).map_err(|problem| match problem {
        ChecksumProblem::Missing => ReleaseError::NoChecksum {
            url: redact(&sums_url),
            asset: asset.to_owned(),
        },
        ChecksumProblem::Malformed { line } => ReleaseError::BadChecksum {
            url: redact(&sums_url),
            asset: asset.to_owned(),
            line,
        },
    })?;

    // In the cache directory so the final rename stays on one filesystem; deleted on drop if
    // anything below fails.
    let part = tempfile::Builder::new()
        .prefix(&format!(".{asset}."))
        .suffix(".part")
        .tempfile_in(dir)
        .map_err(io_at(dir))?;
    let std_file = part.as_file().try_clone().map_err(io_at(part.path()))?;
    let mut file = tokio::fs::File::from_std(std_file);
    let got = fetcher.to_file(&asset_url, &mut file, part.path()).await?;
    drop(file);
    if got.sha256 != expected {
        return Err(ReleaseError::Mismatch {
            url: redact(&asset_url),
            asset: asset.to_owned(),
            expected,
            actual: got.sha256,
        });
    }
    part.as_file()
        .set_permissions(Permissions::from_mode(release_asset.mode()))
        .map_err(io_at(part.path()))?;
    let file = dir.join(asset);
    part.persist(&file).map_err(|e| io_at(&file)(e.error))?;
    // Written after the asset: a checksum file in the cache vouches for verified assets.
    write_atomically(dir, &dir.join(checksum_asset), &sums_text)?;

    progress(&format!(
        "downloaded {asset} ({:.1} MB) in {:.1} s",
        got.bytes as f64 / 1_000_000.0,
        started.elapsed().as_secs_f64()
    ));
    Ok(CachedAsset {
        path: file,
        sha256: got.sha256,
    })
}

/// sha256 of a file, `None` if it does not exist.
async fn hash_file(path: &Path) -> Result<Option<Sha256>, ReleaseError> {
    match file_sha256(path).await {
        Ok(hash) => Ok(Some(hash)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_at(path)(e)),
    }
}

/// The sha256 of a file. Hashing 70 MB (or 200 MB of images) blocks for a moment, so it
/// runs off the async threads.
pub(crate) async fn file_sha256(path: &Path) -> io::Result<Sha256> {
    let owned = path.to_owned();
    tokio::task::spawn_blocking(move || Sha256::of_file(&owned))
        .await
        .map_err(io::Error::other)?
}

fn write_atomically(dir: &Path, path: &Path, text: &str) -> Result<(), ReleaseError> {
    let mut file = tempfile::NamedTempFile::new_in(dir).map_err(io_at(dir))?;
    file.write_all(text.as_bytes()).map_err(io_at(path))?;
    file.as_file()
        .set_permissions(Permissions::from_mode(0o644))
        .map_err(io_at(path))?;
    file.as_file().sync_all().map_err(io_at(path))?;
    file.persist(path).map_err(|e| io_at(path)(e.error))?;
    Ok(())
}

fn io_at(path: &Path) -> impl Fn(io::Error) -> ReleaseError + '_ {
    move |cause| ReleaseError::Io {
        path: path.to_owned(),
        cause,
    }
}
