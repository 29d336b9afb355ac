use std::ffi::OsStr;
use std::path::{Path, PathBuf};

/// The kubeconfig file kubectl would write to: the first non-empty entry of `$KUBECONFIG`
/// (a `:`-separated list) if there is one, else `~/.kube/config`.
pub fn kubeconfig_target(env_kubeconfig: Option<&OsStr>, home: &Path) -> PathBuf {
    env_kubeconfig
        .into_iter()
        .flat_map(std::env::split_paths)
        .find(|entry| !entry.as_os_str().is_empty())
        .unwrap_or_else(|| home.join(".kube").join("config"))
}
