//! Disaster recovery on fake Raspberry Pi fleets with real etcd under the k3s double:
//! a backup restored onto the cluster, its refusals, and the data back on every server;
//! a backup restored onto new cards at new addresses; a restore killed half-way, said
//! until it is run again; K3s' scheduled snapshots set from cluster.toml.

use crate::support;

use std::time::{Duration, Instant};

use support::cluster::{node, three_servers_one_agent, Run, Workspace};
use support::fleet::Fleet;

const READY: &str = "--ready-timeout=60s";

#[test]
fn a_backup_is_restored_and_what_was_deleted_since_is_back_on_every_server() {
    // s1's disk is a 2G card of its own, so that it can be filled without filling the host.
    let fleet = Fleet::up(&["pi1:disk=2G", "pi2", "pi3", "pi4"]);
    let ws = Workspace::new(&fleet, "pi", &three_servers_one_agent());
    ws.pikube(&["apply", READY]).expect_code(0);
    let name = keep_an_answer_and_back_it_up(&fleet, &ws);

    // The manifest beside the snapshot: what restore checks it by, as private as it.
    let backups = ws.path().join(".pikube/test/backups");
    let manifest_file = backups.join(format!("{name}.json"));
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&manifest_file).unwrap()).unwrap();
    let snapshot = std::fs::read(backups.join(&name)).unwrap();
    assert_eq!(manifest["size"], snapshot.len() as u64, "{manifest}");
    let taken_at = manifest["taken_at"].as_u64().expect("taken_at");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(
        name.ends_with(&format!("-s1-{taken_at}")) && taken_at <= now && now - taken_at < 900,
        "{name}: taken_at {taken_at}, now {now}"
    );
    assert_eq!(
        manifest["token_fingerprint"].as_str(),
        Some(&sha256_hex_of(&ws.path().join(".pikube/test/token"))[..16]),
        "the fingerprint is not the cluster token's"
    );
    use std::os::unix::fs::PermissionsExt;
    for file in [&manifest_file, &backups.join(&name)] {
        let mode = std::fs::metadata(file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}", file.display());
    }

    // What happens after the backup: to be undone by the restore.
    fleet.exec(
        "pi1",
        "k3s kubectl -n keep delete configmap answer && k3s kubectl create namespace later",
    );

    // Refused: without confirmation; while the cluster serves, unless --force; a damaged
    // snapshot, named. Nothing is touched by any of them.
    let unconfirmed = ws.pikube(&["restore", &name]).expect_code(1);
    assert!(
        unconfirmed.stderr.contains("use --yes"),
        "{}",
        unconfirmed.stderr
    );
    let guarded = ws.pikube(&["restore", &name, "--yes"]).expect_code(1);
    assert!(
        guarded.stderr.contains("the cluster is serving") && guarded.stderr.contains("--force"),
        "{}",
        guarded.stderr
    );
    let damaged = ws.path().join("damaged.db");
    let bytes = std::fs::read(backups.join(&name)).unwrap();
    std::fs::write(&damaged, &bytes[..bytes.len() / 2]).unwrap();
    std::fs::copy(
        backups.join(format!("{name}.json")),
        ws.path().join("damaged.db.json"),
    )
    .unwrap();
    let refused = ws
        .pikube(&["restore", damaged.to_str().unwrap(), "--yes", "--force"])
        .expect_code(1);
    assert!(
        refused.stderr.contains("damaged.db: damaged"),
        "{}",
        refused.stderr
    );
    fleet.exec("pi1", "k3s kubectl get namespace later");
    // A file with no manifest beside it that is no snapshot at all: refused by its content,
    // naming it, before K3s stops anywhere.
    let garbage = ws.path().join("snapshot-from-the-nas");
    std::fs::write(&garbage, b"<html>404 Not Found</html>\n").unwrap();
    let refused = ws
        .pikube(&["restore", garbage.to_str().unwrap(), "--yes", "--force"])
        .expect_code(1);
    assert!(
        refused.stderr.contains(&format!(
            "{}: not a snapshot pikube can restore: neither an etcd snapshot",
            garbage.display()
        )),
        "{}",
        refused.stderr
    );
    for server in ["pi1", "pi2", "pi3"] {
        fleet.exec(server, "systemctl is-active k3s");
    }

    // No room on the first server for the snapshot and the data restored from it: refused
    // before anything stops, naming the server and the space.
    fleet.exec(
        "pi1",
        "fallocate -l $(( $(df -Pk / | awk 'NR == 2 { print $4 }') - 2048 ))k /var/tmp/fill",
    );
    let full = ws
        .pikube(&["restore", &name, "--yes", "--force", READY])
        .expect_code(1);
    let said = format!("{}{}", full.stdout, full.stderr);
    assert!(
        said.contains("s1: restore stopped at checking free space: ")
            && said.contains(" MiB free in /var/lib/rancher/k3s/server/db, ")
            && said.contains("the restore needs about")
            && said.contains("nothing was stopped or changed"),
        "{said}"
    );
    for server in ["pi1", "pi2", "pi3"] {
        fleet.exec(server, "systemctl is-active k3s");
    }
    fleet.exec("pi1", "rm /var/tmp/fill");

    // The restore.
    let restored = ws
        .pikube(&["restore", &name, "--yes", "--force", READY])
        .expect_code(0);
    for line in [
        format!("ok      s1: etcd restored from {name}"),
        "ok      s2: old etcd data moved aside, rejoined".to_owned(),
        "ok      s3: old etcd data moved aside, rejoined".to_owned(),
        "ok      a1: restarted, Ready".to_owned(),
    ] {
        assert!(
            restored.stdout.contains(&line),
            "{line}\n{}",
            restored.stdout
        );
    }
    // The same cards: the snapshot's CAs are the ones the tokens name already.
    assert!(!restored.stdout.contains("tokens:"), "{}", restored.stdout);
    for server in ["pi1", "pi2", "pi3"] {
        let value = fleet.exec(
            server,
            "k3s kubectl -n keep get configmap answer -o jsonpath='{.data.value}'",
        );
        assert_eq!(value, "42", "{server}");
        assert!(
            !fleet
                .try_exec(server, "k3s kubectl get namespace later")
                .status
                .success(),
            "{server}: the namespace made after the backup survived the restore"
        );
    }
    // The cluster is whole again: three etcd members, every node Ready.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let status = ws.pikube(&["status"]);
        if status.code == 0 {
            assert!(
                status
                    .stdout
                    .contains("etcd: quorum holds (3 of 3 members Ready)"),
                "{}",
                status.stdout
            );
            break;
        }
        assert!(Instant::now() < deadline, "{}", status.stdout);
        std::thread::sleep(Duration::from_secs(2));
    }

    // A server whose K3s is down cannot take a snapshot: the next one takes it, and the one
    // passed over is named with why.
    fleet.exec("pi1", "systemctl stop k3s");
    let second = ws.pikube(&["backup", "--name", "after"]).expect_code(0);
    assert!(
        second.stdout.starts_with("backed up after-s2-")
            && second.stdout.contains(" from s2 into "),
        "{}",
        second.stdout
    );
    assert!(
        second
            .stderr
            .contains("warning: s1: `k3s etcd-snapshot save` failed: ")
            && second.stderr.contains("; the next server was asked"),
        "{}",
        second.stderr
    );

    // Every server is asked for the snapshots it keeps, each listed with the server that
    // holds it; one left on its server is restored only once pulled here.
    fleet.exec("pi3", "k3s etcd-snapshot save --name kept-there");
    let list = ws.pikube(&["backup", "list", "-o", "json"]).expect_code(0);
    let list: serde_json::Value = serde_json::from_str(&list.stdout).unwrap();
    let held_by = |node: &str| -> Vec<String> {
        list["on_node"]["snapshots"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["node"] == node)
            .map(|s| s["name"].as_str().unwrap().to_owned())
            .collect()
    };
    // (K3s' own schedule, every 12 hours, may add one of its own on any of them.)
    assert!(held_by("s1").contains(&name), "{list}");
    assert!(
        held_by("s2").iter().any(|n| n.starts_with("after-s2-")),
        "{list}"
    );
    let kept_there: Vec<String> = held_by("s3")
        .into_iter()
        .filter(|n| n.starts_with("kept-there-s3-"))
        .collect();
    assert_eq!(kept_there.len(), 1, "{list}");
    assert_eq!(
        list["on_node"]["asked"],
        serde_json::json!(["s1", "s2", "s3"])
    );
    assert_eq!(list["on_node"]["not_asked"], serde_json::json!([]));
    let not_pulled = ws
        .pikube(&["restore", &kept_there[0], "--dry-run"])
        .expect_code(1);
    assert!(
        not_pulled.stderr.contains(&format!(
            "no backup named {} in ./.pikube/test/backups (it has: {name}, after-s2-",
            kept_there[0]
        )) && not_pulled
            .stderr
            .contains(&format!("`pikube backup pull {}`", kept_there[0])),
        "{}",
        not_pulled.stderr
    );
    // A server that does not answer is said, and the others' snapshots still listed.
    fleet.powercut("pi3");
    let list = ws.pikube(&["backup", "list"]).expect_code(0);
    assert!(
        list.stdout.contains("On s1:\n")
            && list.stdout.contains(&format!("\n  {name}  "))
            && list.stdout.contains("On s2:\n")
            && list.stdout.contains("\n  after-s2-")
            && list.stdout.contains("Not asked: s3 (")
            && !list.stdout.contains("On s3:"),
        "{}",
        list.stdout
    );

    // No server answers at all: backup and restore each say so, naming every server, and
    // fail.
    fleet.powercut("pi1");
    fleet.powercut("pi2");
    let none = ws.pikube(&["backup"]).expect_code(1);
    for server in ["s1", "s2", "s3"] {
        assert!(
            none.stdout.contains(&format!("FAILED  {server}: ")),
            "{}",
            none.stdout
        );
    }
    assert!(
        none.stdout
            .ends_with("No server of cluster.toml answered: nothing was backed up.\n"),
        "{}",
        none.stdout
    );
    let none = ws
        .pikube(&["restore", &name, "--yes", "--force", READY])
        .expect_code(1);
    assert!(
        none.stderr
            .contains("not restoring: every node of cluster.toml must answer: ")
            && ["s1", "s2", "s3"]
                .iter()
                .all(|server| none.stderr.contains(&format!("{server}: "))),
        "{}",
        none.stderr
    );
}

