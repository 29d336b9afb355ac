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
    pub host: String,
    pub secret: SecretKey,
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
        if config.insecure_skip_verify {
            entry.insert("tls".into(), json!({ "insecure_skip_verify": true }));
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
    use crate::config::{RegistryAuth, RegistryConfig};

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
        let read: serde_yaml::Value = serde_yaml::from_str(&yaml).unwrap();
        assert_eq!(
            read["mirrors"]["docker.io"]["endpoint"][0].as_str(),
            Some("https://registry.lan:5000")
        );
        let config = &read["configs"]["registry.lan:5000"];
        assert_eq!(config["auth"]["username"].as_str(), Some("on"));
        assert_eq!(config["auth"]["password"].as_str(), Some("no: \"#1"));
        assert_eq!(config["tls"]["insecure_skip_verify"].as_bool(), Some(true));
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
