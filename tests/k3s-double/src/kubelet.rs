//! The kubelet's part at the API, and only that part: register the Node object with the
//! node's own client certificate (`system:node:<name>`, so the real Node authorizer and
//! NodeRestriction admission judge it), keep its Lease in `kube-node-lease` renewed and its
//! status Ready, as kwok does for its fake nodes. No container runs: there is no runtime
//! behind it; the pods bound to the node are only reported on (`pods.rs`). When the double
//! stops, renewals stop, and the real node lifecycle controller marks the node NotReady.

use crate::kube_client::{self, KubeClient};
use crate::log;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How often the lease is renewed and the status posted (the kubelet's defaults).
const RENEW: Duration = Duration::from_secs(10);
const LEASE_SECONDS: u64 = 40;

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Taint {
    pub key: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub value: String,
    pub effect: String,
}

pub const EFFECTS: [&str; 3] = ["NoSchedule", "PreferNoSchedule", "NoExecute"];

impl Taint {
    /// `key=value:Effect` or `key:Effect`, as `--node-taint` takes them.
    pub fn parse(spec: &str) -> Result<Taint, String> {
        let (kv, effect) = spec
            .rsplit_once(':')
            .ok_or_else(|| format!("invalid taint spec: {spec}"))?;
        if !EFFECTS.contains(&effect) {
            return Err(format!(
                "invalid taint effect: {effect}, unsupported taint effect"
            ));
        }
        let (key, value) = kv.split_once('=').unwrap_or((kv, ""));
        if key.is_empty() {
            return Err(format!("invalid taint spec: {spec}"));
        }
        Ok(Taint {
            key: key.into(),
            value: value.into(),
            effect: effect.into(),
        })
    }
}

/// What the node registers as.
#[derive(Debug, Clone)]
pub struct NodeSpec {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub taints: Vec<Taint>,
    /// The k3s version the double reports (`v1.34.4+k3s1`), as the kubelet's version.
    pub version: String,
    pub internal_ip: String,
}

/// Creates the Node, or, when it exists (a restart), adds this start's labels to it:
/// labels are added or updated, never removed; taints apply only when it is created.
pub fn register(client: &KubeClient, spec: &NodeSpec) -> Result<(), String> {
    let node = json!({
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": spec.name,
            "labels": spec.labels,
            "annotations": {
                "k3s.io/double": "true",
                "k3s.io/internal-ip": spec.internal_ip,
                "k3s.io/hostname": crate::node_identity::hostname(),
            },
        },
        "spec": {
            "providerID": format!("k3s://{}", spec.name),
            "taints": spec.taints,
        },
        "status": status(spec),
    });
    let reply = client
        .post("/api/v1/nodes", &node)
        .map_err(|e| format!("failed to contact {}: {e}", client.url()))?;
    match reply.status {
        200..=299 => {}
        409 => {
            let labels = json!({"metadata": {"labels": spec.labels}});
            kube_client::json(client.merge_patch(&node_path(&spec.name), &labels))
                .map_err(|e| format!("unable to update node {:?}: {e}", spec.name))?;
        }
        _ => {
            return Err(format!(
                "unable to register node {:?} with API server: {}",
                spec.name,
                kube_client::describe(&reply)
            ))
        }
    }
    post_status(client, spec)
}

/// Renews the lease and posts the status every 10 s, for as long as the process runs,
/// moving on to the next API server when one fails (as k3s' agent load balancer does).
/// The pods bound to the node are looked after beside it (`pods.rs`).
pub fn keep_alive(clients: Vec<KubeClient>, spec: NodeSpec) {
    crate::pods::keep_in_step(clients.clone(), spec.name.clone(), spec.internal_ip.clone());
    std::thread::spawn(move || {
        let mut failing = false;
        let mut current = 0;
        loop {
            let client = &clients[current % clients.len()];
            let result = renew_lease(client, &spec.name).and_then(|()| post_status(client, &spec));
            match result {
                Ok(()) if failing => {
                    log::info(&format!(
                        "Node {} status updates resumed via {}",
                        spec.name,
                        client.url()
                    ));
                    failing = false;
                }
                Ok(()) => {}
                Err(e) => {
                    if !failing {
                        log::error(&format!("Error updating node status, will retry: {e}"));
                    }
                    failing = true;
                    current += 1;
                }
            }
            std::thread::sleep(RENEW);
        }
    });
}

fn node_path(name: &str) -> String {
    format!("/api/v1/nodes/{name}")
}

fn post_status(client: &KubeClient, spec: &NodeSpec) -> Result<(), String> {
    let patch = json!({"status": status(spec)});
    kube_client::json(client.merge_patch(&format!("{}/status", node_path(&spec.name)), &patch))
        .map(|_| ())
        .map_err(|e| format!("error updating node {:?} status: {e}", spec.name))
}

