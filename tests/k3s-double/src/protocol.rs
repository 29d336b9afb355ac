//! The double's own supervisor protocol between its servers and agents: JSON over plain
//! HTTP on the supervisor port. k3s serves these on its TLS port 6443 beside the API; the
//! double leaves 6443 to the real kube-apiserver and keeps its supervisor apart (see the
//! README's list of differences).
//!
//! | request | auth (Bearer) | purpose |
//! |---|---|---|
//! | `GET /cacerts` | none | the cluster CA, for token CA-hash pinning |
//! | `GET /ping` | none | liveness, answers `pong` |
//! | `POST /v1-k3s/server-bootstrap` | server token | a server joins: CAs and keys, passwords, etcd |
//! | `POST /v1-k3s/double/register` | server or agent token | a node's password is checked and its client certificate issued |

use crate::tls::Bootstrap;
use serde::{Deserialize, Serialize};

pub const JOIN: &str = "/v1-k3s/server-bootstrap";
pub const REGISTER: &str = "/v1-k3s/double/register";

/// The supervisor listens here, on every address of a server.
pub const SUPERVISOR_PORT: u16 = 9345;

/// The supervisor URL of the server whose API is at `url` (`https://host:6443`).
pub fn supervisor_url(url: &str) -> String {
    let authority = crate::http::host_port(url);
    let host = authority
        .rsplit_once(':')
        .map(|(host, _)| host)
        .unwrap_or(&authority);
    format!("http://{host}:{SUPERVISOR_PORT}")
}

#[derive(Debug, Serialize, Deserialize)]
pub struct JoinRequest {
    /// The joining server's address (its etcd peer and API are reached there).
    pub ip: String,
    /// Its values of the settings every server of a cluster must share.
    pub critical: std::collections::BTreeMap<String, String>,
}

/// The start of the refusal when a joining server's critical settings differ.
pub const CRITICAL_MISMATCH: &str = "critical configuration value mismatch";

#[derive(Debug, Serialize, Deserialize)]
pub struct JoinReply {
    pub bootstrap: Bootstrap,
    pub password: String,
    pub agent_password: Option<String>,
    /// An etcd member of the cluster to add the new member through.
    pub etcd_endpoint: String,
    /// The cluster's `EncryptionConfiguration`, when it encrypts Secrets.
    #[serde(default)]
    pub encryption_config: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RegisterRequest {
    pub name: String,
    pub password: String,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct RegisterReply {
    /// The node's client certificate (`system:node:<name>`) and key, PEM.
    pub certificate: String,
    pub key: String,
    /// The cluster CA the API server's certificate chains to, PEM.
    pub server_ca: String,
    /// Every API server URL the cluster advertises.
    pub servers: Vec<String>,
}

/// Why the joining server was refused by a SQLite server.
pub const NOT_ETCD: &str = "cluster was not initialized with embedded etcd: this server uses \
the SQLite datastore, which cannot be joined by other servers (start the first server with \
--cluster-init)";

#[cfg(test)]
mod tests {
    #[test]
    fn supervisor_beside_the_api() {
        assert_eq!(
            super::supervisor_url("https://10.0.0.1:6443"),
            "http://10.0.0.1:9345"
        );
        assert_eq!(super::supervisor_url("https://pi1"), "http://pi1:9345");
        assert_eq!(
            super::supervisor_url("https://[::1]:6443"),
            "http://[::1]:9345"
        );
    }
}
