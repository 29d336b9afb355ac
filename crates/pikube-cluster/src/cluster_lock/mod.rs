//! The cluster's own lock, on its first server that answers: `/var/lib/pikube/lock`, so
//! that two machines (a laptop and a CI runner, two operators) cannot work on one cluster at
//! once; the lock beside cluster.toml (`run_lock`) only keeps apart runs from one machine.
//!
//! Taken with the shell's noclobber (O_EXCL), holding the same JSON as the local lock. The
//! holder touches it every 30 s while it works, reaching the server again when the command
//! rebooted it; one untouched for 5 minutes is stale and is taken over, as is one whose
//! holder is a gone process of this very machine.

mod first_server;

pub use first_server::ServerLock;

use std::time::{Duration, Instant};

use tokio::task::JoinHandle;

use crate::config::NodeName;
use crate::run_lock::{Holder, LockError};
use crate::ssh::{ClientConfig, Connection, SshError, SshTarget};

/// Where the lock is, on the server.
pub const PATH: &str = "/var/lib/pikube/lock";
/// A lock not refreshed for this long belongs to a run that is gone.
pub const STALE_AFTER: Duration = Duration::from_secs(300);
const REFRESH_EVERY: Duration = Duration::from_secs(30);
/// Sets the refresh period in seconds, for tests that must see a refresh within a run.
pub const REFRESH_ENV: &str = "PIKUBE_CLUSTER_LOCK_REFRESH_SECS";

fn refresh_every() -> Duration {
    std::env::var(REFRESH_ENV)
        .ok()
        .and_then(|secs| secs.parse::<u64>().ok())
        .filter(|secs| (1..=STALE_AFTER.as_secs() / 2).contains(secs))
        .map_or(REFRESH_EVERY, Duration::from_secs)
}

/// How the refresh reaches the lock's server again once its connection is gone (the
/// command rebooted the server): the SSH settings, and the sudo password if it needs one.
pub struct Reopen {
    /// The run's SSH settings.
    pub client: std::sync::Arc<ClientConfig>,
    /// How to reach the server.
    pub target: SshTarget,
}
const RETRY_EVERY: Duration = Duration::from_secs(1);

/// Held while a command works on the cluster; [`ClusterLock::release`] removes it.
pub struct ClusterLock {
    connection: std::sync::Arc<Connection>,
    refresh: JoinHandle<()>,
    marker: String,
    /// A lock taken over (stale, or its holder gone), for the caller to mention.
    pub took_over: Option<(Holder, u64)>,
}

/// What the node said when the lock could not be taken.
struct Taken {
    holder: Option<Holder>,
    /// Seconds since it was last refreshed.
    age: u64,
}

/// Why the cluster lock was not taken.
#[derive(Debug, thiserror::Error)]
pub enum ClusterLockError {
    /// The server could not be asked.
    #[error(transparent)]
    Ssh(#[from] SshError),
    #[error(
        "{node}: {PATH} is held by {holder}, refreshed {age} s ago: another pikube is working \
         on this cluster; wait for it, or, if it is gone, run again with --force-unlock",
        holder = holder.describe()
    )]
    /// Another pikube holds it, and kept it fresh.
    Held {
        /// The server holding the lock.
        node: NodeName,
        /// Who holds it.
        holder: Holder,
        /// Seconds since it was last refreshed.
        age: u64,
    },
    /// Another pikube held it, and the server went away while this one waited: most likely
    /// that run rebooted it.
    #[error(
        "{node}: {PATH} is held by {holder}, refreshed {age} s ago: another pikube is working \
         on this cluster; while this one waited, {cause} (that run may be rebooting the \
         server); wait for it, or, if it is gone, run again with --force-unlock",
        holder = holder.describe()
    )]
    HeldThenLost {
        /// The server holding the lock.
        node: NodeName,
        /// Who held it when last asked.
        holder: Holder,
        /// Seconds since it was last refreshed, when last asked.
        age: u64,
        /// How the connection was lost.
        cause: SshError,
    },
    /// Its holder is a live process of this very machine, which nothing breaks.
    #[error(transparent)]
    Local(#[from] LockError),
}

