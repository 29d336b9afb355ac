//! The static address as a NetworkManager keyfile (Raspberry Pi OS Bookworm and later).
//! pikube's own profile, apart from the image's: a higher autoconnect priority makes it the
//! one NetworkManager picks at boot, and removing it gives the node back its old profile.

use super::StaticNetwork;

/// Where NetworkManager reads keyfiles (it ignores those others can read: 0600).
pub(crate) const KEYFILE_DIR: &str = "/etc/NetworkManager/system-connections";

/// pikube's profile for `interface`: its id and file name.
pub(crate) fn profile(interface: &str) -> String {
    format!("pikube-{interface}")
}

/// The keyfile's path for `interface`.
pub(crate) fn keyfile_path(interface: &str) -> String {
    format!("{KEYFILE_DIR}/{}.nmconnection", profile(interface))
}

/// The keyfile's content.
pub(crate) fn keyfile(network: &StaticNetwork) -> String {
    let dns: String = network.dns.iter().map(|d| format!("{d};")).collect();
    let manual = format!(
        "method=manual\naddress1={},{}\n{}",
        network.address,
        network.gateway,
        if dns.is_empty() {
            String::new()
        } else {
            format!("dns={dns}\n")
        }
    );
    let (ipv4, ipv6) = if network.address.ip.is_ipv4() {
        (manual, "method=auto\n".to_owned())
    } else {
        ("method=auto\n".to_owned(), manual)
    };
    format!(
        "# The static address of cluster.toml, written by pikube.\n\
         [connection]\nid={id}\ntype=ethernet\ninterface-name={interface}\n\
         autoconnect=true\nautoconnect-priority=100\n\n[ipv4]\n{ipv4}\n[ipv6]\n{ipv6}",
        id = profile(&network.interface),
        interface = network.interface,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ipv4_address_is_manual_with_its_gateway_and_servers() {
        let network = StaticNetwork {
            address: crate::config::StaticAddress {
                ip: "192.168.1.10".parse().unwrap(),
                prefix: 24,
            },
            gateway: "192.168.1.1".parse().unwrap(),
            dns: vec!["192.168.1.1".parse().unwrap(), "1.1.1.1".parse().unwrap()],
            interface: "end0".into(),
        };
        let text = keyfile(&network);
        assert!(text.contains("id=pikube-end0\n"), "{text}");
        assert!(text.contains("interface-name=end0\n"));
        assert!(text.contains(
            "[ipv4]\nmethod=manual\naddress1=192.168.1.10/24,192.168.1.1\ndns=192.168.1.1;1.1.1.1;\n"
        ));
        assert!(text.ends_with("[ipv6]\nmethod=auto\n"));
        assert_eq!(
            keyfile_path("end0"),
            "/etc/NetworkManager/system-connections/pikube-end0.nmconnection"
        );
    }
}