#[test]
fn a_backup_is_restored_onto_new_cards_at_new_addresses() {
    // Every SD card died; the backups and the token are on the controller. New cards (new
    // node passwords), new addresses, the same names: `pikube apply` makes a new, empty
    // cluster with the token of local state, and `pikube restore --force` brings the data
    // back. The snapshot holds the old cards' node passwords, with which K3s would keep the
    // agent out for as long as they stay. (Two servers: K3s snapshots embedded etcd only.)
    let state = tempfile::tempdir().unwrap();
    let old = Fleet::up(&["pi1", "pi2", "pi3"]);
    let name = {
        let ws = Workspace::new(
            &old,
            "pi",
            &[
                node("pi1", "s1", "server"),
                node("pi2", "s2", "server"),
                node("pi3", "a1", "agent"),
            ],
        );
        ws.pikube(&["apply", READY]).expect_code(0);
        let name = keep_an_answer_and_back_it_up(&old, &ws);
        copy_dir(&ws.path().join(".pikube"), state.path());
        name
    };
    // The new cards come up (in a lab of their own, so at other addresses) before the old
    // ones go for good.
    let new = Fleet::up(&["pi1", "pi2", "pi3"]);
    assert_ne!(new.node("pi2").ip, old.node("pi2").ip);
    drop(old);

    // And another first server: s2 is restored, s1 rejoins it.
    let ws = Workspace::new(
        &new,
        "pi",
        &[
            node("pi1", "s2", "server"),
            node("pi2", "s1", "server"),
            node("pi3", "a1", "agent"),
        ],
    );
    copy_dir(&state.path().join(".pikube"), ws.path());
    ws.pikube(&["apply", READY]).expect_code(0);
    assert!(
        !new.try_exec("pi1", "k3s kubectl get namespace keep")
            .status
            .success(),
        "a new cluster has none of the old data"
    );

    let restored = ws
        .pikube(&["restore", &name, "--yes", "--force", READY])
        .expect_code(0);
    for line in [
        format!("ok      s2: etcd restored from {name}"),
        "ok      s1: old etcd data moved aside, rejoined".to_owned(),
        "ok      a1: restarted, Ready".to_owned(),
        "ok      tokens: s1, a1 now name the CA the snapshot brought back".to_owned(),
        "ok      node passwords: the snapshot's records of s1, a1 removed before they rejoined"
            .to_owned(),
        "ok      s2: the snapshot's node password was another card's".to_owned(),
    ] {
        assert!(
            restored.stdout.contains(&line),
            "{line}\n{}",
            restored.stdout
        );
    }
    let value = new.exec(
        "pi1",
        "k3s kubectl -n keep get configmap answer -o jsonpath='{.data.value}'",
    );
    assert_eq!(value, "42");
    // The rejoined nodes' records are their new cards' now, and the cluster is whole.
    new.exec(
        "pi1",
        "k3s kubectl -n kube-system get secret s1.node-password.k3s a1.node-password.k3s",
    );
    let status = ws.pikube(&["status"]).expect_code(0);
    assert!(
        status
            .stdout
            .contains("etcd: quorum holds (2 of 2 members Ready)"),
        "{}",
        status.stdout
    );
    // Converged: the tokens restore rewrote are the ones apply would write.
    ws.pikube(&["plan"]).expect_code(0);
}