impl ClusterLock {
    /// Takes the lock on `server`, waiting at most `wait` for a live holder; `force` breaks
    /// any lock but one held by a live process of this machine.
    pub async fn acquire(
        server: Connection,
        holder: &Holder,
        wait: Duration,
        force: bool,
        reopen: Option<Reopen>,
    ) -> Result<ClusterLock, ClusterLockError> {
        let json = serde_json::to_string(holder).expect("a holder serialises");
        let deadline = Instant::now() + wait;
        let mut took_over = None;
        let mut forced = false;
        // Who held it when last asked: what to name if the server goes away meanwhile.
        let mut last_seen: Option<(Holder, u64)> = None;
        loop {
            let attempt = match take(&server, &json).await {
                Ok(attempt) => attempt,
                Err(cause) => {
                    return Err(match last_seen {
                        Some((holder, age)) => ClusterLockError::HeldThenLost {
                            node: server.node().to_owned(),
                            holder,
                            age,
                            cause,
                        },
                        None => cause.into(),
                    })
                }
            };
            match attempt {
                Ok(()) => break,
                Err(taken) => {
                    let stale = taken.age >= STALE_AFTER.as_secs()
                        || taken.holder.as_ref().is_some_and(Holder::is_gone);
                    let mine_alive = taken
                        .holder
                        .as_ref()
                        .is_some_and(|h| h.is_local() && !h.is_gone());
                    if stale || (force && !forced && !mine_alive) {
                        forced |= !stale;
                        server
                            .run_privileged(
                                "breaking a stale cluster lock",
                                &format!("rm -f {PATH}"),
                                b"",
                            )
                            .await?;
                        took_over = taken.holder.map(|h| (h, taken.age));
                        continue;
                    }
                    let holder = taken.holder.unwrap_or_else(Holder::unreadable);
                    if mine_alive && force {
                        return Err(LockError::HolderAlive {
                            path: format!("{}:{PATH}", server.node()).into(),
                            holder,
                        }
                        .into());
                    }
                    if Instant::now() >= deadline {
                        return Err(ClusterLockError::Held {
                            node: server.node().to_owned(),
                            holder,
                            age: taken.age,
                        });
                    }
                    last_seen = Some((holder, taken.age));
                    tokio::time::sleep(RETRY_EVERY).await;
                }
            }
        }
        let marker = format!("\"pid\":{},", holder.pid);
        let connection = std::sync::Arc::new(server);
        let refresh = {
            let mut current = connection.clone();
            let script = touch_if_ours(&marker);
            let sudo = connection.sudo_password().cloned();
            let every = refresh_every();
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(every).await;
                    let touched = current
                        .run_privileged("refreshing the cluster lock", &script, b"")
                        .await;
                    // The server rebooted under the command (preparation, an OS upgrade):
                    // its old connection is gone for good. A lock left untouched would go
                    // stale and another pikube could take the cluster mid-run.
                    if touched.is_err() {
                        let Some(reopen) = &reopen else { continue };
                        if let Ok(fresh) = reopened(reopen, sudo.as_ref()).await {
                            let _ = fresh
                                .run_privileged("refreshing the cluster lock", &script, b"")
                                .await;
                            current = std::sync::Arc::new(fresh);
                        }
                    }
                }
            })
        };
        Ok(ClusterLock {
            connection,
            refresh,
            marker,
            took_over,
        })
    }

    /// The server the lock is on.
    pub fn node(&self) -> &str {
        self.connection.node()
    }

    /// The script that removes the lock if it is still ours: run it through a new
    /// connection when [`ClusterLock::release`] fails because the command rebooted the
    /// server (the lock's own connection died with the boot).
    pub fn release_script(&self) -> String {
        format!(
            "if grep -qF -- {} {PATH} 2>/dev/null; then rm -f {PATH}; fi",
            crate::ssh::shell_quote(&self.marker)
        )
    }

    /// Removes the lock (if it is still ours) and closes its connection.
    pub async fn release(self) -> Result<(), SshError> {
        self.refresh.abort();
        let released = self
            .connection
            .run_privileged("releasing the cluster lock", &self.release_script(), b"")
            .await
            .map(|_| ());
        if let Ok(connection) = std::sync::Arc::try_unwrap(self.connection) {
            connection.close().await;
        }
        released
    }
}

/// A new connection to the lock's server, with root as the old one had it.
async fn reopened(
    reopen: &Reopen,
    sudo: Option<&crate::ssh::SudoPassword>,
) -> Result<Connection, SshError> {
    let mut connection = Connection::open(&reopen.target, &reopen.client).await?;
    if let (true, Some(password)) = (connection.needs_sudo_password(), sudo) {
        connection.use_sudo_password(password).await?;
    }
    Ok(connection)
}

fn touch_if_ours(marker: &str) -> String {
    format!(
        "grep -qF -- {} {PATH} 2>/dev/null && touch {PATH}; true",
        crate::ssh::shell_quote(marker)
    )
}

/// One attempt: `Ok(Ok(()))` taken, `Ok(Err(..))` someone else's, with its age.
async fn take(server: &Connection, json: &str) -> Result<Result<(), Taken>, SshError> {
    let script = format!(
        r#"mkdir -p -m 0700 /var/lib/pikube
if (set -C; cat > {PATH}) 2>/dev/null; then chmod 0600 {PATH}; echo taken; exit 0; fi
echo held
echo $(( $(date +%s) - $(stat -c %Y {PATH} 2>/dev/null || date +%s) ))
cat {PATH} 2>/dev/null"#
    );
    let output = server
        .run_privileged("taking the cluster lock", &script, json.as_bytes())
        .await?;
    let mut lines = output.stdout.lines();
    if lines.next() == Some("taken") {
        return Ok(Ok(()));
    }
    let age = lines
        .next()
        .and_then(|a| a.trim().parse().ok())
        .unwrap_or(0);
    let holder = serde_json::from_str(lines.next().unwrap_or("")).ok();
    Ok(Err(Taken { holder, age }))
}
