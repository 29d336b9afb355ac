//! The double's stand-in for etcd replication: every second each server
//! sends its node store to every other known server and merges the answer
//! (last writer wins per node, heartbeats only move forward). A server that
//! cannot reach the others keeps serving its own copy. There is no quorum:
//! two partitioned halves both keep accepting writes (real etcd would not).

use super::state::Server;
use crate::nodes::Store;
use crate::protocol::SYNC;
use crate::{http, log};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

pub fn spawn(server: Arc<Server>) {
    std::thread::spawn(move || {
        let mut unreachable: BTreeSet<String> = BTreeSet::new();
        loop {
            std::thread::sleep(Duration::from_secs(1));
            let peers: Vec<(String, String)> = server
                .store()
                .servers
                .iter()
                .filter(|(id, _)| **id != server.id)
                .map(|(id, url)| (id.clone(), url.clone()))
                .collect();
            for (_, url) in peers {
                match exchange(&server, &url) {
                    Ok(()) => {
                        if unreachable.remove(&url) {
                            log::info(&format!("etcd peer {url} is reachable again"));
                        }
                    }
                    Err(e) => {
                        if unreachable.insert(url.clone()) {
                            log::warn(&format!("failed to reach etcd peer {url}: {e}"));
                        }
                    }
                }
            }
        }
    });
}

fn exchange(server: &Server, url: &str) -> Result<(), String> {
    let ours = serde_json::to_vec(&*server.store()).expect("store serializes");
    let reply = http::call(url, "POST", SYNC, Some(&server.password), Some(&ours))
        .map_err(|e| e.to_string())?;
    if reply.status != 200 {
        return Err(format!("{} {}", reply.status, http::reason(reply.status)));
    }
    let theirs: Store = serde_json::from_slice(&reply.body).map_err(|e| e.to_string())?;
    if server.store().merge(&theirs) {
        server.mark_dirty();
    }
    Ok(())
}

/// Saves the store to disk twice a second when it changed.
pub fn spawn_saver(server: Arc<Server>) {
    std::thread::spawn(move || loop {
        std::thread::sleep(Duration::from_millis(500));
        server.save_if_dirty();
    });
}
