//! What a node's static address asks of it: the file that makes it last (in the format of
//! the program that owns the node's network) and, when the interface does not have it yet,
//! the switch to it.

use std::net::IpAddr;
use std::time::Duration;

use pikube_pi::facts::InterfaceAddress;
use pikube_pi::NodeFacts;
use serde::Serialize;

use super::{dhcpcd, keyfile, netplan, NetworkStack, StaticNetwork};
use crate::config::NodeName;
use crate::plan::{Change, ChangeArea, CommandChange, FileChange, PlannedChange};

/// A node's move to its static address, or a change of the file that keeps it.
#[derive(Debug, Clone, Serialize)]
pub struct AddressChange {
    /// The node, by its cluster.toml name.
    pub node: NodeName,
    /// The program whose file is written.
    pub stack: NetworkStack,
    /// The address it gets, with `[network]`'s settings.
    #[serde(skip)]
    pub network: StaticNetwork,
    /// The interface's global addresses before.
    pub from: Vec<InterfaceAddress>,
    /// The file, before and after.
    pub file: FileChange,
    /// How long the node waits to be reached at the new address before it puts its old
    /// configuration back.
    pub rollback_after: Duration,
}

impl AddressChange {
    /// The node will answer at another address than the one pikube reached it at.
    pub fn moves(&self) -> bool {
        !self
            .from
            .iter()
            .any(|a| a.interface == self.network.interface && a.ip == self.network.address.ip)
    }

    /// The interface's address before (the first, when it had several).
    pub fn old_ip(&self) -> Option<IpAddr> {
        self.from
            .iter()
            .find(|a| a.interface == self.network.interface)
            .map(|a| a.ip)
    }

    /// In a few words: `eth0 10.0.0.11/24 → 10.0.0.50/24 (NetworkManager)`.
    pub fn summary(&self) -> String {
        let before: Vec<String> = self
            .from
            .iter()
            .filter(|a| a.interface == self.network.interface)
            .map(ToString::to_string)
            .collect();
        let before = if before.is_empty() {
            "no address".to_owned()
        } else {
            before.join(", ")
        };
        if self.moves() {
            format!(
                "{} {before} → {} ({})",
                self.network.interface, self.network.address, self.stack
            )
        } else {
            format!(
                "{} keeps {} ({}: settings written)",
                self.network.interface, self.network.address, self.stack
            )
        }
    }

    /// As the plan shows it: the file, then the switch.
    pub fn planned(&self) -> Vec<PlannedChange> {
        let switch = format!(
            "switch {} to {} through {}; the node puts its old configuration back after {} s \
             unless pikube reaches it at {}",
            self.network.interface,
            self.network.address,
            self.stack,
            self.rollback_after.as_secs(),
            self.network.address.ip
        );
        [
            Change::File(self.file.clone()),
            Change::Command(CommandChange {
                summary: switch,
                script: String::new(),
            }),
        ]
        .into_iter()
        .map(|change| PlannedChange {
            phase: ChangeArea::Network,
            change,
        })
        .collect()
    }
}

/// The interface a static address goes on when `[network] interface` does not say: the
/// one holding the address pikube reached the node at (`reached`), else the one of its
/// first IPv4 address (a node reached by name), else `None`.
pub fn default_interface(facts: &NodeFacts, reached: &str) -> Option<String> {
    let reached: Option<IpAddr> = reached.parse().ok();
    facts
        .addresses
        .iter()
        .find(|a| Some(a.ip) == reached)
        .or_else(|| facts.addresses.iter().find(|a| a.ip.is_ipv4()))
        .map(|a| a.interface.clone())
}

