//! `pikube apply` installing K3s natively on fake Raspberry Pi fleets, with the k3s test
//! double (tests/k3s-double) as the binary: joins, HA, idempotency, change scope, failures,
//! kubeconfig, reset and prune, the agent token.

use crate::support;

use serde_json::Value;
use support::cluster::{
    node, one_server_two_agents, three_servers_one_agent, Node, Run, Workspace,
};
use support::fleet::Fleet;
use support::k3s::{
    cluster_node, cluster_nodes, edit, invocation, is_ready, stamped_double, use_k3s,
    wait_not_ready,
};
use support::secrets::WorkspaceSecrets;

const READY: &str = "--ready-timeout=60s";

fn with_env(ws: &Workspace, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut command = ws.command(args);
    for (key, value) in env {
        command.env(key, value);
    }
    Run::from(command.output().expect("run pikube"))
}

fn labelled<'a>(fleet_node: &'a str, name: &'a str, role: &'a str, extra: &'a str) -> Node<'a> {
    Node {
        extra,
        ..node(fleet_node, name, role)
    }
}

#[test]
fn one_server_two_agents_join_converge_and_change_only_what_must() {
    let fleet = Fleet::up(&[
        "pi1",
        "pi2:storage=nvme,model=Raspberry Pi 5 Model B Rev 1.0",
        "pi3",
    ]);
    let ws = Workspace::new(
        &fleet,
        "pi",
        &[
            labelled("pi1", "one", "server", "labels = { zone = \"a\" }"),
            labelled(
                "pi2",
                "two",
                "agent",
                "taints = [\"dedicated=db:NoSchedule\"]",
            ),
            node("pi3", "three", "agent"),
        ],
    );
    // The operator's own drop-in, read before pikube's (audit F13): its labels are kept
    // beside pikube's, not replaced by them.
    fleet.exec(
        "pi3",
        "mkdir -p /etc/rancher/k3s/config.yaml.d && \
         printf 'node-label:\n  - site=attic\n' > /etc/rancher/k3s/config.yaml.d/50-site.yaml",
    );
    let apply = ws.pikube(&["apply", READY]).expect_code(0);
    assert!(
        apply.stdout.contains("Apply: 3 changed"),
        "{}",
        apply.stdout
    );

    // The cluster as k3s sees it: every node joined and Ready, labels and taints set.
    let nodes = cluster_nodes(&fleet, "pi1");
    assert_eq!(nodes.len(), 3, "{nodes:?}");
    assert!(nodes.iter().all(is_ready), "{nodes:?}");
    let one = cluster_node(&fleet, "pi1", "one");
    assert_eq!(one["metadata"]["labels"]["zone"], "a");
    assert_eq!(one["metadata"]["labels"]["pikube.io/storage"], "sd");
    assert_eq!(
        one["metadata"]["labels"]["pikube.io/pi-model"],
        "raspberry-pi-4-model-b"
    );
    let two = cluster_node(&fleet, "pi1", "two");
    assert_eq!(two["metadata"]["labels"]["pikube.io/storage"], "nvme");
    assert_eq!(
        two["metadata"]["labels"]["pikube.io/pi-model"],
        "raspberry-pi-5-model-b"
    );
    assert_eq!(two["spec"]["taints"][0]["key"], "dedicated");
    assert_eq!(two["spec"]["taints"][0]["effect"], "NoSchedule");
    let three = cluster_node(&fleet, "pi1", "three");
    assert_eq!(three["metadata"]["labels"]["site"], "attic", "{three}");
    assert_eq!(
        three["metadata"]["labels"]["pikube.io/storage"], "sd",
        "{three}"
    );

    // The native install's files, with their modes; kubectl is k3s.
    for (fleet_node, service) in [("pi1", "k3s"), ("pi2", "k3s-agent")] {
        let modes = fleet.exec(
            fleet_node,
            &format!(
                "stat -c '%n %a' /etc/rancher/k3s/config.yaml /etc/systemd/system/{service}.service.env \
                 /usr/local/bin/k3s /usr/local/bin/k3s-killall.sh /usr/local/bin/{service}-uninstall.sh; \
                 readlink /usr/local/bin/kubectl"
            ),
        );
        assert!(modes.contains("config.yaml 600"), "{modes}");
        assert!(modes.contains(".service.env 600"), "{modes}");
        assert!(modes.contains("/usr/local/bin/k3s 755"), "{modes}");
        assert!(modes.contains("uninstall.sh 755"), "{modes}");
        assert!(modes.trim_end().ends_with("\nk3s"), "{modes}");
    }
    let config = fleet.exec("pi3", "cat /etc/rancher/k3s/config.yaml");
    assert!(
        config.contains(&format!("server: https://{}:6443", fleet.node("pi1").ip)),
        "{config}"
    );

    // The token: in local state (0600), never on a command line, in a log or a file others
    // may read, nor in pikube's output.
    let token_file = ws.path().join(".pikube/test/token");
    let token = std::fs::read_to_string(&token_file)
        .unwrap()
        .trim()
        .to_owned();
    assert_eq!(token.len(), 64);
    // The check writes the token to a private pattern file from two halves, so that no
    // command line of its own holds it.
    let (head, tail) = token.split_at(32);
    for fleet_node in ["pi1", "pi2", "pi3"] {
        let exposed = fleet.exec(
            fleet_node,
            &format!(
                "umask 077; printf '%s%s\\n' {head} {tail} > /root/token-pattern; \
                 ps -eo args | grep -cFf /root/token-pattern; \
                 journalctl --no-pager -o cat | grep -cFf /root/token-pattern; \
                 find /etc /usr/local /var/lib/rancher /tmp -type f -perm -o+r \
                   -exec grep -lFf /root/token-pattern {{}} + 2>/dev/null | wc -l; \
                 rm -f /root/token-pattern"
            ),
        );
        let counts: Vec<&str> = exposed.split_whitespace().collect();
        assert_eq!(
            counts,
            ["0", "0", "0"],
            "{fleet_node}: token exposed: {exposed}"
        );
    }
    assert!(!apply.stdout.contains(&token) && !apply.stderr.contains(&token));

    // Converged: nothing planned, nothing restarted.
    let runs: Vec<String> = [("pi1", "k3s"), ("pi2", "k3s-agent"), ("pi3", "k3s-agent")]
        .iter()
        .map(|(n, s)| invocation(&fleet, n, s))
        .collect();
    let plan = ws.pikube(&["plan"]).expect_code(0);
    assert!(
        plan.stdout.contains("Plan: 0 nodes to change"),
        "{}",
        plan.stdout
    );
    let again = ws.pikube(&["apply", READY]).expect_code(0);
    assert!(
        again.stdout.contains("0 changed, 3 unchanged"),
        "{}",
        again.stdout
    );
    let runs_after: Vec<String> = [("pi1", "k3s"), ("pi2", "k3s-agent"), ("pi3", "k3s-agent")]
        .iter()
        .map(|(n, s)| invocation(&fleet, n, s))
        .collect();
    assert_eq!(runs, runs_after, "a converged apply restarted k3s");

    // A label is changed through the API: no restart anywhere.
    edit(&ws, "zone = \"a\"", "zone = \"b\"");
    let plan = ws.pikube(&["plan"]).expect_code(2);
    assert!(plan.stdout.contains("label zone=b"), "{}", plan.stdout);
    assert!(!plan.stdout.contains("restart"), "{}", plan.stdout);
    // The report as one JSON document on stdout, phase by phase; progress on stderr.
    let apply = ws.pikube(&["apply", READY, "-o", "json"]).expect_code(0);
    let report: serde_json::Value = serde_json::from_str(&apply.stdout).expect("apply json");
    let phases: Vec<&str> = report["phases"]
        .as_array()
        .expect("phases")
        .iter()
        .map(|p| p["phase"].as_str().expect("phase name"))
        .collect();
    assert_eq!(
        phases,
        [
            "connect",
            "facts",
            "validate",
            "lock",
            "prepare",
            "reboot",
            "network",
            "binaries",
            "upgrade",
            "k3s-servers",
            "k3s-agents",
            "labels",
            "addons",
            "prune",
            "unlock"
        ]
    );
    // The server's registration drop-in is rewritten (for a re-registration), without a
    // restart; the agents have nothing to do; the label itself goes through the API.
    let nodes_of = |name: &str| {
        let at = phases.iter().position(|p| *p == name).expect("a phase");
        report["phases"][at]["nodes"].clone()
    };
    let servers = nodes_of("k3s-servers");
    assert_eq!(servers.as_array().map(Vec::len), Some(1), "{report}");
    assert_eq!(servers[0]["node"], "one", "{report}");
    assert!(
        servers[0]["summary"]
            .as_str()
            .is_some_and(|s| s.starts_with("k3s: 1 change") && !s.contains("restart")),
        "{report}"
    );
    assert_eq!(nodes_of("k3s-agents"), serde_json::json!([]), "{report}");
    let labels = nodes_of("labels");
    assert_eq!(labels.as_array().map(Vec::len), Some(1), "{report}");
    assert_eq!(labels[0]["node"], "one", "{report}");
    assert_eq!(labels[0]["status"], "changed", "{report}");
    assert!(
        labels[0]["summary"]
            .as_str()
            .is_some_and(|s| s.contains("zone=b")),
        "{report}"
    );
    assert_eq!(report["summary"]["changed"], 1, "{report}");
    assert_eq!(report["summary"]["unchanged"], 2, "{report}");
    assert!(
        apply.stderr.contains("connecting to 3 nodes"),
        "{}",
        apply.stderr
    );
    assert_eq!(
        cluster_node(&fleet, "pi1", "one")["metadata"]["labels"]["zone"],
        "b"
    );
    assert_eq!(
        invocation(&fleet, "pi1", "k3s"),
        runs[0],
        "a label restarted the server"
    );

    // A taint dropped from cluster.toml is removed from the node, again without a restart.
    edit(&ws, "taints = [\"dedicated=db:NoSchedule\"]", "");
    ws.pikube(&["apply", READY]).expect_code(0);
    let two = cluster_node(&fleet, "pi1", "two");
    assert!(
        two["spec"]["taints"].as_array().is_none_or(Vec::is_empty),
        "{two}"
    );
    assert_eq!(invocation(&fleet, "pi2", "k3s-agent"), runs[1]);

    // A disabled component restarts the server only.
    edit(&ws, "[k3s]\n", "[k3s]\ndisable = [\"traefik\"]\n");
    let plan = ws.pikube(&["plan"]).expect_code(2);
    assert!(plan.stdout.contains("+- traefik"), "{}", plan.stdout);
    ws.pikube(&["apply", READY]).expect_code(0);
    assert_ne!(
        invocation(&fleet, "pi1", "k3s"),
        runs[0],
        "the server must restart"
    );
    assert_eq!(
        invocation(&fleet, "pi2", "k3s-agent"),
        runs[1],
        "agents must not"
    );
    assert_eq!(
        invocation(&fleet, "pi3", "k3s-agent"),
        runs[2],
        "agents must not"
    );
    ws.pikube(&["plan"]).expect_code(0);

    // Security review L8: the operator quarantines agent three; three, compromised, claims in
    // its own drop-in that pikube set that taint, hoping apply removes it. What pikube set
    // is read from its record beside cluster.toml, so the quarantine stays.
    fleet.exec(
        "pi1",
        "k3s kubectl taint node three quarantine=yes:NoExecute >/dev/null",
    );
    fleet.exec(
        "pi3",
        "printf 'node-label: []\\nnode-taint:\\n  - \"quarantine=yes:NoExecute\"\\n' \
         > /etc/rancher/k3s/config.yaml.d/90-pikube-registration.yaml",
    );
    ws.pikube(&["apply", READY]).expect_code(0);
    let three = cluster_node(&fleet, "pi1", "three");
    assert!(
        three["spec"]["taints"]
            .as_array()
            .is_some_and(|t| t.iter().any(|t| t["key"] == "quarantine")),
        "{three}"
    );
    let records = std::fs::read_to_string(ws.path().join(".pikube/test/nodes.json")).unwrap();
    assert!(records.contains("\"registration\""), "{records}");
}

