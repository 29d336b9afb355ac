//! `k3s check-config`, reduced to the checks a Pi installer cares about:
//! the cgroup v2 controllers (memory!) and swap. Exit code = failures.

fn controllers() -> String {
    std::fs::read_to_string("/sys/fs/cgroup/cgroup.controllers").unwrap_or_default()
}

fn swap_devices() -> usize {
    std::fs::read_to_string("/proc/swaps")
        .map(|s| s.lines().skip(1).filter(|l| !l.trim().is_empty()).count())
        .unwrap_or(0)
}

pub fn run() -> i32 {
    println!("k3s-double check-config (a reduced stand-in for k3s's check-config.sh)\n");
    let controllers = controllers();
    let mut failures = 0;
    println!("Generally Necessary:");
    for name in ["cpu", "cpuset", "memory"] {
        let ok = controllers.split_whitespace().any(|c| c == name);
        println!(
            "- cgroup v2 controller {name}: {}",
            if ok { "enabled" } else { "missing" }
        );
        if !ok {
            failures += 1;
        }
    }
    if swap_devices() > 0 {
        println!("- swap: should be disabled");
    } else {
        println!("- swap: disabled");
    }
    println!();
    if failures == 0 {
        println!("STATUS: pass");
    } else {
        println!("STATUS: {failures} (fail)");
    }
    failures
}
