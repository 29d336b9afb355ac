//! The double's own wire protocol between its servers, agents and kubectl:
//! JSON over plain HTTP on the API port (6443 by default).
//!
//! | request | auth (Bearer) | purpose |
//! |---|---|---|
//! | `GET /cacerts` | none | the cluster CA, for token CA-hash pinning |
//! | `GET /ping` | none | liveness, answers `pong` |
//! | `POST /v1-k3s/server-bootstrap` | server token | a server joins: CA, passwords, store |
//! | `POST /v1-k3s/double/sync` | server token | servers exchange their node stores |
//! | `POST /v1-k3s/double/register` | server or agent token | a kubelet registers its node |
//! | `POST /v1-k3s/double/heartbeat` | server or agent token | a kubelet is alive (every 2 s) |
//! | `GET /api/v1/nodes[/NAME]` | kubeconfig client key | NodeList / Node JSON |
//! | `PUT /api/v1/nodes/NAME` | kubeconfig client key | replace labels, taints, unschedulable |
//! | `DELETE /api/v1/nodes/NAME` | kubeconfig client key | delete the node |

use crate::nodes::{Store, Taint};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub const JOIN: &str = "/v1-k3s/server-bootstrap";
pub const SYNC: &str = "/v1-k3s/double/sync";
pub const REGISTER: &str = "/v1-k3s/double/register";
pub const HEARTBEAT: &str = "/v1-k3s/double/heartbeat";
pub const NODES: &str = "/api/v1/nodes";

#[derive(Debug, Serialize, Deserialize)]
pub struct JoinRequest {
    pub id: String,
    /// The joining server's API port; its address is taken from the connection.
    pub port: u16,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct JoinReply {
    pub id: String,
    pub ca: String,
    pub password: String,
    pub agent_password: Option<String>,
    pub store: Store,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct RegisterReply {
    /// Every server URL known to the cluster.
    pub servers: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Heartbeat {
    pub name: String,
    pub password: String,
}

/// The editable part of a node, as kubectl PUTs it back.
#[derive(Debug, Serialize, Deserialize)]
pub struct NodeEdit {
    pub labels: BTreeMap<String, String>,
    pub taints: Vec<Taint>,
    pub unschedulable: bool,
}

/// Why the joining server was refused by a SQLite server.
pub const NOT_ETCD: &str = "cluster was not initialized with embedded etcd: this server uses \
the SQLite datastore, which cannot be joined by other servers (start the first server with \
--cluster-init)";
