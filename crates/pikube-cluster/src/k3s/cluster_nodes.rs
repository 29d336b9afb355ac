//! The cluster's view of its nodes, read with `k3s kubectl get nodes -o json` on a
//! server (as root: the admin kubeconfig is 0600).

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::config::NodeName;
use crate::ssh::{Connection, SshError};

/// A Node as `kubectl get nodes -o json` shows it, in what pikube needs of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterNode {
    /// Its name.
    pub name: String,
    /// Its Ready condition is True.
    pub ready: bool,
    /// Its labels.
    pub labels: BTreeMap<String, String>,
    /// As `key=value:Effect` or `key:Effect`.
    pub taints: Vec<String>,
    /// What its kubelet reports (the K3s version it runs).
    pub kubelet_version: String,
    /// Its annotations (pikube's cordon mark among them).
    pub annotations: BTreeMap<String, String>,
    /// `kubectl cordon`ed: `spec.unschedulable`.
    pub unschedulable: bool,
}

/// The annotation K3s puts on the Node of each server it added to etcd, naming its member
/// (K3s' etcd metadata controller; its member controller removes the member with the Node).
pub const ETCD_MEMBER_ANNOTATION: &str = "etcd.k3s.cattle.io/node-name";

impl ClusterNode {
    /// The etcd member K3s runs on this node, as its Node records it.
    pub fn etcd_member(&self) -> Option<&str> {
        self.annotations
            .get(ETCD_MEMBER_ANNOTATION)
            .map(String::as_str)
            .filter(|name| !name.is_empty())
    }
}

#[derive(Deserialize)]
struct List {
    #[serde(default)]
    items: Vec<Item>,
}

#[derive(Deserialize)]
struct Item {
    metadata: Metadata,
    #[serde(default)]
    spec: Spec,
    #[serde(default)]
    status: Status,
}

#[derive(Deserialize)]
struct Metadata {
    name: String,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
}

#[derive(Deserialize, Default)]
struct Spec {
    #[serde(default)]
    taints: Vec<Taint>,
    #[serde(default)]
    unschedulable: bool,
}

#[derive(Deserialize)]
struct Taint {
    key: String,
    #[serde(default)]
    value: Option<String>,
    effect: String,
}

#[derive(Deserialize, Default)]
struct Status {
    #[serde(default)]
    conditions: Vec<Condition>,
    #[serde(default, rename = "nodeInfo")]
    node_info: NodeInfo,
}

#[derive(Deserialize, Default)]
struct NodeInfo {
    #[serde(default, rename = "kubeletVersion")]
    kubelet_version: String,
}

#[derive(Deserialize)]
struct Condition {
    #[serde(rename = "type")]
    kind: String,
    status: String,
}

/// Reads `kubectl get nodes -o json`.
pub fn parse_nodes(json: &str) -> Result<Vec<ClusterNode>, serde_json::Error> {
    let list: List = serde_json::from_str(json)?;
    Ok(list
        .items
        .into_iter()
        .map(|item| ClusterNode {
            ready: item
                .status
                .conditions
                .iter()
                .any(|c| c.kind == "Ready" && c.status == "True"),
            taints: item
                .spec
                .taints
                .into_iter()
                .map(|t| match t.value.filter(|v| !v.is_empty()) {
                    Some(value) => format!("{}={value}:{}", t.key, t.effect),
                    None => format!("{}:{}", t.key, t.effect),
                })
                .collect(),
            unschedulable: item.spec.unschedulable,
            name: item.metadata.name,
            labels: item.metadata.labels,
            annotations: item.metadata.annotations,
            kubelet_version: item.status.node_info.kubelet_version,
        })
        .collect())
}

/// Why the cluster's node list could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ClusterNodesError {
    /// The server could not be asked.
    #[error(transparent)]
    Ssh(#[from] SshError),
    /// No server of cluster.toml answered.
    #[error("no server of cluster.toml could be reached to list the cluster's nodes")]
    NoServer,
    /// kubectl ran, but the API did not answer.
    #[error("{node}: the Kubernetes API is not answering yet: {reason}")]
    NotAnswering {
        /// The server.
        node: NodeName,
        /// What kubectl said.
        reason: String,
    },
    #[error(
        "{node}: `kubectl get nodes -o json` printed something that is not a node list: {causes}",
        causes = crate::error_chain::describe(cause)
    )]
    /// kubectl printed something else than a node list.
    Parse {
        /// The server.
        node: NodeName,
        /// What the parser said.
        cause: serde_json::Error,
    },
}

/// The nodes as the server on `connection` sees them.
pub async fn get_nodes(connection: &Connection) -> Result<Vec<ClusterNode>, ClusterNodesError> {
    let output = connection
        .run_privileged_unchecked(
            "listing the cluster's nodes",
            "/usr/local/bin/k3s kubectl get nodes -o json",
            b"",
        )
        .await?;
    if !output.success() {
        let reason = output
            .stderr
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("no output")
            .to_owned();
        return Err(ClusterNodesError::NotAnswering {
            node: connection.node().to_owned(),
            reason,
        });
    }
    parse_nodes(&output.stdout).map_err(|cause| ClusterNodesError::Parse {
        node: connection.node().to_owned(),
        cause,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_readiness_labels_and_taints() {
        let json = r#"{"apiVersion":"v1","kind":"List","items":[
          {"metadata":{"name":"pi-1","labels":{"kubernetes.io/arch":"arm64"}},
           "spec":{"taints":[{"key":"dedicated","value":"db","effect":"NoSchedule"},{"key":"gpu","effect":"NoExecute"}]},
           "status":{"conditions":[{"type":"MemoryPressure","status":"False"},{"type":"Ready","status":"True"}],
                     "nodeInfo":{"kubeletVersion":"v1.31.4+k3s1"}}},
          {"metadata":{"name":"pi-2"},"status":{"conditions":[{"type":"Ready","status":"Unknown"}]}}]}"#;
        let nodes = parse_nodes(json).unwrap();
        assert_eq!(nodes.len(), 2);
        assert!(nodes[0].ready);
        assert_eq!(nodes[0].labels["kubernetes.io/arch"], "arm64");
        assert_eq!(
            nodes[0].taints,
            ["dedicated=db:NoSchedule", "gpu:NoExecute"]
        );
        assert_eq!(nodes[0].kubelet_version, "v1.31.4+k3s1");
        assert!(!nodes[1].ready);
        assert!(parse_nodes("error").is_err());
    }
}
