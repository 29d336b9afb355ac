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

    /// What the real netplan (Debian's netplan.io, which scripts/test installs) makes of
    /// pikube's file: the systemd-networkd unit it would bring the interface up with.
    fn generated_by_netplan(network: &StaticNetwork) -> String {
        let root = tempfile::tempdir().unwrap();
        let file = root.path().join(NETPLAN_FILE.trim_start_matches('/'));
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(&file, netplan_file(network)).unwrap();
        // As pikube writes it on a node: netplan warns about a file others can read.
        std::fs::set_permissions(&file, std::os::unix::fs::PermissionsExt::from_mode(0o600))
            .unwrap();
        let output = std::process::Command::new("netplan")
            .arg("generate")
            .arg("--root-dir")
            .arg(root.path())
            .output()
            .expect("netplan, from Debian's netplan.io (scripts/test installs it)");
        assert!(
            output.status.success(),
            "netplan generate: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let unit = root.path().join(format!(
            "run/systemd/network/10-netplan-{}.network",
            network.interface
        ));
        std::fs::read_to_string(&unit).unwrap_or_else(|e| panic!("{}: {e}", unit.display()))
    }

    #[test]
    fn the_real_netplan_reads_the_file_as_meant() {
        let v4 = StaticNetwork {
            address: crate::config::StaticAddress {
                ip: "192.168.1.10".parse().unwrap(),
                prefix: 24,
            },
            gateway: "192.168.1.1".parse().unwrap(),
            dns: vec!["192.168.1.1".parse().unwrap(), "1.1.1.1".parse().unwrap()],
            interface: "end0".into(),
        };
        let unit = generated_by_netplan(&v4);
        for line in [
            "Name=end0",
            "Address=192.168.1.10/24",
            "DNS=192.168.1.1",
            "DNS=1.1.1.1",
            "Destination=0.0.0.0/0",
            "Gateway=192.168.1.1",
        ] {
            assert!(unit.lines().any(|l| l == line), "{line} missing:\n{unit}");
        }
        assert!(
            !unit.contains("DHCP=yes") && !unit.contains("DHCP=ipv4"),
            "{unit}"
        );

        let v6 = StaticNetwork {
            address: crate::config::StaticAddress {
                ip: "fd00::10".parse().unwrap(),
                prefix: 64,
            },
            gateway: "fd00::1".parse().unwrap(),
            dns: Vec::new(),
            interface: "eth0".into(),
        };
        let unit = generated_by_netplan(&v6);
        for line in ["Address=fd00::10/64", "Destination=::/0", "Gateway=fd00::1"] {
            assert!(unit.lines().any(|l| l == line), "{line} missing:\n{unit}");
        }
    }
}
