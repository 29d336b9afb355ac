//! The cluster's own lock, on its first server that answers: `/var/lib/pikube/lock`, so
//! that two machines (a laptop and a CI runner, two operators) cannot work on one cluster at
//! once; the lock beside cluster.toml (`run_lock`) only keeps apart runs from one machine.
//!
//! Taken with the shell's noclobber (O_EXCL), holding the same JSON as the local lock. The
//! holder touches it every 30 s while it works, reconnecting when the server was rebooted
//! under it. Its age is the server's own clock against the file's mtime, so a controller
//! whose clock is off cannot make a live lock look stale. A lock untouched for 5 minutes, or
//! left by a gone process of this very machine, is stale: it is reported, and
//! `--force-unlock` breaks it; a fresh lock is never broken, since its holder may be working.

use std::time::{Duration, Instant};

use std::sync::Arc;

use tokio::task::JoinHandle;

use crate::run_lock::{Holder, LockError};
use crate::ssh::{ClientConfig, Connection, SshError};

const DIR: &str = "/var/lib/pikube";
pub const PATH: &str = "/var/lib/pikube/lock";
/// A lock not refreshed for this long belongs to a run that is gone.
pub const STALE_AFTER: Duration = Duration::from_secs(300);
const REFRESH_EVERY: Duration = Duration::from_secs(30);
const RETRY_EVERY: Duration = Duration::from_secs(1);

/// Held while a command works on the cluster; [`ClusterLock::release`] removes it.
pub struct ClusterLock {
    connection: Arc<Connection>,
    refresh: JoinHandle<()>,
    marker: String,
    /// A stale lock broken with `--force-unlock`, and its age, for the caller to mention.
    pub took_over: Option<(Holder, u64)>,
}

/// What the node said when the lock could not be taken.
struct Taken {
    holder: Option<Holder>,
    /// Seconds since it was last refreshed, by the server's clock.
    age: u64,
    /// `cksum` of the file as read, so that breaking it removes exactly that lock.
    cksum: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ClusterLockError {
    #[error(transparent)]
    Ssh(#[from] SshError),
    #[error(
        "{node}: {PATH} is held by {holder}, refreshed {age} s ago: another pikube is working \
         on this cluster; wait for it to finish (if it was killed, its lock goes stale in \
         {left} s, and then --force-unlock breaks it)",
        holder = holder.describe(),
        left = STALE_AFTER.as_secs().saturating_sub(*age)
    )]
    Held {
        node: String,
        holder: Holder,
        age: u64,
    },
    #[error(
        "{node}: {PATH} is held by {holder}, {why}: its pikube is gone; run again with \
         --force-unlock to break the lock",
        holder = holder.describe()
    )]
    Stale {
        node: String,
        holder: Holder,
        why: String,
    },
    #[error(
        "{node}: {PATH} is held by {holder}, refreshed {age} s ago: not broken, since its \
         pikube may still be working; --force-unlock breaks only a lock not refreshed for \
         {stale} s, or one whose process on this machine is gone (this one goes stale in \
         {left} s if its pikube is gone)",
        holder = holder.describe(),
        stale = STALE_AFTER.as_secs(),
        left = STALE_AFTER.as_secs().saturating_sub(*age)
    )]
    Fresh {
        node: String,
        holder: Holder,
        age: u64,
    },
    #[error(transparent)]
    Local(#[from] LockError),
}

impl ClusterLock {
    /// Takes the lock on `server`, waiting at most `wait` for a live holder. `force` breaks a
    /// stale lock (see the module); `client` reaches the server again after a reboot.
    pub async fn acquire(
        server: Connection,
        client: Arc<ClientConfig>,
        holder: &Holder,
        wait: Duration,
        force: bool,
    ) -> Result<ClusterLock, ClusterLockError> {
        let json = serde_json::to_string(holder).expect("a holder serialises");
        let deadline = Instant::now() + wait;
        let mut took_over = None;
        loop {
            let taken = match take(&server, &json).await? {
                Attempt::Taken => break,
                Attempt::Vanished => continue,
                Attempt::Held(taken) => taken,
            };
            let node = server.node().to_owned();
            let holder = taken.holder.clone().unwrap_or_else(Holder::unreadable);
            let gone = taken.holder.as_ref().is_some_and(Holder::is_gone);
            let stale = taken.age >= STALE_AFTER.as_secs();
            if (gone || stale) && force {
                // Stale by age: broken only if still stale when we get there (its holder
                // may have been slow, not gone).
                let min_age = if gone { 0 } else { STALE_AFTER.as_secs() };
                if break_if_unchanged(&server, &taken.cksum, min_age).await? {
                    took_over = Some((holder, taken.age));
                }
                continue;
            }
            if gone || stale {
                let why = if gone {
                    "whose process on this machine is gone".to_owned()
                } else {
                    format!("not refreshed for {} s", taken.age)
                };
                return Err(ClusterLockError::Stale { node, holder, why });
            }
            if force {
                if holder.is_local() {
                    return Err(LockError::HolderAlive {
                        path: format!("{node}:{PATH}").into(),
                        holder,
                    }
                    .into());
                }
                return Err(ClusterLockError::Fresh {
                    node,
                    holder,
                    age: taken.age,
                });
            }
            if Instant::now() >= deadline {
                return Err(ClusterLockError::Held {
                    node,
                    holder,
                    age: taken.age,
                });
            }
            tokio::time::sleep(RETRY_EVERY).await;
        }
        let marker = format!("\"pid\":{},", holder.pid);
        let connection = Arc::new(server);
        let refresh = tokio::spawn(refresh(connection.clone(), client, touch_if_ours(&marker)));
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
        if let Ok(connection) = Arc::try_unwrap(self.connection) {
            connection.close().await;
        }
        released
    }
}

