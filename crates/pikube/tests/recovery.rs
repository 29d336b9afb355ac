//! Disaster recovery on fake Raspberry Pi fleets with real etcd under the k3s double:
//! a backup restored onto the cluster, its refusals, and the data back on every server.
//! Lab id 32.

mod support;

use std::time::{Duration, Instant};

use support::cluster::{node, Workspace};
use support::fleet::Fleet;

const READY: &str = "--ready-timeout=60s";

#[test]
fn a_backup_is_restored_and_what_was_deleted_since_is_back_on_every_server() {
    let fleet = Fleet::up(32, &["pi1", "pi2", "pi3", "pi4"]);
    let ws = Workspace::new(
        &fleet,
        "pi",
        &[
            node("pi1", "s1", "server"),
            node("pi2", "s2", "server"),
            node("pi3", "s3", "server"),
            node("pi4", "a1", "agent"),
        ],
    );
    ws.pikube(&["apply", READY]).expect_code(0);
    fleet.exec(
        "pi1",
        "k3s kubectl create namespace keep && \
         k3s kubectl -n keep create configmap answer --from-literal=value=42",
    );
    ws.pikube(&["backup", "--name", "before"]).expect_code(0);
    let list = ws.pikube(&["backup", "list", "-o", "json"]).expect_code(0);
    let list: serde_json::Value = serde_json::from_str(&list.stdout).unwrap();
    let name = list["local"][0]["name"]
        .as_str()
        .expect("a backup")
        .to_owned();

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
    let backups = ws.path().join(".pikube/test/backups");
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
                    .contains("etcd: quorum holds (3 of 3 servers Ready)"),
                "{}",
                status.stdout
            );
            break;
        }
        assert!(Instant::now() < deadline, "{}", status.stdout);
        std::thread::sleep(Duration::from_secs(2));
    }
}
