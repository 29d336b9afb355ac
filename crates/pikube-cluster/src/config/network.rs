//! Static addresses: a node's `address` with a prefix (`"192.168.1.10/24"`) and the
//! `[network]` table they share (gateway, DNS servers, interface). Checked together, so a
//! prefix without a gateway, or a gateway outside a node's subnet, is named at the node.

use std::net::IpAddr;
use std::str::FromStr;
use std::time::Duration;

use serde::Serialize;

use super::address::{Address, AddressError, AddressProblem};
use super::fields;
use super::located::Located;
use super::raw::{RawNetwork, Text};
use super::report::Report;

/// A node's `address` as written: where pikube reaches it, and, with a prefix, the static
/// address it should have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NodeAddress {
    pub(crate) address: Address,
    pub(crate) prefix: Option<u8>,
}

impl FromStr for NodeAddress {
    type Err = AddressError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let Some((ip, prefix)) = s.split_once('/') else {
            return Ok(NodeAddress {
                address: s.parse()?,
                prefix: None,
            });
        };
        let fail = |detail| AddressError {
            input: s.to_owned(),
            kind: "static address",
            detail,
        };
        let address: Address = ip.parse()?;
        let Address::Ip(ip) = address else {
            return Err(fail(AddressProblem::PrefixOnHostName));
        };
        let max = if ip.is_ipv4() { 32 } else { 128 };
        let prefix = prefix
            .parse::<u8>()
            .ok()
            .filter(|p| (1..max).contains(p))
            .ok_or_else(|| fail(AddressProblem::PrefixLength { max: max - 1 }))?;
        let subnet = StaticAddress { ip, prefix };
        if let Some(role) = subnet.reserved_role() {
            return Err(fail(AddressProblem::Reserved {
                ip,
                role,
                network: subnet.network(),
                prefix,
            }));
        }
        Ok(NodeAddress {
            address: Address::Ip(ip),
            prefix: Some(prefix),
        })
    }
}

/// The static address a node should have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct StaticAddress {
    /// The address.
    pub ip: IpAddr,
    /// Its subnet's prefix length.
    pub prefix: u8,
}

impl StaticAddress {
    /// Whether `other` is in this address's subnet.
    pub fn contains(&self, other: IpAddr) -> bool {
        match (self.ip, other) {
            (IpAddr::V4(a), IpAddr::V4(b)) => {
                let mask = v4_mask(self.prefix);
                u32::from(a) & mask == u32::from(b) & mask
            }
            (IpAddr::V6(a), IpAddr::V6(b)) => {
                let mask = v6_mask(self.prefix);
                u128::from(a) & mask == u128::from(b) & mask
            }
            _ => false,
        }
    }
}

impl StaticAddress {
    /// The first address of the subnet.
    fn network(&self) -> IpAddr {
        match self.ip {
            IpAddr::V4(a) => IpAddr::V4((u32::from(a) & v4_mask(self.prefix)).into()),
            IpAddr::V6(a) => IpAddr::V6((u128::from(a) & v6_mask(self.prefix)).into()),
        }
    }

    /// Which address reserved by the subnet this is, if any: an IPv4 subnet's first
    /// (network) and last (broadcast) addresses, an IPv6 subnet's first (the subnet-router
    /// anycast address). A /31 or /32 (IPv4), /127 or /128 (IPv6) has none (RFC 3021).
    fn reserved_role(&self) -> Option<&'static str> {
        match self.ip {
            IpAddr::V4(a) if self.prefix < 31 => {
                let host = u32::from(a) & !v4_mask(self.prefix);
                if host == 0 {
                    Some("network")
                } else if host == !v4_mask(self.prefix) {
                    Some("broadcast")
                } else {
                    None
                }
            }
            IpAddr::V6(a) if self.prefix < 127 => {
                (u128::from(a) & !v6_mask(self.prefix) == 0).then_some("subnet-router anycast")
            }
            _ => None,
        }
    }
}

fn v4_mask(prefix: u8) -> u32 {
    u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0)
}

fn v6_mask(prefix: u8) -> u128 {
    u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0)
}

impl std::fmt::Display for StaticAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.ip, self.prefix)
    }
}

/// How long a node moved to a new address waits to be reached there before it puts its
/// old configuration back, unless `[network] rollback_after` says otherwise.
pub const DEFAULT_ROLLBACK_AFTER: Duration = Duration::from_secs(90);

/// `[network]`: what every static address shares.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Network {
    /// The default gateway.
    pub gateway: Option<IpAddr>,
    /// In file order.
    pub dns: Vec<IpAddr>,
    /// The interface the address goes on (default: on a running node, the one pikube
    /// reaches it on; on a fresh card, eth0).
    pub interface: Option<String>,
    /// How long a node switched to a new address gives pikube to reach it there before
    /// it puts its old configuration back by itself.
    pub rollback_after: Duration,
}

impl Default for Network {
    fn default() -> Network {
        Network {
            gateway: None,
            dns: Vec::new(),
            interface: None,
            rollback_after: DEFAULT_ROLLBACK_AFTER,
        }
    }
}

impl Network {
    /// The interface, eth0 unless set.
    pub fn interface(&self) -> &str {
        self.interface.as_deref().unwrap_or("eth0")
    }
}

