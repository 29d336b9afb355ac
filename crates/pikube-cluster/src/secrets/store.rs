//! The decrypted content: a flat TOML table, `"dotted.name" = "value"`.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use super::{SecretKey, SecretsError};

/// Named secret values. `Debug` shows the names only.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secrets(BTreeMap<SecretKey, String>);

impl Secrets {
    /// The decrypted TOML (`path` only for messages): string values under valid names.
    pub fn parse(plain: &[u8], path: &Path) -> Result<Secrets, SecretsError> {
        let malformed = |message: String| SecretsError::Malformed {
            path: path.to_owned(),
            message,
        };
        let text = std::str::from_utf8(plain).map_err(|_| malformed("not UTF-8".to_owned()))?;
        let table: BTreeMap<String, toml::Value> =
            toml::from_str(text).map_err(|e| malformed(e.message().to_owned()))?;
        let mut secrets = BTreeMap::new();
        for (name, value) in table {
            let key = SecretKey::parse(&name).map_err(|e| malformed(e.to_string()))?;
            match value {
                toml::Value::String(value) => {
                    secrets.insert(key, value);
                }
                other => {
                    return Err(malformed(format!(
                        "{name} is a {}, not a string (write \"{name}\" = \"...\")",
                        other.type_str()
                    )))
                }
            }
        }
        Ok(Secrets(secrets))
    }

    /// As TOML, to be encrypted.
    pub fn to_toml(&self) -> Vec<u8> {
        let mut out = String::from("# pikube secrets: \"name\" = \"value\", one per line.\n");
        for (key, value) in &self.0 {
            let quoted = toml::Value::String(value.clone()).to_string();
            out.push_str(&format!("\"{key}\" = {quoted}\n"));
        }
        out.into_bytes()
    }

    /// `key`'s value, if set.
    pub fn get(&self, key: &SecretKey) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    /// `nodes.<node>.<name>` (that node's own value), else `<name>` (the one for every
    /// node): how a per-node secret such as `sudo_password` is looked up.
    pub fn node_secret(&self, node: &str, name: &str) -> Option<&str> {
        [format!("nodes.{node}.{name}"), name.to_owned()]
            .iter()
            .filter_map(|key| SecretKey::parse(key).ok())
            .find_map(|key| self.get(&key))
    }

    /// Sets `key`, replacing what it held.
    pub fn set(&mut self, key: SecretKey, value: String) {
        self.0.insert(key, value);
    }

    /// Removes `key`; whether it was there.
    pub fn remove(&mut self, key: &SecretKey) -> bool {
        self.0.remove(key).is_some()
    }

    /// The names set, in order.
    pub fn names(&self) -> impl Iterator<Item = &SecretKey> {
        self.0.keys()
    }
}

impl fmt::Debug for Secrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set()
            .entries(self.0.keys().map(SecretKey::as_str))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_any_value_and_hides_values_in_debug() {
        let mut secrets = Secrets::default();
        let tricky = "pa\"ss\\word\nwith newline and 'quotes' = # not a comment";
        secrets.set(
            SecretKey::parse("nodes.pi-1.sudo_password").unwrap(),
            tricky.into(),
        );
        secrets.set(SecretKey::parse("sudo_password").unwrap(), "s3cret".into());
        let text = secrets.to_toml();
        let back = Secrets::parse(&text, Path::new("secrets.age")).unwrap();
        assert_eq!(back, secrets);
        let shown = format!("{back:?}");
        assert!(
            shown.contains("sudo_password") && !shown.contains("s3cret"),
            "{shown}"
        );
    }

    #[test]
    fn a_nodes_own_secret_comes_before_the_one_for_every_node() {
        let mut secrets = Secrets::default();
        let set = |secrets: &mut Secrets, key: &str, value: &str| {
            secrets.set(SecretKey::parse(key).unwrap(), value.into())
        };
        assert_eq!(secrets.node_secret("pi-1", "sudo_password"), None);
        set(&mut secrets, "sudo_password", "everyone");
        set(&mut secrets, "nodes.pi-1.sudo_password", "pi-1's own");
        set(
            &mut secrets,
            "nodes.pi-2.bootstrap_password",
            "not a sudo password",
        );
        assert_eq!(
            secrets.node_secret("pi-1", "sudo_password"),
            Some("pi-1's own")
        );
        assert_eq!(
            secrets.node_secret("pi-2", "sudo_password"),
            Some("everyone")
        );
        assert_eq!(secrets.node_secret("pi-1", "bootstrap_password"), None);
    }

    #[test]
    fn a_value_that_is_not_a_string_is_named() {
        let err = Secrets::parse(b"port = 22\n", Path::new("/c/secrets.age"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("/c/secrets.age") && err.contains("port is a integer"),
            "{err}"
        );
    }
}
