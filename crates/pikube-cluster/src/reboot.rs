//! Rebooting a node and waiting for it to come back with a new boot id: the reboot phase,
//! `os-upgrade` and `shutdown --reboot` share it.

use std::time::{Duration, Instant};

use crate::config::NodeName;
use crate::ssh::{ClientConfig, Connection, SshError, SshTarget};

/// Reboots the node and hands back a new connection to it once it answers with a new
/// boot id (without the sudo password: see [`Connection::use_sudo_password`]).
pub async fn reboot_node(
    connection: Connection,
    client: &ClientConfig,
    boot_id: &str,
    timeout: Duration,
) -> Result<Connection, RebootError> {
    let target = connection.target().clone();
    request_reboot(&connection).await?;
    connection.close().await;
    wait_for_new_boot(&target, client, boot_id, timeout).await
}

/// Asks the node to reboot and returns at once; the command is detached so the SSH
/// session is not torn down under it.
pub async fn request_reboot(connection: &Connection) -> Result<(), SshError> {
    connection
        .run_privileged(
            "the reboot request",
            "nohup sh -c 'sleep 1; systemctl reboot || reboot' >/dev/null 2>&1 &",
            b"",
        )
        .await?;
    Ok(())
}

/// Why a node's reboot did not end with the node back.
#[derive(Debug, thiserror::Error)]
pub enum RebootError {
    /// It did not answer with a new boot id in time.
    #[error("{node}: did not come back within {}s of the reboot (last error: {last})", .waited.as_secs())]
    Timeout {
        /// The node.
        node: NodeName,
        /// How long it was waited for.
        waited: Duration,
        /// Why the last attempt to reach it failed.
        last: String,
    },
    /// The reboot could not be asked for.
    #[error(transparent)]
    Ssh(#[from] SshError),
}

const REBOOT_GRACE: Duration = Duration::from_millis(1500);
const POLL_INTERVAL: Duration = Duration::from_millis(750);

/// Waits until the node answers again with a boot id other than `old_boot_id`: SSH
/// dropping and returning is not proof, the old sshd may still be answering.
pub async fn wait_for_new_boot(
    target: &SshTarget,
    client: &ClientConfig,
    old_boot_id: &str,
    timeout: Duration,
) -> Result<Connection, RebootError> {
    let started = Instant::now();
    let mut last = String::from("none yet");
    // The reboot starts a second after it is requested; polling before then only burns
    // an SSH handshake per try.
    tokio::time::sleep(REBOOT_GRACE).await;
    loop {
        if started.elapsed() > timeout {
            return Err(RebootError::Timeout {
                node: target.node.clone(),
                waited: timeout,
                last,
            });
        }
        match Connection::open(target, client).await {
            Ok(connection) => {
                match connection
                    .run("reading the boot id", "cat /proc/sys/kernel/random/boot_id")
                    .await
                {
                    Ok(out) if out.stdout.trim() != old_boot_id.trim() => return Ok(connection),
                    Ok(_) => last = "still the old boot".to_owned(),
                    Err(err) => last = err.to_string(),
                }
                connection.close().await;
            }
            Err(err) if err.is_host_key_changed() => return Err(err.into()),
            Err(err) => last = err.to_string(),
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}
