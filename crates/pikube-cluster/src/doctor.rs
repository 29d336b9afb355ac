//! `pikube doctor`: one pass over the facts of every node, each check a verdict with the fix.
//! What takes Pi clusters down is power, heat, SD cards under etcd and a missing memory
//! cgroup; each has a check here, judged from the facts pikube already gathers.

use std::time::Duration;

use serde::Serialize;

use std::collections::BTreeSet;

use crate::config::{ClusterConfig, K3sVersion, NodeName, Role, SnapshotSchedule};
use crate::health::{CertExpiry, ScheduledSnapshots, CERT_WARNING_DAYS};
use crate::human_duration::human_duration;
use pikube_pi::facts::DiskUsage;
use pikube_pi::facts::StorageKind;
use pikube_pi::{NodeFacts, ThrottleFlag};

/// How a check came out, worst last (so `max` gives a node's or the cluster's verdict).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Nothing to do.
    Pass,
    /// Worth a look: it happened before, or is close to a limit.
    Warn,
    /// Wrong now; the fix says what to do.
    Fail,
}

impl Verdict {
    /// As the text report prints it (`PASS`, `WARN`, `FAIL`).
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Pass => "PASS",
            Verdict::Warn => "WARN",
            Verdict::Fail => "FAIL",
        }
    }
}

/// One check on one node.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    /// The node, by its cluster.toml name.
    pub node: NodeName,
    /// The check (`power`, `throttling`, `storage`...).
    pub check: &'static str,
    /// How it came out.
    pub verdict: Verdict,
    /// What was found, in a line.
    pub detail: String,
    /// What to do about it (none for a pass).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

/// The SoC temperatures the firmware starts throttling at: warn well before.
const HOT_CELSIUS: f64 = 80.0;
const WARM_CELSIUS: f64 = 70.0;
/// K3s' own `status` warns from 2 s apart: the same here.
const CLOCK_SKEW_SECS: f64 = 2.0;
/// Available memory, in per cent of the total, under which the OOM killer is near.
const MEMORY_WARN_PERCENT: f64 = 10.0;
const MEMORY_FAIL_PERCENT: f64 = 5.0;
/// eMMC life used (the alert fires above 80 %); its last estimate, 90–100 % or past it, fails.
const WEAR_WARN_RATIO: f64 = 0.8;
const WEAR_FAIL_RATIO: f64 = 1.0;
/// Root file system use, in per cent, from which kubelet's eviction and etcd are near.
const DISK_WARN_PERCENT: f64 = 90.0;
const DISK_FAIL_PERCENT: f64 = 97.0;

/// Where K3s keeps its data (pikube installs K3s with its default data dir).
const K3S_DATA_DIR: &str = "/var/lib/rancher/k3s";

/// A file system's verdict by its use, and the fix when it is not a pass.
fn judge_disk(disk: &DiskUsage, fix: &'static str) -> (Verdict, Option<&'static str>) {
    let used = disk.used_percent();
    if used >= DISK_FAIL_PERCENT {
        (Verdict::Fail, Some(fix))
    } else if used >= DISK_WARN_PERCENT {
        (Verdict::Warn, Some(fix))
    } else {
        (Verdict::Pass, None)
    }
}

/// Whether `node`'s disk keeps the cluster's datastore: a server's does, unless the cluster
/// keeps its state in an external database (`datastore_endpoint`), where an SD card under
/// K3s is no worse than under any other program.
pub fn holds_datastore(config: &ClusterConfig, node: &str) -> bool {
    config.node(node).is_some_and(|n| n.role == Role::Server) && !config.k3s.external_datastore()
}

