//! Well-known absolute paths, optionally moved under a test root.
//!
//! `K3S_DOUBLE_ROOT=/tmp/x` makes every default path (`/etc/rancher/...`,
//! `/var/lib/rancher/k3s`) live under `/tmp/x`, so tests run without root.
//! Paths given explicitly by flags or config are used as they are.

use std::path::PathBuf;

pub const ROOT_ENV: &str = "K3S_DOUBLE_ROOT";

pub fn at(absolute: &str) -> PathBuf {
    match std::env::var_os(ROOT_ENV) {
        Some(root) if !root.is_empty() => {
            PathBuf::from(root).join(absolute.trim_start_matches('/'))
        }
        _ => PathBuf::from(absolute),
    }
}

pub fn config_file() -> PathBuf {
    at("/etc/rancher/k3s/config.yaml")
}

pub fn kubeconfig() -> PathBuf {
    at("/etc/rancher/k3s/k3s.yaml")
}

pub fn data_dir() -> PathBuf {
    at("/var/lib/rancher/k3s")
}

pub fn node_password() -> PathBuf {
    at("/etc/rancher/node/password")
}

pub fn registries() -> PathBuf {
    at("/etc/rancher/k3s/registries.yaml")
}
