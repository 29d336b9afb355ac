//! Node facts: the remote script and the typed result of parsing its output.

mod arch;
mod boot;
mod cgroup;
mod error;
mod k3s;
mod model;
mod network;
mod os;
mod route;
mod sections;
mod storage;
mod swap;
mod throttle;
mod time_sync;
mod units;

use serde::Serialize;

pub use arch::Arch;
pub use boot::BootConfig;
pub use cgroup::{CgroupEvidence, CgroupState};
pub use error::FactsError;
pub use k3s::K3sState;
pub use model::{PiFamily, PiModel};
pub use network::InterfaceAddress;
pub use os::{OsFamily, OsInfo};
pub use storage::{wear_ratio, RootStorage, StorageKind};
pub use swap::{ActiveSwap, DphysSwapfile, SwapState};
pub use throttle::{ThrottleFlag, Throttled};
pub use units::{ServiceState, UnitStates, UNIT_PROPERTIES};

pub use sections::Sections;

/// POSIX sh script that prints every fact in one go, read-only and without
/// root. Run it with `sh -c` or feed it to `sh -s`; give its stdout to
/// [`parse_facts`]. Output format: see the comment at its top.
pub const FACTS_SCRIPT: &str = concat!(
    include_str!("preamble.sh"),
    "{\n",
    include_str!("script.sh"),
    "} | pk_frame\n"
);

/// A node script printing the facts' sectioned format with the facts script's helpers
/// (`pk_section`, `pk_file`, `pk_cmd`, `pk_value`, `pk_absent`): the helpers, then
/// `body`, whose output goes through `pk_frame`. `body` must print (with `pk_line`) the header
/// `@@pikube-facts v1` first and the trailer `@@pikube-facts end` last; parse the output
/// with [`Sections::parse`].
pub fn framed_script(body: &str) -> String {
    format!("{}{{\n{body}\n}} | pk_frame\n", include_str!("preamble.sh"))
}

/// Everything pikube knows about a node.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NodeFacts {
    /// The distribution, from /etc/os-release (and /etc/rpi-issue).
    pub os: OsInfo,
    /// The CPU architecture (`uname -m`).
    pub arch: Arch,
    /// `uname -r`.
    pub kernel: String,
    /// The running hostname (/proc/sys/kernel/hostname).
    pub hostname: String,
    /// /etc/hostname, trimmed (what the next boot will use).
    pub etc_hostname: String,
    /// /etc/hosts, exact content (input for [`crate::hosts_with_hostname`]).
    pub etc_hosts: String,
    /// /etc/fstab, exact content (input for [`crate::fstab_without_swap`]).
    pub fstab: String,
    /// /proc/cmdline, trimmed: what the running kernel booted with.
    pub proc_cmdline: String,
    /// Changes at every boot: compare to know a reboot really happened.
    pub boot_id: String,
    /// /etc/machine-id, trimmed: one per installed system (empty when unreadable). Cards
    /// cloned from one image share it.
    pub machine_id: String,
    /// Seconds since boot (/proc/uptime).
    pub uptime_secs: f64,
    /// `MemTotal` of /proc/meminfo.
    pub memory_total_kib: u64,
    /// `MemAvailable` of /proc/meminfo: what can still be used without swapping.
    pub memory_available_kib: Option<u64>,
    /// The root file system's size and use (`df -Pk /`).
    pub root_disk: Option<DiskUsage>,
    /// The file system holding K3s' data dir (`df -Pk /var/lib/rancher/k3s`); `None` before
    /// K3s is installed.
    pub k3s_data_disk: Option<DiskUsage>,
    /// The medium under K3s' data dir when it is a file system of its own (an SSD mounted at
    /// /var/lib/rancher while an SD card keeps the OS); `None` when it is the root's.
    pub k3s_data_storage: Option<StorageKind>,
    /// Device-tree model; `None` without a device tree (x86).
    pub model: Option<PiModel>,
    /// DMI product name on PCs (e.g. `OptiPlex 3080`).
    pub dmi_product_name: Option<String>,
    /// What holds the root file system.
    pub storage: RootStorage,
    /// Where the boot files are and what cmdline.txt says.
    pub boot: BootConfig,
    /// Whether the memory cgroup controller is on, and why not.
    pub memory_cgroup: CgroupState,
    /// Every source of swap, active or set to start at boot.
    pub swap: SwapState,
    /// `None` when vcgencmd is missing or not allowed (user not in `video`).
    pub throttle: Option<Throttled>,
    /// The SoC's temperature (thermal zone 0, else vcgencmd).
    pub soc_temp_celsius: Option<f64>,
    /// The k3s binary and its services.
    pub k3s: K3sState,
    /// A default route (IPv4 or IPv6) exists; `None` when the route tables could not be
    /// read. K3s needs one to choose its node IP.
    pub default_route: Option<bool>,
    /// Every interface's global addresses.
    pub addresses: Vec<InterfaceAddress>,
    /// systemd is PID 1 (/run/systemd/system exists).
    pub systemd: bool,
    /// `sudo -n true` succeeded.
    pub sudo_passwordless: bool,
    /// `id -u` of the SSH login user.
    pub uid: Option<u32>,
    /// The node's wall clock (seconds since the epoch) when the script started.
    pub clock_epoch_secs: Option<f64>,
    /// How far the node's clock is ahead of the controller's (negative: behind), within
    /// the time a command takes to start over SSH. Set by whoever ran the script and
    /// knows when it sent it; `None` from the script alone.
    pub clock_offset_secs: Option<f64>,
    /// The clock is synchronised with NTP: timesyncd's flag while it runs, else the
    /// kernel's as timedated tells it (chrony, ntpd); `None` when the node cannot say.
    pub ntp_synchronized: Option<bool>,
}