#[test]
fn three_servers_make_ha_a_server_down_is_named_and_joins_later_and_an_added_agent_joins_alone() {
    let fleet = Fleet::up(&["pi1", "pi2", "pi3", "pi4", "pi5"]);
    let servers = [
        node("pi1", "s1", "server"),
        node("pi2", "s2", "server"),
        node("pi3", "s3", "server"),
        node("pi4", "a1", "agent"),
    ];
    let ws = Workspace::new(&fleet, "pi", &servers);

    // s3 is down: named, and everything else is installed and joined.
    fleet.poweroff("pi3");
    let apply = ws.pikube(&["apply", READY]).expect_code(1);
    assert!(
        apply.stdout.contains("FAILED  s3: cannot connect"),
        "{}",
        apply.stdout
    );
    assert!(apply.stdout.contains("ok      a1:"), "{}", apply.stdout);
    let names = node_names(&fleet, "pi1");
    assert_eq!(names.len(), 3, "{names:?}");

    fleet.start("pi3");
    ws.pikube(&["apply", READY]).expect_code(0);
    let nodes = cluster_nodes(&fleet, "pi1");
    assert_eq!(nodes.len(), 4);
    assert!(nodes.iter().all(is_ready), "{nodes:?}");
    // Embedded etcd: the first server initialised it, the others joined it.
    assert!(fleet
        .exec("pi1", "cat /etc/rancher/k3s/config.yaml")
        .contains("cluster-init: true"));
    let first = format!("server: https://{}:6443", fleet.node("pi1").ip);
    for joined in ["pi2", "pi3"] {
        let config = fleet.exec(joined, "cat /etc/rancher/k3s/config.yaml");
        assert!(
            config.contains(&first) && !config.contains("cluster-init"),
            "{config}"
        );
    }
    // One etcd behind every server: each one answers with the same nodes.
    for asked in ["pi1", "pi2", "pi3"] {
        for server in ["s1", "s2", "s3"] {
            let node = cluster_node(&fleet, asked, server);
            assert_eq!(
                node["metadata"]["labels"]["node-role.kubernetes.io/etcd"],
                "true"
            );
        }
    }
    assert_eq!(etcd_members(&fleet, "pi1").len(), 3);

    // An agent added to the file joins alone: nothing else changes or restarts.
    let before: Vec<String> = ["pi1", "pi2", "pi3"]
        .iter()
        .map(|n| invocation(&fleet, n, "k3s"))
        .collect();
    let path = ws.path().join("cluster.toml");
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str(&format!(
        "\n[[nodes]]\nname = \"a2\"\naddress = \"{}\"\nrole = \"agent\"\n",
        fleet.node("pi5").ip
    ));
    std::fs::write(&path, text).unwrap();
    let apply = ws.pikube(&["apply", READY]).expect_code(0);
    assert!(
        apply.stdout.contains("1 changed, 4 unchanged"),
        "{}",
        apply.stdout
    );
    assert!(is_ready(&cluster_node(&fleet, "pi1", "a2")));
    let after: Vec<String> = ["pi1", "pi2", "pi3"]
        .iter()
        .map(|n| invocation(&fleet, n, "k3s"))
        .collect();
    assert_eq!(before, after, "adding an agent restarted a server");

    // A backup on this machine: a real etcd snapshot taken on a server, checked, with its
    // manifest; listed here and on the node; pruned here.
    let backup = ws
        .pikube(&["backup", "--name", "before-prune"])
        .expect_code(0);
    assert!(
        backup.stdout.contains("backed up before-prune-s1-"),
        "{}\n{}",
        backup.stdout,
        backup.stderr
    );
    let backups = ws.path().join(".pikube/test/backups");
    let list = ws
        .pikube(&["backup", "list", "--output", "json"])
        .expect_code(0);
    let list: Value = serde_json::from_str(&list.stdout).expect("backup list json");
    let manifest = &list["local"][0];
    let name = manifest["name"].as_str().unwrap().to_owned();
    assert_eq!(manifest["node"], "s1", "{list}");
    assert_eq!(manifest["servers"], serde_json::json!(["s1", "s2", "s3"]));
    assert_eq!(manifest["k3s_version"], "v1.34.4+k3s1");
    assert!(
        list["on_node"]["snapshots"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["name"] == name.as_str()),
        "{list}"
    );
    let local = backups.join(&name);
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&local).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let on_node = fleet.exec(
        "pi1",
        &format!("sha256sum /var/lib/rancher/k3s/server/db/snapshots/{name}"),
    );
    assert_eq!(
        manifest["sha256"].as_str().unwrap(),
        on_node.split_whitespace().next().unwrap()
    );
    let status = std::process::Command::new(
        pikube_test_support::real_programs::real_kube_bin().join("etcdutl"),
    )
    .args(["snapshot", "status", local.to_str().unwrap()])
    .output()
    .unwrap();
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    let pruned = ws
        .pikube(&["backup", "prune", "--keep", "0"])
        .expect_code(0);
    assert!(
        pruned.stdout.contains(&format!("deleted {name}")),
        "{}",
        pruned.stdout
    );
    assert!(!local.exists());

    // A server pruned: K3s stopped on it first, its Node deleted, and with it its etcd
    // member (K3s' finalizer), so the two left keep quorum and the API keeps answering.
    let text = std::fs::read_to_string(&path).unwrap();
    let s3 = format!(
        "\n[[nodes]]\nname = \"s3\"\naddress = \"{}\"\nrole = \"server\"\n",
        fleet.node("pi3").ip
    );
    assert!(text.contains(&s3), "{text}");
    std::fs::write(&path, text.replacen(&s3, "", 1)).unwrap();
    let prune = ws.pikube(&["apply", "--prune", READY]).expect_code(0);
    assert!(
        prune
            .stdout
            .contains("ok      s3: pruned (drained, deleted, uninstalled)"),
        "{}\n{}",
        prune.stdout,
        prune.stderr
    );
    assert_member_gone(&fleet, "pi1", "pi3", 2);
    let names = node_names(&fleet, "pi2");
    assert_eq!(names, ["a1", "a2", "s1", "s2"]);
}

/// The names of the cluster's nodes, as `server` lists them.
fn node_names(fleet: &Fleet, server: &str) -> Vec<String> {
    cluster_nodes(fleet, server)
        .iter()
        .map(|n| n["metadata"]["name"].as_str().unwrap().to_owned())
        .collect()
}

/// `server`'s etcd has `left` members, none of them at `gone`'s address.
fn assert_member_gone(fleet: &Fleet, server: &str, gone: &str, left: usize) {
    let members = etcd_members(fleet, server);
    assert_eq!(members.len(), left, "{members:?}");
    assert!(
        members.iter().all(|m| !m.contains(&fleet.node(gone).ip)),
        "{members:?}"
    );
}

/// The etcd members as the real etcdctl lists them on a server, one `name,peer URL` each.
fn etcd_members(fleet: &Fleet, server: &str) -> Vec<String> {
    let tls = "/var/lib/rancher/k3s/server/tls/etcd";
    let out = fleet.exec(
        server,
        &format!(
            "/opt/k3s-double/bin/etcdctl --endpoints=https://127.0.0.1:2379 \
             --cacert={tls}/server-ca.crt --cert={tls}/client.crt --key={tls}/client.key \
             member list -w simple"
        ),
    );
    out.lines()
        .map(|l| {
            let cols: Vec<&str> = l.split(", ").collect();
            format!(
                "{},{}",
                cols.get(2).unwrap_or(&""),
                cols.get(3).unwrap_or(&"")
            )
        })
        .collect()
}

#[test]
fn a_killed_install_is_finished_and_token_or_server_problems_are_clear() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;

    let fleet = Fleet::up(&["pi1", "pi2"]);
    let ws = Workspace::new(
        &fleet,
        "pi",
        &[node("pi1", "one", "server"), node("pi2", "two", "agent")],
    );
    // A K3s release from before June 2023: it reads its 0600 config.yaml even for
    // --version, so only root may ask it (audit F3). Every apply below must still work.
    let old = stamped_double(&ws, "v1.26.5+k3s1");
    use_k3s(&ws, "v1.26.5+k3s1", &old);
    // Killed while the binary is on its way to the nodes.
    let mut child = ws
        .command(&["apply", READY])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn apply");
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let mut seen = Vec::new();
    for line in stderr.lines() {
        let line = line.unwrap();
        seen.push(line.clone());
        if line.contains("[k3s] install k3s") {
            child.kill().expect("kill apply");
            break;
        }
    }
    assert!(
        !child.wait().unwrap().success(),
        "apply was killed: {seen:?}"
    );
    ws.pikube(&["apply", READY]).expect_code(0);
    ws.pikube(&["plan"]).expect_code(0);
    let denied = fleet.exec(
        "pi1",
        "su pi -c '/usr/local/bin/k3s --version' 2>&1 || true",
    );
    assert!(denied.contains("permission denied"), "{denied}");
    // status and doctor still know what runs there: the cluster's node list says.
    let status = ws.pikube(&["status"]).expect_code(0);
    for (name, state) in [("one", "server active"), ("two", "agent active")] {
        let row = status
            .stdout
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("no row for {name}: {}", status.stdout));
        assert!(
            row.trim_end().ends_with(&format!("v1.26.5+k3s1 {state}")),
            "{row}"
        );
    }
    for fleet_node in ["pi1", "pi2"] {
        let leftovers = fleet.exec(
            fleet_node,
            "ls -a /usr/local/bin /etc/rancher/k3s | grep -c pikube- || true",
        );
        assert_eq!(leftovers.trim(), "0", "{fleet_node}: temporary files left");
    }

    // Local state with another token than the cluster's: refused, named, nothing changed.
    let token_file = ws.path().join(".pikube/test/token");
    let good = std::fs::read_to_string(&token_file).unwrap();
    std::fs::write(&token_file, format!("{}\n", "0".repeat(64))).unwrap();
    let server_run = invocation(&fleet, "pi1", "k3s");
    let apply = ws.pikube(&["apply", READY]).expect_code(1);
    assert!(
        apply
            .stdout
            .contains("one: the cluster runs with another token than")
            && apply.stdout.contains(".pikube/test/token"),
        "{}",
        apply.stdout
    );
    assert_eq!(invocation(&fleet, "pi1", "k3s"), server_run);
    // Lost local state is rebuilt from the running cluster.
    std::fs::remove_file(&token_file).unwrap();
    ws.pikube(&["apply", READY]).expect_code(0);
    assert_eq!(std::fs::read_to_string(&token_file).unwrap(), good);

    // Agents pointed at an API endpoint nobody answers on: a clear error with k3s' own log.
    edit(&ws, "[k3s]\n", "[k3s]\napi_endpoint = \"10.99.22.250\"\n");
    let apply = ws.pikube(&["apply", "--ready-timeout=15s"]).expect_code(1);
    assert!(apply.stdout.contains("FAILED  two:"), "{}", apply.stdout);
    assert!(apply.stdout.contains("10.99.22.250"), "{}", apply.stdout);
    edit(&ws, "api_endpoint = \"10.99.22.250\"\n", "");
    ws.pikube(&["apply", READY]).expect_code(0);
    assert!(is_ready(&cluster_node(&fleet, "pi1", "two")));

    // A node that answers with endless output (here a 100 MB file where pikube reads its
    // K3s state) is stopped at 64 MiB and named; the controller does not take it all in
    // (security review L3), and the other node is not held up.
    fleet.exec(
        "pi2",
        "cp /etc/rancher/k3s/config.yaml /root/config.yaml.good && \
         head -c 100000000 /dev/zero | tr '\\0' a > /etc/rancher/k3s/config.yaml",
    );
    let plan = ws.pikube(&["plan"]).expect_code(1);
    assert!(
        plan.stdout.contains(
            "two: reading the k3s state wrote more than 64 MiB to stdout; stopped it there"
        ),
        "{}",
        plan.stdout
    );
    assert!(!plan.stdout.contains("one: reading"), "{}", plan.stdout);
    fleet.exec(
        "pi2",
        "mv /root/config.yaml.good /etc/rancher/k3s/config.yaml",
    );
    ws.pikube(&["plan"]).expect_code(0);
}

