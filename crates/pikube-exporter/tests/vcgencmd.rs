//! Hosts without the firmware's sysfs file (older kernels, the fake fleet): the throttling
//! bits come from `vcgencmd get_throttled`, found under the host root. A vcgencmd that
//! fails, hangs or prints garbage leaves the metric out and says why, never a wrong value.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

use pikube_exporter::render;

use crate::exporter::{lines, pi, put};

const SYSFS: &str = "sys/devices/platform/soc/soc:firmware/get_throttled";

/// A Pi whose kernel has no get_throttled file, and a vcgencmd running `script`.
fn pi_with_vcgencmd(root: &Path, script: &str) {
    pi(root, "0\n", "48312\n");
    std::fs::remove_file(root.join(SYSFS)).unwrap();
    put(root, "/usr/bin/vcgencmd", &format!("#!/bin/sh\n{script}\n"));
    let path = root.join("usr/bin/vcgencmd");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn without_the_sysfs_file_vcgencmd_tells_the_throttling() {
    let dir = tempfile::tempdir().unwrap();
    pi_with_vcgencmd(
        dir.path(),
        r#"[ "$1" = get_throttled ] || exit 2; echo throttled=0x50005"#,
    );
    let scrape = render(dir.path());
    assert!(scrape.problems.is_empty(), "{:?}", scrape.problems);
    let samples = lines(&scrape.text);
    for expected in [
        "pi_throttled{condition=\"under_voltage\",when=\"now\"} 1",
        "pi_throttled{condition=\"throttled\",when=\"now\"} 1",
        "pi_throttled{condition=\"freq_capped\",when=\"now\"} 0",
        "pi_throttled{condition=\"under_voltage\",when=\"since_boot\"} 1",
        "pi_throttled{condition=\"soft_temp_limit\",when=\"since_boot\"} 0",
    ] {
        assert!(samples.contains(&expected), "{expected}:\n{}", scrape.text);
    }
}

#[test]
fn the_sysfs_file_wins_over_vcgencmd() {
    let dir = tempfile::tempdir().unwrap();
    pi_with_vcgencmd(dir.path(), "echo throttled=0x50005");
    put(dir.path(), SYSFS, "0\n");
    let scrape = render(dir.path());
    assert!(
        lines(&scrape.text).contains(&"pi_throttled{condition=\"under_voltage\",when=\"now\"} 0"),
        "{}",
        scrape.text
    );
}

#[test]
fn a_vcgencmd_that_fails_or_prints_garbage_leaves_the_metric_out_and_says_why() {
    for (script, why) in [
        // What vcgencmd says without access to /dev/vcio (not in group video).
        (
            "echo 'VCHI initialization failed' >&2; exit 255",
            "VCHI initialization failed",
        ),
        ("echo throttled=banana", "throttled=banana"),
        ("echo", "get_throttled"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        pi_with_vcgencmd(dir.path(), script);
        let scrape = render(dir.path());
        assert!(
            !scrape.text.contains("pi_throttled"),
            "{script}:\n{}",
            scrape.text
        );
        assert_eq!(scrape.problems.len(), 1, "{script}: {:?}", scrape.problems);
        assert!(
            scrape.problems[0].contains("vcgencmd") && scrape.problems[0].contains(why),
            "{script}: {:?}",
            scrape.problems
        );
        // The rest of the scrape is unaffected.
        assert!(scrape.text.contains("pi_soc_temperature_celsius 48.312"));
    }
}

#[test]
fn a_vcgencmd_that_hangs_is_given_up_on_quickly() {
    let dir = tempfile::tempdir().unwrap();
    pi_with_vcgencmd(dir.path(), "exec sleep 30");
    let started = Instant::now();
    let scrape = render(dir.path());
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert!(!scrape.text.contains("pi_throttled"), "{}", scrape.text);
    assert!(
        scrape
            .problems
            .iter()
            .any(|p| p.contains("vcgencmd") && p.contains("no answer")),
        "{:?}",
        scrape.problems
    );
}

#[test]
fn no_sysfs_file_and_no_vcgencmd_is_not_a_pi_and_not_a_problem() {
    let dir = tempfile::tempdir().unwrap();
    pi(dir.path(), "0\n", "48312\n");
    std::fs::remove_file(dir.path().join(SYSFS)).unwrap();
    let scrape = render(dir.path());
    assert!(!scrape.text.contains("pi_throttled"), "{}", scrape.text);
    assert!(scrape.problems.is_empty(), "{:?}", scrape.problems);
}
