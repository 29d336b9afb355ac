//! What pikube takes from k3s.yaml: an allow-list, not a copy. The file comes from a node,
//! and a kubeconfig is code on this machine: an `exec` or `auth-provider` user runs a
//! command at the next kubectl call, `proxy-url` or `insecure-skip-tls-verify` hand the
//! API traffic to someone else. K3s writes none of them, so a k3s.yaml that has one was
//! changed on the node; pikube refuses it instead of guessing which part is safe.

use base64::Engine;
use yaml_serde::{Mapping, Value};

use super::entries::type_name;
use super::KubeconfigError;

const WHAT: &str = "k3s.yaml";

/// The cluster entry's body, as far as pikube uses it (`server` is replaced by the
/// address pikube reaches the cluster at).
pub(super) struct ClusterFields {
    /// As written in k3s.yaml: base64 of the CA file.
    pub ca_data: String,
    /// The CA file's bytes, as K3s hashed them for the token.
    pub ca_pem: Vec<u8>,
}

/// The two shapes of credentials K3s writes for its admin user.
pub(super) enum Credentials {
    ClientCertificate { certificate: String, key: String },
    Token(String),
}

/// Checks `clusters[default]` and returns what pikube keeps of it.
pub(super) fn cluster(entry: &Value) -> Result<ClusterFields, KubeconfigError> {
    let (path, body) = body(entry, "clusters", "cluster", "`name` and `cluster`")?;
    only(
        body,
        &path,
        &["server", "certificate-authority-data"],
        "`server` and `certificate-authority-data`",
    )?;
    string(body, &path, "server")?;
    // An empty value is as good as none: kubectl would then trust the system's CAs.
    let Some(ca_data) =
        string(body, &path, "certificate-authority-data")?.filter(|s| !s.is_empty())
    else {
        return Err(KubeconfigError::MissingField {
            entry: path,
            field: "certificate-authority-data",
        });
    };
    let ca_pem = base64::engine::general_purpose::STANDARD
        .decode(ca_data)
        .map_err(|_| KubeconfigError::NotBase64 {
            entry: path.clone(),
            field: "certificate-authority-data",
        })?;
    Ok(ClusterFields {
        ca_data: ca_data.to_owned(),
        ca_pem,
    })
}

/// Checks `users[default]` and returns its credentials.
pub(super) fn user(entry: &Value) -> Result<Credentials, KubeconfigError> {
    let (path, body) = body(entry, "users", "user", "`name` and `user`")?;
    only(
        body,
        &path,
        &["client-certificate-data", "client-key-data", "token"],
        "`client-certificate-data`, `client-key-data` and `token`",
    )?;
    let certificate = string(body, &path, "client-certificate-data")?;
    let key = string(body, &path, "client-key-data")?;
    let token = string(body, &path, "token")?;
    let found = match (certificate, key, token) {
        (Some(certificate), Some(key), None) => {
            return Ok(Credentials::ClientCertificate {
                certificate: certificate.to_owned(),
                key: key.to_owned(),
            })
        }
        (None, None, Some(token)) => return Ok(Credentials::Token(token.to_owned())),
        // kubectl would send both; K3s never writes both, so one of them was added.
        (Some(_), _, Some(_)) | (_, Some(_), Some(_)) => "both a client certificate and a token",
        (Some(_), None, None) => "a client certificate without its key",
        (None, Some(_), None) => "a client key without its certificate",
        (None, None, None) => "no credentials",
    };
    Err(KubeconfigError::Credentials { entry: path, found })
}

/// Checks `contexts[default]`: it may only tie the default cluster to the default user,
/// which is what pikube writes under the new name.
pub(super) fn context(entry: &Value, default: &str) -> Result<(), KubeconfigError> {
    let (path, body) = body(entry, "contexts", "context", "`name` and `context`")?;
    only(body, &path, &["cluster", "user"], "`cluster` and `user`")?;
    for field in ["cluster", "user"] {
        match body.get(field) {
            None => {}
            Some(value) if value.as_str() == Some(default) => {}
            // A reference to anything else means the file is not what k3s writes.
            Some(value) => {
                return Err(KubeconfigError::UnexpectedReference {
                    field,
                    found: value.as_str().unwrap_or(type_name(value)).to_owned(),
                })
            }
        }
    }
    Ok(())
}

/// The body of a `clusters`/`users`/`contexts` entry and its path for messages, after
/// checking that the entry itself holds nothing but `name` and the body.
fn body<'a>(
    entry: &'a Value,
    list: &str,
    body_key: &'static str,
    allowed: &'static str,
) -> Result<(String, &'a Mapping), KubeconfigError> {
    let entry_path = format!("{list}[default]");
    if let Some(mapping) = entry.as_mapping() {
        only(mapping, &entry_path, &["name", body_key], allowed)?;
    }
    let path = format!("{entry_path}.{body_key}");
    match entry.get(body_key) {
        Some(Value::Mapping(body)) => Ok((path, body)),
        other => Err(KubeconfigError::WrongType {
            what: WHAT,
            field: path,
            found: other.map_or("missing", type_name),
            expected: "a mapping",
        }),
    }
}

/// Refuses the first key of `mapping` that is not in `allowed`.
fn only(
    mapping: &Mapping,
    path: &str,
    allowed: &[&str],
    allowed_text: &'static str,
) -> Result<(), KubeconfigError> {
    for key in mapping.keys() {
        let known = key.as_str().is_some_and(|key| allowed.contains(&key));
        if !known {
            return Err(KubeconfigError::NotAllowed {
                entry: path.to_owned(),
                field: key.as_str().unwrap_or(type_name(key)).to_owned(),
                allowed: allowed_text,
            });
        }
    }
    Ok(())
}

/// The string at `field`, `None` when absent or null.
fn string<'a>(
    body: &'a Mapping,
    path: &str,
    field: &str,
) -> Result<Option<&'a str>, KubeconfigError> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text)),
        Some(other) => Err(KubeconfigError::WrongType {
            what: WHAT,
            field: format!("{path}.{field}"),
            found: type_name(other),
            expected: "a string",
        }),
    }
}
