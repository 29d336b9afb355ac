//! Downloading, verifying and caching the k3s binary, against a real HTTP server on
//! loopback and a real cache directory.

#[path = "k3s_release/fake_release.rs"]
mod fake_release;

use std::ffi::OsStr;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use fake_release::FakeRelease;
use pikube_cluster::config::Arch;
use pikube_cluster::k3s_release::{
    cache_dir_for, cached_asset, cached_binary, CachedAsset, ReleaseAsset, ReleaseError,
    ReleaseSource,
};
use sha2::{Digest, Sha256};

const VERSION: &str = "v1.31.4+k3s1";
/// How the version must appear in request paths.
const ENCODED: &str = "v1.31.4%2Bk3s1";

/// Stands in for k3s: big enough to arrive in many chunks, different for each arch.
fn fake_binary(arch: Arch) -> Vec<u8> {
    (0..300_000u32)
        .map(|i| (i.wrapping_mul(31) ^ arch as u32) as u8)
        .collect()
}

fn sha256_hex(bytes: &[u8]) -> String {
    format!("{:x}", Sha256::digest(bytes))
}

/// A checksum file like k3s publishes: the airgap tarball first, whose name starts with
/// the amd64 binary's name.
fn checksum_file(arch: Arch, binary_hash: &str) -> String {
    let airgap = sha256_hex(b"airgap images");
    format!(
        "{airgap}  k3s-airgap-images-{arch}.tar\n{binary_hash}  {}\n",
        arch.asset_name()
    )
}

/// Publishes `binary` for `arch` (binary behind a redirect) with a matching checksum file.
fn publish(server: &FakeRelease, arch: Arch, binary: &[u8]) {
    server.put(
        &format!("download/{ENCODED}/{}", arch.checksum_asset()),
        checksum_file(arch, &sha256_hex(binary)),
    );
    server.put_redirected(&format!("download/{ENCODED}/{}", arch.asset_name()), binary);
}

struct Run {
    result: Result<CachedAsset, ReleaseError>,
    progress: Vec<String>,
}

async fn run(server: &FakeRelease, arch: Arch, cache: &Path) -> Run {
    let lines = Mutex::new(Vec::new());
    let progress = |line: &str| lines.lock().unwrap().push(line.to_owned());
    let source = ReleaseSource::new(&server.base_url);
    let result = cached_binary(&source, VERSION, arch, cache, &progress).await;
    Run {
        result,
        progress: lines.into_inner().unwrap(),
    }
}