#[test]
fn kubeconfig_merges_beside_other_contexts_and_reset_then_apply_rebuilds() {
    let fleet = Fleet::up(&["pi1", "pi2"]);
    let ws = Workspace::new(
        &fleet,
        "pi",
        &[node("pi1", "one", "server"), node("pi2", "two", "agent")],
    );
    ws.pikube(&["apply", READY]).expect_code(0);

    // An existing kubeconfig with two other clusters.
    let kubeconfig = ws.path().join("kube/config");
    std::fs::create_dir_all(kubeconfig.parent().unwrap()).unwrap();
    let existing = "apiVersion: v1\nkind: Config\nclusters:\n- name: kind-dev\n  cluster:\n    server: https://127.0.0.1:40000\n- name: eks\n  cluster:\n    server: https://eks.example\nusers:\n- name: kind-dev\n  user:\n    token: abc\n- name: eks\n  user:\n    exec:\n      apiVersion: client.authentication.k8s.io/v1beta1\n      command: aws\ncontexts:\n- name: kind-dev\n  context:\n    cluster: kind-dev\n    user: kind-dev\n- name: eks\n  context:\n    cluster: eks\n    user: eks\ncurrent-context: eks\npreferences: {}\n";
    std::fs::write(&kubeconfig, existing).unwrap();
    let target = kubeconfig.display().to_string();
    // apply recorded the cluster CA's hash from the first server's token: the CA in k3s.yaml
    // is checked against it, so nothing is said about an unchecked CA.
    let recorded = std::fs::read_to_string(ws.path().join(".pikube/test/ca.sha256")).unwrap();
    let on_node = fleet.exec(
        "pi1",
        "sha256sum /var/lib/rancher/k3s/server/tls/server-ca.crt",
    );
    assert_eq!(recorded.trim(), on_node.split_whitespace().next().unwrap());
    let merge =
        with_env(&ws, &["kubeconfig", "--merge"], &[("KUBECONFIG", &target)]).expect_code(0);
    assert!(
        !merge.stderr.contains("the CA is taken"),
        "{}",
        merge.stderr
    );
    with_env(&ws, &["kubeconfig", "--merge"], &[("KUBECONFIG", &target)]).expect_code(0);
    let merged = std::fs::read_to_string(&kubeconfig).unwrap();
    for name in [
        "name: kind-dev",
        "name: eks",
        "name: test",
        "command: aws",
        "token: abc",
    ] {
        assert!(merged.contains(name), "{name} missing:\n{merged}");
    }
    assert_eq!(
        merged.matches("name: test").count(),
        3,
        "merged twice, once:\n{merged}"
    );
    assert!(merged.contains("current-context: test"), "{merged}");
    assert!(
        merged.contains(&format!("server: https://{}:6443", fleet.node("pi1").ip)),
        "{merged}"
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&kubeconfig).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let printed = ws.pikube(&["kubeconfig"]).expect_code(0);
    assert!(
        printed.stdout.contains("current-context: test"),
        "{}",
        printed.stdout
    );
    assert!(
        printed.stdout.contains("client-key-data"),
        "{}",
        printed.stdout
    );

    // Reset needs a confirmation; scripts give --yes.
    // A server whose k3s.yaml names another CA (a compromised node): refused, named, and
    // the user's kubeconfig is left as it was.
    let before = std::fs::read_to_string(&kubeconfig).unwrap();
    fleet.exec(
        "pi1",
        "cp /etc/rancher/k3s/k3s.yaml /root/k3s.yaml.good && \
         other=$(base64 -w0 /var/lib/rancher/k3s/server/tls/client-ca.crt) && \
         sed -i \"s|certificate-authority-data: .*|certificate-authority-data: $other|\" /etc/rancher/k3s/k3s.yaml",
    );
    let forged =
        with_env(&ws, &["kubeconfig", "--merge"], &[("KUBECONFIG", &target)]).expect_code(1);
    assert!(
        forged.stderr.contains("this is not the cluster's CA")
            && forged.stderr.contains(".pikube/test/ca.sha256"),
        "{}",
        forged.stderr
    );
    assert_eq!(std::fs::read_to_string(&kubeconfig).unwrap(), before);
    fleet.exec("pi1", "cp /root/k3s.yaml.good /etc/rancher/k3s/k3s.yaml");

    let refused = ws.pikube(&["reset", "two"]).expect_code(1);
    assert!(refused.stderr.contains("--yes"), "{}", refused.stderr);
    assert!(fleet
        .exec("pi2", "test -x /usr/local/bin/k3s && echo yes")
        .contains("yes"));
    let reset = ws.pikube(&["reset", "two", "--yes"]).expect_code(0);
    assert!(
        reset.stdout.contains("two: removed k3s-agent"),
        "{}",
        reset.stdout
    );
    let gone = fleet.exec(
        "pi2",
        "ls /usr/local/bin/k3s /etc/systemd/system/k3s-agent.service /etc/rancher/k3s 2>&1 | grep -c 'No such' || true",
    );
    assert_eq!(gone.trim(), "3", "{gone}");
    assert_eq!(
        cluster_nodes(&fleet, "pi1").len(),
        1,
        "two was deleted from the cluster"
    );
    // The OS preparation stays.
    assert_eq!(fleet.exec("pi2", "hostname").trim(), "two");

    let plan = ws.pikube(&["plan"]).expect_code(2);
    assert!(plan.stdout.contains("install k3s"), "{}", plan.stdout);
    ws.pikube(&["apply", READY]).expect_code(0);
    assert!(is_ready(&cluster_node(&fleet, "pi1", "two")));

    // Everything, including the preparation: originals back.
    ws.pikube(&["reset", "--all", "--yes"]).expect_code(0);
    assert_eq!(fleet.exec("pi1", "cat /etc/hostname").trim(), "raspberrypi");
    assert!(fleet.exec("pi1", "cat /etc/fstab").contains("swap"));
}

#[test]
fn a_node_removed_from_the_file_is_reported_then_pruned_only_when_asked() {
    let fleet = Fleet::up(&["pi1", "pi2", "pi3"]);
    let ws = Workspace::new(&fleet, "pi", &one_server_two_agents());
    ws.pikube(&["apply", READY]).expect_code(0);
    // How to reach every installed node, kept private for when the file forgets one.
    let records = ws.path().join(".pikube/test/nodes.json");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&records).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let recorded = std::fs::read_to_string(&records).unwrap();
    assert!(
        recorded.contains(&fleet.node("pi3").ip)
            && recorded.contains("\"initialised_cluster\": true"),
        "{recorded}"
    );

    edit(
        &ws,
        &format!(
            "\n[[nodes]]\nname = \"three\"\naddress = \"{}\"\nrole = \"agent\"\n",
            fleet.node("pi3").ip
        ),
        "",
    );
    let plan = ws.pikube(&["plan"]).expect_code(2);
    assert!(
        plan.stdout.contains(
            "three:\n  ~ [k3s] remove node three from the cluster (only with `apply --prune`)"
        ),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout.contains("Plan: 1 node to change"),
        "{}",
        plan.stdout
    );
    let json = ws.pikube(&["plan", "-o", "json"]).expect_code(2);
    let json: Value = serde_json::from_str(&json.stdout).expect("plan json");
    assert_eq!(json["stale"][0]["node"], "three", "{json}");
    assert_eq!(json["stale"][0]["role"], "agent", "{json}");

    // Without --prune: converged, warned, nothing removed.
    let apply = ws.pikube(&["apply", READY]).expect_code(0);
    assert!(
        apply
            .stderr
            .contains("warning: three is in the cluster but not in cluster.toml")
            && apply.stderr.contains("pikube apply --prune"),
        "{}",
        apply.stderr
    );
    assert!(
        apply.stdout.contains("0 changed, 2 unchanged"),
        "{}",
        apply.stdout
    );
    assert!(is_ready(&cluster_node(&fleet, "pi1", "three")));
    assert_eq!(
        fleet.exec("pi3", "systemctl is-active k3s-agent").trim(),
        "active"
    );

    // A finalizer that never finishes: the prune stops K3s on the node, deletes the Node,
    // waits --delete-timeout, then fails naming the finalizer instead of hanging.
    fleet.exec(
        "pi1",
        r#"k3s kubectl patch node three --type=merge -p '{"metadata":{"finalizers":["example.com/stuck"]}}'"#,
    );
    let stuck = ws
        .pikube(&["apply", "--prune", "--delete-timeout=5s", READY])
        .expect_code(1);
    assert!(
        stuck.stdout.contains(
            "three: not deleted from the cluster within 5s: K3s' finalizers [example.com/stuck] \
             are still pending"
        ),
        "{}\n{}",
        stuck.stdout,
        stuck.stderr
    );
    assert_ne!(
        fleet
            .exec("pi3", "systemctl is-active k3s-agent || true")
            .trim(),
        "active",
        "K3s is stopped before its node is deleted"
    );
    // Once the finalizer is gone the Node goes; K3s started again registers it anew.
    fleet.exec(
        "pi1",
        r#"k3s kubectl patch node three --type=json -p '[{"op":"remove","path":"/metadata/finalizers"}]'"#,
    );
    fleet.exec(
        "pi1",
        "k3s kubectl wait --for=delete node/three --timeout=30s",
    );
    fleet.exec("pi3", "systemctl start k3s-agent");
    fleet.exec(
        "pi1",
        "for i in $(seq 60); do k3s kubectl get node three >/dev/null 2>&1 && break; sleep 1; done",
    );

    // --prune: drained, deleted, uninstalled; the record forgets it.
    let prune = ws.pikube(&["apply", "--prune", READY]).expect_code(0);
    assert!(
        prune
            .stdout
            .contains("ok      three: pruned (drained, deleted, uninstalled)"),
        "{}\n{}",
        prune.stdout,
        prune.stderr
    );
    assert!(
        prune.stdout.contains("2 unchanged, 0 failed, 1 pruned."),
        "{}",
        prune.stdout
    );
    let names: Vec<Value> = cluster_nodes(&fleet, "pi1")
        .iter()
        .map(|n| n["metadata"]["name"].clone())
        .collect();
    assert_eq!(names, ["one", "two"], "{names:?}");
    let gone = fleet.exec(
        "pi3",
        "ls /usr/local/bin/k3s /etc/systemd/system/k3s-agent.service 2>&1 | grep -c 'No such' || true",
    );
    assert_eq!(gone.trim(), "2", "{gone}");
    assert_ne!(
        fleet
            .exec("pi3", "systemctl is-active k3s-agent || true")
            .trim(),
        "active"
    );
    let recorded = std::fs::read_to_string(&records).unwrap();
    assert!(!recorded.contains("\"three\""), "{recorded}");

    let plan = ws.pikube(&["plan"]).expect_code(0);
    assert!(
        plan.stdout.contains("Plan: 0 nodes to change"),
        "{}",
        plan.stdout
    );

    // A stale node pikube has no record of (joined by hand): still drained and deleted, and
    // the summary says why K3s stays on it.
    std::fs::remove_file(&records).unwrap();
    edit(
        &ws,
        &format!(
            "\n[[nodes]]\nname = \"two\"\naddress = \"{}\"\nrole = \"agent\"\n",
            fleet.node("pi2").ip
        ),
        "",
    );
    let prune = ws.pikube(&["apply", "--prune", READY]).expect_code(1);
    assert!(
        prune.stdout.contains(
            "FAILED  two: pruned (drained, deleted, NOT uninstalled): K3s could not be \
             uninstalled from it: no record of how to reach it"
        ) && prune
            .stdout
            .contains("run /usr/local/bin/k3s-agent-uninstall.sh on it"),
        "{}",
        prune.stdout
    );
    assert!(fleet
        .exec("pi2", "test -x /usr/local/bin/k3s && echo yes")
        .contains("yes"));
}

