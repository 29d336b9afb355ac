//! The cluster lock as commands take it: on the first server of cluster.toml that answers,
//! released at the end, reaching the server again if it rebooted meanwhile.

use std::collections::BTreeMap;

use super::{ClusterLock, ClusterLockError, Reopen, PATH, STALE_AFTER};
use crate::config::NodeName;
use crate::fleet::Fleet;
use crate::progress::{Progress, SilentProgress};
use crate::run_lock::{Holder, WAIT};
use crate::ssh::SudoPassword;

/// The cluster lock held on a server, with the fleet of servers whose SSH settings (and
/// control sockets) its connection lives on.
pub struct ServerLock {
    lock: ClusterLock,
    servers: Fleet,
}

impl ServerLock {
    /// Takes the lock on the first of `servers` that answers, for `command`. `None` when no
    /// server answers: the command then meets the same unreachable servers and says so.
    ///
    /// `found_at` names nodes found elsewhere than at their address in cluster.toml (a
    /// move to a static address not made yet): when no server answers at its own, the lock
    /// is taken on the first server among them there (other nodes are not servers' fleet). Reaching it again and releasing the lock go
    /// through cluster.toml's address, where the run leaves it.
    pub async fn take(
        servers: Fleet,
        found_at: &BTreeMap<NodeName, String>,
        command: &str,
        force_unlock: bool,
        progress: &dyn Progress,
        sudo_password: &(dyn Fn(&str) -> Option<SudoPassword> + Sync),
    ) -> Result<Option<ServerLock>, ClusterLockError> {
        let mut first = None;
        for connected in servers.connect_privileged(progress, sudo_password).await {
            match (connected.result, first.is_none()) {
                (Ok(connection), true) => first = Some(connection),
                (Ok(connection), false) => connection.close().await,
                (Err(_), _) => {}
            }
        }
        for (node, address) in found_at {
            if first.is_some() {
                break;
            }
            let found = servers
                .connect_at(node, address, progress, sudo_password, true)
                .await;
            if let Some(Ok(connection)) = found {
                first = Some(connection);
            }
        }
        let Some(server) = first else {
            return Ok(None);
        };
        let reopen = servers
            .members()
            .iter()
            .find(|member| member.desired.name == *server.node())
            .map(|member| Reopen {
                client: servers.shared_client(),
                target: member.target.clone(),
            });
        let lock = ClusterLock::acquire(
            server,
            &Holder::this_process(command),
            WAIT,
            force_unlock,
            reopen,
        )
        .await?;
        progress.node(lock.node(), &format!("holding the cluster lock ({PATH})"));
        Ok(Some(ServerLock { lock, servers }))
    }

    /// What to tell the user when the lock was taken over from a holder that is gone.
    pub fn took_over_note(&self) -> Option<String> {
        self.lock.took_over.as_ref().map(|(previous, age)| {
            format!(
                "took over the cluster lock on {} from {}, untouched for {age} s",
                self.lock.node(),
                previous.describe()
            )
        })
    }

    /// The server the lock is on.
    pub fn node(&self) -> &str {
        self.lock.node()
    }

    /// Releases the lock; a server rebooted meanwhile is reached again for it. `Err` says
    /// the lock is left (it goes stale by itself).
    pub async fn release(
        self,
        sudo_password: &(dyn Fn(&str) -> Option<SudoPassword> + Sync),
    ) -> Result<(), String> {
        let ServerLock { lock, servers } = self;
        let node = lock.node().to_owned();
        let script = lock.release_script();
        if lock.release().await.is_ok() {
            return Ok(());
        }
        let mut released = false;
        for connected in servers
            .connect_privileged(&SilentProgress, sudo_password)
            .await
        {
            let Ok(connection) = connected.result else {
                continue;
            };
            if connected.node == node && !released {
                released = connection
                    .run_privileged("releasing the cluster lock", &script, b"")
                    .await
                    .is_ok();
            }
            connection.close().await;
        }
        if released {
            Ok(())
        } else {
            Err(format!(
                "the cluster lock on {node} ({PATH}) could not be released: it goes stale in {} s",
                STALE_AFTER.as_secs()
            ))
        }
    }
}