/// Every file under `dir`, relative, sorted; empty if `dir` does not exist.
fn files_under(dir: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        let Ok(entries) = fs::read_dir(dir) else {
            return;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                out.push(path.strip_prefix(root).unwrap().display().to_string());
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

#[tokio::test]
async fn downloads_verifies_and_caches() {
    let server = FakeRelease::start().await;
    let binary = fake_binary(Arch::Arm64);
    publish(&server, Arch::Arm64, &binary);
    let cache = tempfile::tempdir().unwrap();

    let run = run(&server, Arch::Arm64, cache.path()).await;
    let cached = run.result.expect("download succeeds");

    let expected_path = cache.path().join(VERSION).join("k3s-arm64");
    assert_eq!(cached.path, expected_path);
    assert_eq!(cached.sha256.as_str(), sha256_hex(&binary));
    assert_eq!(fs::read(&expected_path).unwrap(), binary);
    let mode = fs::metadata(&expected_path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o755);
    assert_eq!(
        files_under(cache.path()),
        [
            format!("{VERSION}/k3s-arm64"),
            format!("{VERSION}/sha256sum-arm64.txt")
        ],
        "binary and checksum file, no temporary file"
    );

    // `+` went out as %2B, the checksum before the binary, and the redirect was followed.
    let requests = server.requests();
    assert_eq!(requests.len(), 3, "{requests:?}");
    assert!(requests[0].ends_with(&format!("/download/{ENCODED}/sha256sum-arm64.txt")));
    assert!(requests[1].ends_with(&format!("/download/{ENCODED}/k3s-arm64")));
    assert!(requests[2].starts_with("/objects/"));
    assert!(requests.iter().all(|r| !r.contains('+')), "{requests:?}");

    assert_eq!(run.progress.len(), 2, "{:?}", run.progress);
    assert_eq!(
        run.progress[0],
        format!(
            "downloading k3s {VERSION} for arm64 from {}/download/{ENCODED}/k3s-arm64",
            server.base_url
        )
    );
    assert!(
        run.progress[1].starts_with("downloaded k3s-arm64 (0.3 MB) in "),
        "{}",
        run.progress[1]
    );
}

/// The airgap image archive: named `arm` for armhf, verified against the same checksum file
/// as the binary, cached beside it, not executable; a wrong one is refused.
#[tokio::test]
async fn airgap_images_are_verified_and_cached_beside_the_binary() {
    let server = FakeRelease::start().await;
    let binary = fake_binary(Arch::Armhf);
    let images: Vec<u8> = fake_binary(Arch::Amd64).into_iter().rev().collect();
    let sums = format!(
        "{}  k3s-airgap-images-arm.tar\n{}  k3s-airgap-images-arm.tar.zst\n{}  k3s-armhf\n",
        sha256_hex(b"the plain tarball"),
        sha256_hex(&images),
        sha256_hex(&binary)
    );
    server.put(&format!("download/{ENCODED}/sha256sum-arm.txt"), sums);
    server.put(&format!("download/{ENCODED}/k3s-armhf"), binary.clone());
    server.put_redirected(
        &format!("download/{ENCODED}/k3s-airgap-images-arm.tar.zst"),
        images.clone(),
    );
    let cache = tempfile::tempdir().unwrap();
    let source = ReleaseSource::new(&server.base_url);
    let lines = Mutex::new(Vec::new());
    let progress = |line: &str| lines.lock().unwrap().push(line.to_owned());

    let asset = ReleaseAsset::AirgapImages(Arch::Armhf);
    let cached = cached_asset(&source, VERSION, asset, cache.path(), &progress)
        .await
        .expect("images download");
    assert_eq!(cached.sha256.as_str(), sha256_hex(&images));
    assert_eq!(fs::read(&cached.path).unwrap(), images);
    let mode = fs::metadata(&cached.path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o644);
    assert!(lines.lock().unwrap()[0].starts_with(&format!(
        "downloading the airgap images of k3s {VERSION} for armhf from "
    )));
    let binary_cached = cached_binary(&source, VERSION, Arch::Armhf, cache.path(), &progress)
        .await
        .expect("binary download");
    assert_eq!(fs::read(&binary_cached.path).unwrap(), binary);
    assert_eq!(
        files_under(cache.path()),
        [
            format!("{VERSION}/k3s-airgap-images-arm.tar.zst"),
            format!("{VERSION}/k3s-armhf"),
            format!("{VERSION}/sha256sum-arm.txt")
        ]
    );
    // From the cache now, without asking the server.
    let asked = server.requests().len();
    cached_asset(&source, VERSION, asset, cache.path(), &progress)
        .await
        .unwrap();
    assert_eq!(server.requests().len(), asked);

    // Tampered in transit (another version's archive): refused, nothing cached.
    let other = "v1.32.0+k3s1";
    server.put(
        "download/v1.32.0%2Bk3s1/sha256sum-arm.txt",
        format!("{}  k3s-airgap-images-arm.tar.zst\n", sha256_hex(b"other")),
    );
    server.put(
        "download/v1.32.0%2Bk3s1/k3s-airgap-images-arm.tar.zst",
        images.clone(),
    );
    let err = cached_asset(&source, other, asset, cache.path(), &progress)
        .await
        .unwrap_err();
    assert!(matches!(err, ReleaseError::Mismatch { .. }), "{err}");
    assert!(!cache.path().join(other).exists());
}

#[tokio::test]
async fn a_good_cache_needs_no_network() {
    let server = FakeRelease::start().await;
    let binary = fake_binary(Arch::Arm64);
    publish(&server, Arch::Arm64, &binary);
    let cache = tempfile::tempdir().unwrap();
    let first = run(&server, Arch::Arm64, cache.path())
        .await
        .result
        .unwrap();
    server.forget_requests();

    let second = run(&server, Arch::Arm64, cache.path()).await;
    assert_eq!(second.result.unwrap(), first);
    assert_eq!(server.requests(), Vec::<String>::new());
    assert_eq!(second.progress.len(), 1);
    assert!(
        second.progress[0].starts_with("using cached "),
        "{:?}",
        second.progress
    );
}

#[tokio::test]
async fn a_corrupted_cache_is_downloaded_again() {
    let server = FakeRelease::start().await;
    let binary = fake_binary(Arch::Arm64);
    publish(&server, Arch::Arm64, &binary);
    let cache = tempfile::tempdir().unwrap();
    let first = run(&server, Arch::Arm64, cache.path())
        .await
        .result
        .unwrap();
    fs::write(&first.path, b"truncated").unwrap();
    server.forget_requests();

    let again = run(&server, Arch::Arm64, cache.path()).await;
    assert_eq!(again.result.unwrap(), first);
    assert_eq!(fs::read(&first.path).unwrap(), binary);
    assert_eq!(server.requests().len(), 3);
    assert!(
        again.progress[0].contains("does not match its checksum"),
        "{:?}",
        again.progress
    );
}

#[tokio::test]
async fn a_wrong_checksum_is_refused_and_nothing_is_cached() {
    let server = FakeRelease::start().await;
    let binary = fake_binary(Arch::Arm64);
    let wrong = sha256_hex(b"something else");
    server.put(
        &format!("download/{ENCODED}/sha256sum-arm64.txt"),
        checksum_file(Arch::Arm64, &wrong),
    );
    server.put_redirected(&format!("download/{ENCODED}/k3s-arm64"), binary.clone());
    let cache = tempfile::tempdir().unwrap();

    let error = run(&server, Arch::Arm64, cache.path())
        .await
        .result
        .unwrap_err();
    assert!(matches!(error, ReleaseError::Mismatch { .. }), "{error:?}");
    let message = error.to_string();
    for part in [
        wrong.as_str(),
        &sha256_hex(&binary),
        "k3s-arm64",
        &format!("{}/download/{ENCODED}/k3s-arm64", server.base_url),
    ] {
        assert!(message.contains(part), "{message} lacks {part}");
    }
    assert_eq!(files_under(cache.path()), Vec::<String>::new());
    assert!(!cache.path().join(VERSION).exists());
}

#[tokio::test]
async fn a_missing_release_says_so() {
    let server = FakeRelease::start().await;
    let cache = tempfile::tempdir().unwrap();

    let error = run(&server, Arch::Arm64, cache.path())
        .await
        .result
        .unwrap_err();
    let message = error.to_string();
    let url = format!("{}/download/{ENCODED}/sha256sum-arm64.txt", server.base_url);
    assert!(message.contains(&url), "{message}");
    assert!(message.contains("HTTP 404"), "{message}");
    assert!(
        message.contains("no such release asset: is the version right?"),
        "{message}"
    );
    assert!(!cache.path().join(VERSION).exists());
}

#[tokio::test]
async fn a_checksum_file_without_the_asset_says_so() {
    let server = FakeRelease::start().await;
    // Only the airgap tarball is listed: its name starts with `k3s` but is not `k3s`.
    let airgap_only = format!("{}  k3s-airgap-images-amd64.tar\n", sha256_hex(b"x"));
    server.put(
        &format!("download/{ENCODED}/sha256sum-amd64.txt"),
        airgap_only,
    );
    server.put(&format!("download/{ENCODED}/k3s"), fake_binary(Arch::Amd64));
    let cache = tempfile::tempdir().unwrap();

    let error = run(&server, Arch::Amd64, cache.path())
        .await
        .result
        .unwrap_err();
    let message = error.to_string();
    assert!(
        message.contains("has no checksum line for `k3s`"),
        "{message}"
    );
    assert!(message.contains("sha256sum-amd64.txt"), "{message}");
    assert_eq!(server.requests().len(), 1, "the binary is not fetched");
    assert!(!cache.path().join(VERSION).exists());
}

#[tokio::test]
async fn armhf_uses_the_arm_checksum_file() {
    let server = FakeRelease::start().await;
    let binary = fake_binary(Arch::Armhf);
    publish(&server, Arch::Armhf, &binary);
    let cache = tempfile::tempdir().unwrap();

    let cached = run(&server, Arch::Armhf, cache.path())
        .await
        .result
        .unwrap();
    assert_eq!(cached.path, cache.path().join(VERSION).join("k3s-armhf"));
    assert!(server.requests()[0].ends_with("/sha256sum-arm.txt"));
}

#[tokio::test]
async fn a_version_that_is_not_one_is_refused_before_any_request() {
    let server = FakeRelease::start().await;
    let cache = tempfile::tempdir().unwrap();
    let source = ReleaseSource::new(&server.base_url);
    for version in ["../../etc", "", "v1.31/../x", ".hidden"] {
        let error = cached_binary(&source, version, Arch::Arm64, cache.path(), &|_| {})
            .await
            .unwrap_err();
        assert!(
            matches!(error, ReleaseError::InvalidVersion { .. }),
            "{error:?}"
        );
    }
    assert_eq!(server.requests(), Vec::<String>::new());
    assert_eq!(files_under(cache.path()), Vec::<String>::new());
}

#[tokio::test]
async fn an_unreachable_host_names_the_url() {
    // Bind then drop, so the port is (almost certainly) closed.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let source = ReleaseSource::new(&format!("http://127.0.0.1:{port}/releases"));
    let cache = tempfile::tempdir().unwrap();
    let error = cached_binary(&source, VERSION, Arch::Arm64, cache.path(), &|_| {})
        .await
        .unwrap_err();
    let message = error.to_string();
    assert!(message.starts_with(&format!("http://127.0.0.1:{port}/releases/download/")));
    assert!(message.to_lowercase().contains("connect"), "{message}");
}

#[test]
fn cache_dir_follows_xdg() {
    let home = Path::new("/home/pi");
    assert_eq!(
        cache_dir_for(None, home),
        PathBuf::from("/home/pi/.cache/pikube/k3s")
    );
    assert_eq!(
        cache_dir_for(Some(OsStr::new("/var/cache/me")), home),
        PathBuf::from("/var/cache/me/pikube/k3s")
    );
    // A relative XDG_CACHE_HOME is invalid by the spec and ignored.
    assert_eq!(
        cache_dir_for(Some(OsStr::new("relative")), home),
        PathBuf::from("/home/pi/.cache/pikube/k3s")
    );
    assert_eq!(
        cache_dir_for(Some(OsStr::new("")), home),
        PathBuf::from("/home/pi/.cache/pikube/k3s")
    );
}

#[test]
fn arch_asset_names_match_the_release() {
    let cases = [
        (Arch::Amd64, "k3s", "sha256sum-amd64.txt", "amd64"),
        (Arch::Arm64, "k3s-arm64", "sha256sum-arm64.txt", "arm64"),
        (Arch::Armhf, "k3s-armhf", "sha256sum-arm.txt", "armhf"),
    ];
    for (arch, asset, sums, shown) in cases {
        assert_eq!(arch.asset_name(), asset);
        assert_eq!(arch.checksum_asset(), sums);
        assert_eq!(arch.to_string(), shown);
    }
}
