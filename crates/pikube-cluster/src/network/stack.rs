//! The program that owns a node's network configuration, which is where a static address
//! has to be written for it to last: NetworkManager (Raspberry Pi OS Bookworm and later),
//! dhcpcd (Bullseye and before) or netplan (Ubuntu). Asked only of nodes given a static
//! address, with the managed file in the same round trip (the facts of every node would
//! otherwise pay for it on every plan: docs/benchmarks.md).

use serde::Serialize;

use super::{dhcpcd, keyfile, netplan};
use crate::ssh::shell_quote;

/// The program whose files say which address an interface gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum NetworkStack {
    /// NetworkManager, with keyfiles in /etc/NetworkManager/system-connections.
    NetworkManager,
    /// dhcpcd, with /etc/dhcpcd.conf.
    Dhcpcd,
    /// netplan, with YAML in /etc/netplan rendered for systemd-networkd or NetworkManager.
    Netplan,
}

impl NetworkStack {
    /// Its word in the node scripts.
    pub(crate) fn word(self) -> &'static str {
        match self {
            NetworkStack::NetworkManager => "network-manager",
            NetworkStack::Dhcpcd => "dhcpcd",
            NetworkStack::Netplan => "netplan",
        }
    }

    /// The file pikube keeps the address in.
    pub fn managed_path(self, interface: &str) -> String {
        match self {
            NetworkStack::NetworkManager => keyfile::keyfile_path(interface),
            NetworkStack::Dhcpcd => dhcpcd::DHCPCD_CONF.to_owned(),
            NetworkStack::Netplan => netplan::NETPLAN_FILE.to_owned(),
        }
    }
}

impl std::fmt::Display for NetworkStack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            NetworkStack::NetworkManager => "NetworkManager",
            NetworkStack::Dhcpcd => "dhcpcd",
            NetworkStack::Netplan => "netplan",
        })
    }
}

/// What a node said about its network: the program in charge and its managed file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkSurvey {
    /// `None` when none pikube knows runs.
    pub stack: Option<NetworkStack>,
    /// The managed file's content; `None` when it does not exist.
    pub current: Option<String>,
}

/// A script (run as root: keyfiles are 0600) printing the program in charge, a running
/// NetworkManager or dhcpcd (the one running is the one whose files count), else netplan
/// when installed, else `none`; then `present` and the managed file, or `absent`.
pub fn survey_script(interface: &str) -> String {
    let quoted = |stack: NetworkStack| shell_quote(&stack.managed_path(interface));
    format!(
        "if systemctl is-active --quiet NetworkManager 2>/dev/null; then echo network-manager; p={nm}\n\
         elif systemctl is-active --quiet dhcpcd 2>/dev/null; then echo dhcpcd; p={dhcpcd}\n\
         elif command -v netplan >/dev/null 2>&1; then echo netplan; p={netplan}\n\
         else echo none; exit 0; fi\n\
         if [ -f \"$p\" ]; then echo present; cat \"$p\"; else echo absent; fi\n",
        nm = quoted(NetworkStack::NetworkManager),
        dhcpcd = quoted(NetworkStack::Dhcpcd),
        netplan = quoted(NetworkStack::Netplan),
    )
}

/// What [`survey_script`] printed.
pub fn parse_survey(stdout: &str) -> NetworkSurvey {
    let (first, rest) = stdout.split_once('\n').unwrap_or((stdout, ""));
    let stack = [
        NetworkStack::NetworkManager,
        NetworkStack::Dhcpcd,
        NetworkStack::Netplan,
    ]
    .into_iter()
    .find(|stack| stack.word() == first.trim());
    NetworkSurvey {
        stack,
        current: stack
            .and_then(|_| rest.strip_prefix("present\n"))
            .map(str::to_owned),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_survey_says_which_program_and_gives_its_file_whole() {
        assert_eq!(
            parse_survey("network-manager\npresent\n[connection]\nid=x\n"),
            NetworkSurvey {
                stack: Some(NetworkStack::NetworkManager),
                current: Some("[connection]\nid=x\n".into()),
            }
        );
        assert_eq!(
            parse_survey("dhcpcd\nabsent\n"),
            NetworkSurvey {
                stack: Some(NetworkStack::Dhcpcd),
                current: None,
            }
        );
        assert_eq!(parse_survey("none\n").stack, None);
        assert_eq!(parse_survey("").stack, None);
    }

    #[test]
    fn the_survey_script_is_sh_with_each_path_quoted() {
        let script = survey_script("eth0");
        assert!(
            script.contains("p='/etc/NetworkManager/system-connections/pikube-eth0.nmconnection'")
        );
        assert!(script.contains("p='/etc/dhcpcd.conf'"));
        assert!(script.contains("p='/etc/netplan/90-pikube.yaml'"));
        let status = std::process::Command::new("sh")
            .args(["-n", "-c", &script])
            .status()
            .unwrap();
        assert!(status.success());
    }
}
