//! The fleet checked as a whole from its facts, before anything is locked or changed: two
//! entries of cluster.toml reaching one machine (an alias and an address of the same Pi),
//! and cards cloned from one image that still share their /etc/machine-id. Such nodes are
//! refused, named with the others they clash with; the rest go on.

use std::collections::BTreeMap;

use pikube_pi::NodeFacts;

use crate::k3s::StageNode;
use crate::pipeline::{PhaseReport, Run};

pub(super) async fn run(run: &mut Run<'_>, report: &mut PhaseReport) {
    let facts: Vec<(&str, &NodeFacts)> = run
        .nodes
        .iter()
        .map(|n| (n.name.as_str(), &n.facts))
        .collect();
    let refused = clashes(&facts);
    if refused.is_empty() {
        return;
    }
    let (bad, good): (Vec<StageNode>, Vec<StageNode>) = std::mem::take(&mut run.nodes)
        .into_iter()
        .partition(|n| refused.contains_key(n.name.as_str()));
    run.nodes = good;
    for node in bad {
        let reason = refused[node.name.as_str()].clone();
        run.progress.node(&node.name, &format!("FAILED: {reason}"));
        run.fail(report, &node.name, reason);
        node.connection.close().await;
    }
}

/// Each node that shares its machine with another entry, or its machine-id with another
/// machine, and why (file order kept in the names listed).
fn clashes(nodes: &[(&str, &NodeFacts)]) -> BTreeMap<String, String> {
    let mut refused = BTreeMap::new();
    let others = |name: &str, same: &dyn Fn(&NodeFacts) -> bool| -> Vec<&str> {
        nodes
            .iter()
            .filter(|(other, facts)| *other != name && same(facts))
            .map(|(other, _)| *other)
            .collect()
    };
    for (name, facts) in nodes {
        let boot_id = facts.boot_id.as_str();
        let same_machine = others(name, &|f| !boot_id.is_empty() && f.boot_id == boot_id);
        if !same_machine.is_empty() {
            refused.insert(
                name.to_string(),
                format!(
                    "{name}: the same machine as {} (one boot id): two entries of \
                     cluster.toml reach one host; check their addresses",
                    same_machine.join(", ")
                ),
            );
            continue;
        }
        let machine_id = facts.machine_id.as_str();
        let cloned = others(name, &|f| {
            !machine_id.is_empty() && f.machine_id == machine_id && f.boot_id != boot_id
        });
        if !cloned.is_empty() {
            refused.insert(
                name.to_string(),
                format!(
                    "{name}: its /etc/machine-id is also that of {}, as on cards cloned from \
                     one image (DHCP and the journal tell machines apart by it): give each \
                     its own with `sudo rm /etc/machine-id && sudo systemd-machine-id-setup`, \
                     then reboot it",
                    cloned.join(", ")
                ),
            );
        }
    }
    refused
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Facts from a transcript of the facts script with just these two sections.
    fn facts(boot_id: &str, machine_id: &str) -> NodeFacts {
        let mut transcript = String::from("@@pikube-facts v1\n");
        for (name, text) in [("boot_id", boot_id), ("machine_id", machine_id)] {
            transcript.push_str(&format!(
                "@@begin {name}\n|{text}\n@@end {name} eol=1 rc=0\n"
            ));
        }
        transcript.push_str("@@pikube-facts end\n");
        pikube_pi::parse_facts(&transcript).expect("facts")
    }

    #[test]
    fn one_machine_twice_and_cloned_machine_ids_are_refused_by_name() {
        let a = facts("b-1", "m-1");
        let b = facts("b-2", "m-2");
        let a_again = facts("b-1", "m-1");
        let clone_one = facts("b-3", "m-9");
        let clone_two = facts("b-4", "m-9");
        let unread = facts("b-5", "");
        let unread_too = facts("b-6", "");
        let refused = clashes(&[
            ("s1", &a),
            ("s2", &b),
            ("s1-by-alias", &a_again),
            ("a1", &clone_one),
            ("a2", &clone_two),
            ("a3", &unread),
            ("a4", &unread_too),
        ]);
        assert_eq!(
            refused.keys().collect::<Vec<_>>(),
            ["a1", "a2", "s1", "s1-by-alias"]
        );
        assert!(refused["s1"].starts_with("s1: the same machine as s1-by-alias (one boot id)"));
        assert!(refused["a1"].starts_with("a1: its /etc/machine-id is also that of a2,"));
        assert!(refused["a2"].contains("systemd-machine-id-setup"));
        assert!(clashes(&[("s1", &a), ("s2", &b)]).is_empty());
    }
}