#[test]
fn runs_from_two_machines_take_turns_through_the_lock_on_the_first_server() {
    let fleet = Fleet::up(&["pi1"]);
    let nodes = [node("pi1", "one", "server")];
    let here = Workspace::new(&fleet, "pi", &nodes);
    // The first apply reboots the server the lock is on (the memory cgroup), then installs
    // K3s: the lock must go on being refreshed after the reboot (through a new connection),
    // or a second pikube would find it stale mid-run. Refreshed every second here.
    let boot_before = fleet.exec("pi1", "cat /proc/sys/kernel/random/boot_id");
    let mut apply = here.command(&["apply", READY]);
    apply.env("PIKUBE_CLUSTER_LOCK_REFRESH_SECS", "1");
    let mut child = apply
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn apply");
    // Its output read as it comes, so that it can never fill a pipe and stall the apply.
    let drain = |mut pipe: Box<dyn std::io::Read + Send>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            bytes
        })
    };
    let stdout = drain(Box::new(child.stdout.take().unwrap()));
    let stderr = drain(Box::new(child.stderr.take().unwrap()));
    // A second machine: its own cluster.toml and .pikube, its own host name (a UTS
    // namespace), started once the lock is taken, while this machine's apply runs.
    let there = Workspace::new(&fleet, "pi", &nodes);
    let on_laptop_b = |args: &[&str]| {
        let mut command = std::process::Command::new("unshare");
        command
            .args([
                "--uts",
                "sh",
                "-c",
                "hostname laptop-b && exec \"$0\" \"$@\"",
            ])
            .arg(env!("CARGO_BIN_EXE_pikube"))
            .args(args)
            .current_dir(there.path())
            .env_remove("PIKUBE_SUDO_PASSWORD")
            .env_remove("PIKUBE_FILE")
            .stdin(std::process::Stdio::null());
        command
    };
    let mut second: Option<std::process::Child> = None;
    // (boot id, lock mtime) while the apply runs.
    let mut seen: Vec<(String, String)> = Vec::new();
    while child.try_wait().unwrap().is_none() {
        let out = fleet.try_exec(
            "pi1",
            "cat /proc/sys/kernel/random/boot_id; stat -c %Y /var/lib/pikube/lock",
        );
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        if let [boot, mtime] = text.lines().collect::<Vec<_>>()[..] {
            seen.push((boot.to_owned(), mtime.to_owned()));
            if second.is_none() {
                second = Some(
                    on_laptop_b(&["apply", READY])
                        .stdout(std::process::Stdio::piped())
                        .stderr(std::process::Stdio::piped())
                        .spawn()
                        .expect("spawn the second machine's apply"),
                );
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(300));
    }
    let first_pid = child.id();
    Run::from(std::process::Output {
        status: child.wait().unwrap(),
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
    })
    .expect_code(0);
    // It waited its ten seconds for the lock, then gave up naming this machine's run; it
    // changed nothing (the first apply, which rebooted and installed, succeeded).
    let second = Run::from(
        second
            .expect("the lock was never seen taken")
            .wait_with_output()
            .unwrap(),
    )
    .expect_code(1);
    let this_host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    assert!(
        second.stderr.contains(&format!(
            "@{} (pid {first_pid}, pikube apply",
            this_host.trim()
        )) && second
            .stderr
            .contains("one: /var/lib/pikube/lock is held by ")
            && second
                .stderr
                .contains("another pikube is working on this cluster"),
        "{}",
        second.stderr
    );
    let mut after_reboot: Vec<&str> = seen
        .iter()
        .filter(|(boot, _)| format!("{boot}\n") != boot_before)
        .map(|(_, mtime)| mtime.as_str())
        .collect();
    after_reboot.dedup();
    assert!(
        after_reboot.len() >= 2,
        "the lock was not refreshed after the server rebooted: {seen:?}"
    );
    assert_eq!(
        fleet
            .exec(
                "pi1",
                "test -e /var/lib/pikube/lock && echo held || echo free"
            )
            .trim(),
        "free",
        "the lock goes when apply ends"
    );
    // Its turn now: the second machine applies (with no local state of its own) and finds
    // nothing to change.
    let turn = Run::from(on_laptop_b(&["apply", READY]).output().unwrap()).expect_code(0);
    assert!(
        turn.stdout.contains("0 changed, 1 unchanged"),
        "{}",
        turn.stdout
    );
    // Another machine's pikube (its own .pikube beside its own cluster.toml) holds the lock.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let hold = format!(
        r#"mkdir -p /var/lib/pikube && printf '%s' '{{"user":"bob","host":"ci-runner","pid":4242,"command":"apply","since":{now}}}' > /var/lib/pikube/lock"#
    );
    fleet.exec("pi1", &hold);
    let refused = here.pikube(&["apply", READY]).expect_code(1);
    assert!(
        refused
            .stderr
            .contains("one: /var/lib/pikube/lock is held by bob@ci-runner (pid 4242")
            && refused.stderr.contains("--force-unlock"),
        "{}",
        refused.stderr
    );
    // Untouched for ten minutes: its run is gone; taken over, said so, released at the end.
    fleet.exec("pi1", "touch -d '10 minutes ago' /var/lib/pikube/lock");
    let taken = here.pikube(&["apply", READY]).expect_code(0);
    assert!(
        taken
            .stderr
            .contains("took over the cluster lock on one from bob@ci-runner"),
        "{}",
        taken.stderr
    );
    assert!(fleet
        .exec("pi1", "test -e /var/lib/pikube/lock || echo free")
        .contains("free"));
    // A fresh one is broken only on request.
    fleet.exec("pi1", &hold);
    let forced = here
        .pikube(&["apply", "--force-unlock", READY])
        .expect_code(0);
    assert!(
        forced.stderr.contains("took over the cluster lock"),
        "{}",
        forced.stderr
    );

    // Every other command that changes the cluster takes the same lock: with bob's held,
    // each waits its ten seconds, then names him and changes nothing.
    let backup = here.pikube(&["backup"]).expect_code(0);
    let snapshot = backup
        .stdout
        .strip_prefix("backed up ")
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no snapshot named in {}", backup.stdout))
        .to_owned();
    let backups = || {
        std::fs::read_dir(here.path().join(".pikube/test/backups"))
            .map(Iterator::count)
            .unwrap_or(0)
    };
    let backed_up = backups();
    fleet.exec("pi1", &hold);
    let boot = fleet.exec("pi1", "cat /proc/sys/kernel/random/boot_id");
    let k3s = invocation(&fleet, "pi1", "k3s");
    for command in [
        vec!["backup"],
        vec!["restore", &snapshot, "--yes", "--force"],
        vec!["reset", "--yes"],
        vec!["os-upgrade"],
        vec!["shutdown", "--yes"],
    ] {
        let refused = here.pikube(&command).expect_code(1);
        assert!(
            refused
                .stderr
                .contains("one: /var/lib/pikube/lock is held by bob@ci-runner (pid 4242"),
            "{command:?}: {}",
            refused.stderr
        );
    }
    assert_eq!(
        fleet.exec("pi1", "cat /proc/sys/kernel/random/boot_id"),
        boot
    );
    assert_eq!(invocation(&fleet, "pi1", "k3s"), k3s, "K3s was restarted");
    assert_eq!(backups(), backed_up, "a backup was taken");
}

#[test]
fn doctor_passes_a_prepared_cluster_and_names_power_and_heat_with_their_fixes() {
    // Each node gets a disk of its own (a 32G tmpfs): without one, `df /` in a node reports
    // the host's disk, and a CI host over 90 % full failed this test with a disk warning.
    let fleet = Fleet::up(&["pi1:storage=nvme,disk=32G", "pi2:storage=emmc,disk=32G"]);
    let ws = Workspace::new(
        &fleet,
        "pi",
        &[node("pi1", "one", "server"), node("pi2", "two", "agent")],
    );
    // Fresh images: no memory cgroup, swap on; the server's root is on NVMe.
    let fresh = ws.pikube(&["doctor"]).expect_code(1);
    assert!(
        fresh.stdout.contains("FAIL  one  memory cgroup: disabled")
            && fresh
                .stdout
                .contains("fix: pikube apply (adds cgroup_enable=memory"),
        "{}",
        fresh.stdout
    );
    ws.pikube(&["apply", READY]).expect_code(0);
    // NTP as systemd-timesyncd reports it once synchronised (the nodes' kernel is this
    // machine's, whose own NTP state is not the test's to rely on).
    for pi in ["pi1", "pi2"] {
        fleet.exec(
            pi,
            "mkdir -p /run/systemd/timesync && touch /run/systemd/timesync/synchronized",
        );
    }
    let healthy = ws.pikube(&["doctor"]).expect_code(0);
    assert!(
        healthy
            .stdout
            .contains("PASS  two  time sync: the clock is synchronized with NTP"),
        "{}",
        healthy.stdout
    );
    assert!(
        healthy
            .stdout
            .contains("PASS  one  datastore storage: root on nvme")
            && healthy.stdout.contains("failed")
            && !healthy.stdout.contains("WARN")
            && !healthy.stdout.contains("FAIL"),
        "{}",
        healthy.stdout
    );
    for node in ["one", "two"] {
        assert!(
            healthy.stdout.contains(&format!(
                "PASS  {node}  certificates: the first to expire does in 36"
            )),
            "{}",
            healthy.stdout
        );
    }
    // The disk seen is the node's own 32G, not the host's.
    for node in ["one", "two"] {
        let free_mib: u64 = healthy
            .stdout
            .lines()
            .find_map(|l| l.strip_prefix(&format!("PASS  {node}  disk: root file system ")))
            .and_then(|rest| rest.split_once("% used (")?.1.split_once(" MiB free)"))
            .and_then(|(free, _)| free.parse().ok())
            .unwrap_or_else(|| panic!("no disk verdict for {node}: {}", healthy.stdout));
        assert!((30_000..=32_768).contains(&free_mib), "{}", healthy.stdout);
    }
    assert!(
        healthy.stdout.contains(
            "PASS  two  storage wear: the root eMMC has used up to 20 % of its rated life"
        ),
        "{}",
        healthy.stdout
    );

    // A weak supply and a hot SoC on the agent, now: failures, each with its fix.
    fleet.exec(
        "pi2",
        "echo 0x50005 > /etc/fleet/throttled && echo 85100 > /sys/class/thermal/thermal_zone0/temp",
    );
    let sick = ws.pikube(&["doctor"]).expect_code(1);
    for line in [
        "FAIL  two  power: under-voltage now",
        "FAIL  two  throttling: ",
        "FAIL  two  temperature: SoC at 85.1 °C",
        "fix: use the official supply",
    ] {
        assert!(sick.stdout.contains(line), "{line}:\n{}", sick.stdout);
    }
    // Only the node named is judged.
    let named = ws.pikube(&["doctor", "one"]).expect_code(0);
    assert!(
        named.stdout.contains("PASS  one  power: ") && !named.stdout.contains("  two  "),
        "{}",
        named.stdout
    );
    let json = ws.pikube(&["doctor", "--output", "json"]).expect_code(1);
    let findings: Value = serde_json::from_str(&json.stdout).unwrap();
    assert!(findings
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["node"] == "two" && f["check"] == "power" && f["verdict"] == "fail"));

    // Only since boot, and warm, a certificate of the agent's K3s due in 10 days, and its
    // eMMC 90 % worn: warnings alone, exit 2.
    fleet.exec(
        "pi2",
        "echo 0x50000 > /etc/fleet/throttled && echo 72000 > /sys/class/thermal/thermal_zone0/temp \
         && echo '0x03 0x09' > /etc/fleet/life_time \
         && rm /run/systemd/timesync/synchronized",
    );
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["two".to_owned()]).unwrap();
    params.not_after = time::OffsetDateTime::now_utc() + time::Duration::hours(10 * 24 + 12);
    let pem = params.self_signed(&key).unwrap().pem();
    fleet.exec(
        "pi2",
        &format!("cat > /var/lib/rancher/k3s/agent/client-soon.crt <<'EOF'\n{pem}EOF\n"),
    );
    let warned = ws.pikube(&["doctor"]).expect_code(2);
    assert!(
        warned
            .stdout
            .contains("WARN  two  power: under-voltage since boot")
            && warned
                .stdout
                .contains("WARN  two  temperature: SoC at 72.0 °C")
            && warned
                .stdout
                .contains("WARN  two  time sync: the clock is not synchronized with NTP")
            && warned.stdout.contains(
                "WARN  two  certificates: /var/lib/rancher/k3s/agent/client-soon.crt expires \
                 in 10 days"
            )
            && warned.stdout.contains(
                "fix: restart K3s on it (`pikube exec two --sudo -- systemctl restart k3s`"
            )
            && warned.stdout.contains(
                "WARN  two  storage wear: the root eMMC has used up to 90 % of its rated life"
            ),
        "{}",
        warned.stdout
    );
}

/// The finding of `check` on `node` in `pikube doctor --output json` output.
fn doctor_finding(json: &str, node: &str, check: &str) -> Value {
    let findings: Value = serde_json::from_str(json).expect("doctor's JSON");
    findings
        .as_array()
        .expect("a list of findings")
        .iter()
        .find(|f| f["node"] == node && f["check"] == check)
        .cloned()
        .unwrap_or_else(|| panic!("no {check} finding for {node}: {json}"))
}