/// The checks of one node from its facts. `holds_datastore`: it is a server whose disk
/// keeps K3s' datastore (etcd or SQLite), not one of a cluster on an external database.
pub fn examine(node: &NodeName, holds_datastore: bool, facts: &NodeFacts) -> Vec<Finding> {
    let mut found = Vec::new();
    let mut say = |check, verdict, detail: String, fix: Option<&str>| {
        found.push(Finding {
            node: node.to_owned(),
            check,
            verdict,
            detail,
            fix: fix.map(str::to_owned),
        })
    };

    if let Some(throttle) = facts.throttle {
        let now = throttle.now();
        let since = throttle.since_boot();
        let power_fix = "use the official supply (5.1 V 3 A for a Pi 4, 5 V 5 A for a Pi 5) \
                         and a short, thick cable; under-voltage corrupts SD cards";
        if now.contains(&ThrottleFlag::UnderVoltage) {
            say(
                "power",
                Verdict::Fail,
                "under-voltage now".into(),
                Some(power_fix),
            );
        } else if since.contains(&ThrottleFlag::UnderVoltage) {
            say(
                "power",
                Verdict::Warn,
                "under-voltage since boot".into(),
                Some(power_fix),
            );
        } else {
            say(
                "power",
                Verdict::Pass,
                "no under-voltage since boot".into(),
                None,
            );
        }
        let heat = [
            ThrottleFlag::Throttled,
            ThrottleFlag::ArmFrequencyCapped,
            ThrottleFlag::SoftTemperatureLimit,
        ];
        let cooling_fix = "add a heat sink and a fan (or a case that cools), and check the airflow";
        if heat.iter().any(|f| now.contains(f)) {
            say(
                "throttling",
                Verdict::Fail,
                throttle.describe(),
                Some(cooling_fix),
            );
        } else if heat.iter().any(|f| since.contains(f)) {
            say(
                "throttling",
                Verdict::Warn,
                throttle.describe(),
                Some(cooling_fix),
            );
        } else {
            say(
                "throttling",
                Verdict::Pass,
                "never throttled since boot".into(),
                None,
            );
        }
    }
    if let Some(celsius) = facts.soc_temp_celsius {
        let fix = "add a heat sink and a fan; the firmware slows the CPU from 80 °C";
        let (verdict, fix) = if celsius >= HOT_CELSIUS {
            (Verdict::Fail, Some(fix))
        } else if celsius >= WARM_CELSIUS {
            (Verdict::Warn, Some(fix))
        } else {
            (Verdict::Pass, None)
        };
        say(
            "temperature",
            verdict,
            format!("SoC at {celsius:.1} °C"),
            fix,
        );
    }
    if holds_datastore {
        // K3s' data on a disk of its own holds the datastore whatever the root is on.
        let (kind, detail) = match (&facts.k3s_data_storage, &facts.k3s_data_disk) {
            (Some(kind), Some(data)) => (
                kind,
                format!(
                    "{K3S_DATA_DIR} on {} ({} on {}), root on {}",
                    kind.name(),
                    data.source,
                    data.mounted_on,
                    facts.storage.kind.name()
                ),
            ),
            _ => (
                &facts.storage.kind,
                format!("root on {}", facts.storage.kind.name()),
            ),
        };
        match kind {
            StorageKind::Sd => say(
                "datastore storage",
                Verdict::Warn,
                "a server's datastore (etcd or SQLite) lives on an SD card".into(),
                Some(if facts.k3s_data_storage.is_some() {
                    "move /var/lib/rancher to an SSD (USB or NVMe): etcd's constant writes \
                     wear SD cards out and its fsync latency makes it lose leadership"
                } else {
                    "move the server's root to an SSD (USB or NVMe): etcd's constant writes \
                     wear SD cards out and its fsync latency makes it lose leadership"
                }),
            ),
            _ => say("datastore storage", Verdict::Pass, detail, None),
        }
    }
    if let Some(wear) = facts.storage.wear {
        let used = format!(
            "the root eMMC has used up to {:.0} % of its rated life",
            wear * 100.0
        );
        let replace = "back up (pikube backup) and plan its replacement: a worn-out eMMC turns \
                       read-only or loses writes; move write-heavy data (etcd, logs) to an SSD";
        if wear >= WEAR_FAIL_RATIO {
            say("storage wear", Verdict::Fail, used, Some(replace));
        } else if wear >= WEAR_WARN_RATIO {
            say("storage wear", Verdict::Warn, used, Some(replace));
        } else {
            say("storage wear", Verdict::Pass, used, None);
        }
    }
    if facts.memory_cgroup.enabled {
        say("memory cgroup", Verdict::Pass, "enabled".into(), None);
    } else {
        say(
            "memory cgroup",
            Verdict::Fail,
            "disabled: K3s cannot run pods".into(),
            Some("pikube apply (adds cgroup_enable=memory to cmdline.txt and reboots)"),
        );
    }
    if let Some(offset) = facts.clock_offset_secs {
        if offset.abs() > CLOCK_SKEW_SECS {
            say(
                "clock",
                Verdict::Warn,
                format!(
                    "{:.1} s {} this machine's",
                    offset.abs(),
                    if offset > 0.0 { "ahead of" } else { "behind" }
                ),
                Some(
                    "turn time sync on (systemd-timesyncd or chrony, reaching an NTP \
                        server): certificates and etcd need clocks within seconds; a Pi has no \
                        battery-backed clock",
                ),
            );
        } else {
            say(
                "clock",
                Verdict::Pass,
                format!("within {CLOCK_SKEW_SECS} s of this machine's"),
                None,
            );
        }
    }
    match facts.ntp_synchronized {
        Some(true) => say(
            "time sync",
            Verdict::Pass,
            "the clock is synchronized with NTP".into(),
            None,
        ),
        Some(false) => say(
            "time sync",
            Verdict::Warn,
            "the clock is not synchronized with NTP".into(),
            Some(
                "turn time sync on (`sudo timedatectl set-ntp true` for systemd-timesyncd, or \
                 chrony) and let the node reach an NTP server (UDP 123); a Pi has no \
                 battery-backed clock, so without NTP it runs from its last shutdown's time \
                 and certificates and etcd fail",
            ),
        ),
        None => {}
    }
    if let (Some(available), total) = (facts.memory_available_kib, facts.memory_total_kib) {
        if total > 0 {
            let percent = available as f64 * 100.0 / total as f64;
            let detail = format!(
                "{} MiB of {} MiB available ({percent:.0} %)",
                available / 1024,
                total / 1024
            );
            let fix = "find what uses it (kubectl top pods -A), lower pods' limits or move \
                them; a Pi without swap has the OOM killer end K3s itself";
            let (verdict, fix) = if percent < MEMORY_FAIL_PERCENT {
                (Verdict::Fail, Some(fix))
            } else if percent < MEMORY_WARN_PERCENT {
                (Verdict::Warn, Some(fix))
            } else {
                (Verdict::Pass, None)
            };
            say("memory", verdict, detail, fix);
        }
    }
    if let Some(disk) = &facts.root_disk {
        let (verdict, fix) = judge_disk(
            disk,
            "free space (old images: k3s crictl rmi --prune; journals: journalctl \
             --vacuum-size=100M) or move the root to a bigger disk; K3s evicts pods \
             from a full node and etcd stops writing",
        );
        say(
            "disk",
            verdict,
            format!(
                "root file system {:.0} % used ({} MiB free)",
                disk.used_percent(),
                disk.available_kib / 1024
            ),
            fix,
        );
    }
    // K3s' data on a disk of its own (the SD card keeping only the OS): that disk fills
    // with images and etcd's database while the root looks fine.
    let own_disk = |data: &&DiskUsage| {
        facts
            .root_disk
            .as_ref()
            .is_none_or(|root| root.mounted_on != data.mounted_on)
    };
    if let Some(data) = facts.k3s_data_disk.as_ref().filter(own_disk) {
        let (verdict, fix) = judge_disk(
            data,
            "free space (old images: k3s crictl rmi --prune; old snapshots in \
             /var/lib/rancher/k3s/server/db/snapshots) or give K3s a bigger disk; K3s evicts \
             pods from a full node and etcd stops writing",
        );
        say(
            "k3s data disk",
            verdict,
            format!(
                "{K3S_DATA_DIR} (on {}) {:.0} % used ({} MiB free)",
                data.mounted_on,
                data.used_percent(),
                data.available_kib / 1024
            ),
            fix,
        );
    }
    // The Pi 5's default kernel uses 16K pages; programs built for 4K pages (jemalloc in
    // many images, some etcd builds) crash on it.
    if facts.kernel.ends_with("-rpi-2712") || facts.kernel.contains("16k") {
        say(
            "kernel",
            Verdict::Warn,
            format!("{} uses 16K memory pages", facts.kernel),
            Some(
                "if containers crash with \"Unsupported system page size\", add \
                 kernel=kernel8.img to config.txt (the 4K-page kernel) and reboot",
            ),
        );
    }
    if facts.swap.is_off() {
        say("swap", Verdict::Pass, "off".into(), None);
    } else {
        say(
            "swap",
            Verdict::Warn,
            format!("{} swap area(s) in use", facts.swap.active.len()),
            Some("pikube apply (turns swap off for good)"),
        );
    }
    found
}

