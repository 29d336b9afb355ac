//! K3s' node controllers, as K3s runs them: through finalizers. Every Node carries
//! `wrangler.cattle.io/node` (its node-password Secret is deleted before the Node goes) and a
//! node of an etcd server also `wrangler.cattle.io/managed-etcd-controller` (its etcd member
//! is removed before the Node goes). So `kubectl delete node` waits for them, and when a
//! handler cannot finish (etcd without quorum, a member it cannot find) the finalizer stays
//! and the Node with it, as on a real cluster.

use super::node_passwords;
use crate::kube_client::{self, KubeClient};
use crate::{components, log};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::time::Duration;

pub const NODE_FINALIZER: &str = "wrangler.cattle.io/node";
pub const ETCD_FINALIZER: &str = "wrangler.cattle.io/managed-etcd-controller";
/// The annotations naming a server's etcd member on its Node.
pub const ETCD_NAME: &str = "etcd.k3s.cattle.io/node-name";
pub const ETCD_ADDRESS: &str = "etcd.k3s.cattle.io/node-address";

pub struct Controller {
    pub admin: KubeClient,
    pub data_dir: PathBuf,
    /// This server's own etcd member (`https://ip:2379`).
    pub etcd_endpoint: String,
}

impl Controller {
    pub fn spawn(self) {
        std::thread::spawn(move || loop {
            std::thread::sleep(Duration::from_secs(1));
            let Ok(nodes) = kube_client::json(self.admin.get("/api/v1/nodes")) else {
                continue;
            };
            for node in nodes["items"].as_array().into_iter().flatten() {
                if let Err(e) = self.sync(node) {
                    log::error(&e);
                }
            }
        });
    }

    fn sync(&self, node: &Value) -> Result<(), String> {
        let name = node["metadata"]["name"].as_str().unwrap_or_default();
        let finalizers: Vec<String> = node["metadata"]["finalizers"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|f| f.as_str().map(str::to_string))
            .collect();
        let member = node["metadata"]["annotations"][ETCD_NAME].as_str();
        if node["metadata"]["deletionTimestamp"].is_null() {
            let mut wanted = vec![NODE_FINALIZER];
            if member.is_some() {
                wanted.push(ETCD_FINALIZER);
            }
            let missing: Vec<&str> = wanted
                .into_iter()
                .filter(|w| !finalizers.iter().any(|f| f == w))
                .collect();
            if missing.is_empty() {
                return Ok(());
            }
            let mut all = finalizers.clone();
            all.extend(missing.iter().map(ToString::to_string));
            return self.set_finalizers(node, &all);
        }
        let mut left = finalizers.clone();
        if left.iter().any(|f| f == NODE_FINALIZER) {
            node_passwords::delete(&self.admin, name)?;
            left.retain(|f| f != NODE_FINALIZER);
        }
        if left.iter().any(|f| f == ETCD_FINALIZER) {
            match member {
                Some(member) => self.remove_member(member).map_err(|e| {
                    format!("managed-etcd-controller: node {name}: failed to remove etcd member {member}: {e}")
                })?,
                None => {
                    return Err(format!(
                        "managed-etcd-controller: node {name} has no {ETCD_NAME} annotation; \
                         its etcd member cannot be found"
                    ))
                }
            }
            left.retain(|f| f != ETCD_FINALIZER);
        }
        if left != finalizers {
            self.set_finalizers(node, &left)?;
        }
        Ok(())
    }

    fn set_finalizers(&self, node: &Value, finalizers: &[String]) -> Result<(), String> {
        let name = node["metadata"]["name"].as_str().unwrap_or_default();
        // The resourceVersion makes a concurrent change by another server a conflict, not a loss.
        let patch = json!({"metadata": {
            "finalizers": finalizers,
            "resourceVersion": node["metadata"]["resourceVersion"],
        }});
        match self
            .admin
            .merge_patch(&format!("/api/v1/nodes/{name}"), &patch)
        {
            Ok(r) if (200..300).contains(&r.status) || r.status == 404 || r.status == 409 => Ok(()),
            Ok(r) => Err(format!(
                "failed to update the finalizers of node {name}: {}",
                kube_client::describe(&r)
            )),
            Err(e) => Err(format!(
                "failed to update the finalizers of node {name}: {e}"
            )),
        }
    }

    /// `etcdctl member remove` of the member named `member`; gone already is done.
    fn remove_member(&self, member: &str) -> Result<(), String> {
        let tls = super::etcd::etcdctl_tls(&self.data_dir, &self.etcd_endpoint);
        let mut list = tls.clone();
        list.extend(["member", "list", "-w", "json"].map(String::from));
        let members: Value = serde_json::from_str(&components::run("etcdctl", &list)?)
            .map_err(|e| format!("etcdctl member list: {e}"))?;
        let id = members["members"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|m| m["name"] == member)
            .and_then(|m| m["ID"].as_u64());
        let Some(id) = id else {
            return Ok(());
        };
        let mut remove = tls;
        remove.extend([
            "member".to_string(),
            "remove".to_string(),
            format!("{id:x}"),
        ]);
        components::run("etcdctl", &remove)?;
        log::info(&format!("Removed etcd member {member} of a deleted node"));
        Ok(())
    }
}
