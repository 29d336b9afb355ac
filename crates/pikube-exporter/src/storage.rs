//! What the root file system lives on (`pi_root_storage_info`), and how worn each eMMC is
//! (`pi_storage_wear_ratio`).

use crate::host::Host;
use crate::render::Scrape;

/// How the kernel's `root=` may name the root partition, and the /dev/disk directory whose
/// links (made by udev) lead from that name to the device.
const BY_NAME: [(&str, &str); 4] = [
    ("PARTUUID=", "by-partuuid"),
    ("PARTLABEL=", "by-partlabel"),
    ("UUID=", "by-uuid"),
    ("LABEL=", "by-label"),
];

/// The root device from the kernel command line, and eMMC wear where the device tells.
pub fn storage(host: &Host, scrape: &mut Scrape) {
    if let Some(device) = root_device(host, scrape) {
        root_storage_info(host, scrape, &device);
    }
    wear(host, scrape);
}

/// The root partition's device name (`mmcblk0p2`), from `root=` in /proc/cmdline; `None`
/// (and a problem noted) when it names a partition the host's /dev/disk does not resolve.
fn root_device(host: &Host, scrape: &mut Scrape) -> Option<String> {
    let cmdline = host.text("/proc/cmdline").ok()?;
    let root = cmdline
        .split_whitespace()
        // What follows `--` is init's, not the kernel's.
        .take_while(|arg| *arg != "--")
        .find_map(|arg| arg.strip_prefix("root="))?;
    for (prefix, dir) in BY_NAME {
        if let Some(name) = root.strip_prefix(prefix) {
            let link = format!("/dev/disk/{dir}/{name}");
            return match std::fs::read_link(host.path(&link)) {
                Ok(target) => target.file_name().map(|n| n.to_string_lossy().into_owned()),
                Err(e) => {
                    scrape.problems.push(format!(
                        "root={root}: {} does not lead to a device: {e}",
                        host.path(&link).display()
                    ));
                    None
                }
            };
        }
    }
    root.strip_prefix("/dev/").map(str::to_owned)
}

fn root_storage_info(host: &Host, scrape: &mut Scrape, device: &str) {
    let disk = if device.starts_with("mmcblk") || device.starts_with("nvme") {
        device.split('p').next().unwrap_or("").to_owned()
    } else {
        device
            .trim_end_matches(|c: char| c.is_ascii_digit())
            .to_owned()
    };
    let kind = if disk.starts_with("mmcblk") {
        let card = host
            .text(&format!("/sys/block/{disk}/device/type"))
            .unwrap_or_default();
        if card.trim() == "MMC" {
            "emmc"
        } else {
            "sd"
        }
    } else if disk.starts_with("nvme") {
        "nvme"
    } else if disk.starts_with("sd") {
        "usb"
    } else {
        return;
    };
    scrape.family(
        "pi_root_storage_info",
        "gauge",
        "What the root file system lives on: sd, emmc, usb or nvme.",
        &[(format!("{{kind=\"{kind}\",device=\"{disk}\"}}"), 1.0)],
    );
}

/// eMMC life-time estimates (JEDEC), read as the facts read them: one per card. The card's
/// hardware partitions (`mmcblk0boot0`, `mmcblk0boot1`, `mmcblk0rpmb`) sit beside it in
/// /sys/block with the same card behind them, so only whole cards (`mmcblkN`) count.
fn wear(host: &Host, scrape: &mut Scrape) {
    let mut wear = Vec::new();
    for disk in host.entries("/sys/block") {
        if !is_mmc_card(&disk) {
            continue;
        }
        let Ok(text) = host.text(&format!("/sys/block/{disk}/device/life_time")) else {
            continue;
        };
        match pikube_pi::facts::wear_ratio(&text) {
            Some(ratio) => wear.push((format!("{{device=\"{disk}\"}}"), ratio)),
            None => scrape.problems.push(format!(
                "/sys/block/{disk}/device/life_time: not a life-time estimate: {:?}",
                text.trim()
            )),
        }
    }
    scrape.family(
        "pi_storage_wear_ratio",
        "gauge",
        "Share of the eMMC's rated life used (upper bound of the device's estimate).",
        &wear,
    );
}

/// `mmcblk0`, not `mmcblk0boot0` nor `mmcblk0rpmb`.
fn is_mmc_card(name: &str) -> bool {
    name.strip_prefix("mmcblk")
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}