impl NodeFacts {
    /// Running as root over SSH, or able to become root without a prompt.
    pub fn can_become_root(&self) -> bool {
        self.uid == Some(0) || self.sudo_passwordless
    }

    /// The device tree names a Raspberry Pi.
    pub fn is_raspberry_pi(&self) -> bool {
        self.model.as_ref().is_some_and(PiModel::is_raspberry_pi)
    }
}

/// Parses the stdout of [`FACTS_SCRIPT`]. Fails only when the output is not
/// the script's (no header, other version, cut off, broken markers); facts
/// that are missing or odd on the node become `None`/empty/`false`.
pub fn parse_facts(stdout: &str) -> Result<NodeFacts, FactsError> {
    let s = Sections::parse(stdout)?;
    let trimmed = |name: &str| s.ok_text(name).map(str::trim).unwrap_or("").to_string();
    let proc_cmdline = trimmed("proc_cmdline");
    let fstab = s.ok_text("fstab").unwrap_or("").to_string();
    let units = UnitStates::parse(s.ok_text("units"));
    let dphys = units.get("dphys-swapfile");
    let storage_evidence = storage::StorageEvidence {
        findmnt_source: s.ok_line("root_findmnt"),
        cmdline_device: s.ok_line("root_cmdline_device"),
        mmc_types: s.ok_text("mmc_types"),
        mmc_life_times: s.ok_text("mmc_life_times"),
        sd_sysfs_paths: s.ok_text("sd_sysfs_paths"),
    };
    let root_disk = s.ok_text("root_df").and_then(DiskUsage::parse_df);
    let k3s_data_disk = s.ok_text("k3s_data_df").and_then(DiskUsage::parse_df);
    let k3s_data_storage = k3s_data_disk
        .as_ref()
        .filter(|data| {
            root_disk
                .as_ref()
                .is_none_or(|root| root.mounted_on != data.mounted_on)
        })
        .map(|data| storage::kind_of_source(&data.source, &storage_evidence));

    Ok(NodeFacts {
        os: OsInfo::parse(s.ok_text("os_release"), s.ok_text("rpi_issue")),
        arch: Arch::from_uname_m(s.ok_line("uname_m").unwrap_or("")),
        kernel: s.ok_line("uname_r").unwrap_or("").to_string(),
        hostname: trimmed("hostname"),
        etc_hostname: trimmed("etc_hostname"),
        etc_hosts: s.ok_text("etc_hosts").unwrap_or("").to_string(),
        boot_id: trimmed("boot_id"),
        machine_id: trimmed("machine_id"),
        clock_epoch_secs: s
            .ok_line("clock")
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|v| v.is_finite() && *v > 0.0),
        clock_offset_secs: None,
        ntp_synchronized: time_sync::ntp_synchronized(
            s.ok_line("timesyncd_synchronized"),
            s.ok_line("ntp_synchronized"),
        ),
        uptime_secs: s
            .ok_line("uptime")
            .and_then(|line| line.split_whitespace().next())
            .and_then(|v| v.parse::<f64>().ok())
            .filter(|v| v.is_finite() && *v >= 0.0)
            .unwrap_or(0.0),
        memory_total_kib: s.ok_text("meminfo").and_then(mem_total_kib).unwrap_or(0),
        memory_available_kib: s
            .ok_text("meminfo")
            .and_then(|m| meminfo_kib(m, "MemAvailable:")),
        root_disk,
        k3s_data_disk,
        k3s_data_storage,
        model: s.ok_text("model").and_then(PiModel::parse),
        dmi_product_name: s.ok_line("dmi_product_name").map(str::to_string),
        storage: RootStorage::resolve(&storage_evidence),
        boot: BootConfig::choose(
            s.ok_text("cmdline_txt_firmware"),
            s.ok_text("cmdline_txt_boot"),
        ),
        memory_cgroup: CgroupState::read(
            s.ok_text("proc_cgroups"),
            s.ok_text("cgroup_controllers"),
            &proc_cmdline,
            s.ok_line("cgroup_fs_type"),
        ),
        swap: SwapState::read(&swap::SwapEvidence {
            proc_swaps: s.ok_text("proc_swaps"),
            fstab: &fstab,
            dphys_installed: s.is_present("dphys_binary"),
            dphys_enabled: dphys.enabled.as_deref(),
            dphys_active: dphys.active.as_deref(),
            rpi_swap_generator: s.ok_line("rpi_swap_generator"),
            swap_units: s.ok_text("swap_units"),
        }),
        throttle: s.ok_text("vcgencmd_throttled").and_then(Throttled::parse),
        soc_temp_celsius: throttle::soc_temp_celsius(
            s.ok_text("thermal_zone0_temp"),
            s.ok_text("vcgencmd_temp"),
        ),
        k3s: K3sState {
            // The script marks the section absent when there is no binary.
            binary: s.is_present("k3s_version"),
            version: s.ok_text("k3s_version").and_then(k3s::parse_version),
            server: units.get("k3s"),
            agent: units.get("k3s-agent"),
        },
        default_route: route::has_default_route(
            s.ok_text("proc_net_route"),
            s.ok_text("proc_net_ipv6_route"),
        ),
        addresses: network::parse_addresses(s.ok_text("ip_addresses")),
        systemd: s.is_present("systemd_running"),
        sudo_passwordless: s.ok_line("sudo_passwordless") == Some("yes"),
        uid: s.ok_line("uid").and_then(|v| v.parse().ok()),
        proc_cmdline,
        fstab,
    })
}

