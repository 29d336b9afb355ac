//! The real programs tests run beside pikube (etcd and the Kubernetes control plane; an OCI
//! registry), each built once per machine by a script under `tests/` and cached there.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

/// The directory of the real control-plane programs (`etcd`, `etcdctl`, `etcdutl`,
/// `kube-apiserver`, `kubectl`, …): `$PIKUBE_REAL_KUBE_BIN` (scripts/test sets it), else what
/// tests/real-kube/build prints (a cache hit once built).
pub fn real_kube_bin() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| built("PIKUBE_REAL_KUBE_BIN", "tests/real-kube/build"))
}

/// The directory with CNCF Distribution's `registry` and go-containerregistry's `crane`:
/// `$PIKUBE_REAL_REGISTRY` (scripts/test sets it), else what tests/real-registry/build
/// prints.
pub fn real_registry_bin() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| built("PIKUBE_REAL_REGISTRY", "tests/real-registry/build"))
}

/// The directory `variable` names when set and not empty; else the last line the build
/// script `script` (relative to the workspace root) prints. Panics, naming the script, when
/// it cannot run or fails.
fn built(variable: &str, script: &str) -> PathBuf {
    if let Some(dir) = std::env::var_os(variable).filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    let build = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(script);
    let out = Command::new(&build)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {} ({variable} is not set): {e}",
                build.display()
            )
        });
    assert!(
        out.status.success(),
        "{} failed: {}",
        build.display(),
        out.status
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let dir = stdout.lines().last().unwrap_or_default().trim();
    assert!(!dir.is_empty(), "{} printed no directory", build.display());
    PathBuf::from(dir)
}
