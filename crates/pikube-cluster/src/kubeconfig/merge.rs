//! Merging the cluster's kubeconfig into the user's, which may hold many other clusters
//! (kind, k3d, EKS...): only the entries carrying this cluster's name change.

use std::io;
use std::path::Path;

use yaml_serde::{Mapping, Value};

use super::emit;
use super::entries::{self, entry_name, into_mapping, list_mut};
use super::lock::{KubeconfigLock, LOCK_WAIT};
use super::{write_private, Kubeconfig, KubeconfigError};

const WHAT: &str = "the existing kubeconfig";

/// Merges `new` into the kubeconfig text `existing` and returns the new text. Entries named
/// like `new` are replaced where they stand; everything else keeps its content and order.
/// The current context becomes `new`'s if `switch_context` or if there was none.
/// Comments and formatting of `existing` are not kept: the text is written anew.
pub fn merge(
    existing: &str,
    new: &Kubeconfig,
    switch_context: bool,
) -> Result<String, KubeconfigError> {
    let mut doc = match entries::parse(existing, WHAT)? {
        Value::Null => fresh_document(),
        other => into_mapping(other, WHAT)?,
    };
    for (list, entry) in [
        ("clusters", &new.cluster),
        ("users", &new.user),
        ("contexts", &new.context),
    ] {
        upsert(list_mut(&mut doc, list, WHAT)?, new.name(), entry);
    }
    let has_current = doc
        .get("current-context")
        .and_then(Value::as_str)
        .is_some_and(|current| !current.is_empty());
    if switch_context || !has_current {
        doc.insert("current-context".into(), new.name().into());
    }
    emit::to_yaml(&doc)
}

/// Reads the kubeconfig at `path` (a missing file counts as empty), merges `new` into it and
/// writes it back atomically with mode 0600, holding kubectl's lock (`<path>.lock`)
/// throughout so that no concurrent change is lost.
pub fn merge_into_file(
    path: &Path,
    new: &Kubeconfig,
    switch_context: bool,
) -> Result<(), KubeconfigError> {
    let io_error = |cause| KubeconfigError::Io {
        path: path.to_owned(),
        cause,
    };
    let _lock = KubeconfigLock::acquire(path, LOCK_WAIT)?;
    let existing = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(io_error(e)),
    };
    let merged = merge(&existing, new, switch_context).map_err(|e| KubeconfigError::InFile {
        path: path.to_owned(),
        cause: Box::new(e),
    })?;
    write_private(path, &merged).map_err(io_error)
}

/// Replaces the first entry called `name` in place, drops any later duplicates (kubectl
/// would only ever use the first), or appends when there is none.
fn upsert(list: &mut Vec<Value>, name: &str, entry: &Value) {
    let mut found = false;
    list.retain_mut(|existing| {
        if entry_name(existing) != Some(name) {
            return true;
        }
        if found {
            return false;
        }
        found = true;
        *existing = entry.clone();
        true
    });
    if !found {
        list.push(entry.clone());
    }
}

/// What kubectl writes for a new kubeconfig, in its key order.
pub(super) fn fresh_document() -> Mapping {
    let mut doc = Mapping::new();
    doc.insert("apiVersion".into(), "v1".into());
    doc.insert("clusters".into(), Value::Sequence(Vec::new()));
    doc.insert("contexts".into(), Value::Sequence(Vec::new()));
    doc.insert("current-context".into(), "".into());
    doc.insert("kind".into(), "Config".into());
    doc.insert("preferences".into(), Value::Mapping(Mapping::new()));
    doc.insert("users".into(), Value::Sequence(Vec::new()));
    doc
}
