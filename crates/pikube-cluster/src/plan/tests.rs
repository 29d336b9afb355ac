//! Phase decisions on synthetic facts, in the facts script's own transcript format.

use pikube_pi::{parse_facts, NodeFacts};

use super::{plan_node, verify_node, Change, ChangeArea, DesiredNode, Unpreparable};

/// `systemctl show` of the facts script on a first boot: no K3s, dphys-swapfile on.
const UNITS_DPHYS_ON: &str = "Id=k3s.service\nLoadState=not-found\nActiveState=inactive\n\
                              UnitFileState=\n\n\
                              Id=k3s-agent.service\nLoadState=not-found\nActiveState=inactive\n\
                              UnitFileState=\n\n\
                              Id=dphys-swapfile.service\nLoadState=loaded\nActiveState=active\n\
                              UnitFileState=enabled\n";

/// A Raspberry Pi OS Bookworm node as first booted, with `overrides` replacing sections.
fn facts(overrides: &[(&str, Option<&str>)]) -> NodeFacts {
    let mut sections: Vec<(&str, Option<&str>)> = vec![
        ("os_release", Some("ID=debian\nVERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n")),
        ("rpi_issue", Some("Raspberry Pi reference 2024-11-19\n")),
        ("uname_m", Some("aarch64\n")),
        ("hostname", Some("raspberrypi\n")),
        ("etc_hostname", Some("raspberrypi\n")),
        ("etc_hosts", Some("127.0.0.1\tlocalhost\n127.0.1.1\traspberrypi\n")),
        ("fstab", Some("proc /proc proc defaults 0 0\n/swapfile none swap sw 0 0\n")),
        ("proc_swaps", Some("Filename\tType\tSize\tUsed\tPriority\n/var/swap file 102396 0 -2\n")),
        ("meminfo", Some("MemTotal:        3882276 kB\n")),
        ("proc_cmdline", Some("console=tty1 root=PARTUUID=1234-02 rootwait\n")),
        ("boot_id", Some("11111111-2222-3333-4444-555555555555\n")),
        ("proc_cgroups", Some("#subsys_name\thierarchy\tnum_cgroups\tenabled\nmemory\t0\t1\t0\n")),
        ("cmdline_txt_firmware", Some("console=tty1 root=PARTUUID=1234-02 rootwait\n")),
        ("dphys_binary", Some("/usr/sbin/dphys-swapfile\n")),
        ("units", Some(UNITS_DPHYS_ON)),
    ];
    for (name, value) in overrides {
        match sections.iter_mut().find(|(n, _)| n == name) {
            Some(section) => section.1 = *value,
            None => sections.push((name, *value)),
        }
    }
    let mut transcript = String::from("@@pikube-facts v1\n");
    for (name, value) in sections {
        match value {
            Some(text) => {
                transcript.push_str(&format!("@@begin {name}\n"));
                for line in text.lines() {
                    transcript.push_str(&format!("|{line}\n"));
                }
                transcript.push_str(&format!("@@end {name} eol=1 rc=0\n"));
            }
            None => transcript.push_str(&format!("@@absent {name}\n")),
        }
    }
    transcript.push_str("@@pikube-facts end\n");
    parse_facts(&transcript).expect("synthetic facts parse")
}

fn desired() -> DesiredNode {
    DesiredNode {
        name: "pi-01".parse().unwrap(),
    }
}

fn summaries(facts: &NodeFacts) -> Vec<String> {
    plan_node(&desired(), facts)
        .expect("plan")
        .changes
        .iter()
        .map(|c| format!("{}: {}", c.phase, c.change.summary()))
        .collect()
}

