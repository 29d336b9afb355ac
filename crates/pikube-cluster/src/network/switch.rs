//! The switch on a running node, done so that a wrong address cannot lose it. The node
//! first arms a timer that puts its old configuration back, then switches in a unit of its
//! own (the SSH session may die with the old address); pikube reaches it at the new
//! address and calls the timer off. When pikube cannot reach it there in time, the node
//! comes back at its old address by itself, and pikube waits to see it there.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use super::AddressChange;
use crate::apply::carry_out;
use crate::plan::{Change, FileChange};
use crate::progress::Progress;
use crate::ssh::{known_hosts, shell_quote, ClientConfig, Connection, SshError, SshTarget};

/// Where the node keeps the switch's files: the new file, the old one, the scripts.
const DIR: &str = "/var/lib/pikube/network";

/// Time the node is given, once the new address stops being tried, to finish putting the
/// old configuration back and answer there.
const ROLLBACK_GRACE: Duration = Duration::from_secs(60);

/// Why a node is not at its new address.
#[derive(Debug, thiserror::Error)]
pub enum SwitchError {
    /// The files and the timer could not be put on the node; nothing changed.
    #[error("preparing the switch; nothing changed: {}", crate::error_chain::describe(.0))]
    Arm(SshError),
    /// Not reached at the new address before the deadline.
    #[error("not reached at {new} within {} s: {back}", .waited.as_secs())]
    NotReached {
        /// The address it should have.
        new: IpAddr,
        /// How long pikube tried.
        waited: Duration,
        /// What became of it.
        back: Back,
    },
    /// Reached, but the rollback could not be called off.
    #[error(
        "reached at {new}, but calling off its rollback failed: {causes}",
        causes = crate::error_chain::describe(cause)
    )]
    Confirm {
        /// The new address.
        new: IpAddr,
        /// Why.
        cause: SshError,
    },
    /// Reached after the node had begun to put its old configuration back.
    #[error(
        "reached at {new} only after it began putting its old configuration back ({said}); \
         run apply again (a longer [network] rollback_after gives it more time)"
    )]
    TooLate {
        /// The new address.
        new: IpAddr,
        /// What the node said.
        said: String,
    },
}

/// A node not reached at its new address, after its rollback's deadline.
#[derive(Debug)]
pub enum Back {
    /// It answers at its old address again, saying what its rollback did.
    AtOld {
        /// Where.
        address: String,
        /// `rolled-back`, as the node recorded it.
        outcome: String,
    },
    /// Not seen at the old address either.
    NotSeen {
        /// Where it was looked for.
        address: String,
    },
}

impl std::fmt::Display for Back {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Back::AtOld { address, outcome } if outcome == "rolled-back" => write!(
                f,
                "it put its old configuration back and answers at {address} again; check \
                 the address, [network] gateway and the controller's route to it"
            ),
            Back::AtOld { address, outcome } => write!(
                f,
                "it answers at {address} again, but its rollback says {outcome:?}; look at \
                 `journalctl -u pikube-network-rollback` on it"
            ),
            Back::NotSeen { address } => write!(
                f,
                "its rollback should have put it back at {address}, where it does not answer \
                 either; look at its console"
            ),
        }
    }
}

/// Moves the node `connection` reaches to `change`'s address, or makes its file say so.
/// Returns a connection to it at its new address, able to run as root as `connection`
/// was; `connection` itself may be dead afterwards.
pub async fn switch_address(
    connection: &Connection,
    change: &AddressChange,
    client: &ClientConfig,
    progress: &dyn Progress,
) -> Result<Connection, SwitchError> {
    let node = connection.node().to_owned();
    let new_ip = change.network.address.ip;
    arm(connection, change).await.map_err(SwitchError::Arm)?;
    let armed = Instant::now();
    progress.node(
        &node,
        &format!(
            "network: switching {} to {}; the node puts its old configuration back in {} s \
             unless reached there",
            change.network.interface,
            change.network.address,
            change.rollback_after.as_secs()
        ),
    );

    let old = connection.target().clone();
    let new = SshTarget {
        address: new_ip.to_string(),
        ..old.clone()
    };
    if change.moves() {
        let port = old.port.unwrap_or(22);
        match known_hosts::pin_for_new_address(
            client.known_hosts(),
            &old.address,
            &new.address,
            port,
        ) {
            Ok(0) | Err(_) => progress.notice(&format!(
                "{node}: its host key for {} is not pinned yet: the first contact there pins it",
                new.address
            )),
            Ok(_) => {}
        }
    }

    let tries_end = armed + change.rollback_after.saturating_sub(Duration::from_secs(5));
    match reach(&new, client, tries_end).await {
        Some(mut reached) => {
            if let Some(password) = connection.sudo_password() {
                reached
                    .use_sudo_password(password)
                    .await
                    .map_err(|cause| SwitchError::Confirm { new: new_ip, cause })?;
            }
            let said = reached
                .run_privileged(
                    "calling off the network rollback",
                    include_str!("scripts/confirm.sh"),
                    b"",
                )
                .await
                .map_err(|cause| SwitchError::Confirm { new: new_ip, cause })?
                .last_stdout_line();
            if said == "confirmed" {
                progress.node(&node, &format!("network: reached at {new_ip}; kept"));
                Ok(reached)
            } else {
                Err(SwitchError::TooLate {
                    new: new_ip,
                    said: said.trim_start_matches("too-late: ").to_owned(),
                })
            }
        }
        None => {
            let waited = armed.elapsed();
            progress.node(
                &node,
                &format!(
                    "network: not reached at {new_ip}; waiting for it to come back at {}",
                    old.address
                ),
            );
            let back =
                match reach(&old, client, armed + change.rollback_after + ROLLBACK_GRACE).await {
                    Some(mut back) => {
                        let outcome = async {
                            if let Some(password) = connection.sudo_password() {
                                back.use_sudo_password(password).await?;
                            }
                            back.run_privileged(
                                "reading the network rollback's outcome",
                                include_str!("scripts/outcome.sh"),
                                b"",
                            )
                            .await
                        }
                        .await
                        .map(|out| out.last_stdout_line())
                        .unwrap_or_else(|err| format!("unreadable: {err}"));
                        back.close().await;
                        Back::AtOld {
                            address: old.address.clone(),
                            outcome,
                        }
                    }
                    None => Back::NotSeen {
                        address: old.address.clone(),
                    },
                };
            Err(SwitchError::NotReached {
                new: new_ip,
                waited,
                back,
            })
        }
    }
}

