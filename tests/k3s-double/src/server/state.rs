//! What a running server holds: its identity and secrets, and the node store.

use crate::nodes::Store;
use crate::token::{authorize, Grant};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};

pub struct Server {
    /// Random, persistent; tells servers of one cluster apart.
    pub id: String,
    /// Embedded-etcd mode (joinable); false for the SQLite single server.
    pub etcd: bool,
    pub ca: Vec<u8>,
    pub password: String,
    pub agent_password: Option<String>,
    /// base64 client-key-data of the admin kubeconfig.
    pub admin_credential: String,
    pub store_path: PathBuf,
    store: Mutex<Store>,
    dirty: AtomicBool,
}

impl Server {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        id: String,
        etcd: bool,
        ca: Vec<u8>,
        password: String,
        agent_password: Option<String>,
        admin_credential: String,
        store_path: PathBuf,
        store: Store,
    ) -> Server {
        Server {
            id,
            etcd,
            ca,
            password,
            agent_password,
            admin_credential,
            store_path,
            store: Mutex::new(store),
            dirty: AtomicBool::new(false),
        }
    }

    pub fn store(&self) -> MutexGuard<'_, Store> {
        self.store
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn mark_dirty(&self) {
        self.dirty.store(true, Ordering::SeqCst);
    }

    /// Writes the store if it changed since the last save.
    pub fn save_if_dirty(&self) {
        if !self.dirty.swap(false, Ordering::SeqCst) {
            return;
        }
        let json = serde_json::to_vec_pretty(&*self.store()).expect("store serializes");
        if let Err(e) = crate::files::write_mode(&self.store_path, &json, 0o600) {
            crate::log::error(&format!(
                "failed to save {}: {e}",
                self.store_path.display()
            ));
            self.mark_dirty();
        }
    }

    pub fn grant(&self, presented: Option<&str>) -> Option<Grant> {
        authorize(
            presented?,
            &self.ca,
            &self.password,
            self.agent_password.as_deref(),
        )
    }

    /// URLs of the cluster's servers (for agents' failover).
    pub fn server_urls(&self) -> Vec<String> {
        self.store().servers.values().cloned().collect()
    }
}

pub fn load_store(path: &std::path::Path) -> Store {
    std::fs::read(path)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default()
}