#[test]
fn a_single_server_on_sqlite_is_backed_up_with_its_token_and_restored() {
    let fleet = Fleet::up(&["pi1", "pi2"]);
    let ws = Workspace::new(
        &fleet,
        "pi",
        &[node("pi1", "s1", "server"), node("pi2", "a1", "agent")],
    );
    ws.pikube(&["apply", READY]).expect_code(0);
    // K3s' SQLite, served by the real kine: the database is a SQLite file in WAL mode.
    assert_eq!(
        fleet.exec("pi1", "head -c 15 /var/lib/rancher/k3s/server/db/state.db"),
        "SQLite format 3"
    );
    let before = service_invocation(&fleet, "pi1", "k3s");
    let name = keep_an_answer_and_back_it_up(&fleet, &ws);

    // K3s was stopped for the copy and runs again; the agent was left alone.
    assert_ne!(service_invocation(&fleet, "pi1", "k3s"), before);
    fleet.exec("pi1", "systemctl is-active k3s");
    let backups = ws.path().join(".pikube/test/backups");
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(backups.join(format!("{name}.json"))).unwrap())
            .unwrap();
    assert_eq!(manifest["datastore"], "sqlite", "{manifest}");
    assert!(name.starts_with("before-s1-"), "{name}");
    use std::os::unix::fs::PermissionsExt;
    let archive = backups.join(&name);
    let mode = std::fs::metadata(&archive).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    // Checked here, it is not left to fill the server's card.
    assert_eq!(
        fleet
            .exec(
                "pi1",
                "ls /var/lib/rancher/k3s/server/pikube-backups | wc -l"
            )
            .trim(),
        "0"
    );
    // What it holds: the database with the ConfigMap in it, the token, the CAs.
    let unpacked = ws.path().join("unpacked");
    std::fs::create_dir(&unpacked).unwrap();
    let tar = std::process::Command::new("tar")
        .arg("-xzf")
        .arg(&archive)
        .arg("-C")
        .arg(&unpacked)
        .status()
        .unwrap();
    assert!(tar.success());
    for file in ["db/state.db", "token", "tls/server-ca.crt"] {
        assert!(unpacked.join(file).is_file(), "{file} not in the backup");
    }
    let key = std::process::Command::new("sqlite3")
        .arg(unpacked.join("db/state.db"))
        .arg("SELECT count(*) FROM kine WHERE name = '/registry/configmaps/keep/answer'")
        .output()
        .unwrap();
    let rows: u32 = String::from_utf8_lossy(&key.stdout)
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("sqlite3 said {key:?}"));
    assert!(rows >= 1, "the ConfigMap is not in the copied database");
    // `backup list` says what it is; `pull` has nothing to pull from SQLite.
    let list = ws.pikube(&["backup", "list"]).expect_code(0);
    assert!(
        list.stdout.contains(&format!("{name}  SQLite  "))
            && list.stdout.contains("K3s takes no snapshots there"),
        "{}",
        list.stdout
    );
    let pull = ws.pikube(&["backup", "pull", "etcd-snapshot-s1-1"]);
    assert!(
        format!("{}{}", pull.stdout, pull.stderr).contains("keeps its data in SQLite"),
        "{}{}",
        pull.stdout,
        pull.stderr
    );

    fleet.exec(
        "pi1",
        "k3s kubectl -n keep delete configmap answer && k3s kubectl create namespace later",
    );
    let guarded = ws.pikube(&["restore", &name, "--yes"]).expect_code(1);
    assert!(
        guarded.stderr.contains("the cluster is serving"),
        "{}",
        guarded.stderr
    );
    let dry = ws.pikube(&["restore", &name, "--dry-run"]).expect_code(0);
    assert!(
        format!("{}{}", dry.stdout, dry.stderr)
            .contains("s1's SQLite datastore, token and certificates aside"),
        "{}{}",
        dry.stdout,
        dry.stderr
    );
    let restored = ws
        .pikube(&["restore", &name, "--yes", "--force", READY])
        .expect_code(0);
    for line in [
        format!("ok      s1: SQLite datastore restored from {name}"),
        "ok      a1: restarted, Ready".to_owned(),
    ] {
        assert!(
            restored.stdout.contains(&line),
            "{line}\n{}",
            restored.stdout
        );
    }
    let value = fleet.exec(
        "pi1",
        "k3s kubectl -n keep get configmap answer -o jsonpath='{.data.value}'",
    );
    assert_eq!(value, "42");
    assert!(!fleet
        .try_exec("pi1", "k3s kubectl get namespace later")
        .status
        .success());
    // What the server had is kept aside, not deleted.
    let aside = fleet.exec(
        "pi1",
        "ls -d /var/lib/rancher/k3s/server/pre-restore-*/db/state.db",
    );
    assert_eq!(aside.lines().count(), 1, "{aside}");
    let status = ws.pikube(&["status"]).expect_code(0);
    assert!(status.stdout.contains("a1"), "{}", status.stdout);
}