/// What `network` asks of the node: `None` when the interface has the address and the
/// file already says so. `stack` and `current` (the managed file as it is) are what the
/// node said to [`super::survey_script`].
pub fn plan_change(
    node: &NodeName,
    network: &StaticNetwork,
    facts: &NodeFacts,
    stack: Option<NetworkStack>,
    current: Option<&str>,
    rollback_after: Duration,
) -> Result<Option<AddressChange>, String> {
    let stack = stack.ok_or_else(|| {
        format!(
            "{node}: network: none of NetworkManager, dhcpcd or netplan runs on it, so pikube \
             cannot make {} last there; set its address on the node, or drop the prefix from \
             its address in cluster.toml",
            network.address
        )
    })?;
    let on_interface = |a: &InterfaceAddress| a.interface == network.interface;
    if !facts.addresses.is_empty() && !facts.addresses.iter().any(on_interface) {
        let interfaces: std::collections::BTreeSet<&str> = facts
            .addresses
            .iter()
            .map(|a| a.interface.as_str())
            .collect();
        return Err(format!(
            "{node}: network: it has no address on {} (it has on {}): set [network] interface",
            network.interface,
            interfaces.into_iter().collect::<Vec<_>>().join(", ")
        ));
    }
    let path = stack.managed_path(&network.interface);
    let (after, mode) = match stack {
        NetworkStack::NetworkManager => (keyfile::keyfile(network), 0o600),
        NetworkStack::Dhcpcd => (dhcpcd::with_static(current.unwrap_or(""), network), 0o644),
        NetworkStack::Netplan => (netplan::netplan_file(network), 0o600),
    };
    let change = AddressChange {
        node: node.to_owned(),
        stack,
        network: network.clone(),
        from: facts.addresses.clone(),
        file: FileChange {
            path,
            before: current.map(str::to_owned),
            after,
            mode,
            owned: stack != NetworkStack::Dhcpcd,
        },
        rollback_after,
    };
    let has_it = facts.addresses.iter().any(|a| {
        a.interface == network.interface
            && a.ip == network.address.ip
            && a.prefix == network.address.prefix
    });
    Ok((!has_it || current != Some(change.file.after.as_str())).then_some(change))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A node's facts with `ip -o addr show`.
    fn facts(addresses: &str) -> NodeFacts {
        crate::facts::from_sections(&[("ip_addresses", addresses)])
    }

    const NM: Option<NetworkStack> = Some(NetworkStack::NetworkManager);
    const AT_11: &str =
        "2: eth0    inet 10.0.0.11/24 brd 10.0.0.255 scope global eth0\\       valid_lft forever\n";
    const AT_50: &str =
        "2: eth0    inet 10.0.0.50/24 brd 10.0.0.255 scope global eth0\\       valid_lft forever\n";

    fn network() -> StaticNetwork {
        StaticNetwork::example("10.0.0.50")
    }

    fn planned(
        stack: Option<NetworkStack>,
        facts: &NodeFacts,
        current: Option<&str>,
    ) -> Result<Option<AddressChange>, String> {
        plan_change(
            &"pi-2".parse::<NodeName>().unwrap(),
            &network(),
            facts,
            stack,
            current,
            Duration::from_secs(90),
        )
    }

    #[test]
    fn a_move_a_file_change_and_nothing_are_told_apart() {
        let moving = planned(NM, &facts(AT_11), None).unwrap().unwrap();
        assert!(moving.moves());
        assert_eq!(moving.old_ip(), Some("10.0.0.11".parse().unwrap()));
        assert_eq!(
            moving.summary(),
            "eth0 10.0.0.11/24 → 10.0.0.50/24 (NetworkManager)"
        );
        assert_eq!(moving.file.path, keyfile::keyfile_path("eth0"));
        assert_eq!(moving.file.mode, 0o600);
        assert_eq!(moving.planned().len(), 2);

        // At the address already, with the file as wanted: nothing to do.
        let wanted = keyfile::keyfile(&network());
        assert!(planned(NM, &facts(AT_50), Some(&wanted)).unwrap().is_none());
        // At the address, the file different (another DNS server): the file, no move.
        let rewrite = planned(NM, &facts(AT_50), Some("[connection]\n"))
            .unwrap()
            .unwrap();
        assert!(!rewrite.moves());
        assert!(rewrite.summary().contains("keeps 10.0.0.50/24"));
    }

    #[test]
    fn the_default_interface_is_the_one_pikube_reached_the_node_on() {
        let two = "2: end0    inet 10.0.0.11/24 scope global end0\\       valid_lft forever\n\
                   3: wlan0    inet 192.168.5.7/24 scope global wlan0\\       valid_lft forever\n";
        let node = facts(two);
        assert_eq!(
            default_interface(&node, "192.168.5.7").as_deref(),
            Some("wlan0")
        );
        assert_eq!(
            default_interface(&node, "10.0.0.11").as_deref(),
            Some("end0")
        );
        // Reached by name: the first IPv4 address's interface.
        assert_eq!(default_interface(&node, "pi.lan").as_deref(), Some("end0"));
        assert_eq!(default_interface(&facts(""), "pi.lan"), None);
    }

    #[test]
    fn no_network_program_or_no_such_interface_is_named() {
        let none = planned(None, &facts(AT_11), None).unwrap_err();
        assert!(
            none.starts_with("pi-2: network: none of NetworkManager, dhcpcd or netplan runs on it"),
            "{none}"
        );
        let wlan = "3: wlan0    inet 10.0.0.11/24 scope global wlan0\\       valid_lft forever\n";
        let other = planned(NM, &facts(wlan), None).unwrap_err();
        assert!(
            other.contains("it has no address on eth0 (it has on wlan0): set [network] interface"),
            "{other}"
        );
    }
}
