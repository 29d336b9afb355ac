//! Parsing captured facts outputs of real-looking nodes.

use pikube_pi::facts::{Arch, CgroupEvidence, OsFamily, PiFamily, StorageKind, ThrottleFlag};
use pikube_pi::{parse_facts, NodeFacts};

fn fixture(name: &str) -> NodeFacts {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    parse_facts(&text).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn pi4_bookworm_on_sd_with_dphys_swap_and_memory_cgroup_off() {
    let f = fixture("pi4-bookworm-sd.facts");
    assert_eq!(f.os.family(), OsFamily::RaspberryPiOs);
    assert_eq!(f.os.codename.as_deref(), Some("bookworm"));
    assert_eq!(f.arch, Arch::Arm64);
    assert_eq!(f.kernel, "6.6.62+rpt-rpi-v8");
    assert_eq!(f.hostname, "raspberrypi");
    assert_eq!(f.memory_total_kib, 3_882_276);
    assert_eq!(f.uptime_secs, 8642.17);
    let model = f.model.as_ref().unwrap();
    assert_eq!(
        (model.raw.as_str(), model.family),
        ("Raspberry Pi 4 Model B Rev 1.4", PiFamily::Pi4)
    );
    assert!(f.is_raspberry_pi());

    assert_eq!(f.storage.device.as_deref(), Some("/dev/mmcblk0p2"));
    assert_eq!(f.storage.kind, StorageKind::Sd);

    // The Bookworm trap: /boot/cmdline.txt is a stub, the real file is in /boot/firmware.
    assert_eq!(
        f.boot.cmdline_path.as_deref(),
        Some("/boot/firmware/cmdline.txt")
    );
    assert!(f
        .boot
        .cmdline
        .as_deref()
        .unwrap()
        .starts_with("console=serial0,115200"));

    assert!(!f.memory_cgroup.enabled);
    assert_eq!(f.memory_cgroup.source, CgroupEvidence::ProcCgroups);
    assert!(!f.memory_cgroup.cmdline_requests_memory);
    assert_eq!(f.memory_cgroup.cgroup_fs.as_deref(), Some("cgroup2fs"));

    assert!(!f.swap.is_off());
    assert_eq!(f.swap.active[0].path, "/var/swap");
    assert_eq!(f.swap.active[0].size_kib, 524_284);
    assert!(f.swap.fstab_entries.is_empty());
    let dphys = f.swap.dphys.as_ref().unwrap();
    assert!(dphys.enabled && dphys.active);
    assert_eq!(f.swap.swap_units, vec!["var-swap.swap"]);

    let throttle = f.throttle.unwrap();
    assert!(throttle.now().is_empty());
    assert_eq!(
        throttle.since_boot(),
        vec![ThrottleFlag::UnderVoltage, ThrottleFlag::Throttled]
    );
    assert_eq!(f.soc_temp_celsius, Some(47.712));

    assert!(!f.k3s.is_installed());
    assert_eq!(f.k3s.server.active.as_deref(), Some("inactive"));
    // systemctl says "not-found" for a unit without a file (is-enabled would too).
    assert_eq!(f.k3s.server.enabled.as_deref(), Some("not-found"));
    assert!(f.systemd && f.sudo_passwordless && f.can_become_root());
    assert_eq!(f.uid, Some(1000));
}

#[test]
fn pi3_bullseye_uses_boot_cmdline_txt() {
    let f = fixture("pi3-bullseye-32bit.facts");
    assert_eq!(f.os.id, "raspbian");
    assert_eq!(f.os.family(), OsFamily::RaspberryPiOs);
    assert_eq!(f.arch, Arch::Armhf);
    assert_eq!(f.model.as_ref().unwrap().family, PiFamily::Pi3Plus);
    assert_eq!(f.boot.cmdline_path.as_deref(), Some("/boot/cmdline.txt"));
    assert!(pikube_pi::cmdline_has_cgroups(
        f.boot.cmdline.as_deref().unwrap()
    ));
    assert!(f.memory_cgroup.enabled && f.memory_cgroup.cmdline_requests_memory);
    assert_eq!(f.memory_cgroup.cgroup_fs.as_deref(), Some("tmpfs"));
    // vcgencmd failed (user not in the video group): no throttle reading, but
    // the thermal zone still gives a temperature.
    assert_eq!(f.throttle, None);
    assert_eq!(f.soc_temp_celsius, Some(61.224));
    // dphys-swapfile installed but disabled, nothing active: off for good.
    assert_eq!(
        f.swap.dphys.as_ref().map(|d| (d.enabled, d.active)),
        Some((false, false))
    );
    assert!(f.swap.is_off_for_good());
    assert!(!f.sudo_passwordless && !f.can_become_root());
}

#[test]
fn ubuntu_2404_on_pi5_nvme_with_cgroup_v2() {
    let f = fixture("pi5-ubuntu2404-nvme.facts");
    assert_eq!(f.os.family(), OsFamily::Ubuntu);
    assert_eq!(f.os.version_id.as_deref(), Some("24.04"));
    assert_eq!(f.os.codename.as_deref(), Some("noble"));
    assert_eq!(f.model.as_ref().unwrap().family, PiFamily::Pi5);
    assert_eq!(f.storage.kind, StorageKind::Nvme);
    assert_eq!(f.storage.device.as_deref(), Some("/dev/nvme0n1p2"));
    assert_eq!(
        f.boot.cmdline_path.as_deref(),
        Some("/boot/firmware/cmdline.txt")
    );
    assert!(f.memory_cgroup.enabled);
    // The firmware's cgroup_disable=memory comes first; cmdline.txt's enable wins.
    assert!(f.memory_cgroup.cmdline_requests_memory);
    assert!(f.swap.is_off_for_good());
    assert_eq!(f.swap.dphys, None);
    assert_eq!(f.throttle, None);
    assert_eq!(f.soc_temp_celsius, Some(52.345));
    assert!(!f.etc_hosts.contains("127.0.1.1"));
}

#[test]
fn x86_mini_pc_has_no_pi_parts() {
    let f = fixture("x86-minipc-debian12.facts");
    assert_eq!(f.os.family(), OsFamily::Debian);
    assert_eq!(f.arch, Arch::Amd64);
    assert_eq!(f.model, None);
    assert!(!f.is_raspberry_pi());
    assert_eq!(f.dmi_product_name.as_deref(), Some("OptiPlex 3080"));
    assert_eq!(f.boot.cmdline_path, None);
    assert_eq!(f.boot.cmdline, None);
    assert_eq!(f.storage.kind, StorageKind::Other("sata".into()));
    assert_eq!(f.throttle, None);
    assert_eq!(f.swap.active[0].kind, "partition");
    assert_eq!(f.swap.fstab_entries.len(), 1);
    assert!(f.swap.fstab_entries[0].starts_with("UUID=0a1b2c3d"));
    assert_eq!(f.swap.swap_units.len(), 2);
    assert!(!f.swap.is_off_for_good());
    assert!(f.memory_cgroup.enabled);
}

#[test]
fn pi5_trixie_running_a_k3s_server() {
    let f = fixture("pi5-trixie-k3s-server.facts");
    assert_eq!(f.os.family(), OsFamily::RaspberryPiOs);
    assert_eq!(f.k3s.version.as_deref(), Some("v1.31.4+k3s1"));
    assert!(f.k3s.server.is_active() && f.k3s.server.is_enabled());
    assert!(!f.k3s.agent.is_active());
    // 6.12 kernel: /proc/cgroups has no memory row, cgroup.controllers decides.
    assert!(f.memory_cgroup.enabled);
    assert_eq!(f.memory_cgroup.source, CgroupEvidence::CgroupV2Controllers);
    assert!(f.swap.is_off_for_good(), "rpi-swap generator is masked");
    assert!(f.throttle.unwrap().is_ok());
    assert_eq!(f.throttle.unwrap().describe(), "ok");
}

#[test]
fn fake_fleet_node_overlay_root_and_emulated_cgroups() {
    let f = fixture("fake-fleet-node.facts");
    // Test nodes run on the x86 host's kernel but carry a Pi identity.
    assert_eq!(f.arch, Arch::Amd64);
    assert_eq!(f.model.as_ref().unwrap().family, PiFamily::Pi4);
    assert_eq!(f.storage.source, "overlay");
    assert_eq!(f.storage.device.as_deref(), Some("/dev/mmcblk0p2"));
    assert_eq!(f.storage.kind, StorageKind::Sd);
    // The emulated /proc/cgroups says memory is off even though the host's
    // cgroup.controllers shows it: the kernel-wide switch wins.
    assert!(!f.memory_cgroup.enabled);
    assert_eq!(f.swap.active.len(), 2);
    assert_eq!(
        f.swap.fstab_entries,
        vec!["/swapfile       none            swap    sw                0       0"]
    );
    assert_eq!(f.throttle, None);
    assert_eq!(f.soc_temp_celsius, None);
}

#[test]
fn facts_serialize_as_stable_snake_case_json() {
    let json = serde_json::to_value(fixture("pi4-bookworm-sd.facts")).unwrap();
    assert_eq!(json["arch"], "arm64");
    assert_eq!(json["model"]["family"], "pi4");
    assert_eq!(json["storage"]["kind"], "sd");
    assert_eq!(json["memory_cgroup"]["source"], "proc_cgroups");
    assert_eq!(json["memory_cgroup"]["cmdline_requests_memory"], false);
    assert_eq!(json["swap"]["dphys"]["enabled"], true);
    assert_eq!(json["throttle"]["raw"], "0x50000");
    assert_eq!(json["throttle"]["since_boot"][0], "under_voltage");
    assert_eq!(
        json["throttle"]["description"],
        "under-voltage, throttling occurred since boot"
    );
    assert_eq!(json["boot"]["cmdline_path"], "/boot/firmware/cmdline.txt");
    assert_eq!(json["k3s"]["server"]["active"], "inactive");
    assert_eq!(json["os"]["codename"], "bookworm");

    let mini = serde_json::to_value(fixture("x86-minipc-debian12.facts")).unwrap();
    assert_eq!(mini["model"], serde_json::Value::Null);
    assert_eq!(mini["storage"]["kind"], "sata");
    assert_eq!(mini["arch"], "amd64");
}
