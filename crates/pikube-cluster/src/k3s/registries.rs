//! K3s' registries.yaml from `[k3s.registries]`, each password taken from the secret the
//! config names. Written as JSON (which YAML parsers read as it is), so that every string
//! is quoted and nothing in a host name or password can turn into a boolean or a number.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use crate::config::Registries;
use crate::secrets::SecretKey;

/// The first line of a registries.yaml pikube wrote: one without it is the user's, left
/// alone unless cluster.toml asks pikube to manage registries.
pub const MARKER: &str = "# Written by pikube from [k3s.registries] in cluster.toml.";

/// A secret a registry needs that the secrets file does not hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "k3s.registries.configs.\"{host}\".password_secret: no secret named {secret} (set it \
     with `pikube secrets set {secret}`)"
)]
pub struct MissingSecret {
    /// The registry.
    pub host: String,
    /// The secret it names.
    pub secret: SecretKey,
}

/// A registry's CA certificate as it goes onto every node, where registries.yaml names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryCaFile {
    /// Its path on the nodes.
    pub path: String,
    /// The certificate, PEM.
    pub pem: String,
}

/// The CA files `registries` names, in registry order.
pub fn registry_ca_files(registries: &Registries) -> Vec<RegistryCaFile> {
    registries
        .configs
        .iter()
        .filter_map(|(host, config)| {
            config.ca.as_ref().map(|ca| RegistryCaFile {
                path: ca.remote_path(host),
                pem: ca.pem.clone(),
            })
        })
        .collect()
}

/// registries.yaml for `registries`, or `None` when there is nothing to say. `secret`
/// looks a password up by its name.
pub fn registries_yaml(
    registries: &Registries,
    secret: &dyn Fn(&SecretKey) -> Option<String>,
) -> Result<Option<String>, MissingSecret> {
    if registries.is_empty() {
        return Ok(None);
    }
    let mirrors: Map<String, Value> = registries
        .mirrors
        .iter()
        .map(|(name, endpoints)| (name.clone(), json!({ "endpoint": endpoints })))
        .collect();
    let mut configs = Map::new();
    for (host, config) in &registries.configs {
        let mut entry = Map::new();
        if let Some(auth) = &config.auth {
            let password = secret(&auth.password_secret).ok_or_else(|| MissingSecret {
                host: host.clone(),
                secret: auth.password_secret.clone(),
            })?;
            entry.insert(
                "auth".into(),
                json!({ "username": auth.username, "password": password }),
            );
        }
        let mut tls = Map::new();
        if config.insecure_skip_verify {
            tls.insert("insecure_skip_verify".into(), json!(true));
        }
        if let Some(ca) = &config.ca {
            tls.insert("ca_file".into(), json!(ca.remote_path(host)));
        }
        if !tls.is_empty() {
            entry.insert("tls".into(), Value::Object(tls));
        }
        configs.insert(host.clone(), Value::Object(entry));
    }
    let mut document = BTreeMap::new();
    if !mirrors.is_empty() {
        document.insert("mirrors", Value::Object(mirrors));
    }
    if !configs.is_empty() {
        document.insert("configs", Value::Object(configs));
    }
    let body = serde_json::to_string_pretty(&document).unwrap_or_default();
    Ok(Some(format!("{MARKER}\n{body}\n")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{RegistryAuth, RegistryCa, RegistryConfig};

    fn registries() -> Registries {
        Registries {
            mirrors: BTreeMap::from([(
                "docker.io".to_owned(),
                vec!["https://registry.lan:5000".to_owned()],
            )]),
            configs: BTreeMap::from([(
                "registry.lan:5000".to_owned(),
                RegistryConfig {
                    auth: Some(RegistryAuth {
                        username: "on".to_owned(),
                        password_secret: SecretKey::parse("registry.password").unwrap(),
                    }),
                    insecure_skip_verify: true,
                    ca: Some(RegistryCa {
                        source: "registry-ca.pem".into(),
                        pem: "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
                            .to_owned(),
                    }),
                },
            )]),
        }
    }

    #[test]
    fn mirrors_and_credentials_as_k3s_reads_them() {
        let lookup =
            |key: &SecretKey| (key.as_str() == "registry.password").then(|| "no: \"#1".to_owned());
        let yaml = registries_yaml(&registries(), &lookup).unwrap().unwrap();
        assert!(yaml.starts_with(&format!("{MARKER}\n")));
        // What K3s' YAML parser gets: the same values, quoted strings staying strings.
        let read: yaml_serde::Value = yaml_serde::from_str(&yaml).unwrap();
        assert_eq!(
            read["mirrors"]["docker.io"]["endpoint"][0].as_str(),
            Some("https://registry.lan:5000")
        );
        let config = &read["configs"]["registry.lan:5000"];
        assert_eq!(config["auth"]["username"].as_str(), Some("on"));
        assert_eq!(config["auth"]["password"].as_str(), Some("no: \"#1"));
        assert_eq!(config["tls"]["insecure_skip_verify"].as_bool(), Some(true));
        // The CA by its path on the nodes, named after the registry and the CA's content.
        let files = registry_ca_files(&registries());
        assert_eq!(files.len(), 1);
        assert!(
            files[0]
                .path
                .starts_with("/etc/rancher/k3s/registries-ca/registry.lan_5000-")
                && files[0].path.ends_with(".crt"),
            "{}",
            files[0].path
        );
        assert_eq!(
            config["tls"]["ca_file"].as_str(),
            Some(files[0].path.as_str())
        );
        assert!(files[0].pem.starts_with("-----BEGIN CERTIFICATE-----"));
    }

    #[test]
    fn a_missing_secret_is_named_and_nothing_means_no_file() {
        let err = registries_yaml(&registries(), &|_| None).unwrap_err();
        assert_eq!(
            err.to_string(),
            "k3s.registries.configs.\"registry.lan:5000\".password_secret: no secret named \
             registry.password (set it with `pikube secrets set registry.password`)"
        );
        assert_eq!(
            registries_yaml(&Registries::default(), &|_| None).unwrap(),
            None
        );
    }
}