/// Creates the namespace `keep` with the ConfigMap `answer` (value 42) through pi1, takes a
/// backup named `before`, and returns the backup's name as `backup list` gives it.
fn keep_an_answer_and_back_it_up(fleet: &Fleet, ws: &Workspace) -> String {
    fleet.exec(
        "pi1",
        "k3s kubectl create namespace keep && \
         k3s kubectl -n keep create configmap answer --from-literal=value=42",
    );
    ws.pikube(&["backup", "--name", "before"]).expect_code(0);
    let list = ws.pikube(&["backup", "list", "-o", "json"]).expect_code(0);
    let list: serde_json::Value = serde_json::from_str(&list.stdout).unwrap();
    list["local"][0]["name"]
        .as_str()
        .expect("a backup")
        .to_owned()
}

/// The SHA-256 (hex) of a file's text without its surrounding whitespace, as pikube reads
/// a token, by the system's sha256sum.
fn sha256_hex_of(path: &std::path::Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    let mut child = std::process::Command::new("sha256sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.trim().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned()
}

/// Copies the directory `from` into `into`, as `cp -a` does.
fn copy_dir(from: &std::path::Path, into: &std::path::Path) {
    let copied = std::process::Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(into)
        .status()
        .unwrap();
    assert!(
        copied.success(),
        "cp -a {} {}",
        from.display(),
        into.display()
    );
}

/// The scheduled snapshots on a server, by name.
fn scheduled_snapshots(fleet: &Fleet, server: &str) -> Vec<String> {
    fleet
        .exec(
            server,
            // Not etcdctl's `<name>.part` while it writes one.
            "ls /var/lib/rancher/k3s/server/db/snapshots/ 2>/dev/null \
             | grep -E '^etcd-snapshot-.*-[0-9]+$' || true",
        )
        .lines()
        .map(str::to_owned)
        .collect()
}

fn service_invocation(fleet: &Fleet, node: &str, service: &str) -> String {
    fleet.exec(
        node,
        &format!("systemctl show -p InvocationID --value {service}"),
    )
}

#[test]
fn scheduled_snapshots_follow_cluster_toml_and_s3_keys_reach_only_the_servers() {
    let fleet = Fleet::up(&["pi1", "pi2", "pi3"]);
    let ws = Workspace::new(
        &fleet,
        "pi",
        &[
            node("pi1", "s1", "server"),
            node("pi2", "s2", "server"),
            node("pi3", "a1", "agent"),
        ],
    );
    let toml = ws.path().join("cluster.toml");
    let mut text = std::fs::read_to_string(&toml).unwrap();
    text.push_str("\n[backup]\nschedule = \"@every 4s\"\nretention = 2\n");
    std::fs::write(&toml, &text).unwrap();
    ws.pikube(&["apply", READY]).expect_code(0);

    // Every server takes its own snapshots on the schedule, and keeps the newest two (a
    // third lives for the moment between a snapshot and its pruning, so a listing is taken
    // until it falls between two).
    for server in ["pi1", "pi2"] {
        let mut seen = std::collections::BTreeSet::new();
        let deadline = Instant::now() + Duration::from_secs(90);
        let kept = loop {
            let now = scheduled_snapshots(&fleet, server);
            seen.extend(now.iter().cloned());
            if seen.len() >= 4 && (1..=2).contains(&now.len()) {
                break now;
            }
            assert!(
                Instant::now() < deadline,
                "{server}: retention 2, now {now:?}, seen {seen:?}"
            );
            std::thread::sleep(Duration::from_secs(1));
        };
        let node = if server == "pi1" { "s1" } else { "s2" };
        assert!(
            kept.iter()
                .all(|n| n.starts_with(&format!("etcd-snapshot-{node}-"))),
            "{kept:?}"
        );
    }

    // doctor judges them against the schedule.
    let doctor = ws.pikube(&["doctor"]);
    for node in ["s1", "s2"] {
        let line = doctor
            .stdout
            .lines()
            .find(|l| l.contains(&format!("  {node}  scheduled snapshots: ")))
            .unwrap_or_else(|| panic!("{}", doctor.stdout));
        assert!(
            line.starts_with(&format!(
                "PASS  {node}  scheduled snapshots: the newest, etcd-snapshot-{node}-"
            )) && line.ends_with("old (schedule @every 4s)"),
            "{line}"
        );
    }

    // S3 without its keys anywhere: refused before any node changes, naming both ways.
    text.push_str(
        "\n[backup.s3]\nendpoint = \"minio.lan:9000\"\nbucket = \"k3s-snapshots\"\nfolder = \"lab\"\n",
    );
    std::fs::write(&toml, &text).unwrap();
    let without_keys = |args: &[&str]| {
        let mut command = ws.command(args);
        command
            .env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_SECRET_ACCESS_KEY");
        Run::from(command.output().unwrap())
    };
    let refused = without_keys(&["apply", READY]);
    let all = format!("{}{}", refused.stdout, refused.stderr);
    assert!(
        refused.code != 0
            && all.contains(
                "[backup.s3] needs its access key: set it with `pikube secrets set \
                 backup.s3.access_key`, or export AWS_ACCESS_KEY_ID where pikube runs"
            ),
        "{all}"
    );
    assert!(!fleet
        .exec("pi1", "cat /etc/rancher/k3s/config.yaml")
        .contains("etcd-s3"));

    // With the keys in pikube's environment: the servers' config and env files change
    // and only they restart; the keys never show.
    const SECRET: &str = "s3cr3t-Value/Never+Shown";
    let with_keys = |args: &[&str]| {
        let mut command = ws.command(args);
        command
            .env("AWS_ACCESS_KEY_ID", "AKIAPIKUBETEST")
            .env("AWS_SECRET_ACCESS_KEY", SECRET);
        Run::from(command.output().unwrap())
    };
    let agent_before = service_invocation(&fleet, "pi3", "k3s-agent");
    let plan = with_keys(&["plan"]).expect_code(2);
    for expected in [
        "+etcd-s3: true",
        "+etcd-s3-endpoint: minio.lan:9000",
        "+etcd-s3-bucket: k3s-snapshots",
        "+etcd-s3-folder: lab",
        "the keys of [backup.s3]",
        "restart k3s (config.yaml, the env file's secrets changed)",
    ] {
        assert!(
            plan.stdout.contains(expected),
            "{expected}\n{}",
            plan.stdout
        );
    }
    assert!(
        !plan.stdout.contains("k3s-agent")
            && !plan.stdout.contains(SECRET)
            && !plan.stdout.contains("AKIAPIKUBETEST"),
        "{}",
        plan.stdout
    );
    let applied = with_keys(&["apply", READY]).expect_code(0);
    assert!(
        !applied.stdout.contains(SECRET) && !applied.stderr.contains(SECRET),
        "{}{}",
        applied.stdout,
        applied.stderr
    );
    assert_eq!(
        service_invocation(&fleet, "pi3", "k3s-agent"),
        agent_before,
        "the agent restarted for a server-only change"
    );
    for server in ["pi1", "pi2"] {
        let env = "/etc/systemd/system/k3s.service.env";
        assert_eq!(
            fleet.exec(server, &format!("stat -c %a {env}")).trim(),
            "600"
        );
        assert!(fleet
            .exec(server, &format!("cat {env}"))
            .contains(&format!("AWS_SECRET_ACCESS_KEY=\"{SECRET}\"")));
        // The keys reached K3s through its environment: the double says so after the next
        // snapshot, without their values.
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let journal = fleet.exec(server, "journalctl -u k3s --no-pager -o cat");
            assert!(
                !journal.contains(SECRET),
                "{server}: the key is in the journal"
            );
            if journal.contains(
                "not modelled by the double (bucket k3s-snapshots at minio.lan:9000, folder \
                 lab; access key set, secret key set)",
            ) {
                break;
            }
            assert!(Instant::now() < deadline, "{server}: {journal}");
            std::thread::sleep(Duration::from_secs(1));
        }
    }
    assert!(!fleet
        .exec("pi3", "cat /etc/systemd/system/k3s-agent.service.env")
        .contains("AWS_"));

    // Off: the servers stop taking them.
    let text = text.replace("schedule = \"@every 4s\"", "schedule = \"off\"");
    std::fs::write(&toml, &text).unwrap();
    with_keys(&["apply", READY]).expect_code(0);
    assert!(fleet
        .exec("pi1", "cat /etc/rancher/k3s/config.yaml")
        .contains("etcd-disable-snapshots: true"));
    let before = scheduled_snapshots(&fleet, "pi1");
    std::thread::sleep(Duration::from_secs(9));
    assert_eq!(scheduled_snapshots(&fleet, "pi1"), before);
    let doctor = ws.pikube(&["doctor"]);
    assert!(
        doctor
            .stdout
            .contains("PASS  s1  scheduled snapshots: off ([backup] schedule = \"off\")"),
        "{}",
        doctor.stdout
    );

    // A scheduled snapshot copied off its server is a backup like any other: checked,
    // described, and taken by restore. Each server is asked in turn for it.
    for (server, node) in [("pi1", "s1"), ("pi2", "s2")] {
        let name = scheduled_snapshots(&fleet, server)
            .pop()
            .expect("a scheduled snapshot");
        let pulled = ws.pikube(&["backup", "pull", &name]).expect_code(0);
        assert!(
            pulled.stdout.starts_with(&format!("pulled {name} ("))
                && pulled.stdout.contains(&format!(" from {node} into ")),
            "{}",
            pulled.stdout
        );
        let manifest: serde_json::Value = serde_json::from_slice(
            &std::fs::read(ws.path().join(format!(".pikube/test/backups/{name}.json"))).unwrap(),
        )
        .unwrap();
        assert_eq!(
            (manifest["node"].as_str(), manifest["cluster"].as_str()),
            (Some(node), Some("test")),
            "{manifest}"
        );
        let dry = ws.pikube(&["restore", &name, "--dry-run"]).expect_code(0);
        assert!(
            dry.stdout
                .starts_with(&format!("Would restore {name} (taken 20")),
            "{}",
            dry.stdout
        );
    }
    let missing = ws
        .pikube(&["backup", "pull", "etcd-snapshot-s1-1"])
        .expect_code(1);
    for node in ["s1", "s2"] {
        assert!(
            missing.stdout.contains(&format!(
                "FAILED  {node}: no snapshot etcd-snapshot-s1-1 in \
                 /var/lib/rancher/k3s/server/db/snapshots"
            )),
            "{}",
            missing.stdout
        );
    }
    let escape = ws.pikube(&["backup", "pull", "../../../etc/shadow"]);
    assert!(
        escape.code == 1 && escape.stderr.contains("is not a snapshot name"),
        "{}",
        escape.stderr
    );
}