/// `None` when anything in the table is invalid (each problem is in `report`).
pub(crate) fn lower(report: &mut Report<'_>, raw: Option<Located<RawNetwork>>) -> Option<Network> {
    let Some(raw) = raw else {
        return Some(Network::default());
    };
    let raw = raw.value;
    let gateway = fields::optional(raw.gateway.as_ref(), |g| ip(report, "network.gateway", g));
    let (dns, dns_ok) = fields::items(
        report,
        "network.dns",
        raw.dns.as_deref().unwrap_or_default(),
        ip,
    );
    let interface = fields::optional(raw.interface.as_ref(), |name| {
        let text = name.get_ref();
        // What the kernel takes as an interface name.
        let valid = !text.is_empty()
            && text.len() < 16
            && text
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if !valid {
            report.error(
                Some(name.span()),
                "network.interface",
                format!("{text:?} is not an interface name, like eth0 or end0"),
            );
        }
        valid.then(|| text.clone())
    });
    let rollback_after = fields::optional(raw.rollback_after.as_ref(), |raw| {
        fields::rollback_seconds(report, "network.rollback_after", raw)
    });
    Some(Network {
        rollback_after: rollback_after?
            .map(Duration::from_secs)
            .unwrap_or(DEFAULT_ROLLBACK_AFTER),
        gateway: gateway?,
        dns: dns_ok.then(|| dns.into_iter().map(|(_, d)| d.into_inner()).collect())?,
        interface: interface?,
    })
}

fn ip(report: &mut Report<'_>, field: &str, raw: &Text) -> Option<IpAddr> {
    match raw.get_ref().parse::<IpAddr>() {
        Ok(ip) => Some(ip),
        Err(_) => {
            report.error(
                Some(raw.span()),
                field,
                format!("{:?} is not an IP address", raw.get_ref()),
            );
            None
        }
    }
}

/// A node's static address against `[network]`: the gateway must be given and inside the
/// node's subnet (or the node could never leave it).
pub(crate) fn check_static(
    report: &mut Report<'_>,
    field: &str,
    address: &toml::Spanned<StaticAddress>,
    network: &Network,
) -> bool {
    let problem = match network.gateway {
        None => Some(format!(
            "{} is a static address, which needs a gateway: add [network] gateway = \
             \"…\" (the router, inside {})",
            address.get_ref(),
            address.get_ref()
        )),
        Some(gateway) if !address.get_ref().contains(gateway) => Some(format!(
            "{} and [network] gateway {gateway} are not in one subnet: the node could not \
             reach it",
            address.get_ref()
        )),
        Some(gateway) if gateway == address.get_ref().ip => Some(format!(
            "{} is also [network] gateway",
            address.get_ref().ip
        )),
        Some(_) => None,
    };
    if let Some(problem) = &problem {
        report.error(Some(address.span()), field, problem.clone());
    }
    problem.is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prefix_is_parsed_with_its_ip_and_refused_elsewhere() {
        let parsed: NodeAddress = "192.168.1.10/24".parse().unwrap();
        assert_eq!(parsed.prefix, Some(24));
        assert_eq!(parsed.address, Address::Ip("192.168.1.10".parse().unwrap()));
        assert_eq!("pi.lan".parse::<NodeAddress>().unwrap().prefix, None);
        for (bad, why) in [
            ("pi.lan/24", "not a host name"),
            ("192.168.1.10/33", "1 to 31 bits"),
            ("192.168.1.10/0", "1 to 31 bits"),
            ("192.168.1.10/x", "1 to 31 bits"),
            ("fd00::10/129", "1 to 127 bits"),
            (
                "192.168.1.0/24",
                "192.168.1.0 is the network address of 192.168.1.0/24",
            ),
            (
                "192.168.1.255/24",
                "192.168.1.255 is the broadcast address of 192.168.1.0/24",
            ),
            (
                "10.0.3.255/22",
                "10.0.3.255 is the broadcast address of 10.0.0.0/22",
            ),
            ("fd00::/64", "fd00:: is the subnet-router anycast address"),
        ] {
            let err = bad.parse::<NodeAddress>().unwrap_err().to_string();
            assert!(err.contains(why), "{bad}: {err}");
        }
        // The last address of a /31 is a host (RFC 3021), and the /24's neighbours are too.
        for fine in [
            "10.0.0.1/31",
            "10.0.0.0/31",
            "192.168.1.254/24",
            "192.168.1.1/24",
        ] {
            assert!(fine.parse::<NodeAddress>().is_ok(), "{fine}");
        }
        let v6: NodeAddress = "fd00::10/64".parse().unwrap();
        assert_eq!(v6.prefix, Some(64));
    }

    #[test]
    fn subnets_contain_what_they_should() {
        let net = StaticAddress {
            ip: "192.168.1.10".parse().unwrap(),
            prefix: 24,
        };
        assert!(net.contains("192.168.1.1".parse().unwrap()));
        assert!(!net.contains("192.168.2.1".parse().unwrap()));
        assert!(!net.contains("fd00::1".parse().unwrap()));
        let wide = StaticAddress {
            ip: "10.1.2.3".parse().unwrap(),
            prefix: 8,
        };
        assert!(wide.contains("10.200.0.1".parse().unwrap()));
        let v6 = StaticAddress {
            ip: "fd00::10".parse().unwrap(),
            prefix: 64,
        };
        assert!(v6.contains("fd00::1".parse().unwrap()));
        assert!(!v6.contains("fd01::1".parse().unwrap()));
    }
}