#[test]
fn a_fresh_bookworm_node_gets_every_phase_and_a_reboot() {
    let facts = facts(&[]);
    let plan = plan_node(&desired(), &facts).unwrap();
    let all = summaries(&facts);
    assert!(
        all.contains(&"hostname: update /etc/hostname".to_owned()),
        "{all:?}"
    );
    assert!(
        all.contains(&"cgroups: update /boot/firmware/cmdline.txt".to_owned()),
        "{all:?}"
    );
    assert!(
        all.iter()
            .any(|s| s.starts_with("swap: stop and disable dphys-swapfile")),
        "{all:?}"
    );
    assert!(
        all.contains(&"swap: update /etc/fstab".to_owned()),
        "{all:?}"
    );
    assert!(plan.needs_reboot());
    let cmdline = plan.changes.iter().find_map(|c| match &c.change {
        Change::File(f) if f.path.ends_with("cmdline.txt") => Some(f.after.clone()),
        _ => None,
    });
    assert!(cmdline.unwrap().contains("cgroup_enable=memory"));
}

#[test]
fn rpi_swap_is_masked_and_verified() {
    let facts = facts(&[
        ("rpi_swap_generator", Some("installed\n")),
        ("dphys_binary", None),
    ]);
    let all = summaries(&facts);
    assert!(
        all.iter()
            .any(|s| s.contains("mask the rpi-swap generator")),
        "{all:?}"
    );
    assert!(verify_node(&desired(), &facts)
        .iter()
        .any(|p| p.contains("rpi-swap")));
    let masked = self::facts(&[
        ("rpi_swap_generator", Some("masked\n")),
        ("dphys_binary", None),
    ]);
    assert!(!summaries(&masked).iter().any(|s| s.contains("rpi-swap")));
}

#[test]
fn cmdline_already_edited_but_not_booted_plans_only_the_reboot() {
    let edited =
        "console=tty1 root=PARTUUID=1234-02 rootwait cgroup_memory=1 cgroup_enable=memory\n";
    let facts = facts(&[("cmdline_txt_firmware", Some(edited))]);
    let plan = plan_node(&desired(), &facts).unwrap();
    assert!(!plan.changes.iter().any(|c| c.phase == ChangeArea::Cgroups));
    assert!(
        plan.reboot.iter().any(|r| r.contains("booted before")),
        "{:?}",
        plan.reboot
    );
}

#[test]
fn booted_with_the_parameters_and_still_off_is_an_error_not_a_reboot_loop() {
    let edited =
        "console=tty1 root=PARTUUID=1234-02 rootwait cgroup_memory=1 cgroup_enable=memory\n";
    let facts = facts(&[
        ("cmdline_txt_firmware", Some(edited)),
        ("proc_cmdline", Some(edited)),
    ]);
    let err = plan_node(&desired(), &facts).unwrap_err();
    assert_eq!(err.phase, ChangeArea::Cgroups);
    assert!(
        err.to_string()
            .starts_with("pi-01: cgroups: the kernel was booted with cgroup_enable=memory"),
        "{err}"
    );
}

#[test]
fn an_x86_node_with_the_memory_cgroup_on_needs_no_cmdline() {
    let facts = facts(&[
        ("cmdline_txt_firmware", None),
        ("rpi_issue", None),
        (
            "proc_cgroups",
            Some("#subsys_name\thierarchy\tnum_cgroups\tenabled\nmemory\t0\t1\t1\n"),
        ),
    ]);
    let plan = plan_node(&desired(), &facts).unwrap();
    assert!(!plan.needs_reboot());
    assert!(!plan.changes.iter().any(|c| c.phase == ChangeArea::Cgroups));
}

#[test]
fn an_x86_node_with_the_memory_cgroup_off_is_told_what_to_do() {
    let facts = facts(&[("cmdline_txt_firmware", None)]);
    let err = plan_node(&desired(), &facts).unwrap_err();
    assert_eq!(err.problem, Unpreparable::NoCmdlineTxt);
    assert!(
        err.to_string()
            .contains("boot loader's kernel command line"),
        "{err}"
    );
}

