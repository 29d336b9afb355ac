//! The cluster's node objects as the double keeps them: what agents and
//! servers registered, their heartbeats, and what kubectl changed. Replicated
//! between servers by last-writer-wins per node (see `server::replicate`).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

/// A node is Ready while its last heartbeat is younger than this.
pub const READY_WINDOW_MS: u64 = 10_000;

pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Taint {
    pub key: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub value: String,
    pub effect: String,
}

pub const EFFECTS: [&str; 3] = ["NoSchedule", "PreferNoSchedule", "NoExecute"];

impl Taint {
    /// `key=value:Effect` or `key:Effect`.
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

/// Taints the control plane manages itself; never stored.
pub fn is_system_taint(key: &str) -> bool {
    matches!(
        key,
        "node.kubernetes.io/unschedulable"
            | "node.kubernetes.io/unreachable"
            | "node.kubernetes.io/not-ready"
    )
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Node {
    pub name: String,
    /// sha256 of the node password (`/etc/rancher/node/password`).
    pub password_hash: String,
    pub labels: BTreeMap<String, String>,
    pub taints: Vec<Taint>,
    pub unschedulable: bool,
    pub version: String,
    pub internal_ip: String,
    pub created_ms: u64,
    pub last_heartbeat_ms: u64,
    /// Revision of everything but the heartbeat: (time, writer) orders writes.
    pub rev: (u64, String),
    pub deleted: bool,
}

impl Node {
    pub fn ready(&self, now: u64) -> bool {
        now.saturating_sub(self.last_heartbeat_ms) < READY_WINDOW_MS
    }
}

/// What a kubelet (agent or server) sends when it starts.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Registration {
    pub name: String,
    pub password: String,
    pub labels: BTreeMap<String, String>,
    pub taints: Vec<Taint>,
    pub version: String,
    #[serde(default)]
    pub internal_ip: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    PasswordRejected,
    NotFound,
}

pub const PASSWORD_REJECTED: &str = "Node password rejected, duplicate hostname or contents of \
'/etc/rancher/node/password' may not match server node-passwd entry, try enabling a unique \
node name with the --with-node-id flag";

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Store {
    pub nodes: BTreeMap<String, Node>,
    /// Server id → URL other nodes reach it at.
    pub servers: BTreeMap<String, String>,
}

impl Store {
    /// Live (not deleted) nodes, by name.
    pub fn live(&self) -> impl Iterator<Item = &Node> {
        self.nodes.values().filter(|n| !n.deleted)
    }

    pub fn get(&self, name: &str) -> Option<&Node> {
        self.nodes.get(name).filter(|n| !n.deleted)
    }

    /// Creates the node, or re-registers it when the password matches: labels
    /// are then added/updated (never removed), taints only apply at creation.
    pub fn register(&mut self, reg: Registration, writer: &str) -> Result<(), Refusal> {
        let now = now_ms();
        let hash = crate::encoding::sha256_hex(reg.password.as_bytes());
        let rev = (now, writer.to_string());
        match self.nodes.get_mut(&reg.name).filter(|n| !n.deleted) {
            Some(node) if node.password_hash != hash => Err(Refusal::PasswordRejected),
            Some(node) => {
                node.labels.extend(reg.labels);
                node.version = reg.version;
                node.internal_ip = reg.internal_ip;
                node.last_heartbeat_ms = now;
                node.rev = rev;
                Ok(())
            }
            None => {
                let node = Node {
                    name: reg.name.clone(),
                    password_hash: hash,
                    labels: reg.labels,
                    taints: reg.taints,
                    unschedulable: false,
                    version: reg.version,
                    internal_ip: reg.internal_ip,
                    created_ms: now,
                    last_heartbeat_ms: now,
                    rev,
                    deleted: false,
                };
                self.nodes.insert(reg.name, node);
                Ok(())
            }
        }
    }

    pub fn heartbeat(&mut self, name: &str, password: &str) -> Result<(), Refusal> {
        let node = self
            .nodes
            .get_mut(name)
            .filter(|n| !n.deleted)
            .ok_or(Refusal::NotFound)?;
        if node.password_hash != crate::encoding::sha256_hex(password.as_bytes()) {
            return Err(Refusal::PasswordRejected);
        }
        node.last_heartbeat_ms = now_ms();
        Ok(())
    }

