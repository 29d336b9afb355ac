//! Helpers over the untyped YAML document. The user's kubeconfig is handled as a
//! `yaml_serde::Value` rather than typed structs so that the fields of its other clusters that
//! this code does not know about (exec plugins, extensions, proxy-url, whatever newer kubectl
//! versions add) survive a rewrite unchanged. What comes from k3s.yaml is another matter: see
//! `allow`.

use yaml_serde::{Mapping, Value};

use super::KubeconfigError;

/// Parses `text`; `what` names it in errors. An empty (or comment-only) text is `Null`.
pub(super) fn parse(text: &str, what: &'static str) -> Result<Value, KubeconfigError> {
    yaml_serde::from_str(text).map_err(|cause| KubeconfigError::NotYaml { what, cause })
}

pub(super) fn into_mapping(value: Value, what: &'static str) -> Result<Mapping, KubeconfigError> {
    match value {
        Value::Mapping(mapping) => Ok(mapping),
        other => Err(KubeconfigError::NotAMapping {
            what,
            found: type_name(&other),
        }),
    }
}

pub(super) fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "empty",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Sequence(_) => "a list",
        Value::Mapping(_) => "a mapping",
        Value::Tagged(_) => "a tagged value",
    }
}

/// The `name` of a `clusters`/`users`/`contexts` entry, if it has one.
pub(super) fn entry_name(entry: &Value) -> Option<&str> {
    entry.get("name").and_then(Value::as_str)
}

/// The list under `key`, created empty (at the end of the document) when missing or null,
/// as kubectl does for a kubeconfig that has, say, no users yet.
pub(super) fn list_mut<'a>(
    doc: &'a mut Mapping,
    key: &str,
    what: &'static str,
) -> Result<&'a mut Vec<Value>, KubeconfigError> {
    let slot = doc
        .entry(Value::from(key))
        .or_insert_with(|| Value::Sequence(Vec::new()));
    if slot.is_null() {
        *slot = Value::Sequence(Vec::new());
    }
    let found = type_name(slot);
    slot.as_sequence_mut()
        .ok_or_else(|| KubeconfigError::WrongType {
            what,
            field: key.to_owned(),
            found,
            expected: "a list",
        })
}