#[test]
fn a_kernel_without_the_cpuset_controller_is_named_before_anything_changes() {
    let facts = facts(&[(
        "proc_cgroups",
        Some("#subsys_name\thierarchy\tnum_cgroups\tenabled\ncpuset\t0\t1\t0\ncpu\t0\t1\t1\nmemory\t0\t1\t1\n"),
    )]);
    let err = plan_node(&desired(), &facts).unwrap_err();
    assert_eq!(err.phase, ChangeArea::Cgroups);
    assert_eq!(
        err.problem,
        Unpreparable::CgroupControllers {
            missing: vec!["cpuset".to_owned()]
        }
    );
    let message = err.to_string();
    assert!(
        message.contains("cpuset cgroup controller is off or missing")
            && message.contains("failed to find cpuset cgroup")
            && message.contains("CONFIG_CPUSETS"),
        "{err}"
    );
}

#[test]
fn a_prepared_node_plans_nothing_and_verifies_clean() {
    let edited =
        "console=tty1 root=PARTUUID=1234-02 rootwait cgroup_memory=1 cgroup_enable=memory\n";
    let facts = facts(&[
        ("hostname", Some("pi-01\n")),
        ("etc_hostname", Some("pi-01\n")),
        (
            "etc_hosts",
            Some("127.0.0.1\tlocalhost\n127.0.1.1\tpi-01\n"),
        ),
        ("fstab", Some("proc /proc proc defaults 0 0\n")),
        ("proc_swaps", Some("Filename\tType\tSize\tUsed\tPriority\n")),
        ("cmdline_txt_firmware", Some(edited)),
        ("proc_cmdline", Some(edited)),
        (
            "proc_cgroups",
            Some("#subsys_name\thierarchy\tnum_cgroups\tenabled\nmemory\t0\t1\t1\n"),
        ),
        (
            "units",
            Some(
                &UNITS_DPHYS_ON
                    .replace("=enabled", "=disabled")
                    .replace("=active", "=inactive"),
            ),
        ),
    ]);
    let plan = plan_node(&desired(), &facts).unwrap();
    assert!(plan.is_empty(), "{plan:?}");
    assert!(verify_node(&desired(), &facts).is_empty());
}

#[test]
fn a_node_without_a_default_route_is_stopped_with_the_fix_unless_k3s_runs() {
    let lan = "Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\n\
               eth0\t0001A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\n";
    let offline = facts(&[("proc_net_route", Some(lan))]);
    let err = plan_node(&desired(), &offline).unwrap_err();
    assert_eq!(err.phase, ChangeArea::Network);
    assert_eq!(err.problem, Unpreparable::NoDefaultRoute);
    let message = err.to_string();
    assert!(
        message.contains("no default route") && message.contains("dummy0"),
        "{err}"
    );
    let with_gateway = format!("{lan}eth0\t00000000\t0101A8C0\t0003\t0\t0\t0\t00000000\n");
    assert!(plan_node(
        &desired(),
        &facts(&[("proc_net_route", Some(&with_gateway))])
    )
    .is_ok());
    // Unknown (tables unreadable): nothing to say.
    assert!(plan_node(&desired(), &facts(&[])).is_ok());
    // K3s already runs there somehow: not pikube's to stop.
    let running = facts(&[
        ("proc_net_route", Some(lan)),
        (
            "units",
            Some("Id=k3s.service\nLoadState=loaded\nActiveState=active\nUnitFileState=enabled\n"),
        ),
    ]);
    assert!(plan_node(&desired(), &running).is_ok());
}

#[test]
fn a_kernel_booted_asking_for_the_memory_cgroup_without_it_is_not_rebooted_again() {
    let asked =
        "console=tty1 root=PARTUUID=1234-02 rootwait cgroup_memory=1 cgroup_enable=memory\n";
    let facts = facts(&[
        ("cmdline_txt_firmware", Some(asked)),
        ("proc_cmdline", Some(asked)),
    ]);
    let err = plan_node(&desired(), &facts).unwrap_err();
    assert_eq!(err.phase, ChangeArea::Cgroups);
    assert_eq!(
        err.problem,
        Unpreparable::MemoryCgroupStillOff {
            cmdline_path: "/boot/firmware/cmdline.txt".to_owned(),
            proc_cmdline: asked.trim().to_owned(),
        }
    );
    assert!(err.to_string().contains("still disabled"), "{err}");
}
