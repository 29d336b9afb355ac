//! Which medium the root filesystem lives on (SD cards wear out under etcd).

use serde::{Serialize, Serializer};

/// The root filesystem's backing device.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RootStorage {
    /// What `findmnt -n -o SOURCE /` printed (empty when unavailable); may be
    /// unhelpful, e.g. `overlay` or `/dev/root`.
    pub source: String,
    /// The block device actually holding `/`, e.g. `/dev/mmcblk0p2`.
    pub device: Option<String>,
    /// The kind of medium.
    pub kind: StorageKind,
    /// For an eMMC: the share of its rated life used, as the upper bound of the worse of
    /// its two estimates (absent for SD cards and disks, which do not say).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wear: Option<f64>,
}

/// The kind of medium.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StorageKind {
    /// An SD card (in the SD slot).
    Sd,
    /// Soldered eMMC (a Compute Module).
    Emmc,
    /// A USB disk or stick.
    Usb,
    /// An NVMe SSD.
    Nvme,
    /// A known-but-unlisted kind: `sata`, `virtio`, `device-mapper`, or the
    /// device's name.
    Other(String),
    /// The root device could not be found.
    Unknown,
}

impl StorageKind {
    /// Its lowercase name (`sd`, `emmc`, `usb`, `nvme`, or the other kind's).
    pub fn name(&self) -> &str {
        match self {
            StorageKind::Sd => "sd",
            StorageKind::Emmc => "emmc",
            StorageKind::Usb => "usb",
            StorageKind::Nvme => "nvme",
            StorageKind::Other(name) => name,
            StorageKind::Unknown => "unknown",
        }
    }
}

impl Serialize for StorageKind {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

/// What the script saw about block devices.
pub(crate) struct StorageEvidence<'a> {
    /// `findmnt -n -o SOURCE /`.
    pub findmnt_source: Option<&'a str>,
    /// The kernel's `root=` resolved through /dev/disk (`readlink -f`).
    pub cmdline_device: Option<&'a str>,
    /// Lines `mmcblk0 SD` / `mmcblk0 MMC` from /sys/block/*/device/type.
    pub mmc_types: Option<&'a str>,
    /// Lines `mmcblk0 0x02 0x01` from /sys/block/*/device/life_time.
    pub mmc_life_times: Option<&'a str>,
    /// Lines `sda /sys/devices/.../usb2/...` from /sys/block/sd*.
    pub sd_sysfs_paths: Option<&'a str>,
}

impl RootStorage {
    /// findmnt's device wins when it names a real device; otherwise (overlay
    /// roots, `/dev/root`, no findmnt) the kernel's resolved `root=` is used.
    pub(crate) fn resolve(evidence: &StorageEvidence<'_>) -> Self {
        let source = evidence.findmnt_source.unwrap_or("").trim().to_string();
        // btrfs subvolumes print as `/dev/nvme0n1p2[/@]`.
        let source_device = source.split('[').next().unwrap_or("").trim();
        let device = if is_real_device(source_device) {
            Some(source_device.to_string())
        } else {
            evidence
                .cmdline_device
                .map(str::trim)
                .filter(|d| is_real_device(d))
                .map(str::to_string)
        };
        let kind = match &device {
            Some(device) => kind_of(device, evidence),
            None => StorageKind::Unknown,
        };
        let wear = match (&kind, &device) {
            (StorageKind::Emmc, Some(device)) => {
                lookup(evidence.mmc_life_times, &mmc_disk(device)).and_then(wear_ratio)
            }
            _ => None,
        };
        RootStorage {
            source,
            device,
            kind,
            wear,
        }
    }
}

/// The medium under a mounted file system's source, as df names it (`/dev/sda1`); a source
/// that is no device (`tmpfs`, a network share) is `Other` with its name.
pub(crate) fn kind_of_source(source: &str, evidence: &StorageEvidence<'_>) -> StorageKind {
    if is_real_device(source) {
        kind_of(source, evidence)
    } else if source.is_empty() {
        StorageKind::Unknown
    } else {
        StorageKind::Other(source.to_owned())
    }
}

fn is_real_device(path: &str) -> bool {
    path.starts_with("/dev/") && path != "/dev/root" && path.len() > "/dev/".len()
}

fn kind_of(device: &str, evidence: &StorageEvidence<'_>) -> StorageKind {
    let name = device.rsplit('/').next().unwrap_or(device);
    if name.starts_with("mmcblk") {
        // Without a type file assume SD: by far the common case on a Pi.
        return match lookup(evidence.mmc_types, &mmc_disk(device)) {
            Some("MMC") => StorageKind::Emmc,
            _ => StorageKind::Sd,
        };
    }
    if name.starts_with("nvme") {
        return StorageKind::Nvme;
    }
    if let Some(rest) = name.strip_prefix("sd") {
        let disk = format!("sd{}", rest.trim_end_matches(|c: char| c.is_ascii_digit()));
        // A Pi has no SATA, so sdX without sysfs evidence is USB.
        return match lookup(evidence.sd_sysfs_paths, &disk) {
            Some(path) if !path.contains("/usb") => StorageKind::Other("sata".into()),
            _ => StorageKind::Usb,
        };
    }
    if name.starts_with("vd") {
        return StorageKind::Other("virtio".into());
    }
    if name.starts_with("dm-") || device.starts_with("/dev/mapper/") {
        return StorageKind::Other("device-mapper".into());
    }
    StorageKind::Other(name.to_string())
}

