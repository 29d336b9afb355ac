//! The static address for dhcpcd (Raspberry Pi OS Bullseye and before): a block of
//! /etc/dhcpcd.conf between pikube's markers, replaced whole on a change; the rest of the
//! file is the user's and stays as it is.

use super::StaticNetwork;

/// dhcpcd's only configuration file.
pub(crate) const DHCPCD_CONF: &str = "/etc/dhcpcd.conf";

const BEGIN: &str = "# pikube: the static address of cluster.toml (begin)";
const END: &str = "# pikube: end";

/// `current` with pikube's block (any earlier one taken out) at its end.
pub(crate) fn with_static(current: &str, network: &StaticNetwork) -> String {
    let mut kept = String::new();
    let mut inside = false;
    for line in current.lines() {
        match line.trim_end() {
            BEGIN => inside = true,
            END if inside => inside = false,
            _ if inside => {}
            _ => {
                kept.push_str(line);
                kept.push('\n');
            }
        }
    }
    while kept.ends_with("\n\n") {
        kept.pop();
    }
    if !kept.is_empty() {
        kept.push('\n');
    }
    let address = if network.address.ip.is_ipv4() {
        format!(
            "static ip_address={}\nstatic routers={}\n",
            network.address, network.gateway
        )
    } else {
        format!("static ip6_address={}\n", network.address)
    };
    let dns: Vec<String> = network.dns.iter().map(ToString::to_string).collect();
    let dns = if dns.is_empty() {
        String::new()
    } else {
        format!("static domain_name_servers={}\n", dns.join(" "))
    };
    format!(
        "{kept}{BEGIN}\ninterface {}\n{address}{dns}{END}\n",
        network.interface
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn network(ip: &str) -> StaticNetwork {
        StaticNetwork {
            address: crate::config::StaticAddress {
                ip: ip.parse().unwrap(),
                prefix: 24,
            },
            gateway: "192.168.1.1".parse().unwrap(),
            dns: vec!["192.168.1.1".parse().unwrap(), "1.1.1.1".parse().unwrap()],
            interface: "eth0".into(),
        }
    }

    #[test]
    fn the_block_goes_at_the_end_once_and_the_rest_is_kept() {
        let stock = "# A sample configuration for dhcpcd.\nhostname\nclientid\n\n";
        let first = with_static(stock, &network("192.168.1.10"));
        assert_eq!(
            first,
            "# A sample configuration for dhcpcd.\nhostname\nclientid\n\n\
             # pikube: the static address of cluster.toml (begin)\ninterface eth0\n\
             static ip_address=192.168.1.10/24\nstatic routers=192.168.1.1\n\
             static domain_name_servers=192.168.1.1 1.1.1.1\n# pikube: end\n"
        );
        // Written again, or with another address: one block, the new one.
        assert_eq!(with_static(&first, &network("192.168.1.10")), first);
        let moved = with_static(&first, &network("192.168.1.20"));
        assert_eq!(moved.matches("(begin)").count(), 1);
        assert!(moved.contains("ip_address=192.168.1.20/24") && !moved.contains(".10/24"));
        assert!(moved.starts_with("# A sample configuration for dhcpcd.\nhostname\n"));
    }
}
