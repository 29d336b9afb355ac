//! K3s' `--datastore-endpoint`: an external PostgreSQL, MySQL or etcd in place
//! of the embedded etcd.
//!
//! The endpoint usually carries a password, and `ClusterConfig` is printed
//! (`--output json`, `{:?}` in logs, error messages), so the type only ever
//! shows itself redacted; the real string is reached through `expose()`, by
//! the one place that writes it into a node's K3s config.

use std::fmt;
use std::str::FromStr;

use crate::secrets::SecretKey;

const EXPECTED: &str = "expected postgres://, mysql://, or http:// or https:// for etcd";
const HIDDEN: &str = "***";

/// Where K3s keeps the cluster's objects. K3s chooses it from the server count and
/// `datastore_endpoint`; topology, the `[backup]` check and backup/restore all ask here so
/// that they cannot disagree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatastoreKind {
    /// More than one server and no endpoint: `--cluster-init` on the first server.
    EmbeddedEtcd,
    /// One server and no endpoint: K3s' default, SQLite through kine.
    Sqlite,
    /// `datastore_endpoint`: someone else's database.
    External,
}

impl DatastoreKind {
    /// The datastore of a cluster of `servers` servers, `external` when
    /// `[k3s] datastore_endpoint` is set: the one place this is decided.
    pub fn chosen(servers: usize, external: bool) -> DatastoreKind {
        if external {
            DatastoreKind::External
        } else if servers > 1 {
            DatastoreKind::EmbeddedEtcd
        } else {
            DatastoreKind::Sqlite
        }
    }
}

/// `[k3s]`'s external datastore: where its endpoint is. cluster.toml gives it once, as
/// `datastore_endpoint` or as `datastore_endpoint_secret`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ExternalDatastore {
    /// `datastore_endpoint`: the endpoint itself (it shows itself redacted).
    Endpoint(DatastoreEndpoint),
    /// `datastore_endpoint_secret`: the secret in secrets.age that holds it, so that its
    /// password need not be in cluster.toml; looked up by the servers phase.
    InSecret(SecretKey),
}

impl ExternalDatastore {
    /// The endpoint, once known.
    pub fn endpoint(&self) -> Option<&DatastoreEndpoint> {
        match self {
            ExternalDatastore::Endpoint(endpoint) => Some(endpoint),
            ExternalDatastore::InSecret(_) => None,
        }
    }
}

/// A datastore URL (or, for etcd, a comma-separated list of them).
#[derive(Clone, PartialEq, Eq)]
pub struct DatastoreEndpoint(String);

/// Why an endpoint was rejected; `input` is already redacted, since the
/// message is shown to the user and may end up in a CI log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{input:?} is not a datastore endpoint: {problem}")]
pub struct InvalidDatastoreEndpoint {
    /// What was written, its password redacted.
    pub input: String,
    /// What is wrong with it.
    pub problem: String,
}

impl DatastoreEndpoint {
    /// The endpoint as written, password included: for the node's K3s
    /// config only, never for output.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The endpoint with credentials replaced by `***`.
    pub fn redacted(&self) -> String {
        redact(&self.0)
    }
}

impl FromStr for DatastoreEndpoint {
    type Err = InvalidDatastoreEndpoint;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        check(s).map_err(|problem| InvalidDatastoreEndpoint {
            input: redact(s),
            problem,
        })?;
        Ok(DatastoreEndpoint(s.to_owned()))
    }
}

fn check(s: &str) -> Result<(), String> {
    if s.is_empty() {
        return Err("it is empty; leave datastore_endpoint out to use K3s' embedded etcd".into());
    }
    if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("it contains whitespace".into());
    }
    let Some((scheme, rest)) = s.split_once("://") else {
        return Err(format!("it has no scheme; {EXPECTED}"));
    };
    match scheme {
        "postgres" | "mysql" => {
            if rest.is_empty() {
                return Err(format!("nothing follows {scheme}://"));
            }
            Ok(())
        }
        // K3s reads a comma-separated list of etcd members.
        "http" | "https" => s.split(',').try_for_each(etcd_member),
        "postgresql" => Err("K3s takes postgres://, not postgresql://".into()),
        "sqlite" => Err(
            "SQLite is what K3s uses by itself with a single server; leave datastore_endpoint out"
                .into(),
        ),
        "etcd" | "etcd3" => Err(format!(
            "write an external etcd as https://<host>:2379 (a comma-separated list for \
             several members), not {scheme}://"
        )),
        _ => Err(format!("unsupported scheme {scheme:?}; {EXPECTED}")),
    }
}

fn etcd_member(member: &str) -> Result<(), String> {
    let host = member
        .strip_prefix("https://")
        .or_else(|| member.strip_prefix("http://"));
    match host {
        Some(host) if !host.is_empty() => Ok(()),
        Some(_) => Err(format!("etcd member {:?} has no host", redact(member))),
        None => Err(format!(
            "etcd member {:?} must start with http:// or https:// like the first",
            redact(member)
        )),
    }
}

