//! Image archives in the format K3s' release ships (`docker save`: manifest.json with
//! `RepoTags`, the config, the layers), made by a real tool: go-containerregistry's `crane`
//! (from tests/real-registry) appends a one-file layer onto an empty base and writes the
//! image to a tarball, with no registry. A `.tar.zst` name is compressed by the zstd CLI,
//! as the release's `k3s-airgap-images-<arch>.tar.zst` is.

use std::path::{Path, PathBuf};
use std::process::Command;

fn run(command: &mut Command) {
    let out = command
        .output()
        .unwrap_or_else(|e| panic!("{command:?}: {e}"));
    assert!(
        out.status.success(),
        "{command:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Writes `dir/file`: one image named `tag` whose one layer holds `content` as
/// `/image.txt`. Returns its path.
pub fn image_archive(dir: &Path, file: &str, tag: &str, content: &str) -> PathBuf {
    let work = tempfile::tempdir().unwrap();
    std::fs::write(work.path().join("image.txt"), content).unwrap();
    run(Command::new("tar")
        .current_dir(work.path())
        .args(["-cf", "layer.tar", "image.txt"]));
    let tarball = work.path().join("image.tar");
    run(
        Command::new(pikube_test_support::real_programs::real_registry_bin().join("crane"))
            .args(["append", "-f", "layer.tar", "-t", tag, "-o"])
            .arg(&tarball)
            .current_dir(work.path()),
    );
    let out = dir.join(file);
    if file.ends_with(".tar.zst") {
        run(Command::new("zstd")
            .args(["-q", "-f"])
            .arg(&tarball)
            .arg("-o")
            .arg(&out));
    } else {
        std::fs::copy(&tarball, &out).unwrap();
    }
    out
}