/// The certificate of a node's K3s that expires first, judged: K3s renews those due within
/// 90 days each time it starts, so one closer than [`CERT_WARNING_DAYS`] means K3s has not
/// restarted for most of a year, and an expired one locks the node out.
/// K3s' scheduled snapshots on a server against their schedule: they stop silently (a full
/// card, a refused S3 upload) and are missed only on the day they are needed.
pub fn examine_snapshots(
    node: &NodeName,
    schedule: &SnapshotSchedule,
    found: &ScheduledSnapshots,
) -> Finding {
    let finding = |verdict, detail: String, fix: Option<String>| Finding {
        node: node.to_owned(),
        check: "scheduled snapshots",
        verdict,
        detail,
        fix,
    };
    let Some(gap) = schedule.longest_gap() else {
        return finding(
            Verdict::Pass,
            "off ([backup] schedule = \"off\"): only `pikube backup` keeps copies".into(),
            None,
        );
    };
    // Two missed in a row, and a little for a slow card, before it is called a fault.
    let allowed = gap * 2 + Duration::from_secs(600);
    let fix = format!(
        "see why in its journal (`pikube exec {node} --sudo -- journalctl -u k3s --no-pager | \
         grep -i snapshot`): a full disk, or an S3 upload refused"
    );
    match (&found.newest, found.k3s_running_secs) {
        (Some((name, age)), _) if Duration::from_secs(*age) <= allowed => finding(
            Verdict::Pass,
            format!(
                "the newest, {name}, is {} old (schedule {schedule})",
                human_duration(Duration::from_secs(*age))
            ),
            None,
        ),
        (Some((name, age)), _) => finding(
            Verdict::Warn,
            format!(
                "the newest, {name}, is {} old, though the schedule ({schedule}) takes one at \
                 least every {}",
                human_duration(Duration::from_secs(*age)),
                human_duration(gap)
            ),
            Some(fix),
        ),
        (None, Some(running)) if Duration::from_secs(running) > allowed => finding(
            Verdict::Warn,
            format!(
                "none, though K3s has run for {} and the schedule ({schedule}) takes one at \
                 least every {}",
                human_duration(Duration::from_secs(running)),
                human_duration(gap)
            ),
            Some(fix),
        ),
        (None, _) => finding(
            Verdict::Pass,
            format!(
                "none yet: the first is due within {} (schedule {schedule})",
                human_duration(gap)
            ),
            None,
        ),
    }
}

