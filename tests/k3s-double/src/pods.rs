//! The kubelet's bookkeeping of the pods bound to its node, at the API and only there: no
//! container runs (there is no runtime behind the double). A pod the real scheduler bound
//! here is reported Running and Ready at once (no image is pulled, no probe runs); a pod
//! being deleted (an eviction by `kubectl drain`, a ReplicaSet scaling down) gets the final
//! delete a kubelet sends once its containers have stopped, so deletions complete and
//! drains end as they do on a live node. A node whose double is stopped does neither: its
//! pods stay Terminating, as on a dead node.

use std::time::{Duration, SystemTime};

use serde_json::{json, Value};

use crate::kube_client::{self, KubeClient};
use crate::kubelet::micro_time;
use crate::log;

/// How often the pods are looked at (a kubelet watches; every 2 s is close enough here).
const SYNC: Duration = Duration::from_secs(2);

/// Looks after the pods bound to `node` for as long as the process runs, through the
/// first API server that answers.
pub fn keep_in_step(clients: Vec<KubeClient>, node: String, host_ip: String) {
    std::thread::spawn(move || {
        let mut current = 0;
        let mut failing = false;
        loop {
            let client = &clients[current % clients.len()];
            match sync(client, &node, &host_ip) {
                Ok(()) => failing = false,
                Err(e) => {
                    if !failing {
                        log::error(&format!("Error syncing the pods of node {node}: {e}"));
                    }
                    failing = true;
                    current += 1;
                }
            }
            std::thread::sleep(SYNC);
        }
    });
}

fn sync(client: &KubeClient, node: &str, host_ip: &str) -> Result<(), String> {
    let list = kube_client::json(client.get(&format!(
        "/api/v1/pods?fieldSelector=spec.nodeName%3D{node}"
    )))?;
    for pod in list["items"].as_array().into_iter().flatten() {
        let (Some(namespace), Some(name)) = (
            pod["metadata"]["namespace"].as_str(),
            pod["metadata"]["name"].as_str(),
        ) else {
            continue;
        };
        let path = format!("/api/v1/namespaces/{namespace}/pods/{name}");
        if pod["metadata"]["deletionTimestamp"].is_string() {
            // Its containers "stopped": the kubelet's final delete, without grace.
            let reply = client
                .request(
                    "DELETE",
                    &path,
                    "application/json",
                    json!({"gracePeriodSeconds": 0, "preconditions": {"uid": pod["metadata"]["uid"]}})
                        .to_string()
                        .as_bytes(),
                )
                .map_err(|e| e.to_string())?;
            if !matches!(reply.status, 200..=299 | 404 | 409) {
                return Err(format!(
                    "deleting pod {namespace}/{name}: {}",
                    kube_client::describe(&reply)
                ));
            }
            log::info(&format!("Pod {namespace}/{name} stopped and removed"));
        } else if pod["status"]["phase"] != "Running" {
            kube_client::json(client.merge_patch(
                &format!("{path}/status"),
                &json!({"status": running(pod, host_ip)}),
            ))
            .map_err(|e| format!("reporting pod {namespace}/{name} running: {e}"))?;
            log::info(&format!("Pod {namespace}/{name} running"));
        }
    }
    Ok(())
}

/// A pod's status once "started": Running, every container ready.
fn running(pod: &Value, host_ip: &str) -> Value {
    let now = micro_time(SystemTime::now());
    let seconds = now.split('.').next().unwrap_or(&now).to_owned() + "Z";
    let condition =
        |kind: &str| json!({"type": kind, "status": "True", "lastTransitionTime": seconds});
    let containers: Vec<Value> = pod["spec"]["containers"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| {
            json!({
                "name": c["name"],
                "image": c["image"],
                "imageID": "",
                "ready": true,
                "started": true,
                "restartCount": 0,
                "state": {"running": {"startedAt": seconds}},
            })
        })
        .collect();
    json!({
        "phase": "Running",
        "hostIP": host_ip,
        "startTime": seconds,
        "conditions": [
            condition("PodScheduled"),
            condition("Initialized"),
            condition("ContainersReady"),
            condition("Ready"),
        ],
        "containerStatuses": containers,
    })
}
