//! Power on fake Raspberry Pi fleets: `pikube shutdown` and the way back, power cuts, and
//! `pikube status` telling whether the cluster is healthy again.
//!
//! A fake node's power cut kills everything in it at once; its disk is the host's, so
//! unlike a real SD card no write already made is lost: what is tested is that K3s, etcd
//! and pikube cope with being killed mid-flight and started again, not SD card corruption.

use crate::support;

use std::time::{Duration, Instant};

use support::cluster::{three_servers_one_agent, Run, Workspace};
use support::fleet::Fleet;
use support::k3s::cluster_nodes;

const READY: &str = "--ready-timeout=60s";
const FLEET: [&str; 4] = ["pi1", "pi2", "pi3", "pi4"];

/// `pikube status` until it says the cluster is healthy (exit 0), for at most 2 minutes.
fn status_until_healthy(ws: &Workspace) -> Run {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let status = ws.pikube(&["status"]);
        if status.code == 0 {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "never healthy again:\n{}{}",
            status.stdout,
            status.stderr
        );
        std::thread::sleep(Duration::from_secs(2));
    }
}

#[test]
fn shutdown_power_on_and_power_cuts_end_with_status_saying_the_cluster_is_healthy() {
    let fleet = Fleet::up(&FLEET);
    let ws = Workspace::new(&fleet, "pi", &three_servers_one_agent());
    ws.pikube(&["apply", READY]).expect_code(0);
    let status = ws.pikube(&["status"]).expect_code(0);
    for expected in [
        "Cluster: healthy",
        "API: answering",
        "etcd: quorum holds (3 of 3 members Ready)",
    ] {
        assert!(status.stdout.contains(expected), "{}", status.stdout);
    }
    let json = ws.pikube(&["status", "-o", "json"]).expect_code(0);
    let json: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(json["cluster"]["healthy"], true, "{json}");
    // K3s' certificates were read and are far from their end.
    let first_expiry = &json["cluster"]["nodes"][0]["first_expiry"];
    assert!(first_expiry["days_left"].as_i64().unwrap() > 300, "{json}");

    // A clock off by 30 s is named with its node.
    fleet.exec(
        "pi4",
        "printf '#!/bin/sh\\nif [ \"$1\" = +%%s.%%N ]; then echo $(( $(/bin/date +%%s) + 30 )).0; \
         else exec /bin/date \"$@\"; fi\\n' > /usr/local/bin/date && chmod +x /usr/local/bin/date",
    );
    let status = ws.pikube(&["status"]).expect_code(1);
    let offset: f64 = status
        .stdout
        .split("a1: its clock is ")
        .nth(1)
        .and_then(|rest| rest.split(" s ahead of this machine's").next())
        .and_then(|secs| secs.parse().ok())
        .unwrap_or_else(|| panic!("no clock problem for a1:\n{}", status.stdout));
    // The fake adds 30 s to whole seconds: 29 to 30 s ahead, plus ssh's start-up time.
    assert!((29.0..=31.0).contains(&offset), "{}", status.stdout);
    fleet.exec("pi4", "rm /usr/local/bin/date");

    // A certificate 10 days from its end is named with its node and file. K3s keeps its
    // kubelet's serving certificate in this file; the double writes none, so a short one
    // made here stands in.
    let soon = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
        ])
        .args([
            "-nodes",
            "-keyout",
            "/dev/null",
            "-subj",
            "/CN=a1",
            "-days",
            "10",
        ])
        .output()
        .unwrap();
    assert!(soon.status.success(), "{soon:?}");
    let file = "/var/lib/rancher/k3s/agent/serving-kubelet.crt";
    fleet.exec(
        "pi4",
        &format!(
            "cat > {file} <<'EOF'\n{}EOF",
            String::from_utf8_lossy(&soon.stdout)
        ),
    );
    let status = ws.pikube(&["status"]).expect_code(1);
    assert!(
        status.stdout.contains(&format!("a1: {file} expires "))
            && status
                .stdout
                .contains("(9 days): restarting K3s renews certificates due within 90 days"),
        "{}",
        status.stdout
    );
    fleet.exec("pi4", &format!("rm {file}"));

    // Shutdown: said first, refused without a terminal or --yes, then done in order.
    let dry = ws.pikube(&["shutdown", "--dry-run"]).expect_code(0);
    assert!(
        dry.stdout.contains("on the agents at once (a1)")
            && dry.stdout.contains("one at a time (s3, s2, s1)"),
        "{}",
        dry.stdout
    );
    let refused = ws.pikube(&["shutdown"]).expect_code(1);
    assert!(refused.stderr.contains("use --yes"), "{}", refused.stderr);
    assert!(fleet.try_exec("pi1", "true").status.success());
    let down = ws.pikube(&["shutdown", "--yes"]).expect_code(0);
    for name in ["s1", "s2", "s3", "a1"] {
        assert!(
            down.stdout.contains(&format!(
                "ok      {name}: cordoned, K3s stopped, powered off"
            )),
            "{}",
            down.stdout
        );
    }
    let at = |needle: &str| down.stderr.find(needle).unwrap_or(usize::MAX);
    assert!(
        at("a1: stopping K3s") < at("s3: stopping K3s"),
        "{}",
        down.stderr
    );
    assert!(
        at("s3: stopping K3s") < at("s2: stopping K3s"),
        "{}",
        down.stderr
    );
    assert!(
        at("s2: stopping K3s") < at("s1: stopping K3s"),
        "{}",
        down.stderr
    );
    // pikube saw each stop answering; systemd then finishes powering the machine off.
    let deadline = Instant::now() + Duration::from_secs(60);
    for fleet_node in FLEET {
        while fleet.try_exec(fleet_node, "true").status.success() {
            assert!(Instant::now() < deadline, "{fleet_node} is still on");
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    // Powered on in any order: healthy again, the nodes left cordoned until apply.
    for fleet_node in ["pi4", "pi2", "pi1", "pi3"] {
        fleet.start(fleet_node);
    }
    let status = status_until_healthy(&ws);
    assert!(
        status
            .stdout
            .contains("note: a1: cordoned by pikube (shutdown); `pikube apply` uncordons it"),
        "{}",
        status.stdout
    );
    let apply = ws.pikube(&["apply", READY]).expect_code(0);
    assert!(
        apply
            .stdout
            .contains("ok      a1: uncordoned (cordoned by pikube: shutdown)"),
        "{}",
        apply.stdout
    );
    let cordoned: Vec<_> = cluster_nodes(&fleet, "pi1")
        .into_iter()
        .filter(|n| n["spec"]["unschedulable"] == true)
        .collect();
    assert!(cordoned.is_empty(), "{cordoned:?}");

    // Two servers lose power: no quorum, no API, and status says so; back on, quorum is
    // back.
    fleet.powercut("pi3");
    fleet.powercut("pi2");
    let status = ws.pikube(&["status"]).expect_code(1);
    assert!(
        status.stdout.contains("Cluster: NOT healthy")
            && status.stdout.contains("etcd has no quorum")
            && status
                .stdout
                .contains("problem: the Kubernetes API answers on no server (last asked: s1: "),
        "{}",
        status.stdout
    );
    fleet.start("pi3");
    fleet.start("pi2");
    let status = status_until_healthy(&ws);
    assert!(
        status
            .stdout
            .contains("etcd: quorum holds (3 of 3 members Ready)"),
        "{}",
        status.stdout
    );

    // Every node at once: the whole cluster comes back by itself.
    for fleet_node in FLEET {
        fleet.powercut(fleet_node);
    }
    for fleet_node in FLEET {
        fleet.start(fleet_node);
    }
    let status = status_until_healthy(&ws);
    assert!(
        status
            .stdout
            .contains("etcd: quorum holds (3 of 3 members Ready)"),
        "{}",
        status.stdout
    );

    // A reboot of the whole cluster (after a kernel update, say): in the same order, each
    // machine waited for until it is back, the nodes left cordoned for apply to undo.
    let boot_ids: Vec<String> = FLEET.iter().map(|n| boot_id(&fleet, n)).collect();
    let rebooted = ws.pikube(&["shutdown", "--reboot", "--yes"]).expect_code(0);
    for name in ["s1", "s2", "s3", "a1"] {
        assert!(
            rebooted
                .stdout
                .contains(&format!("ok      {name}: cordoned, K3s stopped, rebooted")),
            "{}",
            rebooted.stdout
        );
    }
    assert!(
        rebooted.stdout.contains("`pikube apply` uncordons them"),
        "{}",
        rebooted.stdout
    );
    for (fleet_node, before) in FLEET.iter().zip(&boot_ids) {
        assert_ne!(
            &boot_id(&fleet, fleet_node),
            before,
            "{fleet_node} did not reboot"
        );
    }
    let status = status_until_healthy(&ws);
    assert!(
        status
            .stdout
            .contains("note: s1: cordoned by pikube (shutdown); `pikube apply` uncordons it"),
        "{}",
        status.stdout
    );
    ws.pikube(&["apply", READY]).expect_code(0);
    let cordoned: Vec<_> = cluster_nodes(&fleet, "pi1")
        .into_iter()
        .filter(|n| n["spec"]["unschedulable"] == true)
        .collect();
    assert!(cordoned.is_empty(), "{cordoned:?}");
}

fn boot_id(fleet: &Fleet, fleet_node: &str) -> String {
    fleet.exec(fleet_node, "cat /proc/sys/kernel/random/boot_id")
}
