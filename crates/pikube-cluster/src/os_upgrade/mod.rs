//! `pikube os-upgrade`: the operating system brought up to date one node at a time, the
//! way the K3s upgrade goes: cordoned (as pikube's), drained, `apt-get full-upgrade` run
//! non-interactively (dpkg keeps a changed config file and takes a new default one; held
//! packages stay held), rebooted only when the system asks for it
//! (/var/run/reboot-required), waited for until Ready, uncordoned. One node at a time, and
//! a server only while the other servers keep etcd's quorum.

mod pending;

pub use pending::{parse_simulation, PendingPackage, PendingUpgrades};

use std::time::Duration;

use crate::config::NodeName;
use crate::k3s::cordon::cordoned_by_pikube;
use crate::k3s::{
    get_nodes, paths::Service, quorum_without, stopped, Downtime, Drain, Maintenance,
};
use crate::node_error::NodeError;
use crate::reboot::reboot_node;
use crate::ssh::{ClientConfig, Connection};

/// pikube's mark on the Nodes an OS upgrade cordons: a re-run finds by it the nodes an
/// earlier run left cordoned, and only those.
pub const OS_UPGRADE_CORDON: &str = "os-upgrade";
const APT_ENV: &str = "export DEBIAN_FRONTEND=noninteractive NEEDRESTART_MODE=a";
/// A full-upgrade on an SD card can take most of an hour (a kernel, firmware, initramfs);
/// beyond two hours something is stuck (a dpkg prompt, a lock held by another apt).
const OS_UPGRADE_LIMIT: Duration = Duration::from_secs(2 * 3600);
/// dpkg's answers to its conffile questions: keep the file the user changed, take the
/// new one where it was left alone.
const DPKG_OPTIONS: &str = "-o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold";

/// Why a node's pending upgrades could not be listed. Each names the node, once.
#[derive(Debug, thiserror::Error)]
pub enum PendingError {
    /// The node could not be reached, or the SSH command failed.
    #[error("{0}")]
    Node(NodeError),
    /// apt-get ran and failed; its last line of error output.
    #[error("{node}: apt-get could not work out the upgrade: {last_line}")]
    Apt {
        /// The node.
        node: NodeName,
        /// apt-get's last line of error output.
        last_line: String,
    },
}

/// Refreshes the package lists and lists what `full-upgrade` would install, and what it
/// keeps back. Changes nothing but apt's lists.
pub async fn pending_upgrades(node: &Connection) -> Result<PendingUpgrades, PendingError> {
    let script = format!(
        "{APT_ENV}\napt-get update -qq >/dev/null 2>&1 || apt-get update -q 2>&1 | tail -n 3 >&2\n\
         apt-get -s {DPKG_OPTIONS} full-upgrade"
    );
    let output = node
        .run_privileged_unchecked("listing pending OS upgrades", &script, b"")
        .await
        .map_err(|err| PendingError::Node(NodeError::Ssh(err)))?;
    if !output.success() {
        return Err(PendingError::Apt {
            node: node.node().clone(),
            last_line: output.last_stderr_line(),
        });
    }
    Ok(PendingUpgrades::parse(&output.stdout))
}

/// [`pending_upgrades`] on every node of `fleet` at once, in file order.
pub async fn pending_on_all(
    fleet: &crate::fleet::Fleet,
    sudo_password: &(dyn Fn(&str) -> Option<crate::ssh::SudoPassword> + Sync),
) -> Vec<(NodeName, Result<PendingUpgrades, PendingError>)> {
    let connected = fleet
        .connect_privileged(&crate::progress::SilentProgress, sudo_password)
        .await;
    futures::future::join_all(connected.into_iter().map(|c| async move {
        let result = match c.result {
            Ok(connection) => {
                let pending = pending_upgrades(&connection).await;
                connection.close().await;
                pending
            }
            Err(err) => Err(PendingError::Node(err)),
        };
        (c.node, result)
    }))
    .await
}

/// How every node of one OS upgrade goes.
pub struct OsUpgrade<'a> {
    /// How pikube reaches the nodes again after a reboot.
    pub client: &'a ClientConfig,
    /// Servers are drained too, unless --no-drain-servers (agents always are).
    pub drain_servers: bool,
    /// How nodes are drained.
    pub drain: Drain,
    /// How long a node may take to be Ready again.
    pub ready_timeout: Duration,
    /// How long a node may take to come back from its reboot.
    pub reboot_timeout: Duration,
    /// A server is taken down only while the other servers keep etcd's quorum: true with
    /// embedded etcd unless --allow-quorum-loss (an external datastore keeps the state).
    pub keep_quorum: bool,
}

/// What happened to one node.
#[derive(Debug, Clone, serde::Serialize)]
pub struct OsUpgradeReport {
    /// The packages apt-get installed or upgraded.
    pub upgraded: Vec<PendingPackage>,
    /// The system asked for a reboot, and got it.
    pub rebooted: bool,
}

