//! The static address for netplan (Ubuntu; cloud-init's network-config has the same
//! version 2 schema): a file of pikube's own, read after the image's, whose settings win.

use super::StaticNetwork;

/// pikube's netplan file: netplan reads /etc/netplan in name order, later files winning.
pub(crate) const NETPLAN_FILE: &str = "/etc/netplan/90-pikube.yaml";

/// The interface's settings, indented for `network.ethernets.<interface>`.
pub(crate) fn ethernet_settings(network: &StaticNetwork) -> String {
    let quoted = |text: &str| format!("\"{text}\"");
    let mut settings = format!(
        "      dhcp4: false\n      dhcp6: false\n      addresses: [{}]\n      routes:\n        - to: {}\n          via: {}\n",
        quoted(&network.address.to_string()),
        quoted(network.default_destination()),
        quoted(&network.gateway.to_string()),
    );
    if !network.dns.is_empty() {
        let dns: Vec<String> = network.dns.iter().map(|d| quoted(&d.to_string())).collect();
        settings.push_str(&format!(
            "      nameservers:\n        addresses: [{}]\n",
            dns.join(", ")
        ));
    }
    settings
}

/// The whole file (netplan wants it 0600).
pub(crate) fn netplan_file(network: &StaticNetwork) -> String {
    format!(
        "# The static address of cluster.toml, written by pikube.\nnetwork:\n  version: 2\n  ethernets:\n    \"{}\":\n{}",
        network.interface,
        ethernet_settings(network)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_is_netplan_yaml_with_the_address_route_and_servers() {
        let network = StaticNetwork {
            address: crate::config::StaticAddress {
                ip: "fd00::10".parse().unwrap(),
                prefix: 64,
            },
            gateway: "fd00::1".parse().unwrap(),
            dns: vec!["fd00::1".parse().unwrap()],
            interface: "eth0".into(),
        };
        let yaml: yaml_serde::Value = yaml_serde::from_str(&netplan_file(&network)).unwrap();
        let eth0 = &yaml["network"]["ethernets"]["eth0"];
        assert_eq!(eth0["addresses"][0].as_str(), Some("fd00::10/64"));
        assert_eq!(eth0["routes"][0]["to"].as_str(), Some("::/0"));
        assert_eq!(eth0["routes"][0]["via"].as_str(), Some("fd00::1"));
        assert_eq!(
            eth0["nameservers"]["addresses"][0].as_str(),
            Some("fd00::1")
        );
        assert_eq!(eth0["dhcp4"].as_bool(), Some(false));
    }
}
