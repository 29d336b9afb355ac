//! Node objects rendered the way the Kubernetes API returns them (the parts
//! kubectl and an installer look at).

use crate::log::rfc3339;
use crate::nodes::{Node, Taint};
use serde_json::{json, Value};

pub fn node_json(node: &Node, now_ms: u64) -> Value {
    let ready = node.ready(now_ms);
    let mut taints: Vec<Taint> = node.taints.clone();
    if node.unschedulable {
        taints.push(system_taint(
            "node.kubernetes.io/unschedulable",
            "NoSchedule",
        ));
    }
    if !ready {
        taints.push(system_taint("node.kubernetes.io/unreachable", "NoSchedule"));
        taints.push(system_taint("node.kubernetes.io/unreachable", "NoExecute"));
    }
    let heartbeat = rfc3339(node.last_heartbeat_ms / 1000);
    let condition = if ready {
        json!({"type": "Ready", "status": "True", "reason": "KubeletReady",
               "message": "kubelet is posting ready status",
               "lastHeartbeatTime": heartbeat})
    } else {
        json!({"type": "Ready", "status": "Unknown", "reason": "NodeStatusUnknown",
               "message": "Kubelet stopped posting node status.",
               "lastHeartbeatTime": heartbeat})
    };
    let arch = node
        .labels
        .get("kubernetes.io/arch")
        .cloned()
        .unwrap_or_default();
    let mut spec = json!({"providerID": format!("k3s://{}", node.name)});
    if !taints.is_empty() {
        spec["taints"] = serde_json::to_value(&taints).expect("taints serialize");
    }
    if node.unschedulable {
        spec["unschedulable"] = json!(true);
    }
    json!({
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": node.name,
            "labels": node.labels,
            "annotations": {"k3s.io/double": "true"},
            "creationTimestamp": rfc3339(node.created_ms / 1000),
        },
        "spec": spec,
        "status": {
            "conditions": [condition],
            "addresses": [
                {"type": "InternalIP", "address": node.internal_ip},
                {"type": "Hostname", "address": node.name},
            ],
            "nodeInfo": {
                "kubeletVersion": node.version,
                "kubeProxyVersion": node.version,
                "architecture": arch,
                "operatingSystem": "linux",
                "containerRuntimeVersion": "containerd://1.7.23-k3s2",
            },
        },
    })
}

fn system_taint(key: &str, effect: &str) -> Taint {
    Taint {
        key: key.into(),
        value: String::new(),
        effect: effect.into(),
    }
}

pub fn node_list<'a>(nodes: impl Iterator<Item = &'a Node>, now_ms: u64) -> Value {
    let items: Vec<Value> = nodes.map(|n| node_json(n, now_ms)).collect();
    json!({"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""}, "items": items})
}

/// A Kubernetes `Status` failure, e.g. NotFound.
pub fn status(code: u16, reason: &str, message: &str) -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "status": "Failure",
           "message": message, "reason": reason, "code": code})
}
