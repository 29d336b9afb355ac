//! cloud-init's NoCloud trio, as Raspberry Pi OS Trixie and Ubuntu read it from the boot
//! partition. Every string is written double-quoted (JSON's escaping is YAML's), so that
//! cloud-init's YAML 1.1 never reads a node called `on` or `no` as a boolean.

use super::{BootFile, BootOs, FirstBoot};
use crate::digest::Sha256;

fn quoted(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_default()
}

/// `user-data`, `network-config` and `meta-data`.
pub(super) fn nocloud(first: &FirstBoot) -> Vec<BootFile> {
    let user_data = user_data(first);
    let network_config = network_config(first);
    // cloud-init runs once per instance id and caches it on the root file system: a card
    // seeded again with other files must carry another id, or they are ignored.
    let digest = Sha256::of(format!("{user_data}{network_config}").as_bytes());
    let instance = digest.short();
    let meta_data = format!(
        "instance-id: {}\nlocal-hostname: {}\n",
        quoted(&format!("pikube-{}-{instance}", first.node)),
        quoted(&first.node)
    );
    vec![
        BootFile {
            name: "user-data",
            content: user_data,
        },
        BootFile {
            name: "network-config",
            content: network_config,
        },
        BootFile {
            name: "meta-data",
            content: meta_data,
        },
    ]
}

fn user_data(first: &FirstBoot) -> String {
    let keys: String = first
        .keys
        .iter()
        .map(|key| format!("      - {}\n", quoted(key.as_str())))
        .collect();
    format!(
        "#cloud-config\n\
         # Written by `pikube firstboot` for node {node} of cluster {cluster}.\n\
         hostname: {hostname}\n\
         manage_etc_hosts: true\n\
         users:\n  \
           - name: {user}\n    \
             groups: [\"sudo\", \"adm\"]\n    \
             shell: \"/bin/bash\"\n    \
             lock_passwd: true\n    \
             sudo: \"ALL=(ALL) NOPASSWD:ALL\"\n    \
             ssh_authorized_keys:\n{keys}\
         ssh_pwauth: false\n\
         disable_root: true\n",
        node = first.node,
        cluster = first.cluster,
        hostname = quoted(&first.node),
        user = quoted(&first.user),
    )
}

/// The wired interface: the static address of cluster.toml, or DHCP. Ubuntu needs the
/// networkd renderer named or it brings eth0 up without the settings.
fn network_config(first: &FirstBoot) -> String {
    let renderer = match first.os {
        BootOs::Ubuntu => "  renderer: networkd\n",
        _ => "",
    };
    let (interface, settings) = match &first.network {
        None => ("eth0".to_owned(), "      dhcp4: true\n".to_owned()),
        Some(network) => {
            let settings = crate::network::ethernet_settings(network);
            (network.interface.clone(), settings)
        }
    };
    format!(
        "network:\n  version: 2\n{renderer}  ethernets:\n    {}:\n{settings}      optional: true\n",
        quoted(&interface)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::firstboot::AuthorizedKey;

    fn first(os: BootOs) -> FirstBoot {
        FirstBoot {
            cluster: "homelab".into(),
            node: "on".parse().unwrap(),
            user: "admin".into(),
            keys: vec!["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ3x7bQ me@laptop"
                .parse::<AuthorizedKey>()
                .unwrap()],
            os,
            network: None,
        }
    }

    #[test]
    fn the_trio_reads_back_as_written_with_yaml_1_1_words_kept_strings() {
        let files = nocloud(&first(BootOs::Ubuntu));
        let names: Vec<&str> = files.iter().map(|f| f.name).collect();
        assert_eq!(names, ["user-data", "network-config", "meta-data"]);
        assert!(files[0].content.starts_with("#cloud-config\n"));
        let user: yaml_serde::Value = yaml_serde::from_str(&files[0].content).unwrap();
        assert_eq!(user["hostname"].as_str(), Some("on"));
        assert_eq!(user["users"][0]["name"].as_str(), Some("admin"));
        assert_eq!(
            user["users"][0]["ssh_authorized_keys"][0].as_str(),
            Some("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ3x7bQ me@laptop")
        );
        let network: yaml_serde::Value = yaml_serde::from_str(&files[1].content).unwrap();
        assert_eq!(network["network"]["renderer"].as_str(), Some("networkd"));
        let meta: yaml_serde::Value = yaml_serde::from_str(&files[2].content).unwrap();
        let id = meta["instance-id"].as_str().unwrap().to_owned();
        assert!(id.starts_with("pikube-on-"), "{id}");
        // Other content, another instance id: cloud-init runs again on a re-seeded card.
        let mut other = first(BootOs::Ubuntu);
        other.user = "ops".into();
        let network = yaml_serde::from_str::<yaml_serde::Value>(&files[1].content).unwrap();
        assert_eq!(
            network["network"]["ethernets"]["eth0"]["dhcp4"].as_bool(),
            Some(true)
        );
        let again: yaml_serde::Value = yaml_serde::from_str(&nocloud(&other)[2].content).unwrap();
        assert_ne!(again["instance-id"].as_str().unwrap(), id);
    }
}
