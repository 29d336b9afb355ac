//! A node's static address from cluster.toml, made to last in the files of the program
//! that owns the node's network (NetworkManager, dhcpcd or netplan), and put live on a
//! running node without risking it: the node arms its own rollback before it switches,
//! and keeps the new address only when pikube reaches it there in time.

mod dhcpcd;
mod keyfile;
mod netplan;
mod plan;
mod stack;
mod switch;

use std::net::IpAddr;

pub use plan::{default_interface, plan_change, AddressChange};
pub use stack::{parse_survey, survey_script, NetworkStack, NetworkSurvey};
pub use switch::{switch_address, SwitchError};

pub(crate) use keyfile::{keyfile, keyfile_path, KEYFILE_DIR};
pub(crate) use netplan::ethernet_settings;

use crate::config::{ClusterConfig, NodeSpec, StaticAddress};

/// A node's static address with what `[network]` gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaticNetwork {
    /// The address with its prefix.
    pub address: StaticAddress,
    /// `[network] gateway`.
    pub gateway: IpAddr,
    /// `[network] dns`.
    pub dns: Vec<IpAddr>,
    /// The interface it goes on: `[network] interface`; else, on a running node, the one
    /// pikube reached it on ([`default_interface`]), and eth0 on a fresh card.
    pub interface: String,
}

impl StaticNetwork {
    /// `node`'s static address with `[network]` (whose gateway cluster.toml's checks made
    /// sure of), or `None` when the node keeps the address its network gives it.
    pub fn of(config: &ClusterConfig, node: &NodeSpec) -> Option<StaticNetwork> {
        let address = node.static_address?;
        Some(StaticNetwork {
            address,
            gateway: config.network.gateway?,
            dns: config.network.dns.clone(),
            interface: config.network.interface().to_owned(),
        })
    }

    /// `ip`/24 on eth0 through 10.0.0.1, no DNS servers: for tests.
    #[cfg(test)]
    pub(crate) fn example(ip: &str) -> StaticNetwork {
        StaticNetwork {
            address: StaticAddress {
                ip: ip.parse().expect("an IP address"),
                prefix: 24,
            },
            gateway: "10.0.0.1".parse().expect("an IP address"),
            dns: Vec::new(),
            interface: "eth0".into(),
        }
    }

    /// The default route's destination of the address's family.
    fn default_destination(&self) -> &'static str {
        if self.address.ip.is_ipv4() {
            "0.0.0.0/0"
        } else {
            "::/0"
        }
    }
}