fn leading_digits(s: &str) -> &str {
    let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    &s[..end]
}

/// Value for `key` in `key value` lines.
/// `/dev/mmcblk0p2` → `mmcblk0`.
fn mmc_disk(device: &str) -> String {
    let name = device.rsplit('/').next().unwrap_or(device);
    let rest = name.strip_prefix("mmcblk").unwrap_or("");
    format!("mmcblk{}", leading_digits(rest))
}

/// An eMMC's `life_time` (two JEDEC estimates, `0x01` = up to 10 % of its rated life used
/// … `0x0A` = up to 100 %, `0x0B` = past it) as the share used by the worse estimate: 0.1
/// to 1.0. `None` for anything else.
pub fn wear_ratio(life_time: &str) -> Option<f64> {
    let steps = life_time
        .split_whitespace()
        .map(|v| u32::from_str_radix(v.trim_start_matches("0x"), 16).ok())
        .collect::<Option<Vec<u32>>>()?;
    match steps.into_iter().max()? {
        step @ 1..=11 => Some(f64::from(step.min(10)) / 10.0),
        _ => None,
    }
}

fn lookup<'a>(lines: Option<&'a str>, key: &str) -> Option<&'a str> {
    lines?.lines().find_map(|line| {
        let (k, v) = line.trim().split_once(' ')?;
        (k == key).then(|| v.trim())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn evidence<'a>(findmnt: Option<&'a str>, cmdline: Option<&'a str>) -> StorageEvidence<'a> {
        StorageEvidence {
            findmnt_source: findmnt,
            cmdline_device: cmdline,
            mmc_types: Some("mmcblk0 MMC\nmmcblk1 SD\n"),
            mmc_life_times: Some("mmcblk0 0x03 0x09\nmmcblk1 0x01 0x01\n"),
            sd_sysfs_paths: Some("sda /sys/devices/pci0000:00/0000:00:17.0/ata1/host0/target0:0:0/0:0:0:0/block/sda\nsdb /sys/devices/platform/scb/fd500000.pcie/pci0000:00/0000:00:00.0/0000:01:00.0/usb2/2-1/2-1:1.0/host0/target0:0:0/0:0:0:0/block/sdb\n"),
        }
    }

    fn kind(findmnt: Option<&str>, cmdline: Option<&str>) -> StorageKind {
        RootStorage::resolve(&evidence(findmnt, cmdline)).kind
    }

    #[test]
    fn an_emmc_root_says_its_wear_an_sd_card_does_not() {
        let root = |device| RootStorage::resolve(&evidence(Some(device), None)).wear;
        assert_eq!(root("/dev/mmcblk0p2"), Some(0.9));
        // mmcblk1 is an SD card: whatever a file says, SD cards do not report wear.
        assert_eq!(root("/dev/mmcblk1p2"), None);
        assert_eq!(root("/dev/nvme0n1p2"), None);
        assert_eq!(wear_ratio("0x01 0x02\n"), Some(0.2));
        assert_eq!(wear_ratio("0x0b 0x01"), Some(1.0));
        for bad in ["", "0x00 0x00", "0x0c 0x01", "garbage", "0x01 zz"] {
            assert_eq!(wear_ratio(bad), None, "{bad}");
        }
    }

    #[test]
    fn kinds() {
        assert_eq!(kind(Some("/dev/mmcblk0p2"), None), StorageKind::Emmc);
        assert_eq!(kind(Some("/dev/mmcblk1p2"), None), StorageKind::Sd);
        assert_eq!(kind(Some("/dev/mmcblk7p2"), None), StorageKind::Sd);
        assert_eq!(kind(Some("/dev/nvme0n1p2[/@]"), None), StorageKind::Nvme);
        assert_eq!(
            kind(Some("/dev/sda2"), None),
            StorageKind::Other("sata".into())
        );
        assert_eq!(kind(Some("/dev/sdb2"), None), StorageKind::Usb);
        assert_eq!(kind(Some("/dev/sdc1"), None), StorageKind::Usb);
        assert_eq!(
            kind(Some("/dev/vda"), None),
            StorageKind::Other("virtio".into())
        );
        assert_eq!(kind(Some("overlay"), None), StorageKind::Unknown);
        assert_eq!(kind(None, None), StorageKind::Unknown);
    }

    #[test]
    fn overlay_root_falls_back_to_kernel_root() {
        let storage = RootStorage::resolve(&evidence(Some("overlay"), Some("/dev/mmcblk1p2")));
        assert_eq!(storage.source, "overlay");
        assert_eq!(storage.device.as_deref(), Some("/dev/mmcblk1p2"));
        assert_eq!(storage.kind, StorageKind::Sd);
        let root = RootStorage::resolve(&evidence(Some("/dev/root"), Some("/dev/nvme0n1p2")));
        assert_eq!(root.kind, StorageKind::Nvme);
    }
}
