//! `kubectl label|taint|cordon|uncordon|drain|delete node ...`: read the
//! node, change it, PUT it back (drain only cordons: the double runs no pods).

use super::client::Client;
use super::{node_names, Args};
use crate::nodes::{is_system_taint, Taint};
use crate::protocol::NodeEdit;
use serde_json::Value;
use std::collections::BTreeMap;

pub fn run(client: &Client, args: &Args, command: &str, words: &[String]) -> Result<(), String> {
    match command {
        "label" | "taint" => {
            let names = node_names(words)?;
            let (name, changes) = names.split_first().ok_or_else(|| {
                format!("error: resource(s) were provided, but no name was specified for {command}")
            })?;
            if changes.is_empty() {
                return Err(format!("error: at least one {command} update is required"));
            }
            let mut edit = current(client, name)?;
            let message = if command == "label" {
                label(&mut edit, changes, args.overwrite)?
            } else {
                taint(name, &mut edit, changes, args.overwrite)?
            };
            client.put(name, &edit)?;
            println!("node/{name} {message}");
            Ok(())
        }
        "cordon" | "uncordon" | "drain" => {
            let names = with_kind(words);
            let names = node_names(&names)?;
            if names.is_empty() {
                return Err(format!("error: USAGE: {command} NODE [flags]"));
            }
            for name in names {
                let mut edit = current(client, &name)?;
                let want = command != "uncordon";
                let verb = if want { "cordoned" } else { "uncordoned" };
                if edit.unschedulable == want {
                    println!("node/{name} already {verb}");
                } else {
                    edit.unschedulable = want;
                    client.put(&name, &edit)?;
                    println!("node/{name} {verb}");
                }
                if command == "drain" {
                    println!("node/{name} drained");
                }
            }
            Ok(())
        }
        _ => {
            let names = node_names(words)?;
            if names.is_empty() {
                return Err("error: resource(s) were provided, but no name was specified".into());
            }
            for name in names {
                client.delete(&name)?;
                println!("node \"{name}\" deleted");
            }
            Ok(())
        }
    }
}

/// `cordon NAME` has no resource kind; accept `node/NAME` too.
fn with_kind(words: &[String]) -> Vec<String> {
    match words.first() {
        Some(first) if first.contains('/') => words.to_vec(),
        _ => std::iter::once("node".to_string())
            .chain(words.iter().cloned())
            .collect(),
    }
}

fn current(client: &Client, name: &str) -> Result<NodeEdit, String> {
    let node = client.get(name)?;
    let labels: BTreeMap<String, String> = node["metadata"]["labels"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
        .collect();
    let taints: Vec<Taint> =
        serde_json::from_value(node["spec"]["taints"].clone()).unwrap_or_default();
    Ok(NodeEdit {
        labels,
        taints: taints
            .into_iter()
            .filter(|t| !is_system_taint(&t.key))
            .collect(),
        unschedulable: node["spec"]["unschedulable"] == Value::Bool(true),
    })
}

fn label(edit: &mut NodeEdit, changes: &[String], overwrite: bool) -> Result<&'static str, String> {
    let mut changed = false;
    let mut removed = false;
    for change in changes {
        if let Some(key) = change.strip_suffix('-') {
            removed |= edit.labels.remove(key).is_some();
            continue;
        }
        let (key, value) = change.split_once('=').ok_or_else(|| {
            format!("error: at least one label update is required; invalid label spec: {change}")
        })?;
        match edit.labels.get(key) {
            Some(old) if old == value => {}
            Some(old) if !overwrite => {
                return Err(format!(
                    "error: '{key}' already has a value ({old}), and --overwrite is false"
                ))
            }
            _ => {
                edit.labels.insert(key.to_string(), value.to_string());
                changed = true;
            }
        }
    }
    Ok(match (changed, removed) {
        (true, _) => "labeled",
        (false, true) => "unlabeled",
        (false, false) => "not labeled",
    })
}

fn taint(
    name: &str,
    edit: &mut NodeEdit,
    changes: &[String],
    overwrite: bool,
) -> Result<&'static str, String> {
    let mut added = false;
    for change in changes {
        if let Some(spec) = change.strip_suffix('-') {
            let (key, effect) = match spec.rsplit_once(':') {
                Some((k, e)) => (k.split('=').next().unwrap_or(k), Some(e)),
                None => (spec.split('=').next().unwrap_or(spec), None),
            };
            let before = edit.taints.len();
            edit.taints
                .retain(|t| !(t.key == key && effect.is_none_or(|e| t.effect == e)));
            if edit.taints.len() == before {
                return Err(format!("error: taint \"{spec}\" not found"));
            }
            continue;
        }
        let new = Taint::parse(change).map_err(|e| format!("error: {e}"))?;
        match edit.taints.iter_mut().find(|t| t.key == new.key && t.effect == new.effect) {
            Some(_) if !overwrite => {
                return Err(format!(
                    "error: node {name} already has {} taint(s) with same effect(s) and --overwrite is false",
                    new.key
                ))
            }
            Some(existing) => *existing = new,
            None => edit.taints.push(new),
        }
        added = true;
    }
    Ok(if added { "tainted" } else { "untainted" })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edit() -> NodeEdit {
        NodeEdit {
            labels: [("a".to_string(), "1".to_string())].into(),
            taints: vec![Taint::parse("k=v:NoSchedule").unwrap()],
            unschedulable: false,
        }
    }

    #[test]
    fn labels() {
        let mut e = edit();
        assert_eq!(label(&mut e, &["b=2".into()], false), Ok("labeled"));
        assert!(label(&mut e, &["a=9".into()], false)
            .unwrap_err()
            .contains("--overwrite is false"));
        assert_eq!(label(&mut e, &["a=9".into()], true), Ok("labeled"));
        assert_eq!(label(&mut e, &["a=9".into()], false), Ok("not labeled"));
        assert_eq!(label(&mut e, &["a-".into()], false), Ok("unlabeled"));
        assert_eq!(e.labels.len(), 1);
    }

    #[test]
    fn taints() {
        let mut e = edit();
        assert!(taint("n", &mut e, &["k=w:NoSchedule".into()], false).is_err());
        assert_eq!(
            taint("n", &mut e, &["k=w:NoSchedule".into()], true),
            Ok("tainted")
        );
        assert_eq!(e.taints[0].value, "w");
        assert_eq!(
            taint("n", &mut e, &["x:NoExecute".into()], false),
            Ok("tainted")
        );
        assert_eq!(taint("n", &mut e, &["k-".into()], false), Ok("untainted"));
        assert_eq!(
            taint("n", &mut e, &["x:NoExecute-".into()], false),
            Ok("untainted")
        );
        assert!(e.taints.is_empty());
        assert!(taint("n", &mut e, &["k-".into()], false).is_err());
        assert!(taint("n", &mut e, &["k=v:Never".into()], false).is_err());
    }
}
