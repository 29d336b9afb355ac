use pikube_pi::{hostname_file, hosts_with_hostname, NodeFacts};

use super::{Change, ChangeArea, DesiredNode, Phase, PhaseOutcome, Unpreparable};
use crate::ssh::shell_quote;

/// The node's hostname is its name in cluster.toml: in the kernel, in /etc/hostname, and
/// on the 127.0.1.1 line of /etc/hosts (so `sudo` does not stall resolving it).
pub struct Hostname;

impl Phase for Hostname {
    fn area(&self) -> ChangeArea {
        ChangeArea::Hostname
    }

    fn plan(&self, node: &DesiredNode, facts: &NodeFacts) -> Result<PhaseOutcome, Unpreparable> {
        let mut outcome = PhaseOutcome::default();
        // The fact is trimmed: compare names, not bytes, so a file without its final
        // newline is not rewritten forever.
        if facts.etc_hostname.trim() != node.name {
            let before = format!("{}\n", facts.etc_hostname.trim());
            outcome.changes.push(Change::file(
                "/etc/hostname",
                Some(&before),
                hostname_file(&node.name),
                0o644,
            ));
        }
        let hosts = hosts_with_hostname(&facts.etc_hosts, &node.name);
        if hosts != facts.etc_hosts {
            outcome.changes.push(Change::file(
                "/etc/hosts",
                Some(&facts.etc_hosts),
                hosts,
                0o644,
            ));
        }
        if facts.hostname.trim() != node.name {
            let name = shell_quote(&node.name);
            outcome.changes.push(Change::command(
                format!(
                    "set the running hostname from {} to {}",
                    facts.hostname.trim(),
                    node.name
                ),
                format!(
                    "if command -v hostnamectl >/dev/null 2>&1 && hostnamectl set-hostname {name} 2>/dev/null; \
                     then :; else hostname {name}; fi"
                ),
            ));
        }
        Ok(outcome)
    }

    fn verify(&self, node: &DesiredNode, facts: &NodeFacts) -> Vec<String> {
        let mut problems = Vec::new();
        if facts.hostname.trim() != node.name {
            problems.push(format!(
                "the running hostname is {:?}, not {:?}",
                facts.hostname.trim(),
                node.name
            ));
        }
        if facts.etc_hostname.trim() != node.name {
            problems.push(format!(
                "/etc/hostname says {:?}, not {:?}",
                facts.etc_hostname.trim(),
                node.name
            ));
        }
        problems
    }
}