#[test]
fn doctor_warns_of_etcd_on_an_sd_card_swap_a_full_k3s_disk_and_a_node_off_the_k3s_version() {
    // The server's root on an SD card, the agent's on NVMe; each a disk of its own (see the
    // test above).
    let fleet = Fleet::up(&["pi1:storage=sd,disk=32G", "pi2:storage=nvme,disk=32G"]);
    let ws = Workspace::new(
        &fleet,
        "pi",
        &[node("pi1", "one", "server"), node("pi2", "two", "agent")],
    );
    ws.pikube(&["apply", READY]).expect_code(0);
    for pi in ["pi1", "pi2"] {
        fleet.exec(
            pi,
            "mkdir -p /run/systemd/timesync && touch /run/systemd/timesync/synchronized",
        );
    }

    // etcd on an SD card: warned, with what to do; the only warning, so exit 2.
    let sd = ws.pikube(&["doctor"]).expect_code(2);
    assert!(
        sd.stdout.contains(
            "WARN  one  datastore storage: a server's datastore (etcd or SQLite) lives on an \
             SD card"
        ) && sd
            .stdout
            .contains("fix: move the server's root to an SSD (USB or NVMe)")
            && sd.stdout.matches("WARN").count() == 1
            && !sd.stdout.contains("FAIL"),
        "{}",
        sd.stdout
    );
    for name in ["one", "two"] {
        assert!(
            sd.stdout.contains(&format!(
                "PASS  {name}  k3s version: runs v1.34.4+k3s1, as cluster.toml asks"
            )),
            "{}",
            sd.stdout
        );
    }
    let json = ws.pikube(&["doctor", "--output", "json"]).expect_code(2);
    let found = doctor_finding(&json.stdout, "one", "datastore storage");
    assert_eq!(found["verdict"], "warn", "{found}");
    assert!(
        found["fix"].as_str().unwrap().contains("to an SSD"),
        "{found}"
    );
    // The fix the issue's prior art gives: K3s' data on a USB SSD (a file system whose
    // source is /dev/sda1, mounted at /var/lib/rancher), the OS left on the card.
    fleet.exec(
        "pi1",
        "systemctl stop k3s && cp -a /var/lib/rancher /root/rancher && \
         mount -t tmpfs -o size=4G /dev/sda1 /var/lib/rancher && \
         cp -a /root/rancher/. /var/lib/rancher/ && rm -rf /root/rancher && systemctl start k3s",
    );
    let moved = ws.pikube(&["doctor", "one"]).expect_code(0);
    assert!(
        moved.stdout.contains(
            "PASS  one  datastore storage: /var/lib/rancher/k3s on usb (/dev/sda1 on \
             /var/lib/rancher), root on sd"
        ) && moved
            .stdout
            .contains("PASS  one  k3s data disk: /var/lib/rancher/k3s (on /var/lib/rancher) "),
        "{}",
        moved.stdout
    );
    // The agent on NVMe is healthy: exit 0 when only it is judged.
    ws.pikube(&["doctor", "two"]).expect_code(0);

    // Swap turned on again on the agent (by hand, or a package that brings dphys-swapfile
    // back): a warning, and apply is the fix.
    fleet.exec(
        "pi2",
        "truncate -s 64M /root/swap && chmod 600 /root/swap && mkswap /root/swap >/dev/null \
         && swapon /root/swap",
    );
    let swap = ws.pikube(&["doctor", "two"]).expect_code(2);
    assert!(
        swap.stdout
            .contains("WARN  two  swap: 1 swap area(s) in use")
            && swap
                .stdout
                .contains("fix: pikube apply (turns swap off for good)"),
        "{}",
        swap.stdout
    );
    let json = ws
        .pikube(&["doctor", "two", "--output", "json"])
        .expect_code(2);
    assert_eq!(
        doctor_finding(&json.stdout, "two", "swap")["verdict"],
        "warn"
    );
    fleet.exec("pi2", "swapoff /root/swap && rm /root/swap");

    // The agent's K3s left behind at another release (a stamped copy of the same binary,
    // renamed over it as an install does): a warning naming both versions.
    fleet.exec("pi2", "cp -p /usr/local/bin/k3s /root/k3s.release");
    let run_as = |version: &str| {
        fleet.exec(
            "pi2",
            &format!(
                "cp -p /root/k3s.release /usr/local/bin/k3s.new && \
                 printf '\\000k3s-double-version=%s\\n' {version} >> /usr/local/bin/k3s.new && \
                 mv -f /usr/local/bin/k3s.new /usr/local/bin/k3s"
            ),
        )
    };
    run_as("v1.33.6+k3s1");
    let behind = ws.pikube(&["doctor"]).expect_code(2);
    assert!(
        behind.stdout.contains(
            "WARN  two  k3s version: runs v1.33.6+k3s1; cluster.toml asks for v1.34.4+k3s1 \
             (the nodes run v1.33.6+k3s1, v1.34.4+k3s1)"
        ) && behind
            .stdout
            .contains("fix: pikube apply (every node to [k3s] version = \"v1.34.4+k3s1\")")
            && behind
                .stdout
                .contains("PASS  one  k3s version: runs v1.34.4+k3s1, as cluster.toml asks"),
        "{}",
        behind.stdout
    );
    let json = ws
        .pikube(&["doctor", "two", "--output", "json"])
        .expect_code(2);
    let found = doctor_finding(&json.stdout, "two", "k3s version");
    assert_eq!(found["verdict"], "warn", "{found}");
    // Ahead of the server: Kubernetes forbids a kubelet newer than its API server.
    run_as("v1.35.0+k3s1");
    let ahead = ws.pikube(&["doctor", "two"]).expect_code(1);
    assert!(
        ahead.stdout.contains(
            "FAIL  two  k3s version: runs v1.35.0+k3s1, newer than every server: agents must \
             never lead"
        ),
        "{}",
        ahead.stdout
    );
    let json = ws
        .pikube(&["doctor", "two", "--output", "json"])
        .expect_code(1);
    assert_eq!(
        doctor_finding(&json.stdout, "two", "k3s version")["verdict"],
        "fail"
    );
    fleet.exec("pi2", "mv -f /root/k3s.release /usr/local/bin/k3s");
    ws.pikube(&["doctor", "two"]).expect_code(0);

    // K3s' data moved to a disk of its own (a small one, mounted at /var/lib/rancher as an
    // SSD would be) and filled: a failure on that disk while the root has room.
    fleet.exec(
        "pi2",
        "need=$(du -sk /var/lib/rancher | cut -f1) && mkdir -p /mnt/k3s-disk && \
         mount -t tmpfs -o size=$((need + 32768))k k3s-disk /mnt/k3s-disk && \
         cp -a /var/lib/rancher/. /mnt/k3s-disk/ && mount --bind /mnt/k3s-disk /var/lib/rancher && \
         free=$(df -Pk /var/lib/rancher | awk 'NR == 2 {print $4}') && \
         head -c $(( (free - 256) * 1024 )) /dev/zero > /var/lib/rancher/filler",
    );
    let full = ws.pikube(&["doctor", "two"]).expect_code(1);
    assert!(
        full.stdout
            .contains("FAIL  two  k3s data disk: /var/lib/rancher/k3s (on /var/lib/rancher) ")
            && full.stdout.contains("fix: free space (old images")
            && full.stdout.contains("PASS  two  disk: root file system "),
        "{}",
        full.stdout
    );
    let json = ws
        .pikube(&["doctor", "two", "--output", "json"])
        .expect_code(1);
    let found = doctor_finding(&json.stdout, "two", "k3s data disk");
    assert_eq!(found["verdict"], "fail", "{found}");
    assert!(
        found["detail"].as_str().unwrap().contains("% used ("),
        "{found}"
    );
}

#[test]
fn a_dead_server_is_pruned_with_its_etcd_member_and_the_others_keep_quorum() {
    let fleet = Fleet::up(&["pi1", "pi2", "pi3"]);
    let servers = [
        node("pi1", "s1", "server"),
        node("pi2", "s2", "server"),
        node("pi3", "s3", "server"),
    ];
    let ws = Workspace::new(&fleet, "pi", &servers);
    ws.pikube(&["apply", READY]).expect_code(0);
    assert_eq!(etcd_members(&fleet, "pi1").len(), 3);

    // s3's SD card dies: it is gone for good, and leaves cluster.toml.
    fleet.poweroff("pi3");
    edit(
        &ws,
        &format!(
            "\n[[nodes]]\nname = \"s3\"\naddress = \"{}\"\nrole = \"server\"\n",
            fleet.node("pi3").ip
        ),
        "",
    );
    let prune = ws.pikube(&["apply", "--prune", READY]).expect_code(1);
    assert!(
        prune.stdout.contains("s3: pruned (") && prune.stdout.contains("NOT uninstalled"),
        "{}\n{}",
        prune.stdout,
        prune.stderr
    );
    // Its etcd member went with its Node (K3s' finalizer), so the two left are the whole
    // cluster and keep answering.
    assert_member_gone(&fleet, "pi1", "pi3", 2);
    let names = node_names(&fleet, "pi2");
    assert_eq!(names, ["s1", "s2"]);
}

