//! Turning k3s' own kubeconfig into one for this cluster.

use std::fmt;

use serde_yaml::{Mapping, Value};

use super::emit;
use super::entries::{self, body_mut, entry_name, into_mapping};
use super::KubeconfigError;

const WHAT: &str = "k3s.yaml";
/// The name k3s gives its cluster, user and context.
const K3S_NAME: &str = "default";

/// k3s.yaml renamed for one cluster. Holds the client key: `Debug` shows only the name and
/// the server.
#[derive(Clone, PartialEq)]
pub struct Kubeconfig {
    /// The whole document, with every field k3s wrote.
    doc: Mapping,
    name: String,
    server: String,
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

    pub fn server(&self) -> &str {
        &self.server
    }

    /// The whole kubeconfig, e.g. for a file of its own.
    pub fn to_yaml(&self) -> Result<String, KubeconfigError> {
        emit::to_yaml(&self.doc)
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

/// Renames k3s.yaml's `default` cluster, user and context to `cluster_name`, makes it the
/// current context and points the cluster at `server_url` (k3s writes a loopback address
/// that only works on the server itself). Every other field is kept.
pub fn for_cluster(
    k3s_yaml: &str,
    cluster_name: &str,
    server_url: &str,
) -> Result<Kubeconfig, KubeconfigError> {
    if cluster_name.is_empty() {
        return Err(KubeconfigError::EmptyName);
    }
    let mut doc = into_mapping(entries::parse(k3s_yaml, WHAT)?, WHAT)?;

    let cluster = rename_default(&mut doc, "clusters", "cluster", cluster_name)?;
    body_mut(cluster, "clusters[default].cluster".into(), "cluster", WHAT)?
        .insert("server".into(), server_url.into());
    let cluster = cluster.clone();

    let user = rename_default(&mut doc, "users", "user", cluster_name)?.clone();

    let context = rename_default(&mut doc, "contexts", "context", cluster_name)?;
    let body = body_mut(context, "contexts[default].context".into(), "context", WHAT)?;
    for field in ["cluster", "user"] {
        repoint(body, field, cluster_name)?;
    }
    let context = context.clone();

    doc.insert("current-context".into(), cluster_name.into());
    Ok(Kubeconfig {
        doc,
        name: cluster_name.to_owned(),
        server: server_url.to_owned(),
        cluster,
        user,
        context,
    })
}

/// Finds the entry named `default` in `list` and renames it.
fn rename_default<'a>(
    doc: &'a mut Mapping,
    list: &'static str,
    kind: &'static str,
    new_name: &str,
) -> Result<&'a mut Value, KubeconfigError> {
    let entries = match doc.get_mut(list) {
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
    let Some(index) = entries.iter().position(|e| entry_name(e) == Some(K3S_NAME)) else {
        return Err(KubeconfigError::NoDefault {
            kind,
            list,
            found: found_names(entries),
        });
    };
    let entry = &mut entries[index];
    if let Some(mapping) = entry.as_mapping_mut() {
        mapping.insert("name".into(), new_name.into());
    }
    Ok(entry)
}

/// Points the context's `cluster` or `user` at the renamed entry. A reference to anything
/// but `default` means the file is not what k3s writes, and guessing would be wrong.
fn repoint(body: &mut Mapping, field: &'static str, new_name: &str) -> Result<(), KubeconfigError> {
    match body.get(field) {
        None => {}
        Some(value) if value.as_str() == Some(K3S_NAME) => {}
        Some(value) => {
            return Err(KubeconfigError::UnexpectedReference {
                field,
                found: value
                    .as_str()
                    .unwrap_or(entries::type_name(value))
                    .to_owned(),
            })
        }
    }
    body.insert(field.into(), new_name.into());
    Ok(())
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
