//! The cache: `<cache_dir>/<version>/<asset>` beside the release's checksum file.

use std::fs::Permissions;
use std::io::{self, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Instant;

use sha2::{Digest, Sha256};

use super::checksum::{expected_sha256, ChecksumProblem};
use super::fetch::Fetcher;
use super::url::redact;
use super::{ReleaseArch, ReleaseError, ReleaseSource};

/// A checksum file lists a few dozen assets; anything much bigger is not one.
const CHECKSUM_FILE_LIMIT: usize = 1024 * 1024;

/// A verified k3s binary in the cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedBinary {
    pub path: PathBuf,
    /// Lowercase hex, as published by the release.
    pub sha256: String,
}

/// The k3s binary `version` for `arch`: from the cache when it is there and still matches
/// its checksum (without touching the network), otherwise downloaded from `source`,
/// verified and cached. `progress` gets a line at the start and at the end of a download.
pub async fn cached_binary(
    source: &ReleaseSource,
    version: &str,
    arch: ReleaseArch,
    cache_dir: &Path,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<CachedBinary, ReleaseError> {
    check_version(version)?;
    let dir = cache_dir.join(version);
    let binary = dir.join(arch.asset_name());
    let sums = dir.join(arch.checksum_asset());

    if let Some(hit) = from_cache(&binary, &sums, arch.asset_name(), progress).await? {
        return Ok(hit);
    }

    let created = !dir.try_exists().map_err(io_at(&dir))?;
    std::fs::create_dir_all(&dir).map_err(io_at(&dir))?;
    let result = download(source, version, arch, &dir, progress).await;
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

/// The cached binary if it is there and matches the cached checksum file. A damaged or
/// partial cache is not an error: it is downloaded again.
async fn from_cache(
    binary: &Path,
    sums: &Path,
    asset: &str,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<Option<CachedBinary>, ReleaseError> {
    let sums_text = match std::fs::read_to_string(sums) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_at(sums)(e)),
    };
    let Ok(expected) = expected_sha256(&sums_text, asset) else {
        return Ok(None);
    };
    let Some(actual) = hash_file(binary).await? else {
        return Ok(None);
    };
    if actual != expected {
        progress(&format!(
            "cached {} does not match its checksum; downloading it again",
            binary.display()
        ));
        return Ok(None);
    }
    progress(&format!("using cached {}", binary.display()));
    Ok(Some(CachedBinary {
        path: binary.to_owned(),
        sha256: actual,
    }))
}

async fn download(
    source: &ReleaseSource,
    version: &str,
    arch: ReleaseArch,
    dir: &Path,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<CachedBinary, ReleaseError> {
    let asset = arch.asset_name();
    let sums_url = source.asset_url(version, arch.checksum_asset());
    let binary_url = source.asset_url(version, asset);
    progress(&format!(
        "downloading k3s {version} for {arch} from {}",
        redact(&binary_url)
    ));
    let started = Instant::now();
    let fetcher = Fetcher::new()?;

    // The checksum comes first: without it there is nothing to verify against, and no
    // reason to fetch 70 MB.
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
    let got = fetcher.to_file(&binary_url, &mut file, part.path()).await?;
    drop(file);
    if got.sha256 != expected {
        return Err(ReleaseError::Mismatch {
            url: redact(&binary_url),
            asset: asset.to_owned(),
            expected,
            actual: got.sha256,
        });
    }
    part.as_file()
        .set_permissions(Permissions::from_mode(0o755))
        .map_err(io_at(part.path()))?;
    let binary = dir.join(asset);
    part.persist(&binary).map_err(|e| io_at(&binary)(e.error))?;
    // Written after the binary: a checksum file in the cache vouches for a verified binary.
    write_atomically(dir, &dir.join(arch.checksum_asset()), &sums_text)?;

    progress(&format!(
        "downloaded {asset} ({:.1} MB) in {:.1} s",
        got.bytes as f64 / 1_000_000.0,
        started.elapsed().as_secs_f64()
    ));
    Ok(CachedBinary {
        path: binary,
        sha256: got.sha256,
    })
}

/// sha256 of a file, `None` if it does not exist. Hashing 70 MB blocks for a moment, so it
/// runs off the async threads.
async fn hash_file(path: &Path) -> Result<Option<String>, ReleaseError> {
    let owned = path.to_owned();
    let hashed = tokio::task::spawn_blocking(move || -> io::Result<String> {
        let mut file = std::fs::File::open(&owned)?;
        let mut hasher = Sha256::new();
        io::copy(&mut file, &mut hasher)?;
        Ok(format!("{:x}", hasher.finalize()))
    })
    .await
    .map_err(|e| io_at(path)(io::Error::other(e.to_string())))?;
    match hashed {
        Ok(hash) => Ok(Some(hash)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_at(path)(e)),
    }
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
    move |source| ReleaseError::Io {
        path: path.to_owned(),
        source,
    }
}