#[test]
fn a_dead_first_server_is_pruned_and_a_new_server_under_a_new_name_joins_another() {
    let fleet = Fleet::up(&["pi1", "pi2", "pi3", "pi4", "pi5"]);
    let ws = Workspace::new(&fleet, "pi", &three_servers_one_agent());
    ws.pikube(&["apply", READY]).expect_code(0);
    assert_eq!(etcd_members(&fleet, "pi2").len(), 3);
    let url = |fleet_node: &str| format!("server: https://{}:6443", fleet.node(fleet_node).ip);
    let config = |fleet_node: &str| fleet.exec(fleet_node, "cat /etc/rancher/k3s/config.yaml");
    assert!(config("pi1").contains("cluster-init: true"));

    // The SD card of s1, the server that started the cluster, dies: it leaves cluster.toml.
    fleet.poweroff("pi1");
    edit(
        &ws,
        &format!(
            "\n[[nodes]]\nname = \"s1\"\naddress = \"{}\"\nrole = \"server\"\n",
            fleet.node("pi1").ip
        ),
        "",
    );
    let before: Vec<String> = ["pi2", "pi3"]
        .iter()
        .map(|n| invocation(&fleet, n, "k3s"))
        .collect();
    let prune = ws.pikube(&["apply", "--prune", READY]).expect_code(1);
    assert!(
        prune.stdout.contains("s1: pruned (") && prune.stdout.contains("deleted, NOT uninstalled"),
        "{}\n{}",
        prune.stdout,
        prune.stderr
    );
    // Its etcd member went with its Node; the two left are the whole of etcd and answer.
    assert_member_gone(&fleet, "pi2", "pi1", 2);
    assert_eq!(node_names(&fleet, "pi3"), ["a1", "s2", "s3"]);
    // s2 takes s1's place: the others join through it. Neither server was restarted for
    // it (K3s ignores whom to join on its own etcd data), and s2 is not made to say
    // cluster-init; the agent reads `server:` at its start, so it was restarted to it.
    let after: Vec<String> = ["pi2", "pi3"]
        .iter()
        .map(|n| invocation(&fleet, n, "k3s"))
        .collect();
    assert_eq!(
        before,
        after,
        "a server restarted:\n{}\n{}\n{}",
        prune.stdout,
        prune.stderr,
        fleet.exec(
            "pi2",
            "journalctl -u k3s --no-pager -o cat 2>/dev/null | tail -n 40; true"
        )
    );
    let s2 = config("pi2");
    assert!(
        !s2.contains("server:") && !s2.contains("cluster-init"),
        "{s2}"
    );
    assert!(config("pi3").contains(&url("pi2")), "{}", config("pi3"));
    assert!(config("pi4").contains(&url("pi2")), "{}", config("pi4"));
    let recorded: Value = serde_json::from_str(
        &std::fs::read_to_string(ws.path().join(".pikube/test/nodes.json")).unwrap(),
    )
    .unwrap();
    let joined_through: Vec<&str> = recorded["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["initialised_cluster"] == true)
        .map(|n| n["name"].as_str().unwrap())
        .collect();
    assert_eq!(joined_through, ["s2"], "{recorded}");
    let status = ws.pikube(&["status"]).expect_code(0);
    assert!(
        status
            .stdout
            .contains("etcd: quorum holds (2 of 2 members Ready)"),
        "{}",
        status.stdout
    );
    ws.pikube(&["plan"]).expect_code(0);

    // A new card in another Pi, under a new name: it joins through s2.
    edit(
        &ws,
        "\n[[nodes]]\nname = \"s2\"",
        &format!(
            "\n[[nodes]]\nname = \"s4\"\naddress = \"{}\"\nrole = \"server\"\n\n\
             [[nodes]]\nname = \"s2\"",
            fleet.node("pi5").ip
        ),
    );
    ws.pikube(&["apply", READY]).expect_code(0);
    assert!(config("pi5").contains(&url("pi2")), "{}", config("pi5"));
    assert_eq!(etcd_members(&fleet, "pi5").len(), 3);
    let nodes = cluster_nodes(&fleet, "pi5");
    assert_eq!(nodes.len(), 4, "{nodes:?}");
    assert!(nodes.iter().all(is_ready), "{nodes:?}");
    ws.pikube(&["plan"]).expect_code(0);
}

#[test]
fn a_pruned_server_is_stopped_before_its_node_goes_so_it_cannot_rejoin_etcd() {
    let fleet = Fleet::up(&["pi1", "pi2", "pi3"]);
    let servers = [
        node("pi1", "s1", "server"),
        node("pi2", "s2", "server"),
        node("pi3", "s3", "server"),
    ];
    let ws = Workspace::new(&fleet, "pi", &servers);
    ws.pikube(&["apply", READY]).expect_code(0);
    assert_eq!(etcd_members(&fleet, "pi1").len(), 3);

    // Deleting the Node of a server K3s still runs on removes its etcd member under it: K3s
    // there dies, systemd starts it again, and with `server:` in its config it joins etcd
    // again as a new member (K3s' tombstone). A finalizer that does not finish keeps the
    // prune waiting after the member is removed, so a K3s left running would be back in
    // etcd before the prune gives up.
    fleet.exec(
        "pi1",
        r#"k3s kubectl patch node s3 --type=merge -p '{"metadata":{"finalizers":["example.com/stuck"]}}'"#,
    );
    edit(
        &ws,
        &format!(
            "\n[[nodes]]\nname = \"s3\"\naddress = \"{}\"\nrole = \"server\"\n",
            fleet.node("pi3").ip
        ),
        "",
    );
    let prune = ws
        .pikube(&["apply", "--prune", "--delete-timeout=20s", READY])
        .expect_code(1);
    assert!(
        prune.stdout.contains(
            "s3: not deleted from the cluster within 20s: K3s' finalizers [example.com/stuck]"
        ),
        "{}\n{}",
        prune.stdout,
        prune.stderr
    );
    // K3s was stopped first: it never saw its member removed, nothing rejoined, and it
    // stays stopped.
    let journal = fleet.exec(
        "pi3",
        "journalctl -u k3s --no-pager -o cat 2>/dev/null; true",
    );
    let rejoined: Vec<&str> = journal
        .lines()
        .filter(|l| l.contains("removed from the cluster") || l.contains("tombstone"))
        .collect();
    assert!(rejoined.is_empty(), "{rejoined:#?}");
    assert_member_gone(&fleet, "pi1", "pi3", 2);
    assert_ne!(
        fleet.exec("pi3", "systemctl is-active k3s || true").trim(),
        "active"
    );
}

#[test]
fn a_server_reached_at_a_second_address_has_it_in_its_certificate_for_joins_and_kubectl() {
    // The server answers at an address K3s does not pick for itself (a second IP on its
    // interface, like a Pi on both Ethernet and Wi-Fi): cluster.toml names that one (F9).
    let fleet = Fleet::up(&["pi1", "pi2"]);
    let ip = fleet.node("pi1").ip.clone();
    let second = format!("{}.211", ip.rsplit_once('.').unwrap().0);
    fleet.exec("pi1", &format!("ip addr add {second}/24 dev eth0"));
    let ws = Workspace::new(
        &fleet,
        "pi",
        &[node("pi1", "one", "server"), node("pi2", "two", "agent")],
    );
    edit(
        &ws,
        &format!("address = \"{ip}\""),
        &format!("address = \"{second}\""),
    );
    ws.pikube(&["apply", READY]).expect_code(0);
    assert!(is_ready(&cluster_node(&fleet, "pi1", "two")));
    let config = fleet.exec("pi1", "cat /etc/rancher/k3s/config.yaml");
    assert!(config.contains(&format!("- {second}")), "{config}");
    // kubeconfig checks the certificate names the address it points kubectl at.
    let kubeconfig = ws.pikube(&["kubeconfig"]).expect_code(0);
    assert!(
        kubeconfig
            .stdout
            .contains(&format!("server: https://{second}:6443")),
        "{}",
        kubeconfig.stdout
    );
    assert!(kubeconfig.stderr.is_empty(), "{}", kubeconfig.stderr);
    ws.pikube(&["plan"]).expect_code(0);
}

#[test]
fn agents_hold_only_the_agent_token_and_a_cluster_from_before_moves_to_it_in_place() {
    // Review M5: root on an agent must not find the server token (it joins servers and
    // reads every Secret). Lab 35.
    let fleet = Fleet::up(&["pi1", "pi2"]);
    let ws = Workspace::new(
        &fleet,
        "pi",
        &[node("pi1", "one", "server"), node("pi2", "two", "agent")],
    );
    ws.pikube(&["apply", READY]).expect_code(0);
    let secret = |name: &str| {
        std::fs::read_to_string(ws.path().join(".pikube/test").join(name))
            .unwrap()
            .trim()
            .to_owned()
    };
    let (server_secret, agent_secret) = (secret("token"), secret("agent-token"));
    assert_ne!(server_secret, agent_secret);
    let agent_env = fleet.exec("pi2", "cat /etc/systemd/system/k3s-agent.service.env");
    assert!(!agent_env.contains(&server_secret), "{agent_env}");
    assert!(
        agent_env.contains(&format!("::node:{agent_secret}\"")),
        "{agent_env}"
    );
    let server_env = fleet.exec("pi1", "cat /etc/systemd/system/k3s.service.env");
    assert!(
        server_env.contains(&format!("K3S_AGENT_TOKEN=\"{agent_secret}\"")),
        "{server_env}"
    );
    // The server keeps the agent token as a file of its own, not a link to the token.
    let kind = fleet.exec("pi1", "stat -c %F /var/lib/rancher/k3s/server/agent-token");
    assert_eq!(kind.trim(), "regular file");
    assert!(is_ready(&cluster_node(&fleet, "pi1", "two")));

    // A cluster as an earlier pikube left it: no agent token anywhere, the agent joined
    // with the server token, and no agent token in local state.
    let full = fleet.exec("pi1", "cat /var/lib/rancher/k3s/server/token");
    let full = full.trim();
    fleet.exec(
        "pi1",
        &format!(
            "printf 'K3S_TOKEN=\"%s\"\\n' {server_secret} > /etc/systemd/system/k3s.service.env; \
             ln -sfn token /var/lib/rancher/k3s/server/agent-token; systemctl restart k3s"
        ),
    );
    fleet.exec(
        "pi2",
        &format!(
            "printf 'K3S_TOKEN=\"%s\"\\n' '{full}' > /etc/systemd/system/k3s-agent.service.env; \
             systemctl restart k3s-agent"
        ),
    );
    std::fs::remove_file(ws.path().join(".pikube/test/agent-token")).unwrap();
    let registered = cluster_node(&fleet, "pi1", "two")["metadata"]["uid"].clone();

    // The plan says both env files change and both services restart; apply moves the
    // cluster over, server first, and the agent stays the same node.
    let plan = ws.pikube(&["plan"]).expect_code(2);
    assert!(
        plan.stdout
            .contains("restart k3s (the env file's secrets changed)"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout
            .contains("restart k3s-agent (the env file's secrets changed)"),
        "{}",
        plan.stdout
    );
    ws.pikube(&["apply", READY]).expect_code(0);
    let agent_secret = secret("agent-token");
    let agent_env = fleet.exec("pi2", "cat /etc/systemd/system/k3s-agent.service.env");
    assert!(!agent_env.contains(&server_secret), "{agent_env}");
    assert!(agent_env.contains(&format!("::node:{agent_secret}\"")));
    let kind = fleet.exec("pi1", "stat -c %F /var/lib/rancher/k3s/server/agent-token");
    assert_eq!(kind.trim(), "regular file");
    let two = cluster_node(&fleet, "pi1", "two");
    assert!(is_ready(&two), "{two}");
    assert_eq!(
        two["metadata"]["uid"], registered,
        "the agent registered anew"
    );
    ws.pikube(&["plan"]).expect_code(0);
}

/// The number of times `node`'s K3s logged importing `archive` successfully (the double
/// reads it at every start, as K3s' containerd does).
fn imports(fleet: &Fleet, node: &str, archive: &str) -> usize {
    fleet
        .exec(node, "journalctl --no-pager -o cat 2>/dev/null; true")
        .lines()
        .filter(|line| line.contains(&format!("msg=\"Imported images from {archive} in ")))
        .count()
}

/// The images `node`'s containerd holds, as `k3s ctr images ls -q` lists them.
fn held_images(fleet: &Fleet, node: &str) -> Vec<String> {
    let mut names: Vec<_> = fleet
        .exec(node, "k3s ctr images ls -q")
        .lines()
        .map(str::to_owned)
        .collect();
    names.sort();
    names
}

const PAUSE: &str = "docker.io/rancher/mirrored-pause:3.6";
const COREDNS: &str = "docker.io/rancher/mirrored-coredns-coredns:1.12.0";

#[test]
fn airgap_images_and_registries_reach_every_node_before_k3s_starts_and_follow_cluster_toml() {
    // F7: offline nodes need the release's system images in K3s' images directory before
    // K3s starts; pikube pushes its archive there (checksum-verified), replaces it when it
    // changes (restarting K3s so containerd imports it) and removes it when not wanted.
    let fleet = Fleet::up(&["pi1", "pi2"]);
    let ws = Workspace::new(
        &fleet,
        "pi",
        &[node("pi1", "one", "server"), node("pi2", "two", "agent")],
    );
    let zst = "/var/lib/rancher/k3s/agent/images/pikube-airgap-images.tar.zst";
    let tar = "/var/lib/rancher/k3s/agent/images/pikube-airgap-images.tar";
    // Archives as K3s' release ships them (docker save, zstd), made by crane.
    support::image_archive::image_archive(ws.path(), "images-1.tar.zst", PAUSE, "pause");
    let toml = ws.path().join("cluster.toml");
    let mut text = std::fs::read_to_string(&toml).unwrap();
    text.push_str("\n[k3s.images]\namd64 = \"images-1.tar.zst\"\n");
    std::fs::write(&toml, &text).unwrap();
    let sha = |file: &str| {
        let out = std::process::Command::new("sha256sum")
            .arg(ws.path().join(file))
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap()[..64].to_owned()
    };

    let plan = ws.pikube(&["plan"]).expect_code(2);
    assert!(
        plan.stdout
            .matches("install the airgap images of k3s v1.34.4+k3s1 (")
            .count()
            == 2,
        "{}",
        plan.stdout
    );
    ws.pikube(&["apply", READY]).expect_code(0);
    for fleet_node in ["pi1", "pi2"] {
        let on_node = fleet.exec(fleet_node, &format!("sha256sum {zst}; stat -c %a {zst}"));
        assert!(on_node.starts_with(&sha("images-1.tar.zst")), "{on_node}");
        assert!(on_node.ends_with("644\n"), "{on_node}");
        // It was there when K3s started: the first start imported it, and its image.
        assert_eq!(imports(&fleet, fleet_node, zst), 1, "{fleet_node}");
        assert_eq!(held_images(&fleet, fleet_node), [PAUSE], "{fleet_node}");
    }
    assert!(is_ready(&cluster_node(&fleet, "pi1", "two")));
    ws.pikube(&["plan"]).expect_code(0);

    // Another release's images, in another format: in before the restart, the old gone.
    support::image_archive::image_archive(ws.path(), "images-2.tar", COREDNS, "coredns");
    edit(
        &ws,
        "amd64 = \"images-1.tar.zst\"",
        "amd64 = \"images-2.tar\"",
    );
    let apply = ws.pikube(&["apply", READY]).expect_code(0);
    assert!(
        apply.stdout.contains("the airgap images changed"),
        "{}",
        apply.stdout
    );
    for fleet_node in ["pi1", "pi2"] {
        let listing = fleet.exec(
            fleet_node,
            "ls -A /var/lib/rancher/k3s/agent/images; sha256sum /var/lib/rancher/k3s/agent/images/*",
        );
        assert!(listing.contains(&sha("images-2.tar")), "{listing}");
        assert!(!listing.contains("tar.zst"), "{listing}");
        assert!(!listing.contains(".k3s.pikube-"), "{listing}");
        assert_eq!(imports(&fleet, fleet_node, tar), 1, "{fleet_node}");
        // containerd keeps what it imported before beside the new images.
        assert_eq!(
            held_images(&fleet, fleet_node),
            [COREDNS, PAUSE],
            "{fleet_node}"
        );
    }

    // No longer wanted: the archive goes (the images stay imported), K3s keeps running.
    let text = std::fs::read_to_string(&toml).unwrap();
    std::fs::write(
        &toml,
        text.replace("\n[k3s.images]\namd64 = \"images-2.tar\"\n", ""),
    )
    .unwrap();
    let apply = ws.pikube(&["apply", READY]).expect_code(0);
    assert!(
        apply.stdout.contains("one: k3s: 1 change\n")
            && apply.stdout.contains("two: k3s: 1 change\n"),
        "{}",
        apply.stdout
    );
    for fleet_node in ["pi1", "pi2"] {
        let left = fleet.exec(fleet_node, &format!("ls {tar} 2>&1; true"));
        assert!(left.contains("No such file"), "{left}");
        assert_eq!(imports(&fleet, fleet_node, tar), 1, "not restarted");
    }
    ws.pikube(&["plan"]).expect_code(0);

    // Registry mirrors with a password from secrets.age: registries.yaml (0600) on every
    // node, read by K3s at its restart; the password in no plan or output.
    // The registry's own CA (made by the real OpenSSL) goes beside it, 0644.
    let registries = "/etc/rancher/k3s/registries.yaml";
    let made = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ed25519",
            "-nodes",
            "-subj",
            "/CN=registry-ca",
            "-days",
            "1",
            "-keyout",
            "registry-ca.key",
            "-out",
            "registry-ca.pem",
        ])
        .current_dir(ws.path())
        .output()
        .unwrap();
    assert!(made.status.success(), "{made:?}");
    let ca = std::fs::read_to_string(ws.path().join("registry-ca.pem")).unwrap();
    let text = std::fs::read_to_string(&toml).unwrap();
    std::fs::write(
        &toml,
        format!(
            "{text}\n[k3s.registries.mirrors]\n\"docker.io\" = [\"https://registry.lan:5000\"]\n\
             [k3s.registries.configs.\"registry.lan:5000\"]\nusername = \"pull\"\n\
             password_secret = \"registry.password\"\nca_file = \"registry-ca.pem\"\n"
        ),
    )
    .unwrap();
    let secrets = WorkspaceSecrets::init(&ws);
    let missing = secrets.pikube(&["apply", READY]).expect_code(1);
    assert!(
        missing.stdout.contains(
            "k3s.registries.configs.\"registry.lan:5000\".password_secret: no secret named \
             registry.password (set it with `pikube secrets set registry.password`)"
        ),
        "{}",
        missing.stdout
    );
    let password = "reg-pass: #1 \"quoted\"";
    secrets.set("registry.password", password);
    let plan = secrets.pikube(&["plan", "--output", "json"]).expect_code(2);
    assert!(plan.stdout.contains(registries), "{}", plan.stdout);
    let apply = secrets.pikube(&["apply", READY]).expect_code(0);
    for run in [&plan, &apply] {
        assert!(
            !run.stdout.contains("reg-pass") && !run.stderr.contains("reg-pass"),
            "{}{}",
            run.stdout,
            run.stderr
        );
    }
    for fleet_node in ["pi1", "pi2"] {
        let mode = fleet.exec(fleet_node, &format!("stat -c %a {registries}"));
        assert_eq!(mode, "600\n");
        let read = fleet.exec(fleet_node, &format!("cat {registries}"));
        assert!(
            read.contains(r#""password": "reg-pass: #1 \"quoted\"""#),
            "{read}"
        );
        let yaml: serde_json::Value =
            serde_json::from_str(read.split_once('\n').unwrap().1).unwrap();
        let ca_file = yaml["configs"]["registry.lan:5000"]["tls"]["ca_file"]
            .as_str()
            .unwrap_or_else(|| panic!("{read}"))
            .to_owned();
        assert!(ca_file.starts_with("/etc/rancher/k3s/registries-ca/registry.lan_5000-"));
        assert_eq!(fleet.exec(fleet_node, &format!("cat {ca_file}")), ca);
        assert_eq!(
            fleet.exec(fleet_node, &format!("stat -c %a {ca_file}")),
            "644\n"
        );
        let journal = fleet.exec(fleet_node, "journalctl --no-pager -o cat 2>/dev/null; true");
        assert!(
            journal.contains(&format!(
                "Using private registry config file at {registries}"
            )),
            "{fleet_node}"
        );
    }
    secrets.pikube(&["plan"]).expect_code(0);

    // Registries dropped from cluster.toml: pikube's file goes; a file of the user's own
    // would have been left.
    let text = std::fs::read_to_string(&toml).unwrap();
    let cut = text.find("\n[k3s.registries.mirrors]").unwrap();
    std::fs::write(&toml, &text[..cut]).unwrap();
    secrets.pikube(&["apply", READY]).expect_code(0);
    for fleet_node in ["pi1", "pi2"] {
        let left = fleet.exec(
            fleet_node,
            &format!("ls {registries} /etc/rancher/k3s/registries-ca 2>&1; true"),
        );
        assert_eq!(left.matches("No such file").count(), 2, "{left}");
    }
    secrets.pikube(&["plan"]).expect_code(0);
}

/// The SHA-256 of a local file, as hex.
fn sha256_of(path: &std::path::Path) -> String {
    let out = std::process::Command::new("sha256sum")
        .arg(path)
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap()[..64].to_owned()
}

#[test]
fn airgap_images_true_takes_the_releases_archive_from_the_release_server_verified_and_once() {
    // F7 without local files: `airgap_images = true` downloads the release's
    // k3s-airgap-images-<arch>.tar.zst (checked against sha256sum-<arch>.txt, as the release
    // publishes them) through the release server pikube is pointed at, caches it, and every
    // node has it before K3s starts. A file that is not what the release vouches for reaches
    // no node.
    let fleet = Fleet::up(&["pi1", "pi2"]);
    let ws = Workspace::new(
        &fleet,
        "pi",
        &[node("pi1", "one", "server"), node("pi2", "two", "agent")],
    );
    edit(
        &ws,
        "version = \"v1.34.4+k3s1\"\n",
        "version = \"v1.34.4+k3s1\"\nairgap_images = true\n",
    );
    let root = ws.path().join("release");
    let assets = root.join("k3s-io/k3s/releases/download/v1.34.4+k3s1");
    std::fs::create_dir_all(&assets).unwrap();
    let asset = "k3s-airgap-images-amd64.tar.zst";
    let archive = support::image_archive::image_archive(&assets, asset, PAUSE, "pause");
    let sums = |sha: &str| {
        std::fs::write(
            assets.join("sha256sum-amd64.txt"),
            format!("{sha}  {asset}\n{}  k3s\n", "ab".repeat(32)),
        )
        .unwrap()
    };
    // The release server: a plain web server over the release's directory tree, logging
    // each request.
    let port = pikube_test_support::loopback::free_port();
    let mut server = std::process::Command::new("python3");
    server
        .args([
            "-m",
            "http.server",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
        ])
        .current_dir(&root);
    let log = ws.path().join("release.log");
    let _server = support::registry::start(server, port, &log);
    let url = format!("http://127.0.0.1:{port}/k3s-io/k3s/releases");
    let cache = ws.path().join("cache");
    let env = [
        ("PIKUBE_K3S_RELEASE_URL", url.as_str()),
        ("XDG_CACHE_HOME", cache.to_str().unwrap()),
    ];
    let downloads = || {
        std::fs::read_to_string(&log)
            .unwrap()
            .matches(&format!(
                "\"GET /k3s-io/k3s/releases/download/v1.34.4%2Bk3s1/{asset} "
            ))
            .count()
    };
    let images = "/var/lib/rancher/k3s/agent/images/pikube-airgap-images.tar.zst";

    // A checksum the archive does not have: refused, naming the file; nothing cached, and
    // no node gets K3s or the archive.
    sums(&"0".repeat(64));
    let refused = with_env(&ws, &["apply", READY], &env);
    assert_ne!(refused.code, 0, "{}", refused.stdout);
    let said = format!("{}{}", refused.stdout, refused.stderr);
    let mismatch = format!(
        "{asset} downloaded from {url}/download/v1.34.4%2Bk3s1/{asset} does not match its \
         published checksum"
    );
    assert!(said.contains(&mismatch), "{said}");
    assert!(!cache
        .join(format!("pikube/k3s/v1.34.4+k3s1/{asset}"))
        .exists());
    for fleet_node in ["pi1", "pi2"] {
        let left = fleet.exec(
            fleet_node,
            &format!("ls /usr/local/bin/k3s {images} 2>&1; true"),
        );
        assert_eq!(left.matches("No such file").count(), 2, "{left}");
    }

    // The release's own checksum: downloaded once, on every node before K3s started.
    sums(&sha256_of(&archive));
    let before = downloads();
    with_env(&ws, &["apply", READY], &env).expect_code(0);
    assert_eq!(downloads(), before + 1);
    for fleet_node in ["pi1", "pi2"] {
        let on_node = fleet.exec(fleet_node, &format!("sha256sum {images}"));
        assert!(on_node.starts_with(&sha256_of(&archive)), "{on_node}");
        assert_eq!(imports(&fleet, fleet_node, images), 1, "{fleet_node}");
        assert_eq!(held_images(&fleet, fleet_node), [PAUSE], "{fleet_node}");
    }
    assert!(is_ready(&cluster_node(&fleet, "pi1", "two")));
    // Kept in the cache (beside the checksum file that vouches for it): a plan neither
    // downloads it again nor finds anything to do.
    let cached = cache.join("pikube/k3s/v1.34.4+k3s1");
    assert_eq!(sha256_of(&cached.join(asset)), sha256_of(&archive));
    assert!(cached.join("sha256sum-amd64.txt").is_file());
    with_env(&ws, &["plan"], &env).expect_code(0);
    assert_eq!(downloads(), before + 1);
}

/// Writes `node`'s card again: K3s and its node password gone, new host keys, booted
/// afresh (which also ends the SSH connection pikube kept), the new key accepted.
fn re_flash(fleet: &Fleet, ws: &Workspace, node: &str, uninstall: &str) {
    fleet.exec(
        node,
        &format!("/usr/local/bin/{uninstall} >/dev/null 2>&1; rm -rf /etc/rancher/node"),
    );
    fleet.rekey(node);
    fleet.reboot(node);
    let ip = fleet.node(node).ip.clone();
    let forgot = std::process::Command::new("ssh-keygen")
        .arg("-f")
        .arg(ws.known_hosts())
        .args(["-R", &ip])
        .output()
        .unwrap();
    assert!(forgot.status.success());
}

#[test]
fn a_re_flashed_agent_with_the_same_name_joins_again_once_the_user_says_so() {
    // Audit F11: the SD card of an agent died and was written again: new host keys, no
    // K3s, a new node password. The cluster still lists the node with the old password,
    // which K3s would refuse ("Node password rejected"): its old Node must go first, and a
    // Node is deleted only when the user names it.
    let fleet = Fleet::up(&["pi1", "pi2"]);
    let ws = Workspace::new(
        &fleet,
        "pi",
        &[node("pi1", "one", "server"), node("pi2", "two", "agent")],
    );
    ws.pikube(&["apply", READY]).expect_code(0);
    let old_uid = cluster_node(&fleet, "pi1", "two")["metadata"]["uid"].clone();

    // K3s gone from the machine at two's address while the Node is still Ready: some
    // other machine may run as `two` (a wrong address?), so nothing is deleted.
    fleet.exec(
        "pi2",
        "/usr/local/bin/k3s-agent-uninstall.sh >/dev/null 2>&1",
    );
    assert!(is_ready(&cluster_node(&fleet, "pi1", "two")));
    let running = ws.pikube(&["plan", "--replace", "two"]).expect_code(1);
    assert!(
        running.stdout.contains(
            "two: K3s is not installed here, yet the cluster has a Ready Node named two: \
             another machine still runs K3s under this name"
        ),
        "{}",
        running.stdout
    );

    re_flash(&fleet, &ws, "pi2", "k3s-agent-uninstall.sh");
    wait_not_ready(&fleet, "pi1", "two");
    let plan = ws.pikube(&["plan"]).expect_code(1);
    let apply = ws.pikube(&["apply", READY]).expect_code(1);
    for refused in [&plan, &apply] {
        assert!(
            refused.stdout.contains(
                "two: K3s is not installed here, but the cluster still lists a Node named two \
                 (NotReady): a re-flashed card?"
            ) && refused.stdout.contains("Run `pikube apply --replace two`"),
            "{}",
            refused.stdout
        );
    }
    assert_eq!(
        cluster_node(&fleet, "pi1", "two")["metadata"]["uid"],
        old_uid
    );
    let unknown = ws
        .pikube(&["apply", "--replace", "too", READY])
        .expect_code(1);
    assert!(
        unknown.stderr.contains("no node too in"),
        "{}",
        unknown.stderr
    );

    let plan = ws.pikube(&["plan", "--replace", "two"]).expect_code(2);
    assert!(
        plan.stdout.contains("delete its old Node first"),
        "{}",
        plan.stdout
    );
    let apply = ws
        .pikube(&["apply", "--replace", "two", READY])
        .expect_code(0);
    assert!(
        apply
            .stderr
            .contains("two: [k3s] the cluster still lists this node, whose K3s is gone"),
        "{}",
        apply.stderr
    );
    let two = cluster_node(&fleet, "pi1", "two");
    assert!(is_ready(&two), "{two}");
    assert_ne!(
        two["metadata"]["uid"], old_uid,
        "a new Node, registered afresh"
    );
    // Joined, it needs nothing more: the flag was for that one apply.
    ws.pikube(&["plan"]).expect_code(0);
}

#[test]
fn a_re_flashed_server_rejoins_etcd_without_leaving_its_old_member_behind() {
    // Audit F11, a server: deleting its old Node also removes its etcd member, so the
    // server joins as a new member instead of leaving a dead one counted in the quorum.
    let fleet = Fleet::up(&["pi1", "pi2", "pi3"]);
    let ws = Workspace::new(
        &fleet,
        "pi",
        &[
            node("pi1", "s1", "server"),
            node("pi2", "s2", "server"),
            node("pi3", "s3", "server"),
        ],
    );
    ws.pikube(&["apply", READY]).expect_code(0);
    assert_eq!(etcd_members(&fleet, "pi1").len(), 3);
    let old_members = etcd_members(&fleet, "pi1");

    re_flash(&fleet, &ws, "pi3", "k3s-uninstall.sh");
    wait_not_ready(&fleet, "pi1", "s3");
    ws.pikube(&["apply", READY]).expect_code(1);
    ws.pikube(&["apply", "--replace", "s3", READY])
        .expect_code(0);
    let members = etcd_members(&fleet, "pi1");
    assert_eq!(members.len(), 3, "{members:?}");
    let s3_member = |list: &[String]| -> String {
        list.iter()
            .find(|m| m.contains(&fleet.node("pi3").ip))
            .cloned()
            .unwrap_or_default()
    };
    assert_ne!(
        s3_member(&members),
        s3_member(&old_members),
        "a new member (K3s names each with a fresh suffix): {members:?}"
    );
    assert!(is_ready(&cluster_node(&fleet, "pi1", "s3")));
    ws.pikube(&["plan"]).expect_code(0);
}

#[test]
fn a_k3s_installed_by_install_sh_is_refused_naming_its_settings_then_adopted_keeping_them() {
    // Audit F8: a node first set up with install.sh keeps its flags in the unit's ExecStart
    // and its variables in the env file; pikube's files would silently drop them.
    let fleet = Fleet::up(&["pi1"]);
    let ws = Workspace::new(&fleet, "pi", &[node("pi1", "one", "server")]);
    let unit = "/etc/systemd/system/k3s.service";
    let foreign = "[Unit]\nDescription=Lightweight Kubernetes\n[Service]\nType=notify\n\
                   EnvironmentFile=-/etc/systemd/system/k3s.service.env\n\
                   ExecStart=/usr/local/bin/k3s \\\n    server \\\n\t'--disable=traefik' \\\n\
                   \t'--token' \\\n\t'install-sh-secret' \\\n\t'--node-label' \\\n\
                   \t'site=attic' \\\n";
    fleet.exec(
        "pi1",
        &format!(
            "cat > {unit} <<'EOF'\n{foreign}EOF\n\
             umask 077; \
             printf 'K3S_TOKEN=install-sh-secret\\nK3S_KUBECONFIG_MODE=640\\nNO_PROXY=.lan\\n' \
             > {unit}.env"
        ),
    );

    let plan = ws.pikube(&["plan"]).expect_code(1);
    let apply = ws.pikube(&["apply", READY]).expect_code(1);
    for run in [&plan, &apply] {
        let text = format!("{}{}", run.stdout, run.stderr);
        assert!(
            text.contains(
                "K3s here was installed by another tool (/etc/systemd/system/k3s.service has \
                 no \"# Managed by pikube\" line; it runs `/usr/local/bin/k3s server \
                 --disable=traefik --token <redacted> --node-label site=attic`)"
            ) && text.contains("pikube apply --adopt"),
            "{text}"
        );
        // What the old install set, kept or replaced, named before anything is done.
        assert!(
            text.contains(
                "Adopting it keeps what cluster.toml does not set: --disable=traefik, \
                 --node-label=site=attic (in /etc/rancher/k3s/config.yaml.d/\
                 10-pikube-adopted.yaml) and NO_PROXY (moved to /etc/default)"
            ) && text.contains(
                "cluster.toml's replace --token=<redacted>, K3S_TOKEN, K3S_KUBECONFIG_MODE"
            ),
            "{text}"
        );
        assert!(!text.contains("install-sh-secret"), "{text}");
    }
    assert_eq!(
        fleet.exec("pi1", &format!("cat {unit}")),
        foreign,
        "left as it was"
    );

    let plan = ws.pikube(&["plan", "--adopt"]).expect_code(2);
    assert!(
        plan.stdout.contains(&format!("update {unit}")),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stderr.contains(
            "warning: one: adopting the K3s another tool installed: keeps what cluster.toml \
             does not set: --disable=traefik"
        ),
        "{}",
        plan.stderr
    );
    // The old unit's diff shows it, with the token on its own line hidden.
    assert!(
        !format!("{}{}", plan.stdout, plan.stderr).contains("install-sh-secret"),
        "{}",
        plan.stdout
    );

    // The per-node setting does what the flag does.
    let toml = ws.path().join("cluster.toml");
    let text = std::fs::read_to_string(&toml).unwrap();
    std::fs::write(
        &toml,
        text.replacen("role = \"server\"", "role = \"server\"\nadopt = true", 1),
    )
    .unwrap();
    let apply = ws.pikube(&["apply", READY]).expect_code(0);
    assert!(
        apply.stderr.contains("warning: one: adopting the K3s"),
        "{}",
        apply.stderr
    );
    assert!(fleet
        .exec("pi1", &format!("head -n 1 {unit}"))
        .starts_with("# Managed by pikube"));
    let one = cluster_node(&fleet, "pi1", "one");
    assert!(is_ready(&one));
    // Kept: the flags in their drop-in (the label reached the Node), the variable moved
    // to /etc/default/k3s (in K3s' environment now); not the token, nor the kubeconfig
    // mode pikube's config.yaml sets.
    assert_eq!(one["metadata"]["labels"]["site"], "attic", "{one}");
    let adopted = "/etc/rancher/k3s/config.yaml.d/10-pikube-adopted.yaml";
    let kept = fleet.exec("pi1", &format!("cat {adopted}"));
    assert!(
        kept.contains("disable: traefik") && kept.contains("node-label: site=attic"),
        "{kept}"
    );
    assert!(!kept.contains("token"), "{kept}");
    let moved = fleet.exec(
        "pi1",
        "stat -c %a /etc/default/k3s /etc/rancher/k3s/k3s.yaml; cat /etc/default/k3s; \
         tr '\\0' '\\n' < /proc/$(systemctl show -p MainPID --value k3s)/environ | \
         grep -c '^NO_PROXY=.lan$'",
    );
    assert_eq!(moved, "600\n600\nNO_PROXY=.lan\n1\n");
    // Adopted once, it is pikube's: no flag or setting needed any more.
    ws.pikube(&["plan"]).expect_code(0);

    // cluster.toml takes a kept setting over: it leaves the drop-in, which would win.
    let text = std::fs::read_to_string(&toml).unwrap();
    std::fs::write(
        &toml,
        text.replacen(
            "[k3s]\n",
            "[k3s]\ndisable = [\"traefik\", \"servicelb\"]\n",
            1,
        ),
    )
    .unwrap();
    let plan = ws.pikube(&["plan"]).expect_code(2);
    assert!(
        plan.stderr.contains(
            "warning: one: the settings kept from the adopted install are rewritten: keeps \
             what cluster.toml does not set: --node-label=site=attic (in \
             /etc/rancher/k3s/config.yaml.d/10-pikube-adopted.yaml); cluster.toml's replace \
             --disable=traefik"
        ),
        "{}",
        plan.stderr
    );
    ws.pikube(&["apply", READY]).expect_code(0);
    let kept = fleet.exec("pi1", &format!("cat {adopted}"));
    assert!(
        !kept.contains("disable") && kept.contains("node-label: site=attic"),
        "{kept}"
    );
    ws.pikube(&["plan"]).expect_code(0);
}

#[test]
fn a_k3s_ansible_agent_is_refused_then_adopted_as_k3s_agent_and_its_k3s_node_unit_removed() {
    // Audit F8: older k3s-ansible playbooks run the agent as k3s-node.service, a bare
    // `k3s agent` with its flags and token in config.yaml. Unseen, pikube would install
    // k3s-agent beside it: two agents on one node.
    let fleet = Fleet::up(&["pi1", "pi2"]);
    let ws = Workspace::new(
        &fleet,
        "pi",
        &[node("pi1", "one", "server"), node("pi2", "two", "agent")],
    );
    let unit = "/etc/systemd/system/k3s-node.service";
    fleet.exec(
        "pi2",
        &format!(
            "cat > {unit} <<'EOF'\n[Unit]\nDescription=Lightweight Kubernetes\n\
             After=network-online.target\n[Service]\nType=notify\n\
             ExecStart=/usr/local/bin/k3s agent\nKillMode=process\nRestart=always\n\
             [Install]\nWantedBy=multi-user.target\nEOF\n\
             systemctl daemon-reload && systemctl enable k3s-node.service && \
             mkdir -p /etc/rancher/k3s && umask 077 && \
             printf 'server: https://one:6443\\ntoken: ansible-secret\\n\
             node-label:\\n- site=shed\\nkubelet-arg:\\n- max-pods=50\\n' \
             > /etc/rancher/k3s/config.yaml"
        ),
    );

    let plan = ws.pikube(&["plan"]).expect_code(1);
    let text = format!("{}{}", plan.stdout, plan.stderr);
    assert!(
        text.contains(
            "K3s here was installed by another tool (/etc/systemd/system/k3s-node.service \
             has no \"# Managed by pikube\" line; it runs `/usr/local/bin/k3s agent`)"
        ) && text.contains(
            "Adopting it keeps what cluster.toml does not set: --node-label=site=shed, \
             --kubelet-arg=max-pods=50"
        ) && text.contains("--token=<redacted>"),
        "{text}"
    );
    assert!(!text.contains("ansible-secret"), "{text}");

    let apply = ws.pikube(&["apply", "--adopt", READY]).expect_code(0);
    assert!(
        apply.stderr.contains("warning: two: adopting the K3s"),
        "{}",
        apply.stderr
    );
    // One agent: pikube's; k3s-ansible's unit is gone, not merely stopped.
    let units = fleet.exec(
        "pi2",
        &format!(
            "test ! -e {unit} && echo gone; systemctl is-active k3s-agent; \
             systemctl show -p LoadState --value k3s-node"
        ),
    );
    assert_eq!(units, "gone\nactive\nnot-found\n");
    let two = cluster_node(&fleet, "pi1", "two");
    assert!(is_ready(&two), "{two}");
    assert_eq!(two["metadata"]["labels"]["site"], "shed", "{two}");
    let kept = fleet.exec(
        "pi2",
        "cat /etc/rancher/k3s/config.yaml.d/10-pikube-adopted.yaml",
    );
    assert!(
        kept.contains("max-pods=50") && !kept.contains("token"),
        "{kept}"
    );
    ws.pikube(&["plan"]).expect_code(0);
}

#[test]
fn secrets_are_encrypted_in_etcd_by_default_from_the_first_start_and_a_running_cluster_is_not_switched(
) {
    let fleet = Fleet::up(&["pi1", "pi2"]);
    let ws = Workspace::new(
        &fleet,
        "pi",
        &[node("pi1", "s1", "server"), node("pi2", "s2", "server")],
    );
    // No secrets_encryption in cluster.toml: a new cluster gets it, and the plan says so.
    let toml = ws.path().join("cluster.toml");
    let plain = std::fs::read_to_string(&toml).unwrap();
    assert!(!plain.contains("secrets_encryption"), "{plain}");
    let plan = ws.pikube(&["plan"]).expect_code(2);
    assert!(
        plan.stdout.contains("secrets encryption: on (new cluster)"),
        "{}",
        plan.stdout
    );
    ws.pikube(&["apply", READY]).expect_code(0);

    fleet.exec(
        "pi1",
        "k3s kubectl create secret generic probe --from-literal=value=plain-text-value",
    );
    let tls = "/var/lib/rancher/k3s/server/tls/etcd";
    for server in ["pi1", "pi2"] {
        assert!(fleet
            .exec(server, "cat /etc/rancher/k3s/config.yaml")
            .contains("secrets-encryption: true"));
        // Through the API of either server: the joined one has the same key.
        let value = fleet.exec(
            server,
            "k3s kubectl get secret probe -o jsonpath='{.data.value}' | base64 -d",
        );
        assert_eq!(value.trim(), "plain-text-value", "{server}");
        // In etcd itself: ciphertext.
        let stored = fleet.exec(
            server,
            &format!(
                "/opt/k3s-double/bin/etcdctl --endpoints=https://127.0.0.1:2379 \
                 --cacert={tls}/server-ca.crt --cert={tls}/client.crt --key={tls}/client.key \
                 get /registry/secrets/default/probe --print-value-only | tr -c '[:print:]' '.'"
            ),
        );
        assert!(
            stored.starts_with("k8s:enc:aescbc:v1:") && !stored.contains("plain-text-value"),
            "{server}: {stored}"
        );
        let mode = fleet.exec(
            server,
            "stat -c %a /var/lib/rancher/k3s/server/cred/encryption-config.json",
        );
        assert_eq!(mode.trim(), "600", "{server}");
    }
    let plan = ws.pikube(&["plan"]).expect_code(0);
    assert!(
        plan.stdout
            .contains("secrets encryption: on (kept: the running servers were started with it on)"),
        "{}",
        plan.stdout
    );

    // Turning it off for the running cluster is refused, before anything changes.
    let off = plain.replacen("[k3s]\n", "[k3s]\nsecrets_encryption = false\n", 1);
    std::fs::write(&toml, &off).unwrap();
    let plan = ws.pikube(&["plan"]).expect_code(1);
    let said = format!("{}{}", plan.stdout, plan.stderr);
    assert!(
        said.contains(
            "cluster.toml turns secrets_encryption off, but this cluster was started with it on"
        ),
        "{said}"
    );
    let refused = ws.pikube(&["apply", READY]).expect_code(1);
    assert!(
        format!("{}{}", refused.stdout, refused.stderr).contains("k3s secrets-encrypt disable"),
        "{}{}",
        refused.stdout,
        refused.stderr
    );
    assert!(fleet
        .exec("pi1", "cat /etc/rancher/k3s/config.yaml")
        .contains("secrets-encryption: true"));
}

#[test]
fn a_cluster_started_without_secrets_encryption_keeps_it_off_once_the_key_is_removed() {
    let fleet = Fleet::up(&["pi1"]);
    let ws = Workspace::new(&fleet, "pi", &[node("pi1", "s1", "server")]);
    let toml = ws.path().join("cluster.toml");
    let plain = std::fs::read_to_string(&toml).unwrap();
    let off = plain.replacen("[k3s]\n", "[k3s]\nsecrets_encryption = false\n", 1);
    std::fs::write(&toml, &off).unwrap();
    ws.pikube(&["apply", READY]).expect_code(0);
    let config = fleet.exec("pi1", "cat /etc/rancher/k3s/config.yaml");
    assert!(!config.contains("secrets-encryption"), "{config}");
    let started = fleet.exec("pi1", "systemctl show -p MainPID --value k3s");

    // The key removed: the running cluster keeps what it was started with, untouched.
    std::fs::write(&toml, &plain).unwrap();
    let plan = ws.pikube(&["plan"]).expect_code(0);
    assert!(
        plan.stdout.contains(
            "secrets encryption: off (kept: the running servers were started with it off)"
        ),
        "{}",
        plan.stdout
    );
    ws.pikube(&["apply", READY]).expect_code(0);
    assert_eq!(
        fleet.exec("pi1", "cat /etc/rancher/k3s/config.yaml"),
        config
    );
    assert_eq!(
        fleet.exec("pi1", "systemctl show -p MainPID --value k3s"),
        started,
        "K3s was restarted"
    );
    let key = fleet.exec(
        "pi1",
        "test -e /var/lib/rancher/k3s/server/cred/encryption-config.json && echo key || echo none",
    );
    assert_eq!(key.trim(), "none");
}
