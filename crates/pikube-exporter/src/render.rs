//! One scrape: every metric read from the host, in the Prometheus text format.

use std::fmt::Write as _;
use std::path::Path;

use pikube_pi::Throttled;

use crate::host::{Host, Missing, Read};
use crate::{certificates, storage, vcgencmd};

/// The text to serve, and what was left out and why (for the log).
#[derive(Debug, Default)]
pub struct Scrape {
    /// The metrics, in Prometheus' text exposition format.
    pub text: String,
    /// Each metric left out, with why (a file missing or unreadable on this host).
    pub problems: Vec<String>,
}

impl Scrape {
    pub(crate) fn family(&mut self, name: &str, kind: &str, help: &str, samples: &[(String, f64)]) {
        if samples.is_empty() {
            return;
        }
        let _ = writeln!(self.text, "# HELP {name} {help}");
        let _ = writeln!(self.text, "# TYPE {name} {kind}");
        for (labels, value) in samples {
            let _ = writeln!(self.text, "{name}{labels} {value}");
        }
    }

    /// `Some(value)`, or `None` with a problem noted when the host held garbage.
    fn keep<T>(&mut self, read: Read<T>) -> Option<T> {
        match read {
            Ok(value) => Some(value),
            Err(Missing::Absent) => None,
            Err(Missing::Garbage(why)) => {
                self.problems.push(why);
                None
            }
        }
    }
}

/// Every metric, read from the host below `root`.
pub fn render(root: &Path) -> Scrape {
    let host = Host::new(root);
    let mut scrape = Scrape::default();
    throttled(&host, &mut scrape);
    let temp = host.number("/sys/class/thermal/thermal_zone0/temp", |t| {
        t.parse::<i64>().ok()
    });
    if let Some(milli) = scrape.keep(temp) {
        let celsius = vec![(String::new(), milli as f64 / 1000.0)];
        scrape.family(
            "pi_soc_temperature_celsius",
            "gauge",
            "SoC temperature (thermal zone 0). The firmware throttles from 80 or 85 °C.",
            &celsius,
        );
    }
    let freq = host.number(
        "/sys/devices/system/cpu/cpu0/cpufreq/scaling_cur_freq",
        |t| t.parse::<u64>().ok(),
    );
    if let Some(khz) = scrape.keep(freq) {
        let hertz = vec![(String::new(), khz as f64 * 1000.0)];
        scrape.family(
            "pi_cpu_frequency_hertz",
            "gauge",
            "Current CPU 0 frequency.",
            &hertz,
        );
    }
    storage::storage(&host, &mut scrape);
    time_synchronized(&host, &mut scrape);
    memory_cgroup(&host, &mut scrape);
    certificates::certificates(&host, &mut scrape);
    info(&host, &mut scrape);
    scrape
}

/// The firmware's get_throttled bits, as sysfs shows them (hex, no 0x), or else as
/// `vcgencmd get_throttled` tells them.
fn throttled(host: &Host, scrape: &mut Scrape) {
    let read = match host.number(
        "/sys/devices/platform/soc/soc:firmware/get_throttled",
        |t| {
            let t = t.strip_prefix("0x").unwrap_or(t);
            u32::from_str_radix(t, 16).ok()
        },
    ) {
        Err(Missing::Absent) => vcgencmd::get_throttled(host),
        read => read,
    };
    let Some(bits) = scrape.keep(read) else {
        return;
    };
    let throttled = Throttled(bits);
    let conditions = [
        ("under_voltage", pikube_pi::ThrottleFlag::UnderVoltage),
        ("freq_capped", pikube_pi::ThrottleFlag::ArmFrequencyCapped),
        ("throttled", pikube_pi::ThrottleFlag::Throttled),
        (
            "soft_temp_limit",
            pikube_pi::ThrottleFlag::SoftTemperatureLimit,
        ),
    ];
    let mut samples = Vec::new();
    for (when, flags) in [
        ("now", throttled.now()),
        ("since_boot", throttled.since_boot()),
    ] {
        for (condition, flag) in conditions {
            samples.push((
                format!("{{condition=\"{condition}\",when=\"{when}\"}}"),
                f64::from(u8::from(flags.contains(&flag))),
            ));
        }
    }
    scrape.family(
        "pi_throttled",
        "gauge",
        "1 when the firmware reports the condition (now, or at any time since boot).",
        &samples,
    );
}

/// systemd-timesyncd's runtime directory exists while it runs, and gains its
/// `synchronized` flag at the first synchronisation since boot. Without the directory the
/// state is unknown (another daemon such as chrony keeps the clock, or /run is not
/// mounted), and a 0 would raise a false alert: the metric is left out.
fn time_synchronized(host: &Host, scrape: &mut Scrape) {
    if !host.exists("/run/systemd/timesync") {
        return;
    }
    let synchronized = host.exists("/run/systemd/timesync/synchronized");
    scrape.family(
        "pi_time_synchronized",
        "gauge",
        "1 when systemd-timesyncd has synchronised the clock since boot, 0 while it has not.",
        &[(String::new(), f64::from(u8::from(synchronized)))],
    );
}

fn memory_cgroup(host: &Host, scrape: &mut Scrape) {
    let enabled = match host.text("/sys/fs/cgroup/cgroup.controllers") {
        Ok(text) => Some(text.split_whitespace().any(|c| c == "memory")),
        Err(_) => host.text("/proc/cgroups").ok().map(|text| {
            text.lines()
                .any(|l| l.split_whitespace().next() == Some("memory") && l.ends_with('1'))
        }),
    };
    if let Some(enabled) = enabled {
        scrape.family(
            "pi_memory_cgroup_enabled",
            "gauge",
            "1 when the memory cgroup is on (K3s needs it: cgroup_enable=memory).",
            &[(String::new(), f64::from(u8::from(enabled)))],
        );
    }
}

fn info(host: &Host, scrape: &mut Scrape) {
    let model = host
        .text("/sys/firmware/devicetree/base/model")
        .unwrap_or_default()
        .trim_matches(|c: char| c == '\0' || c.is_whitespace())
        .to_owned();
    let revision = host
        .text("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("Revision").and_then(|r| r.split(':').nth(1)))
        .map(|r| r.trim().to_owned())
        .unwrap_or_default();
    let os = host
        .text("/etc/os-release")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("PRETTY_NAME="))
        .map(|v| v.trim_matches('"').to_owned())
        .unwrap_or_default();
    let label = |v: &str| {
        v.replace('\\', "\\\\")
            .replace('"', "\\\"")
            .replace('\n', " ")
    };
    scrape.family(
        "pi_info",
        "gauge",
        "The node: board model, revision code and operating system.",
        &[(
            format!(
                "{{model=\"{}\",revision=\"{}\",os=\"{}\"}}",
                label(&model),
                label(&revision),
                label(&os)
            ),
            1.0,
        )],
    );
}