/// The check of `node`'s certificate that expires first.
pub fn examine_certificates(node: &NodeName, first: &CertExpiry) -> Finding {
    let fix =
        "restart K3s on it (`pikube exec NODE --sudo -- systemctl restart k3s`, or k3s-agent): \
               K3s renews its certificates due within 90 days when it starts";
    let (verdict, detail) = if first.days_left < 0 {
        (
            Verdict::Fail,
            format!("{} expired on {}", first.file, first.not_after),
        )
    } else if first.days_left < CERT_WARNING_DAYS {
        (
            Verdict::Warn,
            format!(
                "{} expires in {} days ({})",
                first.file, first.days_left, first.not_after
            ),
        )
    } else {
        (
            Verdict::Pass,
            format!("the first to expire does in {} days", first.days_left),
        )
    };
    Finding {
        node: node.to_owned(),
        check: "certificates",
        verdict,
        detail,
        fix: (verdict != Verdict::Pass).then(|| fix.replace("NODE", node)),
    }
}

/// Checks across nodes: the K3s version each runs, against cluster.toml's `[k3s] version`
/// and the servers'. A node left behind (a failed upgrade, a hand-installed K3s) warns; an
/// agent newer than every server fails, as Kubernetes' skew policy forbids a kubelet newer
/// than its API server. `nodes`: name, whether it is a server, the version it reports.
pub fn examine_versions(
    wanted: &K3sVersion,
    nodes: &[(NodeName, bool, Option<String>)],
) -> Vec<Finding> {
    let running: BTreeSet<&str> = nodes.iter().filter_map(|(_, _, v)| v.as_deref()).collect();
    let newest_server = nodes
        .iter()
        .filter(|(_, server, _)| *server)
        .filter_map(|(_, _, v)| v.as_deref()?.parse::<K3sVersion>().ok())
        .max();
    let fix = || {
        Some(format!(
            "pikube apply (every node to [k3s] version = \"{wanted}\")"
        ))
    };
    nodes
        .iter()
        .filter_map(|(node, server, version)| {
            let version = version.as_deref()?;
            let parsed = version.parse::<K3sVersion>().ok();
            let finding = |verdict, detail| Finding {
                node: node.clone(),
                check: "k3s version",
                verdict,
                detail,
                fix: (verdict != Verdict::Pass).then(fix).flatten(),
            };
            let ahead = !server && parsed.zip(newest_server).is_some_and(|(v, s)| v > s);
            Some(if ahead {
                finding(
                    Verdict::Fail,
                    format!("runs {version}, newer than every server: agents must never lead"),
                )
            } else if parsed.as_ref() != Some(wanted) {
                let others = if running.len() > 1 {
                    format!(
                        " (the nodes run {})",
                        running.iter().copied().collect::<Vec<_>>().join(", ")
                    )
                } else {
                    String::new()
                };
                finding(
                    Verdict::Warn,
                    format!("runs {version}; cluster.toml asks for {wanted}{others}"),
                )
            } else {
                finding(
                    Verdict::Pass,
                    format!("runs {version}, as cluster.toml asks"),
                )
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_server_keeping_the_cluster_state_holds_the_datastore() {
        let config = |datastore: &str| {
            let text = format!(
                "[cluster]\nname = \"home\"\n[k3s]\nversion = \"v1.34.4+k3s1\"\n{datastore}\n\
                 [[nodes]]\nname = \"s1\"\naddress = \"10.0.0.1\"\nrole = \"server\"\n\
                 [[nodes]]\nname = \"a1\"\naddress = \"10.0.0.2\"\nrole = \"agent\"\n"
            );
            crate::config::parse(&text, std::path::Path::new("/nowhere/cluster.toml"))
                .unwrap()
                .config
        };
        let embedded = config("");
        assert!(holds_datastore(&embedded, "s1"));
        assert!(!holds_datastore(&embedded, "a1"));
        assert!(!holds_datastore(&embedded, "gone"));
        let external = config("datastore_endpoint = \"postgres://k3s:pw@db:5432/k3s\"");
        assert!(!holds_datastore(&external, "s1"));
    }

    #[test]
    fn certificates_pass_warn_within_30_days_and_fail_once_expired() {
        let cert = |days_left| CertExpiry {
            file: "/var/lib/rancher/k3s/server/tls/client-admin.crt".into(),
            not_after: "2027-01-01T00:00:00Z".into(),
            days_left,
        };
        let found = examine_certificates(&"one".parse::<NodeName>().unwrap(), &cert(200));
        assert_eq!(found.verdict, Verdict::Pass);
        assert_eq!(found.detail, "the first to expire does in 200 days");
        assert_eq!(found.fix, None);
        assert_eq!(
            examine_certificates(&"one".parse::<NodeName>().unwrap(), &cert(30)).verdict,
            Verdict::Pass
        );
        let soon = examine_certificates(&"one".parse::<NodeName>().unwrap(), &cert(29));
        assert_eq!(soon.verdict, Verdict::Warn);
        assert_eq!(
            soon.detail,
            "/var/lib/rancher/k3s/server/tls/client-admin.crt expires in 29 days \
             (2027-01-01T00:00:00Z)"
        );
        assert!(soon
            .fix
            .unwrap()
            .starts_with("restart K3s on it (`pikube exec one --sudo -- systemctl restart k3s`"));
        let gone = examine_certificates(&"one".parse::<NodeName>().unwrap(), &cert(-1));
        assert_eq!(gone.verdict, Verdict::Fail);
        assert!(gone.detail.ends_with("expired on 2027-01-01T00:00:00Z"));
    }

    #[test]
    fn a_node_off_cluster_toml_s_version_warns_and_an_agent_ahead_of_the_servers_fails() {
        let wanted: K3sVersion = "v1.34.4+k3s1".parse().unwrap();
        let same = examine_versions(
            &wanted,
            &[
                ("s1".parse().unwrap(), true, Some("v1.34.4+k3s1".into())),
                ("a1".parse().unwrap(), false, Some("v1.34.4+k3s1".into())),
                ("a2".parse().unwrap(), false, None),
            ],
        );
        let judged: Vec<(&str, Verdict, &str, bool)> = same
            .iter()
            .map(|f| {
                (
                    f.node.as_str(),
                    f.verdict,
                    f.detail.as_str(),
                    f.fix.is_some(),
                )
            })
            .collect();
        assert_eq!(
            judged,
            [
                (
                    "s1",
                    Verdict::Pass,
                    "runs v1.34.4+k3s1, as cluster.toml asks",
                    false
                ),
                (
                    "a1",
                    Verdict::Pass,
                    "runs v1.34.4+k3s1, as cluster.toml asks",
                    false
                ),
            ],
            "a node whose version is unknown is not judged"
        );
        let found = examine_versions(
            &wanted,
            &[
                ("s1".parse().unwrap(), true, Some("v1.33.6+k3s1".into())),
                ("a1".parse().unwrap(), false, Some("v1.34.4+k3s1".into())),
                ("a2".parse().unwrap(), false, Some("v1.33.6+k3s1".into())),
            ],
        );
        let verdicts: Vec<(&str, Verdict)> =
            found.iter().map(|f| (f.node.as_str(), f.verdict)).collect();
        assert_eq!(
            verdicts,
            [
                ("s1", Verdict::Warn),
                ("a1", Verdict::Fail),
                ("a2", Verdict::Warn)
            ]
        );
        assert_eq!(
            found[0].detail,
            "runs v1.33.6+k3s1; cluster.toml asks for v1.34.4+k3s1 \
             (the nodes run v1.33.6+k3s1, v1.34.4+k3s1)"
        );
        assert_eq!(
            found[1].detail,
            "runs v1.34.4+k3s1, newer than every server: agents must never lead"
        );
        assert_eq!(
            found[0].fix.as_deref(),
            Some("pikube apply (every node to [k3s] version = \"v1.34.4+k3s1\")")
        );
        // Every node at one version, cluster.toml at another (bumped, not applied yet).
        let behind = examine_versions(
            &"v1.35.0+k3s1".parse().unwrap(),
            &[("s1".parse().unwrap(), true, Some("v1.34.4+k3s1".into()))],
        );
        assert_eq!(
            (behind[0].verdict, behind[0].detail.as_str()),
            (
                Verdict::Warn,
                "runs v1.34.4+k3s1; cluster.toml asks for v1.35.0+k3s1"
            )
        );
        // Release order, not text order: v1.34.10 is newer than v1.34.9.
        let ordered = examine_versions(
            &"v1.34.10+k3s1".parse().unwrap(),
            &[
                ("s1".parse().unwrap(), true, Some("v1.34.9+k3s2".into())),
                ("a1".parse().unwrap(), false, Some("v1.34.10+k3s1".into())),
            ],
        );
        assert_eq!(ordered[1].verdict, Verdict::Fail);
    }

    fn facts(sections: &[(&str, &str)]) -> NodeFacts {
        crate::facts::from_sections(sections)
    }

    fn verdict(found: &[Finding], check: &str) -> Option<(Verdict, String)> {
        found
            .iter()
            .find(|f| f.check == check)
            .map(|f| (f.verdict, f.detail.clone()))
    }

    const DF_HEADER: &str = "Filesystem 1024-blocks Used Available Capacity Mounted on\n";

    #[test]
    fn emmc_wear_warns_from_80_percent_and_fails_at_its_rated_life() {
        let mut node = facts(&[]);
        assert_eq!(
            verdict(
                &examine(&"pi-1".parse::<NodeName>().unwrap(), false, &node),
                "storage wear"
            ),
            None
        );
        for (wear, expected) in [
            (0.3, Verdict::Pass),
            (0.8, Verdict::Warn),
            (0.9, Verdict::Warn),
            (1.0, Verdict::Fail),
        ] {
            node.storage.wear = Some(wear);
            let found = examine(&"pi-1".parse::<NodeName>().unwrap(), false, &node);
            let (got, detail) = verdict(&found, "storage wear").unwrap();
            assert_eq!(got, expected, "{wear}");
            assert_eq!(
                detail,
                format!(
                    "the root eMMC has used up to {:.0} % of its rated life",
                    wear * 100.0
                )
            );
        }
    }

    #[test]
    fn memory_disk_clock_and_the_16k_kernel_are_judged_with_fixes() {
        let healthy = facts(&[
            (
                "meminfo",
                "MemTotal: 4000000 kB\nMemAvailable: 2000000 kB\n",
            ),
            (
                "root_df",
                &format!("{DF_HEADER}/dev/root 30000000 9000000 21000000 30% /\n"),
            ),
            ("uname_r", "6.6.51+rpt-rpi-v8\n"),
        ]);
        let found = examine(&"pi-1".parse::<NodeName>().unwrap(), false, &healthy);
        assert_eq!(verdict(&found, "memory").unwrap().0, Verdict::Pass);
        assert_eq!(
            verdict(&found, "disk").unwrap(),
            (
                Verdict::Pass,
                "root file system 30 % used (20507 MiB free)".into()
            )
        );
        assert_eq!(verdict(&found, "kernel"), None);
        assert_eq!(
            verdict(&found, "clock"),
            None,
            "no offset measured, no verdict"
        );
        assert_eq!(
            verdict(&found, "time sync"),
            None,
            "the node cannot say: no verdict"
        );
        let synchronized = facts(&[("ntp_synchronized", "yes\n")]);
        assert_eq!(
            verdict(
                &examine(&"pi-1".parse::<NodeName>().unwrap(), false, &synchronized),
                "time sync"
            ),
            Some((Verdict::Pass, "the clock is synchronized with NTP".into()))
        );

        let mut sick = facts(&[
            ("meminfo", "MemTotal: 4000000 kB\nMemAvailable: 150000 kB\n"),
            (
                "root_df",
                &format!("{DF_HEADER}/dev/root 30000000 27500000 1500000 95% /\n"),
            ),
            ("uname_r", "6.6.51+rpt-rpi-2712\n"),
            // No timedated to ask; timesyncd runs and has not synchronised.
            ("timesyncd_synchronized", "no\n"),
        ]);
        sick.clock_offset_secs = Some(-7.25);
        let found = examine(&"pi-5".parse::<NodeName>().unwrap(), false, &sick);
        assert_eq!(verdict(&found, "memory").unwrap().0, Verdict::Fail);
        assert_eq!(verdict(&found, "disk").unwrap().0, Verdict::Warn);
        assert!(verdict(&found, "kernel")
            .unwrap()
            .1
            .contains("16K memory pages"));
        assert_eq!(
            verdict(&found, "clock").unwrap(),
            (Verdict::Warn, "7.2 s behind this machine's".into())
        );
        assert_eq!(
            verdict(&found, "time sync").unwrap(),
            (
                Verdict::Warn,
                "the clock is not synchronized with NTP".into()
            )
        );
        assert!(found
            .iter()
            .filter(|f| f.verdict != Verdict::Pass)
            .all(|f| f.fix.is_some()));

        let full = facts(&[(
            "root_df",
            &format!("{DF_HEADER}/dev/root 1000 990 10 99% /\n"),
        )]);
        assert_eq!(
            verdict(
                &examine(&"x".parse::<NodeName>().unwrap(), false, &full),
                "disk"
            )
            .unwrap()
            .0,
            Verdict::Fail
        );
    }

    #[test]
    fn k3s_data_on_a_disk_of_its_own_is_judged_on_its_own() {
        let root = format!("{DF_HEADER}/dev/mmcblk0p2 30000000 9000000 21000000 30% /\n");
        // On the root file system: the root's verdict covers it, no second line.
        let shared = facts(&[
            ("root_df", &root),
            (
                "k3s_data_df",
                &format!("{DF_HEADER}/dev/mmcblk0p2 30000000 9000000 21000000 30% /\n"),
            ),
        ]);
        let found = examine(&"pi-1".parse::<NodeName>().unwrap(), true, &shared);
        assert_eq!(verdict(&found, "disk").unwrap().0, Verdict::Pass);
        assert_eq!(verdict(&found, "k3s data disk"), None);
        // On an SSD mounted at /var/lib/rancher, nearly full while the root is not.
        let full = facts(&[
            ("root_df", &root),
            (
                "k3s_data_df",
                &format!("{DF_HEADER}/dev/sda1 1000000 986000 14000 99% /var/lib/rancher\n"),
            ),
        ]);
        let found = examine(&"pi-1".parse::<NodeName>().unwrap(), true, &full);
        assert_eq!(verdict(&found, "disk").unwrap().0, Verdict::Pass);
        assert_eq!(
            verdict(&found, "k3s data disk").unwrap(),
            (
                Verdict::Fail,
                "/var/lib/rancher/k3s (on /var/lib/rancher) 99 % used (13 MiB free)".into()
            )
        );
        let fix = found
            .iter()
            .find(|f| f.check == "k3s data disk")
            .and_then(|f| f.fix.clone())
            .unwrap();
        assert!(fix.contains("give K3s a bigger disk"), "{fix}");
        let roomy = facts(&[
            ("root_df", &root),
            (
                "k3s_data_df",
                &format!("{DF_HEADER}/dev/sda1 1000000 500000 500000 50% /var/lib/rancher\n"),
            ),
        ]);
        assert_eq!(
            verdict(
                &examine(&"pi-1".parse::<NodeName>().unwrap(), true, &roomy),
                "k3s data disk"
            )
            .unwrap()
            .0,
            Verdict::Pass
        );
    }

    #[test]
    fn a_server_s_datastore_is_judged_by_the_disk_under_k3s_data_not_the_root() {
        let sd_root = [
            ("root_findmnt", "/dev/mmcblk0p2\n"),
            ("mmc_types", "mmcblk0 SD\n"),
            (
                "root_df",
                "Filesystem 1024-blocks Used Available Capacity Mounted on\n\
                 /dev/mmcblk0p2 30000000 9000000 21000000 30% /\n",
            ),
        ];
        let on_root = facts(&sd_root);
        let found = examine(&"s1".parse::<NodeName>().unwrap(), true, &on_root);
        assert_eq!(
            verdict(&found, "datastore storage").unwrap(),
            (
                Verdict::Warn,
                "a server's datastore (etcd or SQLite) lives on an SD card".into()
            )
        );
        assert_eq!(
            verdict(
                &examine(&"a1".parse::<NodeName>().unwrap(), false, &on_root),
                "datastore storage"
            ),
            None,
            "an agent holds no datastore"
        );
        // The recommended fix: K3s' data on a USB SSD, the OS left on the card.
        let usb_data = [
            sd_root.as_slice(),
            &[(
                "k3s_data_df",
                "Filesystem 1024-blocks Used Available Capacity Mounted on\n\
                 /dev/sda1 500000000 1000000 499000000 1% /var/lib/rancher\n",
            )],
        ]
        .concat();
        let found = examine(&"s1".parse::<NodeName>().unwrap(), true, &facts(&usb_data));
        assert_eq!(
            verdict(&found, "datastore storage").unwrap(),
            (
                Verdict::Pass,
                "/var/lib/rancher/k3s on usb (/dev/sda1 on /var/lib/rancher), root on sd".into()
            )
        );
        // On a second SD card (mmcblk1): still a warning, and the fix moves K3s' data.
        let sd_data = [
            sd_root[0],
            ("mmc_types", "mmcblk0 SD\nmmcblk1 SD\n"),
            sd_root[2],
            (
                "k3s_data_df",
                "Filesystem 1024-blocks Used Available Capacity Mounted on\n\
                 /dev/mmcblk1p1 30000000 1000000 29000000 4% /var/lib/rancher\n",
            ),
        ];
        let found = examine(&"s1".parse::<NodeName>().unwrap(), true, &facts(&sd_data));
        let datastore = found
            .iter()
            .find(|f| f.check == "datastore storage")
            .unwrap();
        assert_eq!(datastore.verdict, Verdict::Warn);
        assert!(
            datastore
                .fix
                .as_deref()
                .unwrap()
                .starts_with("move /var/lib/rancher to an SSD"),
            "{datastore:?}"
        );
    }

    #[test]
    fn scheduled_snapshots_are_judged_against_their_schedule() {
        let six_hours: SnapshotSchedule = "0 */6 * * *".parse().unwrap();
        let found = |newest: Option<u64>, running: Option<u64>| ScheduledSnapshots {
            newest: newest.map(|age| ("etcd-snapshot-s1-1".to_owned(), age)),
            k3s_running_secs: running,
        };
        let judge = |schedule: &SnapshotSchedule, f: ScheduledSnapshots| {
            let finding = examine_snapshots(&"s1".parse::<NodeName>().unwrap(), schedule, &f);
            (finding.verdict, finding.detail, finding.fix.is_some())
        };
        let (verdict, detail, fix) = judge(&six_hours, found(Some(3600), Some(86_400)));
        assert_eq!(
            (verdict, detail.as_str(), fix),
            (
                Verdict::Pass,
                "the newest, etcd-snapshot-s1-1, is 1 h old (schedule 0 */6 * * *)",
                false
            )
        );
        // Two missed, and ten minutes more: a warning with where to look.
        let (verdict, detail, fix) = judge(&six_hours, found(Some(13 * 3600), None));
        assert!(
            verdict == Verdict::Warn && fix && detail.contains("is 13 h old, though"),
            "{detail}"
        );
        let (verdict, detail, _) = judge(&six_hours, found(None, Some(3 * 86_400)));
        assert!(
            verdict == Verdict::Warn && detail.starts_with("none, though K3s has run for 3 d"),
            "{detail}"
        );
        let (verdict, detail, _) = judge(&six_hours, found(None, Some(60)));
        assert!(
            verdict == Verdict::Pass && detail.starts_with("none yet: the first is due within 6 h"),
            "{detail}"
        );
        let (verdict, detail, _) = judge(&SnapshotSchedule::Off, found(None, Some(3 * 86_400)));
        assert!(
            verdict == Verdict::Pass && detail.starts_with("off"),
            "{detail}"
        );
    }
}
