//! The node's addresses, as its interfaces have them now.

use std::net::IpAddr;

use serde::Serialize;

/// One address of one interface, as `ip -o addr show` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InterfaceAddress {
    /// `eth0`, `end0`, `wlan0`.
    pub interface: String,
    /// The address.
    pub ip: IpAddr,
    /// Its subnet's prefix length.
    pub prefix: u8,
}

impl std::fmt::Display for InterfaceAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.ip, self.prefix)
    }
}

/// The global addresses of `ip -o addr show` (link-local and loopback ones left out):
/// `2: eth0    inet 192.168.1.10/24 brd 192.168.1.255 scope global eth0\       valid_lft …`.
pub(super) fn parse_addresses(output: Option<&str>) -> Vec<InterfaceAddress> {
    output
        .unwrap_or("")
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let interface = fields.get(1)?.split('@').next()?;
            if !matches!(*fields.get(2)?, "inet" | "inet6") {
                return None;
            }
            let (ip, prefix) = fields.get(3)?.split_once('/')?;
            let scope = fields
                .iter()
                .position(|f| *f == "scope")
                .and_then(|i| fields.get(i + 1));
            if matches!(scope, Some(&"link" | &"host")) {
                return None;
            }
            Some(InterfaceAddress {
                interface: interface.to_owned(),
                ip: ip.parse().ok()?,
                prefix: prefix.parse().ok()?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// iproute2 6.1's answer on a node with a static address, its loopback and an IPv6
    /// link-local address.
    const IP_O_ADDR: &str = "1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever preferred_lft forever\n\
2: eth0    inet 192.168.1.10/24 brd 192.168.1.255 scope global noprefixroute eth0\\       valid_lft forever preferred_lft forever\n\
2: eth0    inet6 fe80::dea6:32ff:fe01:2/64 scope link \\       valid_lft forever preferred_lft forever\n\
3: wlan0@if7    inet6 fd00::10/64 scope global \\       valid_lft forever preferred_lft forever\n";

    #[test]
    fn global_addresses_are_read_with_their_interface() {
        let addresses = parse_addresses(Some(IP_O_ADDR));
        assert_eq!(
            addresses,
            [
                InterfaceAddress {
                    interface: "eth0".into(),
                    ip: "192.168.1.10".parse().unwrap(),
                    prefix: 24,
                },
                InterfaceAddress {
                    interface: "wlan0".into(),
                    ip: "fd00::10".parse().unwrap(),
                    prefix: 64,
                },
            ]
        );
        assert!(parse_addresses(None).is_empty());
        assert!(parse_addresses(Some("garbage\n2: eth0 inet nonsense/x")).is_empty());
    }
}