#[test]
fn a_restore_killed_half_way_is_said_until_running_it_again_finishes_it() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;

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
    let name = keep_an_answer_and_back_it_up(&fleet, &ws);
    fleet.exec("pi1", "k3s kubectl -n keep delete configmap answer");

    // Killed while s2 rejoins: s1 serves the snapshot's data, s2 is on its way back, s3 is
    // stopped on its old data.
    let mut child = ws
        .command(&["restore", &name, "--yes", "--force", READY])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn restore");
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let mut seen = Vec::new();
    for line in stderr.lines() {
        let line = line.unwrap();
        seen.push(line.clone());
        if line.contains("s2: restore: old etcd data moved aside, rejoining") {
            child.kill().expect("kill restore");
            break;
        }
    }
    assert!(
        !child.wait().unwrap().success(),
        "restore was killed: {seen:?}"
    );
    assert_ne!(
        fleet.exec("pi3", "systemctl is-active k3s || true").trim(),
        "active"
    );

    // Until it is finished, what pikube says names the state and the way out.
    let half = format!("a restore of {name} started ");
    let way_out = format!("`pikube restore {name} --yes` finishes it");
    let status = ws.pikube(&["status"]).expect_code(1);
    assert!(
        status.stdout.contains(&half)
            && status.stdout.contains("did not finish")
            && status.stdout.contains(&way_out),
        "{}",
        status.stdout
    );
    let apply = ws.pikube(&["apply", READY]).expect_code(1);
    assert!(
        apply.stderr.contains(&format!("not applying: {half}")),
        "{}",
        apply.stderr
    );
    assert_ne!(
        fleet.exec("pi3", "systemctl is-active k3s || true").trim(),
        "active",
        "apply started a server of a half-restored cluster"
    );

    // Run again (no --force: what serves is the snapshot's data already), it finishes.
    let again = ws
        .pikube(&["restore", &name, "--yes", READY])
        .expect_code(0);
    assert!(
        again.stderr.contains(&format!("finishing: {half}")),
        "{}",
        again.stderr
    );
    for line in [
        format!("ok      s1: etcd restored from {name}"),
        "ok      s2: old etcd data moved aside, rejoined".to_owned(),
        "ok      s3: old etcd data moved aside, rejoined".to_owned(),
    ] {
        assert!(again.stdout.contains(&line), "{line}\n{}", again.stdout);
    }
    for server in ["pi1", "pi2", "pi3"] {
        let value = fleet.exec(
            server,
            "k3s kubectl -n keep get configmap answer -o jsonpath='{.data.value}'",
        );
        assert_eq!(value, "42", "{server}");
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let status = ws.pikube(&["status"]);
        if status.code == 0 {
            assert!(
                status
                    .stdout
                    .contains("etcd: quorum holds (3 of 3 members Ready)")
                    && !status.stdout.contains("did not finish"),
                "{}",
                status.stdout
            );
            break;
        }
        assert!(Instant::now() < deadline, "{}", status.stdout);
        std::thread::sleep(Duration::from_secs(2));
    }
    ws.pikube(&["plan"]).expect_code(0);
}
