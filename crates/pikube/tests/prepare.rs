//! `pikube status`, `plan`, `apply` and `exec` against fake Raspberry Pi fleets over real SSH.

use crate::support;

use serde_json::Value;
use support::cluster::{node, one_server_two_agents, three_servers_one_agent, Run, Workspace};
use support::fleet::Fleet;
use support::secrets::WorkspaceSecrets;

fn boot_id(fleet: &Fleet, node: &str) -> String {
    fleet
        .exec(node, "cat /proc/sys/kernel/random/boot_id")
        .trim()
        .to_owned()
}

fn memory_cgroup_enabled(fleet: &Fleet, node: &str) -> bool {
    fleet
        .exec(node, "awk '$1==\"memory\"{print $4}' /proc/cgroups")
        .trim()
        == "1"
}

fn active_swaps(fleet: &Fleet, node: &str) -> usize {
    fleet.exec(node, "tail -n +2 /proc/swaps").lines().count()
}

#[test]
fn mixed_layouts_are_prepared_verified_and_then_left_alone() {
    let fleet = Fleet::up(&["pi1", "pi2:os=bullseye", "pi3:os=ubuntu,storage=nvme"]);
    let ws = Workspace::new(
        &fleet,
        "pi",
        &[
            node("pi1", "pi-master-01", "server"),
            node("pi2", "pi-worker-01", "agent"),
            node("pi3", "pi-worker-02", "agent"),
        ],
    );

    // status: what each node is, before anything changes.
    let status = ws.pikube(&["status", "--output", "json"]).expect_code(0);
    // First contact: each host key pinned is named with the fingerprint the node's own
    // ssh-keygen gives for it (review L9); later runs pin nothing and say nothing.
    for (fleet_node, name) in [
        ("pi1", "pi-master-01"),
        ("pi2", "pi-worker-01"),
        ("pi3", "pi-worker-02"),
    ] {
        let own = fleet.exec(
            fleet_node,
            "ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub | cut -d' ' -f2",
        );
        let said = format!(
            "note: {name}: first contact: pinned the ssh-ed25519 host key {} in ",
            own.trim()
        );
        assert!(status.stderr.contains(&said), "{said}\n{}", status.stderr);
    }
    let again = ws.pikube(&["status"]).expect_code(0);
    assert!(!again.stderr.contains("first contact"), "{}", again.stderr);
    let status: Value = serde_json::from_str(&status.stdout).expect("status json");
    let nodes = &status["nodes"];
    let facts = |i: usize| &nodes[i]["facts"];
    assert_eq!(status["cluster"]["healthy"], true, "{status}");
    assert!(
        status["cluster"]["notes"][0]
            .as_str()
            .is_some_and(|n| n.contains("K3s is not installed")),
        "{status}"
    );
    assert_eq!(facts(0)["model"]["raw"], "Raspberry Pi 4 Model B Rev 1.4");
    assert_eq!(
        facts(0)["boot"]["cmdline_path"],
        "/boot/firmware/cmdline.txt"
    );
    assert_eq!(facts(1)["boot"]["cmdline_path"], "/boot/cmdline.txt");
    assert_eq!(facts(1)["os"]["codename"], "bullseye");
    assert_eq!(facts(2)["os"]["id"], "ubuntu");
    assert_eq!(facts(0)["storage"]["kind"], "sd");
    assert_eq!(facts(2)["storage"]["kind"], "nvme");
    for i in 0..3 {
        assert_eq!(facts(i)["memory_cgroup"]["enabled"], false);
        assert_eq!(facts(i)["hostname"], "raspberrypi");
        assert!(!facts(i)["swap"]["active"].as_array().unwrap().is_empty());
    }
    let table = ws.pikube(&["status"]).expect_code(0);
    assert!(table.stdout.starts_with("NODE"), "{}", table.stdout);
    assert!(table.stdout.contains("pi-worker-02"), "{}", table.stdout);

    // plan: changes pending (exit 2), with diffs of the right cmdline.txt per OS.
    let plan = ws.pikube(&["plan"]).expect_code(2);
    assert!(
        plan.stdout.contains("--- a/boot/firmware/cmdline.txt"),
        "{}",
        plan.stdout
    );
    assert_eq!(
        plan.stdout.matches("--- a/boot/cmdline.txt").count(),
        1,
        "{}",
        plan.stdout
    );
    assert!(plan.stdout.contains("+pi-master-01"), "{}", plan.stdout);
    assert!(
        plan.stdout.contains("#pikube: swap disabled"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout
            .contains("Plan: 3 nodes to change (3 to reboot)"),
        "{}",
        plan.stdout
    );
    let plan_json = ws.pikube(&["plan", "-o", "json"]).expect_code(2);
    let plan_json: Value = serde_json::from_str(&plan_json.stdout).expect("plan json");
    assert_eq!(plan_json["summary"]["changed"], 3);
    // The same phases as apply, run dry: each lists the nodes it would change.
    let phase = |name: &str| {
        plan_json["phases"]
            .as_array()
            .expect("phases")
            .iter()
            .find(|p| p["phase"] == name)
            .unwrap_or_else(|| panic!("no {name} phase in {plan_json}"))
            .clone()
    };
    for name in ["prepare", "reboot"] {
        let phase = phase(name);
        let nodes: Vec<&str> = phase["nodes"]
            .as_array()
            .expect("nodes")
            .iter()
            .map(|n| n["node"].as_str().expect("node"))
            .collect();
        assert_eq!(
            nodes,
            ["pi-master-01", "pi-worker-01", "pi-worker-02"],
            "{name}"
        );
    }
    assert!(phase("lock")["nodes"].as_array().is_some_and(Vec::is_empty));
    let stub_before = fleet.exec("pi1", "cat /boot/cmdline.txt");
    let boots_before: Vec<String> = ["pi1", "pi2", "pi3"]
        .iter()
        .map(|n| boot_id(&fleet, n))
        .collect();

    // apply: everything done, reboots waited for, effective state verified.
    let apply = ws.pikube(&["apply"]).expect_code(0);
    assert!(apply.stderr.contains("rebooting"), "{}", apply.stderr);
    assert!(
        apply.stderr.contains("back with a new boot id"),
        "{}",
        apply.stderr
    );
    assert!(
        apply
            .stdout
            .contains("Apply: 3 changed, 0 unchanged, 0 failed"),
        "{}",
        apply.stdout
    );
    for (i, (fleet_node, name)) in [
        ("pi1", "pi-master-01"),
        ("pi2", "pi-worker-01"),
        ("pi3", "pi-worker-02"),
    ]
    .into_iter()
    .enumerate()
    {
        assert_ne!(
            boot_id(&fleet, fleet_node),
            boots_before[i],
            "{fleet_node} rebooted"
        );
        assert_eq!(fleet.exec(fleet_node, "hostname").trim(), name);
        assert_eq!(fleet.exec(fleet_node, "cat /etc/hostname").trim(), name);
        assert!(
            fleet
                .exec(fleet_node, "cat /etc/hosts")
                .contains(&format!("127.0.1.1\t{name}"))
                || fleet
                    .exec(fleet_node, "grep 127.0.1.1 /etc/hosts")
                    .contains(name)
        );
        assert!(
            memory_cgroup_enabled(&fleet, fleet_node),
            "{fleet_node} memory cgroup"
        );
        assert_eq!(active_swaps(&fleet, fleet_node), 0, "{fleet_node} swap");
        assert!(fleet
            .exec(fleet_node, "cat /proc/cmdline")
            .contains("cgroup_enable=memory"));
    }
    // The Bookworm trap: the stub in /boot is never edited.
    assert_eq!(fleet.exec("pi1", "cat /boot/cmdline.txt"), stub_before);
    assert!(stub_before.contains("DO NOT EDIT"));
    assert!(fleet
        .exec("pi2", "cat /boot/cmdline.txt")
        .contains("cgroup_enable=memory"));
    // Originals kept once, no temporary files left.
    assert!(fleet
        .exec("pi1", "cat /boot/firmware/cmdline.txt.pikube-orig")
        .contains("rootwait"));
    assert_eq!(
        fleet
            .exec(
                "pi1",
                "ls -a /etc /boot/firmware | grep -cE '^\\..*\\.pikube-' || true"
            )
            .trim(),
        "0"
    );

    // Converged: plan says no changes (exit 0); apply changes and reboots nothing.
    let boots_after: Vec<String> = ["pi1", "pi2", "pi3"]
        .iter()
        .map(|n| boot_id(&fleet, n))
        .collect();
    let plan = ws.pikube(&["plan"]).expect_code(0);
    assert!(
        plan.stdout.contains("Plan: 0 nodes to change"),
        "{}",
        plan.stdout
    );
    let again = ws.pikube(&["apply"]).expect_code(0);
    assert!(
        again.stdout.contains("0 changed, 3 unchanged"),
        "{}",
        again.stdout
    );
    assert!(!again.stderr.contains("rebooting"), "{}", again.stderr);
    let boots_final: Vec<String> = ["pi1", "pi2", "pi3"]
        .iter()
        .map(|n| boot_id(&fleet, n))
        .collect();
    assert_eq!(
        boots_after, boots_final,
        "a converged apply must not reboot"
    );
}

#[test]
fn eight_nodes_prepare_in_parallel_and_converge() {
    let specs: Vec<String> = (1..=8)
        .map(|i| {
            if i % 2 == 0 {
                format!("pi{i}:os=bullseye")
            } else {
                format!("pi{i}")
            }
        })
        .collect();
    let specs: Vec<&str> = specs.iter().map(String::as_str).collect();
    let fleet = Fleet::up(&specs);
    let names: Vec<(String, String)> = (1..=8)
        .map(|i| (format!("pi{i}"), format!("node-{i:02}")))
        .collect();
    let nodes: Vec<_> = names
        .iter()
        .enumerate()
        .map(|(i, (f, n))| node(f, n, if i < 3 { "server" } else { "agent" }))
        .collect();
    let ws = Workspace::new(&fleet, "pi", &nodes);

    let apply = ws.pikube(&["apply"]).expect_code(0);
    assert!(
        apply
            .stdout
            .contains("Apply: 8 changed, 0 unchanged, 0 failed"),
        "{}",
        apply.stdout
    );
    for (fleet_node, name) in &names {
        assert_eq!(fleet.exec(fleet_node, "hostname").trim(), name);
        assert!(memory_cgroup_enabled(&fleet, fleet_node));
        assert_eq!(active_swaps(&fleet, fleet_node), 0);
    }
    ws.pikube(&["plan"]).expect_code(0);
}

#[test]
fn a_powered_off_node_is_named_and_the_others_are_still_prepared() {
    let fleet = Fleet::up(&["pi1", "pi2", "pi3"]);
    let ws = Workspace::new(&fleet, "pi", &one_server_two_agents());
    fleet.poweroff("pi2");

    let apply = ws.pikube(&["apply"]).expect_code(1);
    assert!(
        apply.stdout.contains("FAILED  two: cannot connect"),
        "{}",
        apply.stdout
    );
    assert!(apply.stdout.contains("ok      one:"), "{}", apply.stdout);
    assert!(apply.stdout.contains("ok      three:"), "{}", apply.stdout);
    assert!(apply.stdout.contains("1 failed"), "{}", apply.stdout);
    assert!(memory_cgroup_enabled(&fleet, "pi1") && memory_cgroup_enabled(&fleet, "pi3"));

    let status = ws.pikube(&["status"]).expect_code(1);
    assert!(status.stdout.contains("UNREACHABLE"), "{}", status.stdout);
    let plan = ws.pikube(&["plan"]).expect_code(1);
    assert!(
        plan.stdout.contains("error: two: cannot connect"),
        "{}",
        plan.stdout
    );

    // Back on: the next apply finishes the job.
    fleet.start("pi2");
    ws.pikube(&["apply"]).expect_code(0);
    ws.pikube(&["plan"]).expect_code(0);

    // A card cloned from another keeps its machine-id: both named before anything is
    // locked or changed, with the command that parts them; the third goes on.
    let id = fleet.exec("pi1", "cat /etc/machine-id");
    fleet.exec(
        "pi3",
        &format!("printf '%s\\n' {} > /etc/machine-id", id.trim()),
    );
    let plan = ws.pikube(&["plan"]).expect_code(1);
    for (node, other) in [("one", "three"), ("three", "one")] {
        let said = format!(
            "error: {node}: its /etc/machine-id is also that of {other}, as on cards cloned"
        );
        assert!(plan.stdout.contains(&said), "{said}\n{}", plan.stdout);
    }
    assert!(
        plan.stdout.contains("systemd-machine-id-setup"),
        "{}",
        plan.stdout
    );
    assert!(!plan.stdout.contains("error: two"), "{}", plan.stdout);
    fleet.exec(
        "pi3",
        "rm /etc/machine-id && systemd-machine-id-setup >/dev/null",
    );
    ws.pikube(&["plan"]).expect_code(0);
}

#[test]
fn a_changed_host_key_is_refused_and_names_the_node() {
    let fleet = Fleet::up(&["pi1", "pi2"]);
    let ws = Workspace::new(
        &fleet,
        "pi",
        &[node("pi1", "one", "server"), node("pi2", "two", "agent")],
    );

    // First contact pins both keys.
    ws.pikube(&["status"]).expect_code(0);
    let pinned = std::fs::read_to_string(ws.known_hosts()).unwrap();
    assert_eq!(
        pinned.lines().filter(|l| !l.trim().is_empty()).count(),
        2,
        "{pinned}"
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(ws.known_hosts())
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);

    // The machine at that address is replaced (new keys, and the connections of the run
    // above gone with the old one): the next connection made must refuse it.
    fleet.rekey("pi2");
    fleet.reboot("pi2");
    let plan = ws.pikube(&["plan"]).expect_code(1);
    assert!(
        plan.stdout.contains("two: the host key of pi@"),
        "{}",
        plan.stdout
    );
    assert!(plan.stdout.contains("has CHANGED"), "{}", plan.stdout);
    let apply = ws.pikube(&["apply"]).expect_code(1);
    assert!(
        apply.stdout.contains("FAILED  two: the host key"),
        "{}",
        apply.stdout
    );
    // Refused, not re-pinned; and nothing was done to the impostor.
    assert_eq!(std::fs::read_to_string(ws.known_hosts()).unwrap(), pinned);
    assert_eq!(fleet.exec("pi2", "hostname").trim(), "raspberrypi");
    assert!(
        memory_cgroup_enabled(&fleet, "pi1"),
        "the other node is still prepared"
    );
}

#[test]
fn a_node_behind_a_jump_host_is_reached_through_it() {
    let fleet = Fleet::up(&["pi1", "pi2:jump-only"]);
    let gateway = format!("pi@{}", fleet.node("pi1").ip);
    let direct = Workspace::new(
        &fleet,
        "pi",
        &[
            node("pi1", "gateway", "server"),
            node("pi2", "hidden", "agent"),
        ],
    );
    let status = direct.pikube(&["status"]).expect_code(1);
    assert!(
        status.stdout.contains("error: hidden: cannot connect"),
        "{}",
        status.stdout
    );

    let extra = format!("proxy_jump = \"{gateway}\"");
    let mut hidden = node("pi2", "hidden", "agent");
    hidden.extra = &extra;
    let ws = Workspace::new(&fleet, "pi", &[node("pi1", "gateway", "server"), hidden]);
    ws.pikube(&["apply"]).expect_code(0);
    assert_eq!(fleet.exec("pi2", "hostname").trim(), "hidden");
    assert!(memory_cgroup_enabled(&fleet, "pi2"));
    // The jump host's key is pinned in the cluster's file too.
    let pinned = std::fs::read_to_string(ws.known_hosts()).unwrap();
    assert!(
        pinned.contains(&fleet.node("pi1").ip) && pinned.contains(&fleet.node("pi2").ip),
        "{pinned}"
    );
    ws.pikube(&["plan"]).expect_code(0);

    // `pikube ssh` goes the same way: a command, and a shell (no command) reading what
    // it is given, through the jump host with the keys pinned above.
    let ssh = ws
        .pikube(&["ssh", "hidden", "--", "hostname"])
        .expect_code(0);
    assert_eq!(ssh.stdout.trim(), "hidden");
    let mut shell = ws
        .command(&["ssh", "hidden"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn pikube ssh");
    {
        use std::io::Write;
        let mut stdin = shell.stdin.take().unwrap();
        stdin.write_all(b"hostname; exit 5\n").unwrap();
    }
    let shell = shell.wait_with_output().unwrap();
    assert_eq!(shell.status.code(), Some(5));
    assert!(
        String::from_utf8_lossy(&shell.stdout).contains("hidden"),
        "{}",
        String::from_utf8_lossy(&shell.stderr)
    );
    assert_eq!(std::fs::read_to_string(ws.known_hosts()).unwrap(), pinned);
}

#[test]
fn an_apply_killed_half_way_is_finished_by_the_next_one() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;

    let fleet = Fleet::up(&["pi1", "pi2:os=bullseye", "pi3"]);
    let ws = Workspace::new(&fleet, "pi", &one_server_two_agents());
    let mut child = ws
        .command(&["apply"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn apply");
    // Kill it in the middle of the cmdline.txt edits, before any reboot is waited for.
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let mut seen = Vec::new();
    for line in stderr.lines() {
        let line = line.unwrap();
        seen.push(line.clone());
        if line.contains("[cgroups]") {
            child.kill().expect("kill apply");
            break;
        }
    }
    let status = child.wait().unwrap();
    assert!(!status.success(), "apply was killed: {seen:?}");

    let plan = ws.pikube(&["plan"]).expect_code(2);
    assert!(plan.stdout.contains("reboot"), "{}", plan.stdout);
    ws.pikube(&["apply"]).expect_code(0);
    ws.pikube(&["plan"]).expect_code(0);
    for fleet_node in ["pi1", "pi2", "pi3"] {
        assert!(memory_cgroup_enabled(&fleet, fleet_node));
        assert_eq!(active_swaps(&fleet, fleet_node), 0);
        let cmdline_dir = if fleet_node == "pi2" {
            "/boot"
        } else {
            "/boot/firmware"
        };
        let leftovers = fleet.exec(
            fleet_node,
            &format!("ls -a /etc {cmdline_dir} | grep -cE '^\\..*\\.pikube-' || true"),
        );
        assert_eq!(leftovers.trim(), "0", "{fleet_node}: temporary files left");
        // Exactly one copy of the parameters, whatever the interruption did.
        let cmdline = fleet.exec(fleet_node, &format!("cat {cmdline_dir}/cmdline.txt"));
        assert_eq!(
            cmdline.matches("cgroup_enable=memory").count(),
            1,
            "{cmdline}"
        );
        assert_eq!(cmdline.lines().count(), 1, "{cmdline}");
    }
}

/// The SSH connection itself dies while a large file streams to the node (review M6): its
/// ControlMaster, a process this test started, is killed with the node's receiving end
/// held mid-file, so the drop is certain to fall inside the transfer.
#[test]
fn a_live_ssh_connection_killed_mid_write_leaves_the_old_file_and_no_temporary_one() {
    use pikube_cluster::apply::carry_out_plan;
    use pikube_cluster::plan::{Change, ChangeArea, FileChange, NodePlan, PlannedChange};
    use pikube_cluster::progress::SilentProgress;

    const DIR: &str = "/var/lib/pikube-probe";
    const PATH: &str = "/var/lib/pikube-probe/big.txt";
    let fleet = Fleet::up(&["pi1"]);
    let ws = Workspace::new(&fleet, "pi", &[node("pi1", "s1", "server")]);
    let old_sum = fleet.exec(
        "pi1",
        &format!(
            "mkdir -p {DIR} && head -c 6291456 /dev/urandom | base64 > {PATH} && sha256sum {PATH}"
        ),
    );

    let config = pikube_cluster::config::load(&ws.path().join("cluster.toml"))
        .expect("cluster.toml loads")
        .config;
    let nodes = pikube_cluster::fleet::Fleet::of_config(&config).expect("ssh client");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let connection = runtime
        .block_on(nodes.connect_privileged(&SilentProgress, &|_| None))
        .pop()
        .expect("one node")
        .result
        .expect("connected as root");
    let socket = connection.control_socket().to_owned();
    // 64 MiB of text: long enough in flight to be cut.
    let line = "a line of the new content, which must never half replace the old\n";
    let new = line.repeat((64 << 20) / line.len());
    let total = new.len();
    let plan = NodePlan {
        node: connection.node().clone(),
        changes: vec![PlannedChange {
            phase: ChangeArea::K3s,
            change: Change::File(FileChange {
                path: PATH.to_owned(),
                before: None,
                after: new,
                mode: 0o644,
                owned: false,
            }),
        }],
        reboot: Vec::new(),
    };
    let write = runtime.spawn(async move {
        carry_out_plan(&connection, &plan, &SilentProgress)
            .await
            .map_err(|err| err.to_string())
    });

    // On the node: the process writing the temporary file, once bytes have arrived, is
    // held (SIGSTOP), so that the connection is cut with the file half received.
    let held = fleet.exec(
        "pi1",
        &format!(
            "for _ in $(seq 600); do
               for fd in /proc/[0-9]*/fd/1; do
                 case $(readlink \"$fd\" 2>/dev/null) in
                   {DIR}/.big.txt.pikube-??????)
                     tmp=$(readlink \"$fd\"); pid=${{fd#/proc/}}; pid=${{pid%%/*}}
                     size=$(stat -c %s \"$tmp\")
                     if [ \"$size\" -gt 0 ]; then kill -STOP \"$pid\"; echo \"$pid $size\"; exit 0; fi ;;
                 esac
               done
               sleep 0.05
             done
             echo 'no write seen' >&2; exit 1"
        ),
    );
    let mut held = held.split_whitespace();
    let receiver = held.next().expect("pid").to_owned();
    let received: usize = held.next().expect("size").parse().unwrap();
    assert!(received < total, "the write ended before it could be cut");

    // The master's PID, from its control socket; then the connection dies for real.
    let check = std::process::Command::new("ssh")
        .arg("-S")
        .arg(&socket)
        .args(["-O", "check", "pikube-node"])
        .output()
        .expect("run ssh -O check");
    let said = String::from_utf8_lossy(&check.stderr).into_owned();
    let master = said
        .split("pid=")
        .nth(1)
        .and_then(|rest| rest.split(')').next())
        .unwrap_or_else(|| panic!("no master pid in {said:?}"))
        .to_owned();
    let killed = std::process::Command::new("kill")
        .args(["-KILL", &master])
        .status()
        .expect("run kill");
    assert!(killed.success());
    fleet.exec("pi1", &format!("kill -CONT {receiver}"));

    let err = runtime
        .block_on(write)
        .expect("the write task ends")
        .expect_err("a write whose connection died fails");
    assert!(err.contains("s1") && err.contains(PATH), "{err}");
    assert_eq!(fleet.exec("pi1", &format!("sha256sum {PATH}")), old_sum);
    // The node's side sees its input end, refuses the short file and removes it.
    let mut left = String::new();
    for _ in 0..100 {
        left = fleet.exec("pi1", &format!("ls -A {DIR}"));
        if left == "big.txt\n" {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    assert_eq!(left, "big.txt\n", "temporary files left behind");
}

#[test]
fn sudo_with_a_password_is_asked_for_checked_and_never_leaked() {
    const PASSWORD: &str = "pikube-test-sudo";
    let fleet = Fleet::up(&["pi1", "pi2"]);
    let ws = Workspace::new(
        &fleet,
        "pwsudo",
        &[node("pi1", "one", "server"), node("pi2", "two", "agent")],
    );

    // Facts need no root: status works without the password, and plan shows the
    // preparation; only the k3s state, root's to read, is missing, and says why.
    ws.pikube(&["status"]).expect_code(0);
    let plan = ws.pikube(&["plan"]).expect_code(1);
    assert!(plan.stdout.contains("[cgroups]"), "{}", plan.stdout);
    assert!(
        plan.stdout.contains("PIKUBE_SUDO_PASSWORD"),
        "{}",
        plan.stdout
    );

    // No terminal and no variable: a clear error per node, nothing changed.
    let apply = ws.pikube(&["apply"]).expect_code(1);
    assert!(
        apply
            .stdout
            .contains("one: sudo needs a password for pwsudo"),
        "{}",
        apply.stdout
    );
    assert!(
        apply.stdout.contains("PIKUBE_SUDO_PASSWORD"),
        "{}",
        apply.stdout
    );
    assert_eq!(fleet.exec("pi1", "hostname").trim(), "raspberrypi");

    let wrong = Run::from(
        ws.command(&["apply"])
            .env("PIKUBE_SUDO_PASSWORD", "not-it")
            .output()
            .unwrap(),
    );
    let wrong = wrong.expect_code(1);
    assert!(
        wrong
            .stdout
            .contains("two: sudo rejected the password for pwsudo"),
        "{}",
        wrong.stdout
    );

    let right = Run::from(
        ws.command(&["apply"])
            .env("PIKUBE_SUDO_PASSWORD", PASSWORD)
            .output()
            .unwrap(),
    );
    let right = right.expect_code(0);
    assert!(!right.stdout.contains(PASSWORD) && !right.stderr.contains(PASSWORD));

    // The ssh processes pikube starts (the ControlMaster outlives it by a minute) do not
    // inherit the password from its environment (review L4). This run carries a marker;
    // it may reuse the masters the earlier runs left (the apply above had the password in
    // its environment), which log in as this test's own user.
    let marker = format!("PIKUBE_TEST_MARKER=lab17-{}", std::process::id());
    let mut running = ws
        .command(&["exec", "--all", "--sudo", "--", "sleep 3"])
        .env("PIKUBE_SUDO_PASSWORD", PASSWORD)
        .env("PIKUBE_TEST_MARKER", marker.split('=').nth(1).unwrap())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let (mut ours, mut leaking) = (0, 0);
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let environ = std::fs::read(entry.path().join("environ")).unwrap_or_default();
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let mut argv = cmdline.split(|b| *b == 0);
        let is_ssh = argv
            .next()
            .is_some_and(|argv0| argv0 == b"ssh" || argv0.ends_with(b"/ssh"));
        let as_this_user = argv.any(|arg| arg == b"pwsudo");
        let has = |needle: &[u8]| environ.windows(needle.len()).any(|w| w == needle);
        if is_ssh && (has(marker.as_bytes()) || as_this_user) {
            ours += 1;
            if has(PASSWORD.as_bytes()) {
                leaking += 1;
            }
        }
    }
    assert!(running.wait().unwrap().success());
    assert!(
        ours > 0,
        "no ssh process of the run was found: the check means nothing"
    );
    assert_eq!(
        leaking, 0,
        "{leaking} of {ours} ssh processes hold the sudo password"
    );
    assert!(memory_cgroup_enabled(&fleet, "pi1") && memory_cgroup_enabled(&fleet, "pi2"));
    // sudo logs every command it runs: the password must not be among them.
    let journal = fleet.exec(
        "pi1",
        "journalctl --no-pager -o cat 2>/dev/null; cat /var/log/auth.log 2>/dev/null; true",
    );
    assert!(
        journal.contains("COMMAND="),
        "sudo's log is readable, so this check means something"
    );
    assert!(
        !journal.contains(PASSWORD),
        "the sudo password leaked into the node's logs"
    );
    let plan = Run::from(
        ws.command(&["plan"])
            .env("PIKUBE_SUDO_PASSWORD", PASSWORD)
            .output()
            .unwrap(),
    );
    plan.expect_code(0);

    // The password kept in secrets.age beside cluster.toml instead (issue 13): the plan
    // reads the nodes' root-only state with it, no variable and no terminal.
    let secrets = WorkspaceSecrets::init(&ws);
    let set = |name: &str, value: &str| secrets.set(name, value);
    set("sudo_password", PASSWORD);
    let plan = secrets.pikube(&["plan"]).expect_code(0);
    assert!(!plan.stdout.contains(PASSWORD) && !plan.stderr.contains(PASSWORD));

    // Per node: nodes.<name>.sudo_password comes before the shared one.
    set("sudo_password", "not-it");
    set("nodes.one.sudo_password", PASSWORD);
    let plan = secrets.pikube(&["plan"]).expect_code(1);
    assert!(
        plan.stdout
            .contains("two: sudo rejected the password for pwsudo")
            && !plan.stdout.contains("one: sudo rejected"),
        "{}",
        plan.stdout
    );
    set("nodes.two.sudo_password", PASSWORD);
    secrets.pikube(&["plan"]).expect_code(0);
}

#[test]
fn a_kernel_that_ignores_the_cgroup_parameters_fails_clearly_without_a_reboot_loop() {
    let fleet = Fleet::up(&["pi1", "pi2:memcg=broken"]);
    let ws = Workspace::new(
        &fleet,
        "pi",
        &[node("pi1", "one", "server"), node("pi2", "two", "agent")],
    );

    let apply = ws.pikube(&["apply"]).expect_code(1);
    assert!(
        apply
            .stdout
            .contains("FAILED  two: after apply: cgroups: the memory cgroup is still disabled"),
        "{}",
        apply.stdout
    );
    assert!(apply.stdout.contains("ok      one:"), "{}", apply.stdout);

    // The next run explains instead of rebooting again.
    let boot = boot_id(&fleet, "pi2");
    let plan = ws.pikube(&["plan"]).expect_code(1);
    assert!(
        plan.stdout
            .contains("error: two: cgroups: the kernel was booted with cgroup_enable=memory"),
        "{}",
        plan.stdout
    );
    ws.pikube(&["apply"]).expect_code(1);
    assert_eq!(boot_id(&fleet, "pi2"), boot, "no reboot loop");
}

#[test]
fn ssh_config_host_aliases_and_identity_files_are_honoured() {
    let fleet = Fleet::up(&["pi1", "pi2"]);
    // Addresses are the aliases `pi1` and `pi2`: only the ssh_config knows their IPs and key.
    let ws = Workspace::with_ssh_config(
        &fleet,
        "pi",
        &[node("pi1", "one", "server"), node("pi2", "two", "agent")],
    );
    let status = ws.pikube(&["status", "-o", "json"]).expect_code(0);
    let status: Value = serde_json::from_str(&status.stdout).unwrap();
    let nodes = &status["nodes"];
    assert_eq!(nodes[0]["address"], "pi1");
    assert_eq!(nodes[1]["reachable"], true);
    // known_hosts pins the real addresses ssh resolved the aliases to.
    let pinned = std::fs::read_to_string(ws.known_hosts()).unwrap();
    assert!(pinned.contains(&fleet.node("pi1").ip), "{pinned}");
    ws.pikube(&["apply"]).expect_code(0);
    assert_eq!(fleet.exec("pi2", "hostname").trim(), "two");
    // The agent joined through the IP its server was reached at, and plan, which works
    // that address out again, sees the same config.yaml: nothing to change.
    let config = fleet.exec("pi2", "cat /etc/rancher/k3s/config.yaml");
    assert!(
        config.contains(&format!("https://{}:6443", fleet.node("pi1").ip)),
        "{config}"
    );
    ws.pikube(&["plan"]).expect_code(0);
}

#[test]
fn exec_runs_on_the_chosen_nodes_at_once_prefixes_each_line_and_names_the_failures() {
    let fleet = Fleet::up(&["pi1", "pi2", "pi3"]);
    let ws = Workspace::new(&fleet, "pi", &one_server_two_agents());
    let ip = |n: &str| fleet.node(n).ip.clone();

    // Every node: standard output and error, each line prefixed with its node.
    let all = ws
        .pikube(&[
            "exec",
            "--all",
            "--",
            "echo $SSH_CONNECTION | cut -d' ' -f3; echo to-stderr >&2",
        ])
        .expect_code(0);
    for (name, fleet_node) in [("one", "pi1"), ("two", "pi2"), ("three", "pi3")] {
        assert!(
            all.stdout
                .contains(&format!("{name:<5} | {}\n", ip(fleet_node))),
            "{}",
            all.stdout
        );
        assert!(
            all.stderr.contains(&format!("{name:<5} | to-stderr")),
            "{}",
            all.stderr
        );
    }
    assert!(
        all.stderr.contains("exec: 3 ok, 0 failed"),
        "{}",
        all.stderr
    );

    // A node's escape sequences (here a clipboard write and a title change) are shown,
    // never sent to the terminal (review L2).
    let hostile = ws
        .pikube(&[
            "exec",
            "one",
            "--",
            "printf 'a\\033]52;c;aGk=\\007b\\033]0;owned\\007c\\n'",
        ])
        .expect_code(0);
    assert!(!hostile.stdout.contains('\u{1b}'), "{:?}", hostile.stdout);
    assert!(
        hostile
            .stdout
            .contains("one | a\\x1b]52;c;aGk=\\x07b\\x1b]0;owned\\x07c\n"),
        "{:?}",
        hostile.stdout
    );

    // At once: every node started before any finished.
    let overlap = ws
        .pikube(&[
            "exec",
            "--all",
            "-o",
            "json",
            "--",
            "date +%s.%N; sleep 1; date +%s.%N",
        ])
        .expect_code(0);
    let overlap: Value = serde_json::from_str(&overlap.stdout).unwrap();
    let spans: Vec<(f64, f64)> = overlap["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            let times: Vec<f64> = n["stdout"]
                .as_str()
                .unwrap()
                .lines()
                .map(|l| l.parse().unwrap())
                .collect();
            (times[0], times[1])
        })
        .collect();
    let last_start = spans.iter().map(|s| s.0).fold(f64::MIN, f64::max);
    let first_end = spans.iter().map(|s| s.1).fold(f64::MAX, f64::min);
    assert!(last_start < first_end, "not run at once: {spans:?}");

    // --parallelism 1: one node after the other, never two at once.
    let serial = ws
        .pikube(&[
            "exec",
            "--all",
            "--parallelism",
            "1",
            "-o",
            "json",
            "--",
            "date +%s.%N; sleep 0.5; date +%s.%N",
        ])
        .expect_code(0);
    let serial: Value = serde_json::from_str(&serial.stdout).unwrap();
    let mut spans: Vec<(f64, f64)> = serial["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            let times: Vec<f64> = n["stdout"]
                .as_str()
                .unwrap()
                .lines()
                .map(|l| l.parse().unwrap())
                .collect();
            (times[0], times[1])
        })
        .collect();
    assert_eq!(spans.len(), 3);
    spans.sort_by(|a, b| a.0.total_cmp(&b.0));
    for pair in spans.windows(2) {
        assert!(pair[0].1 <= pair[1].0, "overlapping: {spans:?}");
    }

    // The server role only.
    let servers = ws
        .pikube(&["exec", "--role", "server", "--", "hostname"])
        .expect_code(0);
    assert!(
        servers.stdout.starts_with("one | ")
            && servers.stdout.lines().count() == 1
            && servers.stderr.contains("exec: 1 ok, 0 failed"),
        "{}\n{}",
        servers.stdout,
        servers.stderr
    );

    // A role, as root; a non-zero exit is named with its node and fails the run.
    let agents = ws
        .pikube(&["exec", "--role", "agent", "--sudo", "--", "id -u; exit 3"])
        .expect_code(1);
    assert!(
        agents.stdout.contains("two   | 0\n") && !agents.stdout.contains("one"),
        "{}",
        agents.stdout
    );
    assert!(
        agents
            .stderr
            .contains("exec: 0 ok, 2 failed: two (exit 3); three (exit 3)"),
        "{}",
        agents.stderr
    );

    // One named node, as JSON.
    let json = ws
        .pikube(&["exec", "two", "-o", "json", "--", "echo", "hi"])
        .expect_code(0);
    let json: Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(json["nodes"].as_array().map(Vec::len), Some(1), "{json}");
    assert_eq!(json["nodes"][0]["node"], "two");
    assert_eq!(json["nodes"][0]["exit_code"], 0);
    assert_eq!(json["nodes"][0]["stdout"], "hi\n");
    let json = ws
        .pikube(&["exec", "two", "-o", "json", "--", "echo oops >&2; exit 4"])
        .expect_code(1);
    let json: Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(json["nodes"][0]["exit_code"], 4, "{json}");
    assert_eq!(json["nodes"][0]["stderr"], "oops\n", "{json}");

    // A command that runs past --timeout is given up on that node only, and named.
    let started = std::time::Instant::now();
    let slow = ws
        .pikube(&[
            "exec",
            "--all",
            "--timeout",
            "3s",
            "--",
            &format!(
                "case \"$SSH_CONNECTION\" in *' {} '*) sleep 60;; esac; echo finished",
                ip("pi2")
            ),
        ])
        .expect_code(1);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
    assert!(
        slow.stdout.contains("one   | finished")
            && slow.stdout.contains("three | finished")
            && !slow.stdout.contains("two   | finished"),
        "{}",
        slow.stdout
    );
    assert!(
        slow.stderr.contains(
            "exec: 2 ok, 1 failed: two: running the command did not finish within 3 s; \
             pikube stopped waiting for it"
        ),
        "{}",
        slow.stderr
    );

    // Every command pikube runs itself has a limit too ([ssh] command_timeout): a `df`
    // stuck on a dead network mount no longer holds the whole run.
    fleet.exec(
        "pi2",
        "mv /usr/bin/df /usr/bin/df.real && printf '#!/bin/sh\\nexec sleep 600\\n' > /usr/bin/df \
         && chmod +x /usr/bin/df",
    );
    let toml = ws.path().join("cluster.toml");
    let text = std::fs::read_to_string(&toml).unwrap();
    std::fs::write(
        &toml,
        text.replacen(
            "connect_timeout = 5",
            "connect_timeout = 5\ncommand_timeout = 10",
            1,
        ),
    )
    .unwrap();
    let started = std::time::Instant::now();
    let hung = ws.pikube(&["plan"]).expect_code(1);
    let said = format!("{}{}", hung.stdout, hung.stderr);
    assert!(
        said.contains("two: gathering facts did not finish within 10 s; pikube stopped waiting")
            && !said.contains("one: gathering facts")
            && started.elapsed() < std::time::Duration::from_secs(60),
        "{:?}\n{said}",
        started.elapsed()
    );
    fleet.exec("pi2", "mv /usr/bin/df.real /usr/bin/df");
    std::fs::write(&toml, text).unwrap();

    // Bad input, and a node that does not answer.
    let nowhere = ws.pikube(&["exec", "--", "true"]).expect_code(1);
    assert!(
        nowhere.stderr.contains("say where to run it"),
        "{}",
        nowhere.stderr
    );
    let unknown = ws.pikube(&["exec", "four", "--", "true"]).expect_code(1);
    assert!(
        unknown.stderr.contains("no node four"),
        "{}",
        unknown.stderr
    );
    fleet.poweroff("pi3");
    let down = ws.pikube(&["exec", "--all", "--", "true"]).expect_code(1);
    assert!(
        down.stderr.contains("exec: 2 ok, 1 failed: three: "),
        "{}",
        down.stderr
    );
    // In JSON, the node pikube could not reach says why, with no exit code.
    let down = ws
        .pikube(&["exec", "--all", "-o", "json", "--", "true"])
        .expect_code(1);
    let down: Value = serde_json::from_str(&down.stdout).unwrap();
    let three = down["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["node"] == "three")
        .unwrap_or_else(|| panic!("{down}"));
    assert!(three["exit_code"].is_null(), "{three}");
    assert!(
        three["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{three}"
    );

    // `pikube ssh`: the system's ssh, as pikube reaches the node (key, pinned host key);
    // the remote exit status comes back.
    let ssh = ws
        .pikube(&[
            "ssh",
            "two",
            "--",
            "echo $SSH_CONNECTION | cut -d' ' -f3; exit 7",
        ])
        .expect_code(7);
    assert_eq!(ssh.stdout, format!("{}\n", ip("pi2")));
    let unknown = ws.pikube(&["ssh", "four"]).expect_code(1);
    assert!(
        unknown.stderr.contains("no node four"),
        "{}",
        unknown.stderr
    );
    fleet.rekey("pi2");
    let changed = ws.pikube(&["ssh", "two", "--", "true"]).expect_code(255);
    assert!(
        changed
            .stderr
            .contains("REMOTE HOST IDENTIFICATION HAS CHANGED")
            || changed.stderr.contains("Host key verification failed"),
        "{}",
        changed.stderr
    );
}

#[test]
fn a_bookworm_card_from_firstboot_comes_up_with_the_admin_user_reached_by_key() {
    // The firstrun.sh `pikube firstboot --os bookworm` writes, run inside a fake node as
    // systemd runs it at first boot: then pikube reaches the node as the new admin user with
    // the cluster's key, and sudo needs no password.
    let fleet = Fleet::up(&["pi1"]);
    let ws = Workspace::new(&fleet, "admin", &[node("pi1", "one", "server")]);
    // Its static address: the one it has, with the lab's router.
    let ip = fleet.node("pi1").ip.clone();
    let gateway = format!("{}.1", ip.rsplit_once('.').unwrap().0);
    let toml = ws.path().join("cluster.toml");
    let text = std::fs::read_to_string(&toml)
        .unwrap()
        .replace(
            &format!("address = \"{ip}\""),
            &format!("address = \"{ip}/24\""),
        )
        .replacen(
            "\n[[nodes]]",
            &format!("\n[network]\ngateway = \"{gateway}\"\n\n[[nodes]]"),
            1,
        );
    std::fs::write(&toml, text).unwrap();
    let boot = ws.path().join("boot");
    std::fs::create_dir(&boot).unwrap();
    let cmdline = fleet.exec("pi1", "cat /boot/firmware/cmdline.txt");
    std::fs::write(boot.join("cmdline.txt"), &cmdline).unwrap();
    // The key: [ssh] identity_file's .pub, found by itself.
    let written = ws
        .pikube(&["firstboot", "one", "--os", "bookworm", "--out", "boot"])
        .expect_code(0);
    assert!(
        written
            .stdout
            .contains("now runs firstrun.sh once at first boot"),
        "{}",
        written.stdout
    );
    for name in ["firstrun.sh", "cmdline.txt", "ssh"] {
        let bytes = std::fs::read(boot.join(name)).unwrap();
        // Octal escapes: the only ones dash's printf knows, and no '%' left to format.
        let encoded: String = bytes.iter().map(|b| format!("\\{b:03o}")).collect();
        fleet.exec(
            "pi1",
            &format!("printf '{encoded}' > /boot/firmware/{name}"),
        );
    }
    let ran = fleet.try_exec("pi1", "sh /boot/firmware/firstrun.sh");
    assert!(
        ran.status.success(),
        "firstrun.sh: {}",
        String::from_utf8_lossy(&ran.stderr)
    );
    let after = fleet.exec(
        "pi1",
        "cat /etc/hostname; cat /boot/firmware/cmdline.txt; \
         test -e /boot/firmware/firstrun.sh && echo script-left; \
         cat /etc/ssh/sshd_config.d/50-pikube.conf",
    );
    assert!(after.starts_with("one\n"), "{after}");
    assert_eq!(after.lines().nth(1), cmdline.lines().next(), "{after}");
    assert!(
        !after.contains("systemd.run") && !after.contains("script-left"),
        "{after}"
    );
    assert!(after.contains("PasswordAuthentication no"), "{after}");
    let keyfile = fleet.exec(
        "pi1",
        "stat -c %a /etc/NetworkManager/system-connections/pikube-eth0.nmconnection; \
         cat /etc/NetworkManager/system-connections/pikube-eth0.nmconnection",
    );
    assert!(keyfile.starts_with("600\n"), "{keyfile}");
    assert!(
        keyfile.contains(&format!("address1={ip}/24,{gateway}\n")),
        "{keyfile}"
    );

    let exec = ws
        .pikube(&[
            "exec",
            "one",
            "--",
            "id -un; sudo -n id -u; stat -c %a ~/.ssh/authorized_keys",
        ])
        .expect_code(0);
    assert!(
        exec.stdout.contains("one | admin\n")
            && exec.stdout.contains("one | 0\n")
            && exec.stdout.contains("one | 600\n"),
        "{}",
        exec.stdout
    );
}

#[test]
fn bootstrap_turns_a_password_login_into_a_key_login_once() {
    // A node as an image leaves it: a user with a password and sudo that asks for it
    // (pwsudo on the fake node). cluster.toml's user, admin, does not exist yet.
    let fleet = Fleet::up(&["pi1"]);
    let ws = Workspace::new(&fleet, "admin", &[node("pi1", "one", "server")]);
    const PASSWORD: &str = "pikube-test-sudo";

    let none = ws
        .pikube(&["bootstrap", "one", "--login", "pwsudo"])
        .expect_code(1);
    assert!(
        none.stderr.contains("one: no bootstrap password"),
        "{}",
        none.stderr
    );
    let secrets = WorkspaceSecrets::init(&ws);
    secrets.set("bootstrap_password", "not-it");
    let wrong = secrets
        .pikube(&["bootstrap", "one", "--login", "pwsudo"])
        .expect_code(1);
    assert!(
        wrong
            .stdout
            .contains("FAILED  one: cannot log in as pwsudo with the bootstrap password"),
        "{}",
        wrong.stdout
    );
    assert!(!fleet
        .exec("pi1", "getent passwd admin || true")
        .contains("admin"));

    secrets.set("bootstrap_password", PASSWORD);
    let done = secrets
        .pikube(&[
            "bootstrap",
            "one",
            "--login",
            "pwsudo",
            "--disable-password-login",
        ])
        .expect_code(0);
    assert!(
        done.stdout.contains(
            "ok      one: admin set up with the key and passwordless sudo; password login off"
        ),
        "{}",
        done.stdout
    );
    assert!(!done.stdout.contains(PASSWORD) && !done.stderr.contains(PASSWORD));
    let exec = ws
        .pikube(&["exec", "one", "--", "id -un; sudo -n id -u"])
        .expect_code(0);
    assert!(
        exec.stdout.contains("one | admin\n") && exec.stdout.contains("one | 0\n"),
        "{}",
        exec.stdout
    );
    assert!(fleet
        .exec("pi1", "cat /etc/ssh/sshd_config.d/50-pikube.conf")
        .contains("PasswordAuthentication no"));

    // Again: reached by key already, nothing asked, nothing changed.
    let again = ws
        .pikube(&["bootstrap", "one", "--login", "pwsudo"])
        .expect_code(0);
    assert!(
        again.stdout.contains(
            "ok      one: admin already logs in by key with passwordless sudo; unchanged"
        ),
        "{}",
        again.stdout
    );
}

#[test]
fn bootstrap_can_leave_sudo_asking_for_the_admins_password_from_secrets() {
    // The alternative to passwordless sudo: the admin user gets a password of its
    // own, kept in secrets.age, and sudo asks for it; pikube answers from the secrets.
    let fleet = Fleet::up(&["pi1"]);
    let ws = Workspace::new(&fleet, "admin", &[node("pi1", "one", "server")]);
    const ADMIN_PASSWORD: &str = "admin's own: pass";
    let secrets = WorkspaceSecrets::init(&ws);
    secrets.set("bootstrap_password", "pikube-test-sudo");

    // Without the admin's password in the secrets: refused before any node is touched.
    let missing = secrets
        .pikube(&["bootstrap", "one", "--login", "pwsudo", "--sudo-password"])
        .expect_code(1);
    assert!(
        missing.stderr.contains(
            "one: --sudo-password gives the admin user the password kept in secrets.age, and \
             it holds none: `pikube secrets set sudo_password` (or nodes.one.sudo_password)"
        ),
        "{}",
        missing.stderr
    );
    assert!(!fleet
        .exec("pi1", "getent passwd admin || true")
        .contains("admin"));

    secrets.set("nodes.one.sudo_password", ADMIN_PASSWORD);
    let done = secrets
        .pikube(&["bootstrap", "one", "--login", "pwsudo", "--sudo-password"])
        .expect_code(0);
    assert!(
        done.stdout.contains(
            "ok      one: admin set up with the key and sudo with its password from secrets.age"
        ),
        "{}",
        done.stdout
    );
    assert!(!done.stdout.contains(ADMIN_PASSWORD) && !done.stderr.contains(ADMIN_PASSWORD));
    let rule = fleet.exec("pi1", "cat /etc/sudoers.d/010_pikube-admin");
    assert_eq!(rule.trim(), "admin ALL=(ALL) ALL");

    // sudo without the password is refused; with the one in the secrets it works, and
    // pikube's own root commands find it there.
    let no_password = secrets
        .pikube(&[
            "exec",
            "one",
            "--",
            "sudo -n true && echo let-in || echo refused",
        ])
        .expect_code(0);
    assert!(
        no_password.stdout.contains("one | refused"),
        "{}",
        no_password.stdout
    );
    let as_root = secrets
        .pikube(&["exec", "one", "--sudo", "--", "id -u"])
        .expect_code(0);
    assert!(as_root.stdout.contains("one | 0\n"), "{}", as_root.stdout);

    // Again: reached by key, sudo works with the kept password, nothing changed.
    let again = secrets
        .pikube(&["bootstrap", "one", "--login", "pwsudo", "--sudo-password"])
        .expect_code(0);
    assert!(
        again.stdout.contains(
            "ok      one: admin already logs in by key with sudo with its password from \
             secrets.age; unchanged"
        ),
        "{}",
        again.stdout
    );
}

#[test]
fn a_running_cluster_reboots_for_preparation_one_node_at_a_time() {
    // Review L9: a change that needs every node rebooted (here the memory cgroup lost from
    // each cmdline.txt, say by an image update) must not take all three servers, and etcd's
    // quorum, down at once. Nodes running K3s go one at a time: cordoned (the agent also
    // drained), rebooted, Ready again and uncordoned before the next.
    let fleet = Fleet::up(&["pi1", "pi2", "pi3", "pi4"]);
    let ws = Workspace::new(&fleet, "pi", &three_servers_one_agent());
    ws.pikube(&["apply", "--ready-timeout=60s"]).expect_code(0);
    for fleet_node in ["pi1", "pi2", "pi3", "pi4"] {
        fleet.exec(
            fleet_node,
            "sed -i 's/ cgroup_enable=memory//g; s/ cgroup_memory=1//g' /boot/firmware/cmdline.txt",
        );
        fleet.reboot(fleet_node);
        assert!(!fleet
            .exec(fleet_node, "cat /proc/cmdline")
            .contains("cgroup_enable=memory"));
    }
    let plan = ws.pikube(&["plan"]).expect_code(2);
    assert!(plan.stdout.contains("(4 to reboot)"), "{}", plan.stdout);

    let apply = ws.pikube(&["apply", "--ready-timeout=60s"]).expect_code(0);
    // The reboots and the returns, in the order they happened.
    let events: Vec<(String, &str)> = apply
        .stderr
        .lines()
        .filter_map(|line| {
            let (_, rest) = line.split_once("] ")?;
            let (node, said) = rest.split_once(": ")?;
            let event = if said.starts_with("rebooting (") {
                "down"
            } else if said == "[reboot] Ready again, uncordoned" {
                "back"
            } else {
                return None;
            };
            Some((node.to_owned(), event))
        })
        .collect();
    let expected: Vec<(String, &str)> = ["s1", "s2", "s3", "a1"]
        .iter()
        .flat_map(|n| [(n.to_string(), "down"), (n.to_string(), "back")])
        .collect();
    assert_eq!(events, expected, "{}", apply.stderr);
    assert!(
        apply
            .stderr
            .contains("a1: [reboot] cordon and drain before the reboot")
            && apply
                .stderr
                .contains("s1: [reboot] cordon and drain before the reboot"),
        "{}",
        apply.stderr
    );
    for fleet_node in ["pi1", "pi2", "pi3", "pi4"] {
        assert!(fleet
            .exec(fleet_node, "cat /proc/cmdline")
            .contains("cgroup_enable=memory"));
    }
    // Nothing left cordoned; the cluster whole.
    assert_eq!(
        fleet.exec(
            "pi1",
            "k3s kubectl get nodes -o jsonpath='{.items[*].spec.unschedulable}'"
        ),
        ""
    );
    let status = ws.pikube(&["status"]).expect_code(0);
    assert!(
        status
            .stdout
            .contains("etcd: quorum holds (3 of 3 members Ready)"),
        "{}",
        status.stdout
    );
    ws.pikube(&["plan"]).expect_code(0);
}
