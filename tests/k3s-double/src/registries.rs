//! `--private-registry` (default /etc/rancher/k3s/registries.yaml): read at start, when the
//! containerd configuration is generated. A file that is not the registries schema stops
//! the process, as it stops K3s before containerd starts; the double runs no containerd,
//! so a good file is only named in the log.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::config::Settings;
use crate::log;

#[allow(dead_code)] // read for validation only
#[derive(Deserialize)]
struct Registry {
    #[serde(default)]
    mirrors: BTreeMap<String, Mirror>,
    #[serde(default)]
    configs: BTreeMap<String, RegistryConfig>,
}

#[allow(dead_code)]
#[derive(Deserialize)]
struct Mirror {
    #[serde(default)]
    endpoint: Vec<String>,
    #[serde(default)]
    rewrite: BTreeMap<String, String>,
}

#[allow(dead_code)]
#[derive(Deserialize)]
struct RegistryConfig {
    auth: Option<Auth>,
    tls: Option<Tls>,
}

#[allow(dead_code)]
#[derive(Deserialize)]
struct Auth {
    username: Option<String>,
    password: Option<String>,
    auth: Option<String>,
    identitytoken: Option<String>,
}

#[allow(dead_code)]
#[derive(Deserialize)]
struct Tls {
    cert_file: Option<String>,
    key_file: Option<String>,
    ca_file: Option<String>,
    insecure_skip_verify: Option<bool>,
}

/// Reads the registries file if there is one; a broken one is fatal.
pub fn load(settings: &Settings) {
    let path = settings
        .str("private-registry")
        .map(PathBuf::from)
        .unwrap_or_else(crate::roots::registries);
    if let Err(e) = check(&path) {
        log::fatal(&e);
    }
}

fn check(path: &Path) -> Result<(), String> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => {
            return Err(format!(
                "failed to read private registry file {}: {e}",
                path.display()
            ))
        }
    };
    yaml_serde::from_str::<Registry>(&text).map_err(|e| {
        format!(
            "failed to parse private registry configuration {}: {e}",
            path.display()
        )
    })?;
    log::info(&format!(
        "Using private registry config file at {}",
        path.display()
    ));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schema_is_checked_and_a_missing_file_is_none() {
        let dir =
            std::env::temp_dir().join(format!("k3s-double-registries-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("registries.yaml");
        assert!(check(&file).is_ok());
        std::fs::write(
            &file,
            "# comment\n{\"mirrors\": {\"docker.io\": {\"endpoint\": [\"https://r\"]}}, \
             \"configs\": {\"r\": {\"auth\": {\"username\": \"u\", \"password\": \"p\"}, \
             \"tls\": {\"insecure_skip_verify\": true}}}}\n",
        )
        .unwrap();
        assert!(check(&file).is_ok());
        std::fs::write(&file, "mirrors:\n  docker.io:\n    endpoint: https://r\n").unwrap();
        let err = check(&file).unwrap_err();
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(
            err.contains("failed to parse private registry configuration"),
            "{err}"
        );
    }
}
