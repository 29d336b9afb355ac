//! Turning k3s' own kubeconfig into one for this cluster.

use std::fmt;

use yaml_serde::{Mapping, Value};

use super::allow::{self, Credentials};
use super::ca::{self, CaPin};
use super::emit;
use super::entries::{self, entry_name, into_mapping};
use super::merge::fresh_document;
use super::KubeconfigError;
use crate::config::NodeName;
use crate::k3s::paths;

const WHAT: &str = "k3s.yaml";
/// The name k3s gives its cluster, user and context.
const K3S_NAME: &str = "default";
const CLUSTER_ENTRY: &str = "clusters[default].cluster";

/// k3s.yaml renamed for one cluster. Holds the client key: `Debug` shows only the name and
/// the server.
#[derive(Clone, PartialEq)]
pub struct Kubeconfig {
    /// The whole document, made of the three entries below.
    doc: Mapping,
    name: String,
    server: String,
    /// The CA file's bytes, for [`Kubeconfig::check_ca`].
    ca_pem: Vec<u8>,
    /// The renamed entries, as they go into another kubeconfig.
    pub(super) cluster: Value,
    pub(super) user: Value,
    pub(super) context: Value,
}

impl Kubeconfig {
    /// The cluster, user and context name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The API server URL it points at.
    pub fn server(&self) -> &str {
        &self.server
    }

    /// The whole kubeconfig, e.g. for a file of its own.
    pub fn to_yaml(&self) -> Result<String, KubeconfigError> {
        emit::to_yaml(&self.doc)
    }

    /// Refuses a CA other than the one `pin` names; with no pin there is nothing to check
    /// (see [`CaPin::unchecked_reason`]).
    pub fn check_ca(&self, pin: &CaPin) -> Result<(), KubeconfigError> {
        ca::check(&self.ca_pem, CLUSTER_ENTRY, pin)
    }
}

impl fmt::Debug for Kubeconfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Kubeconfig")
            .field("name", &self.name)
            .field("server", &self.server)
            .finish_non_exhaustive()
    }
}

/// The kubeconfig K3s wrote on the server `node` (k3s.yaml's text), renamed as
/// [`for_cluster`] does and its CA checked against `pin`. Errors name the node and the file.
pub fn from_server(
    node: &NodeName,
    k3s_yaml: &str,
    cluster_name: &str,
    server_url: &str,
    pin: &CaPin,
) -> Result<Kubeconfig, KubeconfigError> {
    for_cluster(k3s_yaml, cluster_name, server_url)
        .and_then(|kubeconfig| kubeconfig.check_ca(pin).map(|()| kubeconfig))
        .map_err(|problem| KubeconfigError::FromNode {
            node: node.to_owned(),
            file: paths::KUBECONFIG,
            problem: Box::new(problem),
        })
}

/// Builds the kubeconfig for `cluster_name` from k3s.yaml's `default` cluster, user and
/// context: the cluster points at `server_url` (k3s writes a loopback address that only
/// works on the server itself) and is the current context. Only the fields K3s writes are
/// taken: the CA, and a client certificate and key or a token. Any other field in those
/// entries is refused (see `allow`); nothing else in the file is copied.
pub fn for_cluster(
    k3s_yaml: &str,
    cluster_name: &str,
    server_url: &str,
) -> Result<Kubeconfig, KubeconfigError> {
    if cluster_name.is_empty() {
        return Err(KubeconfigError::EmptyName);
    }
    let doc = into_mapping(entries::parse(k3s_yaml, WHAT)?, WHAT)?;
    let cluster = allow::cluster(find_default(&doc, "clusters", "cluster")?)?;
    let user = allow::user(find_default(&doc, "users", "user")?)?;
    allow::context(find_default(&doc, "contexts", "context")?, K3S_NAME)?;

    // Keys in the order kubectl writes them.
    let cluster_entry = entry(
        "cluster",
        [
            ("certificate-authority-data", cluster.ca_data.as_str()),
            ("server", server_url),
        ],
        cluster_name,
    );
    let user_entry = match &user {
        Credentials::ClientCertificate { certificate, key } => entry(
            "user",
            [
                ("client-certificate-data", certificate.as_str()),
                ("client-key-data", key.as_str()),
            ],
            cluster_name,
        ),
        Credentials::Token(token) => entry("user", [("token", token.as_str())], cluster_name),
    };
    let context_entry = entry(
        "context",
        [("cluster", cluster_name), ("user", cluster_name)],
        cluster_name,
    );

    let mut doc = fresh_document();
    for (list, entry) in [
        ("clusters", &cluster_entry),
        ("contexts", &context_entry),
        ("users", &user_entry),
    ] {
        doc.insert(list.into(), Value::Sequence(vec![entry.clone()]));
    }
    doc.insert("current-context".into(), cluster_name.into());
    Ok(Kubeconfig {
        doc,
        name: cluster_name.to_owned(),
        server: server_url.to_owned(),
        ca_pem: cluster.ca_pem,
        cluster: cluster_entry,
        user: user_entry,
        context: context_entry,
    })
}

/// A `clusters`/`users`/`contexts` entry: `name` and its body, in kubectl's key order.
fn entry<const N: usize>(body_key: &str, fields: [(&str, &str); N], name: &str) -> Value {
    let body: Mapping = fields
        .into_iter()
        .map(|(key, value)| (Value::from(key), Value::from(value)))
        .collect();
    let mut entry = Mapping::new();
    // kubectl sorts these keys: `cluster` and `context` come before `name`, `user` after.
    if body_key < "name" {
        entry.insert(body_key.into(), Value::Mapping(body));
        entry.insert("name".into(), name.into());
    } else {
        entry.insert("name".into(), name.into());
        entry.insert(body_key.into(), Value::Mapping(body));
    }
    Value::Mapping(entry)
}

/// The entry named `default` in `list`.
fn find_default<'a>(
    doc: &'a Mapping,
    list: &'static str,
    kind: &'static str,
) -> Result<&'a Value, KubeconfigError> {
    let entries = match doc.get(list) {
        Some(Value::Sequence(entries)) => entries,
        Some(other) => {
            return Err(KubeconfigError::WrongType {
                what: WHAT,
                field: list.to_owned(),
                found: entries::type_name(other),
                expected: "a list",
            })
        }
        None => {
            return Err(KubeconfigError::NoDefault {
                kind,
                list,
                found: format!("no `{list}` at all"),
            })
        }
    };
    // kubectl uses the first of several entries of one name, so the first is the one to check.
    entries
        .iter()
        .find(|e| entry_name(e) == Some(K3S_NAME))
        .ok_or_else(|| KubeconfigError::NoDefault {
            kind,
            list,
            found: found_names(entries),
        })
}

fn found_names(entries: &[Value]) -> String {
    let names: Vec<String> = entries
        .iter()
        .map(|e| entry_name(e).map_or_else(|| "<unnamed>".to_owned(), |n| format!("`{n}`")))
        .collect();
    if names.is_empty() {
        "none".to_owned()
    } else {
        names.join(", ")
    }
}