/// Touches the lock every [`REFRESH_EVERY`] while it is held. A failed touch means the
/// connection died (apply reboots nodes, this server among them): the server is reached
/// again, or the lock would go stale under a run still working.
async fn refresh(connection: Arc<Connection>, client: Arc<ClientConfig>, script: String) {
    let mut again: Option<Connection> = None;
    loop {
        tokio::time::sleep(REFRESH_EVERY).await;
        let via = again.as_ref().unwrap_or(&connection);
        if via
            .run_privileged("refreshing the cluster lock", &script, b"")
            .await
            .is_ok()
        {
            continue;
        }
        if let Ok(fresh) = connection.reopen(&client).await {
            let _ = fresh
                .run_privileged("refreshing the cluster lock", &script, b"")
                .await;
            if let Some(old) = again.replace(fresh) {
                old.close().await;
            }
        }
    }
}

fn touch_if_ours(marker: &str) -> String {
    format!(
        "grep -qF -- {} {PATH} 2>/dev/null && touch {PATH}; true",
        crate::ssh::shell_quote(marker)
    )
}

enum Attempt {
    Taken,
    /// Released between our attempt and our look at it.
    Vanished,
    Held(Taken),
}

/// One attempt at taking the lock; when it is held, who holds it and since when.
async fn take(server: &Connection, json: &str) -> Result<Attempt, SshError> {
    let script = format!(
        r#"mkdir -p -m 0700 {DIR}
if (set -C; cat > {PATH}) 2>/dev/null; then chmod 0600 {PATH}; echo taken; exit 0; fi
[ -e {PATH} ] || {{ echo vanished; exit 0; }}
echo held
echo $(( $(date +%s) - $(stat -c %Y {PATH} 2>/dev/null || date +%s) ))
cksum < {PATH} 2>/dev/null || echo none
cat {PATH} 2>/dev/null"#
    );
    let output = server
        .run_privileged("taking the cluster lock", &script, json.as_bytes())
        .await?;
    let mut lines = output.stdout.lines();
    match lines.next() {
        Some("taken") => return Ok(Attempt::Taken),
        Some("vanished") => return Ok(Attempt::Vanished),
        _ => {}
    }
    let age = lines
        .next()
        .and_then(|a| a.trim().parse().ok())
        .unwrap_or(0);
    let cksum = lines.next().unwrap_or("").trim().to_owned();
    let holder = serde_json::from_str(lines.next().unwrap_or("")).ok();
    Ok(Attempt::Held(Taken { holder, age, cksum }))
}

/// Removes the lock only if it is still the one we judged (same `cksum`, at least `min_age`
/// s old), and says whether it did: two runs breaking one stale lock at once must not
/// delete the lock the first of them has just taken. It is moved aside first (atomic), then
/// checked, and put back with `ln`, which never replaces a lock taken in between.
async fn break_if_unchanged(
    server: &Connection,
    cksum: &str,
    min_age: u64,
) -> Result<bool, SshError> {
    let aside = format!("{DIR}/.lock.breaking.$$");
    let script = format!(
        r#"mv -f {PATH} {aside} 2>/dev/null || exit 0
if [ "$(cksum < {aside})" = {cksum} ] && [ $(( $(date +%s) - $(stat -c %Y {aside}) )) -ge {min_age} ]; then
  echo broken
else
  ln {aside} {PATH} 2>/dev/null
fi
rm -f {aside}"#,
        cksum = crate::ssh::shell_quote(cksum)
    );
    let output = server
        .run_privileged("breaking a stale cluster lock", &script, b"")
        .await?;
    Ok(output.stdout.trim() == "broken")
}