/// `MemTotal:        3882276 kB`
fn mem_total_kib(meminfo: &str) -> Option<u64> {
    meminfo_kib(meminfo, "MemTotal:")
}

fn meminfo_kib(meminfo: &str, key: &str) -> Option<u64> {
    meminfo.lines().find_map(|line| {
        let value = line.strip_prefix(key)?;
        value.split_whitespace().next()?.parse().ok()
    })
}

/// A file system's size and use, in KiB.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DiskUsage {
    /// What is mounted (`/dev/sda1`, `overlay`): df's first column.
    pub source: String,
    /// Where it is mounted (`/`, `/var/lib/rancher`): two paths on one file system say the
    /// same mount point.
    pub mounted_on: String,
    /// The file system's size.
    pub size_kib: u64,
    /// In use.
    pub used_kib: u64,
    /// Free for unprivileged users (less than size minus used: the reserved blocks).
    pub available_kib: u64,
}

impl DiskUsage {
    /// `df -Pk`'s second line: `Filesystem 1024-blocks Used Available Capacity Mounted on`.
    fn parse_df(text: &str) -> Option<DiskUsage> {
        let line = text.lines().nth(1)?;
        let fields: Vec<&str> = line.split_whitespace().collect();
        let number = |i: usize| fields.get(i)?.parse::<u64>().ok();
        let usage = DiskUsage {
            source: fields.first()?.to_string(),
            // The sixth field on: a mount point may hold spaces.
            mounted_on: fields.get(5..).filter(|f| !f.is_empty())?.join(" "),
            size_kib: number(1)?,
            used_kib: number(2)?,
            available_kib: number(3)?,
        };
        (usage.size_kib > 0).then_some(usage)
    }

    /// Used, as df counts it: of what an ordinary user may use (reserved blocks aside).
    pub fn used_percent(&self) -> f64 {
        let usable = self.used_kib + self.available_kib;
        if usable == 0 {
            return 100.0;
        }
        self.used_kib as f64 * 100.0 / usable as f64
    }
}
