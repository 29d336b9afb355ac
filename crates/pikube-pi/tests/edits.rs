//! The edits applied to what the facts report, as the prepare step will.

use pikube_pi::{
    cmdline_has_cgroups, cmdline_with_cgroups, fstab_without_swap, hostname_file,
    hosts_with_hostname, parse_facts, CGROUP_PARAMS,
};

fn fixture(name: &str) -> pikube_pi::NodeFacts {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    parse_facts(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn bookworm_edits_the_firmware_cmdline_not_the_stub() {
    let facts = fixture("pi4-bookworm-sd.facts");
    let path = facts.boot.cmdline_path.as_deref().unwrap();
    assert_eq!(path, "/boot/firmware/cmdline.txt");
    let before = facts.boot.cmdline.as_deref().unwrap();
    let after = cmdline_with_cgroups(before);
    assert_eq!(after.lines().count(), 1);
    assert!(after.ends_with(&format!(" {CGROUP_PARAMS}\n")));
    assert_eq!(&after[..before.len() - 1], before.trim_end_matches('\n'));
    assert_eq!(cmdline_with_cgroups(&after), after);
    assert!(!cmdline_has_cgroups(before) && cmdline_has_cgroups(&after));
}

#[test]
fn fleet_fstab_swap_line_is_commented_out() {
    let facts = fixture("fake-fleet-node.facts");
    let after = fstab_without_swap(&facts.fstab);
    assert!(after.contains("\n#pikube: swap disabled for Kubernetes: /swapfile       none            swap    sw                0       0\n"));
    assert_eq!(fstab_without_swap(&after), after);
    // Only that line changed.
    let restored = after.replace("#pikube: swap disabled for Kubernetes: ", "");
    assert_eq!(restored, facts.fstab);
}

#[test]
fn hostname_edits() {
    let facts = fixture("pi4-bookworm-sd.facts");
    let hosts = hosts_with_hostname(&facts.etc_hosts, "pi-node-1");
    assert_eq!(hosts, facts.etc_hosts.replace("raspberrypi", "pi-node-1"));
    assert_eq!(hosts_with_hostname(&hosts, "pi-node-1"), hosts);
    assert_eq!(hostname_file("pi-node-1"), "pi-node-1\n");

    let ubuntu = fixture("pi5-ubuntu2404-nvme.facts");
    let hosts = hosts_with_hostname(&ubuntu.etc_hosts, "pi5");
    assert!(hosts.starts_with("127.0.0.1 localhost\n127.0.1.1\tpi5\n\n# The following"));

    let mini = fixture("x86-minipc-debian12.facts");
    let hosts = hosts_with_hostname(&mini.etc_hosts, "mini1");
    assert_eq!(
        hosts,
        mini.etc_hosts.replace("\tmini1.lan\tmini1", "\tmini1")
    );
}