/// Puts the new file, the settings and the scripts on the node, then arms the rollback
/// and starts the switch.
async fn arm(connection: &Connection, change: &AddressChange) -> Result<(), SshError> {
    connection
        .run_privileged("preparing the network switch", &prepare_script(change), b"")
        .await?;
    let new = Change::File(FileChange {
        path: format!("{DIR}/new"),
        before: None,
        after: change.file.after.clone(),
        mode: 0o600,
        owned: true,
    });
    carry_out(connection, &new).await?;
    connection
        .run_privileged(
            "arming the network rollback",
            include_str!("scripts/arm.sh"),
            b"",
        )
        .await?;
    Ok(())
}

/// Writes the settings and the two scripts the node's units run.
fn prepare_script(change: &AddressChange) -> String {
    let stack = change.stack.word();
    let settings = [
        ("PK_STACK", stack.to_owned()),
        ("PK_TARGET", change.file.path.clone()),
        ("PK_MODE", format!("{:o}", change.file.mode)),
        (
            "PK_OWNED",
            if change.file.owned { "yes" } else { "no" }.to_owned(),
        ),
        ("PK_INTERFACE", change.network.interface.clone()),
        (
            "PK_PROFILE",
            super::keyfile::profile(&change.network.interface),
        ),
        (
            "PK_AFTER",
            change.rollback_after.as_secs().max(1).to_string(),
        ),
    ]
    .iter()
    .map(|(key, value)| format!("{key}={}\n", shell_quote(value)))
    .collect::<String>();
    format!(
        "set -e\numask 077\nmkdir -p {DIR}\nchmod 700 {DIR}\ncd {DIR}\n\
         cat > settings <<'PIKUBE_EOF'\n{settings}PIKUBE_EOF\n\
         cat > switch.sh <<'PIKUBE_EOF'\n{}PIKUBE_EOF\n\
         cat > rollback.sh <<'PIKUBE_EOF'\n{}PIKUBE_EOF\n",
        include_str!("scripts/switch.sh"),
        include_str!("scripts/rollback.sh"),
    )
}

/// A connection to `target`, tried until `until`.
async fn reach(target: &SshTarget, client: &ClientConfig, until: Instant) -> Option<Connection> {
    // The switch takes a moment; the first tries would only meet the old address.
    tokio::time::sleep(Duration::from_secs(1)).await;
    loop {
        if let Ok(connection) = Connection::open(target, client).await {
            return Some(connection);
        }
        if Instant::now() + Duration::from_secs(1) >= until {
            return None;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_prepared_scripts_are_sh_and_their_settings_quoted() {
        let network = super::super::StaticNetwork::example("10.0.0.50");
        let change = AddressChange {
            node: "pi-1".parse().unwrap(),
            stack: super::super::NetworkStack::NetworkManager,
            network,
            from: vec![],
            file: FileChange {
                path: "/etc/NetworkManager/system-connections/pikube-eth0.nmconnection".into(),
                before: None,
                after: String::new(),
                mode: 0o600,
                owned: true,
            },
            rollback_after: Duration::from_secs(90),
        };
        let script = prepare_script(&change);
        for setting in [
            "PK_STACK='network-manager'\n",
            "PK_TARGET='/etc/NetworkManager/system-connections/pikube-eth0.nmconnection'\n",
            "PK_MODE='600'\n",
            "PK_OWNED='yes'\n",
            "PK_INTERFACE='eth0'\n",
            "PK_PROFILE='pikube-eth0'\n",
            "PK_AFTER='90'\n",
        ] {
            assert!(script.contains(setting), "{setting} not in {script}");
        }
        for text in [
            script.as_str(),
            include_str!("scripts/arm.sh"),
            include_str!("scripts/confirm.sh"),
        ] {
            let status = std::process::Command::new("sh")
                .args(["-n", "-c", text])
                .status()
                .unwrap();
            assert!(status.success(), "{text}");
        }
    }
}
