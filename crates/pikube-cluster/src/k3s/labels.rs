//! Node labels and taints: pikube's automatic ones plus cluster.toml's. k3s re-applies
//! `node-label` at every start (adding or overwriting, never removing) and `node-taint` only
//! when the node first registers, so neither a dropped label nor a changed taint reaches a
//! live node by itself: pikube keeps the node in step through the API, and removes what it
//! set earlier once cluster.toml drops it.

use pikube_pi::facts::StorageKind;
use pikube_pi::NodeFacts;

use super::cluster_nodes::ClusterNode;
use crate::ssh::shell_quote;

/// The Pi model of a node (`pi4`, `pi5`...), for scheduling by hardware.
pub const PI_MODEL_LABEL: &str = "pikube.io/pi-model";
/// What holds a node's root file system (`sd`, `emmc`, `usb`, `nvme`), to keep busy
/// workloads off SD cards.
pub const STORAGE_LABEL: &str = "pikube.io/storage";

/// Labels pikube derives from the hardware (the architecture label is the kubelet's own).
pub fn automatic_labels(facts: &NodeFacts) -> Vec<(String, String)> {
    let mut labels = Vec::new();
    if let Some(model) = facts.model.as_ref().filter(|m| m.is_raspberry_pi()) {
        // "Raspberry Pi 4 Model B Rev 1.4" → "raspberry-pi-4-model-b": the revision says
        // nothing a scheduler needs and would split one model into several.
        let name = model.raw.split(" Rev ").next().unwrap_or(&model.raw);
        if let Some(value) = label_value(name) {
            labels.push((PI_MODEL_LABEL.to_owned(), value));
        }
    }
    let storage = match &facts.storage.kind {
        StorageKind::Unknown => None,
        kind => label_value(kind.name()),
    };
    if let Some(storage) = storage {
        labels.push((STORAGE_LABEL.to_owned(), storage));
    }
    labels
}

/// A Kubernetes label value made from free text: lower case, runs of other characters
/// become one `-`, at most 63 characters, alphanumeric at both ends.
fn label_value(text: &str) -> Option<String> {
    let mut value = String::new();
    for c in text.chars() {
        if c.is_ascii_alphanumeric() || c == '.' || c == '_' {
            value.push(c.to_ascii_lowercase());
        } else if !value.ends_with('-') {
            value.push('-');
        }
    }
    value.truncate(63);
    let value = value.trim_matches(|c: char| !c.is_ascii_alphanumeric());
    (!value.is_empty()).then(|| value.to_owned())
}

/// What the API must change on one live node.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LabelPlan {
    pub set_labels: Vec<(String, String)>,
    pub remove_labels: Vec<String>,
    pub add_taints: Vec<String>,
    pub remove_taints: Vec<String>,
}

impl LabelPlan {
    pub fn is_empty(&self) -> bool {
        self.set_labels.is_empty()
            && self.remove_labels.is_empty()
            && self.add_taints.is_empty()
            && self.remove_taints.is_empty()
    }

    pub fn summary(&self) -> String {
        let mut parts = Vec::new();
        let labels: Vec<String> = self
            .set_labels
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .chain(self.remove_labels.iter().map(|k| format!("{k}-")))
            .collect();
        if !labels.is_empty() {
            parts.push(format!("label {}", labels.join(" ")));
        }
        let taints: Vec<String> = self
            .add_taints
            .iter()
            .cloned()
            .chain(
                self.remove_taints
                    .iter()
                    .map(|t| format!("{}-", taint_key_effect(t))),
            )
            .collect();
        if !taints.is_empty() {
            parts.push(format!("taint {}", taints.join(" ")));
        }
        parts.join("; ")
    }

    /// kubectl commands, run as root on a server.
    pub fn script(&self, node: &str) -> String {
        let mut script = Vec::new();
        let kubectl = "/usr/local/bin/k3s kubectl";
        let labels: Vec<String> = self
            .set_labels
            .iter()
            .map(|(k, v)| shell_quote(&format!("{k}={v}")))
            .chain(
                self.remove_labels
                    .iter()
                    .map(|k| shell_quote(&format!("{k}-"))),
            )
            .collect();
        if !labels.is_empty() {
            script.push(format!(
                "{kubectl} label node {} --overwrite {}",
                shell_quote(node),
                labels.join(" ")
            ));
        }
        let taints: Vec<String> = self
            .remove_taints
            .iter()
            .map(|t| shell_quote(&format!("{}-", taint_key_effect(t))))
            .chain(self.add_taints.iter().map(|t| shell_quote(t)))
            .collect();
        if !taints.is_empty() {
            script.push(format!(
                "{kubectl} taint node {} --overwrite {}",
                shell_quote(node),
                taints.join(" ")
            ));
        }
        script.join(" && ")
    }
}

