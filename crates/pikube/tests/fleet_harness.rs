//! Checks the fake Pi fleet harness (tests/fleet/fleet.sh) through its Rust wrapper.
//! Needs root, like every test that boots a fleet.

use crate::support;

use support::fleet::Fleet;

#[test]
fn nodes_look_like_fresh_pis() {
    let fleet = Fleet::up(&["pi1", "pi2:os=bullseye,storage=emmc,jump-only"]);

    let names: Vec<&str> = fleet.nodes().iter().map(|n| n.name.as_str()).collect();
    assert_eq!(names, ["pi1", "pi2"]);
    assert_eq!(fleet.node("pi1").ip, format!("10.99.{}.11", fleet.id()));
    assert!(!fleet.node("pi1").jump_only);
    assert!(fleet.node("pi2").jump_only);
    assert!(fleet.ssh_config().is_file());
    assert!(fleet.identity_file().is_file());
    let config = std::fs::read_to_string(fleet.ssh_config()).unwrap();
    assert!(
        config.contains(&format!("Host pi2\n  HostName 10.99.{}.12", fleet.id())),
        "{config}"
    );

    for node in ["pi1", "pi2"] {
        assert_eq!(fleet.exec(node, "hostname").trim(), "raspberrypi", "{node}");
        assert_eq!(
            fleet.exec(node, "tr -d '\\0' < /sys/firmware/devicetree/base/model"),
            "Raspberry Pi 4 Model B Rev 1.4",
            "{node}"
        );
    }
    assert!(fleet
        .exec("pi1", "cat /boot/firmware/cmdline.txt")
        .contains("root=PARTUUID="));
    assert!(fleet
        .exec("pi2", "cat /etc/os-release")
        .contains("VERSION_CODENAME=bullseye"));
    assert_eq!(
        fleet
            .exec("pi2", "cat /sys/block/mmcblk0/device/type")
            .trim(),
        "MMC"
    );

    let failed = fleet.try_exec("pi1", "exit 3");
    assert_eq!(failed.status.code(), Some(3));
}

#[test]
fn reboot_gives_a_new_boot_id_and_applies_cmdline() {
    let fleet = Fleet::up(&["pi1", "pi2:os=ubuntu"]);
    let boot_id = |node: &str| {
        fleet
            .exec(node, "cat /proc/sys/kernel/random/boot_id")
            .trim()
            .to_string()
    };

    let before = boot_id("pi1");
    assert!(!fleet
        .exec("pi1", "cat /proc/cmdline")
        .contains("cgroup_enable=memory"));
    fleet.exec(
        "pi1",
        "sed -i '1s/$/ cgroup_memory=1 cgroup_enable=memory/' /boot/firmware/cmdline.txt",
    );
    fleet.reboot("pi1");
    let after = boot_id("pi1");
    assert_ne!(before, after, "{}", fleet.status());
    assert!(fleet
        .exec("pi1", "cat /proc/cmdline")
        .contains("cgroup_enable=memory"));
    assert_eq!(
        fleet
            .exec("pi1", "awk '$1 == \"memory\" {print $4}' /proc/cgroups")
            .trim(),
        "1"
    );

    // pi2 was not touched by pi1's reboot
    let other = boot_id("pi2");
    fleet.poweroff("pi2");
    assert!(
        !fleet.try_exec("pi2", "true").status.success(),
        "pi2 should be off"
    );
    fleet.start("pi2");
    assert_ne!(boot_id("pi2"), other);
}
