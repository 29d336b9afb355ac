//! `pi_root_storage_info` and `pi_storage_wear_ratio` on fake trees: each kind of root
//! device, root= given by UUID or label, and an eMMC's hardware boot partitions (which
//! show the same life_time as the eMMC itself) not counted as devices of their own.

use std::path::Path;

use pikube_exporter::render;

use crate::exporter::{lines, pi, put};

/// A Pi booted with `root=ROOT`, its /dev/disk links and /sys/block as `links` and
/// `types` say.
fn booted(root: &Path, arg: &str, links: &[(&str, &str)], types: &[(&str, &str)]) {
    pi(root, "0\n", "48312\n");
    std::fs::remove_dir_all(root.join("sys/block")).unwrap();
    std::fs::remove_dir_all(root.join("dev/disk")).unwrap();
    put(
        root,
        "/proc/cmdline",
        &format!("console=tty1 root={arg} rootwait\n"),
    );
    for (link, target) in links {
        let link = root.join(link.trim_start_matches('/'));
        std::fs::create_dir_all(link.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(target, link).unwrap();
    }
    for (disk, card) in types {
        put(root, &format!("/sys/block/{disk}/device/type"), card);
    }
}

fn storage_lines(root: &Path) -> (Vec<String>, Vec<String>) {
    let scrape = render(root);
    let found = lines(&scrape.text)
        .into_iter()
        .filter(|l| l.starts_with("pi_root_storage_info") || l.starts_with("pi_storage_wear"))
        .map(str::to_owned)
        .collect();
    (found, scrape.problems)
}

#[test]
fn each_kind_of_root_device_is_told() {
    for (arg, links, types, expected) in [
        (
            "PARTUUID=6c586e13-02",
            vec![("/dev/disk/by-partuuid/6c586e13-02", "../../mmcblk0p2")],
            vec![("mmcblk0", "SD\n")],
            "pi_root_storage_info{kind=\"sd\",device=\"mmcblk0\"} 1",
        ),
        (
            "/dev/sda2",
            vec![],
            vec![],
            "pi_root_storage_info{kind=\"usb\",device=\"sda\"} 1",
        ),
        (
            "/dev/nvme0n1p2",
            vec![],
            vec![],
            "pi_root_storage_info{kind=\"nvme\",device=\"nvme0n1\"} 1",
        ),
        (
            "UUID=0c5b8f3a-7d1e-4c52-9d7b-2f4e1a6b3c9d",
            vec![(
                "/dev/disk/by-uuid/0c5b8f3a-7d1e-4c52-9d7b-2f4e1a6b3c9d",
                "../../nvme0n1p2",
            )],
            vec![],
            "pi_root_storage_info{kind=\"nvme\",device=\"nvme0n1\"} 1",
        ),
        (
            "LABEL=rootfs",
            vec![("/dev/disk/by-label/rootfs", "../../mmcblk0p2")],
            vec![("mmcblk0", "MMC\n")],
            "pi_root_storage_info{kind=\"emmc\",device=\"mmcblk0\"} 1",
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        booted(dir.path(), arg, &links, &types);
        let (found, problems) = storage_lines(dir.path());
        assert_eq!(found, [expected], "root={arg}");
        assert!(problems.is_empty(), "root={arg}: {problems:?}");
    }
}

#[test]
fn a_root_name_without_its_dev_disk_link_is_left_out_and_said() {
    for arg in ["UUID=0c5b8f3a", "LABEL=rootfs", "PARTUUID=6c586e13-02"] {
        let dir = tempfile::tempdir().unwrap();
        booted(dir.path(), arg, &[], &[("mmcblk0", "MMC\n")]);
        let (found, problems) = storage_lines(dir.path());
        assert!(found.is_empty(), "root={arg}: {found:?}");
        assert_eq!(problems.len(), 1, "root={arg}: {problems:?}");
        assert!(
            problems[0].contains(arg) && problems[0].contains("/dev/disk/by-"),
            "root={arg}: {problems:?}"
        );
    }
}

#[test]
fn an_emmcs_boot_partitions_are_not_devices_of_their_own() {
    let dir = tempfile::tempdir().unwrap();
    pi(dir.path(), "0\n", "48312\n");
    // The kernel shows the eMMC's hardware partitions beside it, each with the card's
    // life_time (their device is the same card).
    for part in ["mmcblk0boot0", "mmcblk0boot1", "mmcblk0rpmb"] {
        put(
            dir.path(),
            &format!("/sys/block/{part}/device/type"),
            "MMC\n",
        );
        put(
            dir.path(),
            &format!("/sys/block/{part}/device/life_time"),
            "0x02 0x03\n",
        );
    }
    let (found, problems) = storage_lines(dir.path());
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(
        found,
        [
            "pi_root_storage_info{kind=\"emmc\",device=\"mmcblk0\"} 1",
            "pi_storage_wear_ratio{device=\"mmcblk0\"} 0.3",
        ]
    );
}