/// `key=value:Effect` → `key:Effect` (how kubectl names a taint to remove).
fn taint_key_effect(taint: &str) -> String {
    match taint.rsplit_once(':') {
        Some((key_value, effect)) => {
            let key = key_value.split('=').next().unwrap_or(key_value);
            format!("{key}:{effect}")
        }
        None => taint.to_owned(),
    }
}

/// `previous`: what pikube set last time (from the node's registration file).
pub fn plan_labels(
    labels: &[(String, String)],
    taints: &[String],
    previous: &(Vec<(String, String)>, Vec<String>),
    live: &ClusterNode,
) -> LabelPlan {
    let mut plan = LabelPlan::default();
    for (key, value) in labels {
        if live.labels.get(key) != Some(value) {
            plan.set_labels.push((key.clone(), value.clone()));
        }
    }
    for (key, _) in &previous.0 {
        if live.labels.contains_key(key) && !labels.iter().any(|(k, _)| k == key) {
            plan.remove_labels.push(key.clone());
        }
    }
    for taint in taints {
        if !live.taints.contains(taint) {
            // A taint with the same key and effect but another value is replaced.
            plan.add_taints.push(taint.clone());
        }
    }
    for taint in &previous.1 {
        let key_effect = taint_key_effect(taint);
        let still_wanted = taints.iter().any(|t| taint_key_effect(t) == key_effect);
        let on_node = live
            .taints
            .iter()
            .any(|t| taint_key_effect(t) == key_effect);
        if on_node && !still_wanted {
            plan.remove_taints.push(taint.clone());
        }
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;

    fn live(labels: &[(&str, &str)], taints: &[&str]) -> ClusterNode {
        ClusterNode {
            name: "pi-1".into(),
            ready: true,
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            taints: taints.iter().map(ToString::to_string).collect(),
            kubelet_version: String::new(),
            annotations: Default::default(),
            unschedulable: false,
        }
    }

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn label_values_from_model_names() {
        assert_eq!(
            label_value("Raspberry Pi 4 Model B").as_deref(),
            Some("raspberry-pi-4-model-b")
        );
        assert_eq!(label_value("  (weird) "), Some("weird".into()));
        assert_eq!(label_value("---"), None);
        assert_eq!(label_value(&"x".repeat(80)).unwrap().len(), 63);
    }

    #[test]
    fn a_converged_node_needs_nothing() {
        let node = live(
            &[("zone", "a"), ("kubernetes.io/arch", "arm64")],
            &["db:NoSchedule"],
        );
        let plan = plan_labels(
            &pairs(&[("zone", "a")]),
            &["db:NoSchedule".into()],
            &(pairs(&[("zone", "a")]), vec!["db:NoSchedule".into()]),
            &node,
        );
        assert!(plan.is_empty(), "{plan:?}");
    }

    #[test]
    fn changes_removals_and_taints() {
        let node = live(
            &[("zone", "a"), ("old", "x"), ("theirs", "y")],
            &["db=1:NoSchedule", "gone:NoExecute"],
        );
        let previous = (
            pairs(&[("zone", "a"), ("old", "x")]),
            vec!["db=1:NoSchedule".into(), "gone:NoExecute".into()],
        );
        let plan = plan_labels(
            &pairs(&[("zone", "b")]),
            &["db=2:NoSchedule".into()],
            &previous,
            &node,
        );
        assert_eq!(plan.set_labels, pairs(&[("zone", "b")]));
        assert_eq!(plan.remove_labels, ["old"], "labels pikube never set stay");
        assert_eq!(plan.add_taints, ["db=2:NoSchedule"]);
        assert_eq!(plan.remove_taints, ["gone:NoExecute"]);
        assert_eq!(
            plan.summary(),
            "label zone=b old-; taint db=2:NoSchedule gone:NoExecute-"
        );
        let script = plan.script("pi-1");
        assert!(
            script.contains("label node 'pi-1' --overwrite 'zone=b' 'old-'"),
            "{script}"
        );
        assert!(
            script.contains("taint node 'pi-1' --overwrite 'gone:NoExecute-' 'db=2:NoSchedule'"),
            "{script}"
        );
    }
}