fn renew_lease(client: &KubeClient, name: &str) -> Result<(), String> {
    let path = format!("/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/{name}");
    let spec = json!({
        "holderIdentity": name,
        "leaseDurationSeconds": LEASE_SECONDS,
        "renewTime": micro_time(SystemTime::now()),
    });
    let reply = client
        .merge_patch(&path, &json!({"spec": spec}))
        .map_err(|e| e.to_string())?;
    match reply.status {
        200..=299 => Ok(()),
        404 => {
            let lease = json!({
                "apiVersion": "coordination.k8s.io/v1",
                "kind": "Lease",
                "metadata": {"name": name, "namespace": "kube-node-lease"},
                "spec": spec,
            });
            kube_client::json(client.post(
                "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases",
                &lease,
            ))
            .map(|_| ())
            .map_err(|e| format!("failed to create lease: {e}"))
        }
        _ => Err(format!(
            "failed to renew lease kube-node-lease/{name}: {}",
            kube_client::describe(&reply)
        )),
    }
}

fn status(spec: &NodeSpec) -> Value {
    let now = crate::log::rfc3339_now();
    let condition = |kind: &str, status: &str, reason: &str, message: &str| {
        json!({"type": kind, "status": status, "reason": reason, "message": message,
               "lastHeartbeatTime": now, "lastTransitionTime": now})
    };
    let resources = json!({
        "cpu": std::thread::available_parallelism().map(std::num::NonZero::get).unwrap_or(1).to_string(),
        "memory": format!("{}Ki", mem_total_kib()),
        "pods": "110",
        "ephemeral-storage": "30000000Ki",
    });
    json!({
        "conditions": [
            condition("MemoryPressure", "False", "KubeletHasSufficientMemory",
                      "kubelet has sufficient memory available"),
            condition("DiskPressure", "False", "KubeletHasNoDiskPressure",
                      "kubelet has no disk pressure"),
            condition("PIDPressure", "False", "KubeletHasSufficientPID",
                      "kubelet has sufficient PID available"),
            condition("Ready", "True", "KubeletReady",
                      "kubelet is posting ready status (k3s-double: no containers run here)"),
        ],
        "addresses": [
            {"type": "InternalIP", "address": spec.internal_ip},
            {"type": "Hostname", "address": crate::node_identity::hostname()},
        ],
        "capacity": resources,
        "allocatable": resources,
        "nodeInfo": {
            "kubeletVersion": spec.version,
            "kubeProxyVersion": spec.version,
            "architecture": crate::node_identity::arch(),
            "operatingSystem": "linux",
            "osImage": os_image(),
            "kernelVersion": kernel_version(),
            "containerRuntimeVersion": "containerd://2.1.5-k3s1 (k3s-double: none)",
            "machineID": read_trimmed("/etc/machine-id"),
            "systemUUID": "",
            "bootID": read_trimmed("/proc/sys/kernel/random/boot_id"),
        },
    })
}

fn read_trimmed(path: &str) -> String {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

fn mem_total_kib() -> u64 {
    read_trimmed("/proc/meminfo")
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn os_image() -> String {
    read_trimmed("/etc/os-release")
        .lines()
        .find_map(|l| l.strip_prefix("PRETTY_NAME="))
        .map(|v| v.trim_matches('"').to_string())
        .unwrap_or_else(|| "Linux".into())
}

fn kernel_version() -> String {
    read_trimmed("/proc/sys/kernel/osrelease")
}

/// Kubernetes' MicroTime: RFC 3339 with microseconds, UTC.
pub fn micro_time(at: SystemTime) -> String {
    let since = at.duration_since(UNIX_EPOCH).unwrap_or_default();
    let seconds = log::rfc3339(since.as_secs());
    format!(
        "{}.{:06}Z",
        seconds.trim_end_matches('Z'),
        since.subsec_micros()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn taints_parse_as_the_kubelet_flag_does() {
        let t = Taint::parse("dedicated=pi:NoSchedule").unwrap();
        assert_eq!(
            (t.key.as_str(), t.value.as_str(), t.effect.as_str()),
            ("dedicated", "pi", "NoSchedule")
        );
        assert_eq!(Taint::parse("gpu:NoExecute").unwrap().value, "");
        assert!(Taint::parse("x=y:Sometimes").is_err());
        assert!(Taint::parse("=y:NoSchedule").is_err());
        assert!(Taint::parse("novalue").is_err());
    }

    #[test]
    fn micro_time_has_six_fraction_digits() {
        let at = UNIX_EPOCH + Duration::from_micros(1_709_251_199_000_042);
        assert_eq!(micro_time(at), "2024-02-29T23:59:59.000042Z");
    }
}