    /// Replaces the editable parts of a node (kubectl label/taint/cordon).
    pub fn update(
        &mut self,
        name: &str,
        labels: BTreeMap<String, String>,
        taints: Vec<Taint>,
        unschedulable: bool,
        writer: &str,
    ) -> Result<(), Refusal> {
        let node = self
            .nodes
            .get_mut(name)
            .filter(|n| !n.deleted)
            .ok_or(Refusal::NotFound)?;
        node.labels = labels;
        node.taints = taints
            .into_iter()
            .filter(|t| !is_system_taint(&t.key))
            .collect();
        node.unschedulable = unschedulable;
        node.rev = (now_ms(), writer.to_string());
        Ok(())
    }

    /// Deletes the node and forgets its password (as deleting the Node
    /// removes its node-password secret in k3s).
    pub fn delete(&mut self, name: &str, writer: &str) -> Result<(), Refusal> {
        let node = self
            .nodes
            .get_mut(name)
            .filter(|n| !n.deleted)
            .ok_or(Refusal::NotFound)?;
        node.deleted = true;
        node.password_hash.clear();
        node.rev = (now_ms(), writer.to_string());
        Ok(())
    }

    /// Last writer wins per node; heartbeats only move forward.
    /// Returns whether anything changed.
    pub fn merge(&mut self, other: &Store) -> bool {
        let mut changed = false;
        for (name, theirs) in &other.nodes {
            match self.nodes.get_mut(name) {
                None => {
                    self.nodes.insert(name.clone(), theirs.clone());
                    changed = true;
                }
                Some(ours) => {
                    let heartbeat = ours.last_heartbeat_ms.max(theirs.last_heartbeat_ms);
                    if theirs.rev > ours.rev {
                        *ours = theirs.clone();
                        changed = true;
                    }
                    if ours.last_heartbeat_ms != heartbeat {
                        ours.last_heartbeat_ms = heartbeat;
                        changed = true;
                    }
                }
            }
        }
        for (id, url) in &other.servers {
            if self.servers.get(id) != Some(url) {
                self.servers.insert(id.clone(), url.clone());
                changed = true;
            }
        }
        changed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reg(name: &str, password: &str, label: (&str, &str)) -> Registration {
        Registration {
            name: name.into(),
            password: password.into(),
            labels: [(label.0.to_string(), label.1.to_string())].into(),
            taints: vec![Taint::parse("dedicated=pi:NoSchedule").unwrap()],
            version: "v1.31.4+k3s1".into(),
            internal_ip: "10.0.0.2".into(),
        }
    }

    #[test]
    fn registration_password_and_label_rules() {
        let mut store = Store::default();
        store.register(reg("pi2", "pw", ("a", "1")), "s1").unwrap();
        assert_eq!(
            store.register(reg("pi2", "other", ("a", "1")), "s1"),
            Err(Refusal::PasswordRejected)
        );
        store
            .update(
                "pi2",
                [("keep".to_string(), "x".to_string())].into(),
                vec![],
                true,
                "s1",
            )
            .unwrap();
        store.register(reg("pi2", "pw", ("b", "2")), "s1").unwrap();
        let node = store.get("pi2").unwrap();
        assert_eq!(node.labels.len(), 2, "{:?}", node.labels);
        assert!(
            node.taints.is_empty(),
            "taints only apply at first registration"
        );
        assert!(node.unschedulable);

        store.delete("pi2", "s1").unwrap();
        assert!(store.get("pi2").is_none());
        assert_eq!(store.heartbeat("pi2", "pw"), Err(Refusal::NotFound));
        store.register(reg("pi2", "new", ("a", "1")), "s1").unwrap();
        assert_eq!(store.get("pi2").unwrap().taints.len(), 1);
    }

    #[test]
    fn merge_is_last_writer_wins_with_monotonic_heartbeats() {
        let mut a = Store::default();
        a.register(reg("pi2", "pw", ("a", "1")), "s1").unwrap();
        let mut b = Store::default();
        assert!(b.merge(&a));
        assert!(!b.merge(&a));
        b.update("pi2", BTreeMap::new(), vec![], true, "s2")
            .unwrap();
        a.nodes.get_mut("pi2").unwrap().last_heartbeat_ms += 5000;
        assert!(a.merge(&b));
        let node = a.get("pi2").unwrap();
        assert!(node.unschedulable);
        assert!(node.labels.is_empty());
        assert_eq!(
            node.last_heartbeat_ms,
            b.get("pi2").unwrap().last_heartbeat_ms + 5000
        );
    }

    #[test]
    fn taint_specs() {
        assert_eq!(
            Taint::parse("k=v:NoExecute").unwrap(),
            Taint {
                key: "k".into(),
                value: "v".into(),
                effect: "NoExecute".into()
            }
        );
        assert_eq!(Taint::parse("k:NoSchedule").unwrap().value, "");
        assert!(Taint::parse("k=v:Sometimes").is_err());
        assert!(Taint::parse("k=v").is_err());
    }
}
