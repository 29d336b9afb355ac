//! What a running server holds: its mode, its secrets, its address and its client of
//! the API server.

use crate::kube_client::KubeClient;
use crate::token::{authorize, Grant};
use std::path::PathBuf;

pub struct Server {
    /// Embedded-etcd mode (joinable); false for the SQLite single server.
    pub etcd: bool,
    pub data_dir: PathBuf,
    /// `server-ca.crt` as served on `/cacerts` (the token pins its hash).
    pub ca: Vec<u8>,
    pub password: String,
    pub agent_password: Option<String>,
    /// This server's etcd member, for joining servers to add themselves through.
    pub etcd_endpoint: String,
    /// The supervisor's client of the API server (group system:masters).
    pub admin: KubeClient,
    /// The settings a joining server must share.
    pub critical: std::collections::BTreeMap<String, String>,
}

impl Server {
    pub fn grant(&self, presented: Option<&str>) -> Option<Grant> {
        authorize(
            presented?,
            &self.ca,
            &self.password,
            self.agent_password.as_deref(),
        )
    }
}