impl OsUpgrade<'_> {
    /// Upgrades `node` (running K3s `service`, or none), returning its connection (a new one
    /// after a reboot; none if it did not come back). `api`: another server's connection to
    /// reach the Kubernetes API through; `None` for a server without another, which is then
    /// asked itself.
    pub async fn upgrade(
        &self,
        node: Connection,
        service: Option<Service>,
        api: Option<&Connection>,
        pending: Vec<PendingPackage>,
        say: &(dyn Fn(&str) + Sync),
    ) -> (Option<Connection>, Result<OsUpgradeReport, String>) {
        let name = node.node().to_owned();
        let again = format!("pikube os-upgrade {name}");
        let stopped = |step: &str, why: String, cordoned: bool| {
            stopped(&name, "OS upgrade", step, &why, cordoned, &again)
        };
        let in_cluster = service.is_some();
        let maintenance = Maintenance {
            drain_servers: self.drain_servers,
            drain: self.drain,
            ready_timeout: self.ready_timeout,
        };
        if let Some(service) = service {
            let api = api.unwrap_or(&node);
            if service == Service::Server && self.keep_quorum {
                let quorum = match get_nodes(api).await {
                    Ok(live) => quorum_without(&live, &name, Downtime::Away)
                        .map_err(|why| format!("{why}; --allow-quorum-loss goes on anyway")),
                    Err(err) => Err(format!("the cluster's node list: {err}")),
                };
                if let Err(why) = quorum {
                    return (Some(node), Err(stopped("the quorum check", why, false)));
                }
            }
            say("cordon and drain");
            if let Err(err) = maintenance
                .take_out(api, &name, service, OS_UPGRADE_CORDON)
                .await
            {
                return (Some(node), Err(stopped(err.step, err.reason, err.cordoned)));
            }
        }
        say(&format!(
            "apt-get full-upgrade ({} packages)",
            pending.len()
        ));
        let script = format!(
            "{APT_ENV}\nout=$(apt-get -y -q {DPKG_OPTIONS} full-upgrade </dev/null 2>&1); rc=$?\n\
             printf '%s\\n' \"$out\" | tail -n 20\n\
             if [ -e /var/run/reboot-required ]; then echo '@@reboot-required'; fi\n\
             exit $rc"
        );
        let upgraded = node
            .allowing(OS_UPGRADE_LIMIT)
            .run_privileged_unchecked("upgrading the OS", &script, b"")
            .await;
        let reboot = match upgraded {
            Ok(output) if output.success() => output.stdout.contains("@@reboot-required"),
            Ok(output) => {
                let tail = output.last_stdout_line();
                return (
                    Some(node),
                    Err(stopped("apt-get full-upgrade", tail, in_cluster)),
                );
            }
            Err(err) => {
                return (
                    Some(node),
                    Err(stopped("apt-get full-upgrade", err.to_string(), in_cluster)),
                )
            }
        };
        let node = if reboot {
            say("rebooting (/var/run/reboot-required)");
            let boot_id = match node
                .run("reading the boot id", "cat /proc/sys/kernel/random/boot_id")
                .await
            {
                Ok(output) => output.stdout,
                Err(err) => {
                    return (
                        Some(node),
                        Err(stopped("reboot", err.to_string(), in_cluster)),
                    )
                }
            };
            match reboot_node(node, self.client, &boot_id, self.reboot_timeout).await {
                Ok(back) => back,
                // Not back: no connection left to hand over.
                Err(err) => return (None, Err(stopped("reboot", err.to_string(), in_cluster))),
            }
        } else {
            node
        };
        if let Some(service) = service {
            let api = api.unwrap_or(&node);
            say("waiting for Ready");
            if let Err(err) = maintenance.bring_back(api, &node, service).await {
                return (Some(node), Err(stopped(err.step, err.reason, err.cordoned)));
            }
        }
        (
            Some(node),
            Ok(OsUpgradeReport {
                upgraded: pending,
                rebooted: reboot,
            }),
        )
    }

    /// Brings `node` (running K3s `service`) back when an earlier OS upgrade cordoned it and
    /// stopped after apt-get (at the reboot, the wait for Ready, the uncordon): with nothing
    /// left to install, only that is left to do. Whether it did; a cordon of the user's own,
    /// or another command's, is left alone. `api` as for [`OsUpgrade::upgrade`].
    pub async fn finish_earlier(
        &self,
        node: &Connection,
        service: Service,
        api: Option<&Connection>,
    ) -> Result<bool, String> {
        let name = node.node().to_owned();
        let again = format!("pikube os-upgrade {name}");
        let stopped = |step: &str, why: String, cordoned: bool| {
            stopped(&name, "OS upgrade", step, &why, cordoned, &again)
        };
        let api = api.unwrap_or(node);
        let live = get_nodes(api).await.map_err(|err| {
            stopped(
                "looking for a cordon an earlier run left",
                format!("the cluster's node list: {err}"),
                false,
            )
        })?;
        let ours = live
            .iter()
            .find(|n| n.name == name.as_str())
            .and_then(cordoned_by_pikube)
            == Some(OS_UPGRADE_CORDON);
        if !ours {
            return Ok(false);
        }
        let maintenance = Maintenance {
            drain_servers: self.drain_servers,
            drain: self.drain,
            ready_timeout: self.ready_timeout,
        };
        maintenance
            .bring_back(api, node, service)
            .await
            .map_err(|err| stopped(err.step, err.reason, err.cordoned))?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ssh::SshError;

    #[test]
    fn a_node_that_cannot_be_asked_is_named_once() {
        let node: NodeName = "pi-1".parse().unwrap();
        let unreachable = PendingError::Node(NodeError::Ssh(SshError::Connect {
            node: node.clone(),
            address: "10.0.0.1".into(),
            reason: "Connection refused".into(),
        }));
        assert_eq!(
            unreachable.to_string(),
            "pi-1: cannot connect to 10.0.0.1: Connection refused"
        );
        let apt = PendingError::Apt {
            node,
            last_line: "E: Could not get lock /var/lib/dpkg/lock-frontend".into(),
        };
        assert_eq!(
            apt.to_string(),
            "pi-1: apt-get could not work out the upgrade: E: Could not get lock \
             /var/lib/dpkg/lock-frontend"
        );
    }
}