/// `s` with its userinfo and any `password` query parameter hidden.
///
/// Deliberately coarse: everything from the first `://` (or the start, for
/// a malformed value) to the last `@` goes, so a password with an
/// unescaped `@`, `/` or `,` cannot leak through a smarter parse; at worst
/// some host names are hidden too.
fn redact(s: &str) -> String {
    let start = s.find("://").map_or(0, |i| i + 3);
    let mut out = match s.rfind('@').filter(|&at| at >= start) {
        Some(at) => format!("{}{HIDDEN}{}", &s[..start], &s[at..]),
        None => s.to_owned(),
    };
    // PostgreSQL also takes the password as a query parameter.
    if let Some(q) = out.find('?') {
        let query = out[q + 1..]
            .split('&')
            .map(|param| match param.split_once('=') {
                Some((key, _)) if key.to_ascii_lowercase().contains("password") => {
                    format!("{key}={HIDDEN}")
                }
                _ => param.to_owned(),
            })
            .collect::<Vec<_>>()
            .join("&");
        out.replace_range(q + 1.., &query);
    }
    out
}

impl fmt::Display for DatastoreEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl fmt::Debug for DatastoreEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("DatastoreEndpoint")
            .field(&self.redacted())
            .finish()
    }
}

impl serde::Serialize for DatastoreEndpoint {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.redacted())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint(s: &str) -> DatastoreEndpoint {
        s.parse().unwrap()
    }

    #[test]
    fn accepts_the_k3s_schemes() {
        for ok in [
            "postgres://user:pass@db:5432/k3s",
            "postgres://db/k3s?sslmode=disable",
            "mysql://user:pass@tcp(db:3306)/k3s",
            "http://10.0.0.5:2379",
            "https://e1:2379,https://e2:2379,https://e3:2379",
        ] {
            assert_eq!(endpoint(ok).expose(), ok);
        }
    }

    #[test]
    fn rejects_with_reason() {
        let err = |s: &str| s.parse::<DatastoreEndpoint>().unwrap_err().to_string();
        assert_eq!(
            err(""),
            "\"\" is not a datastore endpoint: it is empty; leave datastore_endpoint out \
             to use K3s' embedded etcd"
        );
        assert_eq!(
            err("db:5432"),
            "\"db:5432\" is not a datastore endpoint: it has no scheme; \
             expected postgres://, mysql://, or http:// or https:// for etcd"
        );
        assert_eq!(
            err("redis://db"),
            "\"redis://db\" is not a datastore endpoint: unsupported scheme \"redis\"; \
             expected postgres://, mysql://, or http:// or https:// for etcd"
        );
        assert!(err("postgresql://db/k3s").contains("postgres://, not postgresql://"));
        assert!(err("sqlite:///var/lib/k3s.db").contains("leave datastore_endpoint out"));
        assert!(err("etcd://e1:2379").contains("https://<host>:2379"));
        assert!(err("postgres://").contains("nothing follows postgres://"));
        assert!(err("https://e1:2379,e2:2379").contains("\"e2:2379\" must start with http://"));
        assert!(err("https://e1:2379,https://").contains("has no host"));
        assert!(err("postgres://db/k3s\n").contains("whitespace"));
    }

    #[test]
    fn never_shows_the_password() {
        let e = endpoint("postgres://k3s:s3cret@db:5432/k3s");
        assert_eq!(e.to_string(), "postgres://***@db:5432/k3s");
        assert_eq!(
            format!("{e:?}"),
            "DatastoreEndpoint(\"postgres://***@db:5432/k3s\")"
        );
        assert_eq!(
            serde_json::to_string(&e).unwrap(),
            "\"postgres://***@db:5432/k3s\""
        );
        assert_eq!(e.expose(), "postgres://k3s:s3cret@db:5432/k3s");

        for (raw, shown) in [
            // An unescaped '@' or '/' in the password.
            (
                "mysql://u:p@ss/w@tcp(db:3306)/k3s",
                "mysql://***@tcp(db:3306)/k3s",
            ),
            (
                "postgres://db/k3s?sslmode=require&password=s3cret",
                "postgres://db/k3s?sslmode=require&password=***",
            ),
            (
                "https://e1:2379,https://e2:2379",
                "https://e1:2379,https://e2:2379",
            ),
            (
                "https://u:p@e1:2379,https://u:p@e2:2379",
                "https://***@e2:2379",
            ),
        ] {
            assert_eq!(endpoint(raw).to_string(), shown, "{raw}");
        }

        // Not in the error message either, even when the value is malformed.
        let err = "k3s:s3cret@db:5432/k3s"
            .parse::<DatastoreEndpoint>()
            .unwrap_err()
            .to_string();
        assert!(!err.contains("s3cret"), "{err}");
        let err = "postgresql://k3s:s3cret@db/k3s"
            .parse::<DatastoreEndpoint>()
            .unwrap_err()
            .to_string();
        assert!(!err.contains("s3cret"), "{err}");
        assert!(err.starts_with("\"postgresql://***@db/k3s\""), "{err}");
    }
}
