//! `k3s etcd-snapshot` and `--cluster-reset --cluster-reset-restore-path` on real etcd data:
//! what was saved comes back, what came after is gone.

use crate::support;

use std::process::Output;
use support::{address, scratch, Node};

fn ok(out: Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // k3s logs to stderr; `ls` prints its table on stdout.
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn a_snapshot_saved_listed_pruned_and_restored_brings_the_data_back() {
    let base = scratch("snapshots");
    let ip = address(1, 1);
    let args = [
        "server",
        "--cluster-init",
        "--bind-address",
        &ip,
        "--node-ip",
        &ip,
        "--node-name",
        "s1",
    ];
    let mut s1 = Node::start(&base, "s1", &args, &[]);
    s1.wait_ready();
    s1.kubectl_ok(&["create", "configmap", "keep", "--from-literal=colour=blue"]);

    let saved = ok(s1.k3s(&[
        "etcd-snapshot",
        "save",
        "--name",
        "before",
        "--node-name",
        "s1",
    ]));
    assert!(saved.contains("Snapshot before-s1-"), "{saved}");
    let dir = s1.root.join("var/lib/rancher/k3s/server/db/snapshots");
    let files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let snapshot = files[0].clone();
    let name = snapshot.file_name().unwrap().to_string_lossy().into_owned();
    assert!(name.starts_with("before-s1-"), "{name}");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&snapshot).unwrap().permissions().mode() & 0o777,
        0o600
    );
    // The real etcdutl reads it as an etcd snapshot.
    let status = std::process::Command::new(support::real_kube_bin().join("etcdutl"))
        .args([
            "snapshot",
            "status",
            snapshot.to_str().unwrap(),
            "-w",
            "json",
        ])
        .output()
        .unwrap();
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );

    let listed = ok(s1.k3s(&["etcd-snapshot", "ls"]));
    assert!(listed.starts_with("Name"), "{listed}");
    assert!(
        listed.contains(&format!("file://{}", snapshot.display())),
        "{listed}"
    );
    let json = ok(s1.k3s(&["etcd-snapshot", "ls", "-o", "json"]));
    let json: serde_json::Value = serde_json::from_str(json.lines().next().unwrap()).unwrap();
    assert_eq!(json["items"][0]["name"], name.as_str());

    // Prune keeps the newest N of a prefix; delete removes by name.
    for _ in 0..2 {
        std::thread::sleep(std::time::Duration::from_millis(1100));
        ok(s1.k3s(&["etcd-snapshot", "save", "--name", "extra"]));
    }
    ok(s1.k3s(&[
        "etcd-snapshot",
        "prune",
        "--name",
        "extra",
        "--snapshot-retention",
        "1",
    ]));
    let names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names.iter().filter(|n| n.starts_with("extra-")).count(),
        1,
        "{names:?}"
    );
    let extra = names.iter().find(|n| n.starts_with("extra-")).unwrap();
    ok(s1.k3s(&["etcd-snapshot", "delete", extra]));
    let missing = s1.k3s(&["etcd-snapshot", "delete", extra]);
    assert!(!missing.status.success());

    // Changes after the snapshot, then a restore: they are gone, the saved data is back.
    s1.kubectl_ok(&["delete", "configmap", "keep"]);
    s1.kubectl_ok(&["create", "configmap", "later", "--from-literal=x=y"]);
    drop(s1);
    let restore = format!("--cluster-reset-restore-path={}", snapshot.display());
    let mut reset_args = args.to_vec();
    reset_args.extend(["--cluster-reset", &restore]);
    let mut reset = Node::start(&base, "s1", &reset_args, &[]);
    assert!(reset.wait_exit().success(), "{}", reset.log());
    assert!(
        reset
            .log()
            .contains("Managed etcd cluster membership has been reset"),
        "{}",
        reset.log()
    );
    assert!(base
        .join("s1/var/lib/rancher/k3s/server/db/reset-flag")
        .exists());
    let old: Vec<_> = std::fs::read_dir(base.join("s1/var/lib/rancher/k3s/server/db"))
        .unwrap()
        .filter_map(std::result::Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with("etcd-old-"))
        .collect();
    assert_eq!(old.len(), 1, "the old data is kept aside");
    drop(reset);

    // As if restored onto a new card: another node password than the one the restored
    // data holds. K3s verifies a server's own node against its own file, so the server
    // comes up, and records the mismatch as a Warning Event on its Node.
    std::fs::write(
        base.join("s1/etc/rancher/node/password"),
        "a-new-card-password\n",
    )
    .unwrap();
    let mut s1 = Node::start(&base, "s1", &args, &[]);
    s1.wait_ready();
    let events = s1.kubectl_ok(&[
        "get",
        "events",
        "-n",
        "default",
        "--field-selector",
        "involvedObject.kind=Node,involvedObject.name=s1,reason=NodePasswordValidationFailed",
        "-o",
        "jsonpath={.items[*].type}",
    ]);
    assert_eq!(events, "Warning", "{}", s1.log());
    assert_eq!(
        s1.kubectl_ok(&["get", "configmap", "keep", "-o", "jsonpath={.data.colour}"]),
        "blue"
    );
    assert!(!s1.kubectl(&["get", "configmap", "later"]).status.success());
    assert!(!base
        .join("s1/var/lib/rancher/k3s/server/db/reset-flag")
        .exists());
}

/// The token's CA hash, `K10<hash>::…`, as a server wrote it.
fn ca_hash(node: &Node) -> String {
    node.file("var/lib/rancher/k3s/server/token")[3..67].to_owned()
}

#[test]
fn a_snapshot_restored_onto_a_new_card_serves_the_old_cas_and_needs_the_old_token() {
    let ip = address(3, 1);
    let server = |token: &str, extra: &[&str]| -> Vec<String> {
        let mut args = vec![
            "server",
            "--cluster-init",
            "--bind-address",
            &ip,
            "--node-ip",
            &ip,
        ];
        args.extend(["--node-name", "s1", "--token", token]);
        args.extend(extra);
        args.into_iter().map(str::to_owned).collect()
    };
    let start = |card: &std::path::Path, args: Vec<String>| {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        Node::start(card, "s1", &args, &[])
    };
    let old_card = scratch("bootstrap-old");
    let mut s1 = start(&old_card, server("the-token", &[]));
    s1.wait_ready();
    s1.kubectl_ok(&["create", "configmap", "keep", "--from-literal=colour=blue"]);
    let old_ca = s1.file("var/lib/rancher/k3s/server/tls/server-ca.crt");
    let old_hash = ca_hash(&s1);
    // The datastore holds the bootstrap data sealed: one key, no CA in clear.
    std::fs::write(s1.root.join("endpoint"), format!("https://{ip}:2379")).unwrap();
    let keys = s1.etcdctl(&["get", "/bootstrap/", "--prefix", "--keys-only"]);
    assert_eq!(keys.lines().filter(|l| !l.is_empty()).count(), 1, "{keys}");
    let sealed = s1.etcdctl(&["get", "/bootstrap/", "--prefix", "--print-value-only"]);
    assert!(!sealed.contains("BEGIN"), "{sealed}");
    ok(s1.k3s(&["etcd-snapshot", "save", "--name", "card"]));
    let dir = s1.root.join("var/lib/rancher/k3s/server/db/snapshots");
    let snapshot = std::fs::read_dir(&dir)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let kept = std::env::temp_dir().join(format!("k3s-double-card-{}.db", std::process::id()));
    std::fs::copy(&snapshot, &kept).unwrap();
    drop(s1);

    // A new card: a new cluster of its own (new CAs) with the same token, then the restore.
    let new_card = scratch("bootstrap-new");
    let mut fresh = start(&new_card, server("the-token", &[]));
    fresh.wait_ready();
    assert_ne!(
        fresh.file("var/lib/rancher/k3s/server/tls/server-ca.crt"),
        old_ca
    );
    drop(fresh);
    let restore = format!("--cluster-reset-restore-path={}", kept.display());
    let mut reset = start(
        &new_card,
        server("the-token", &["--cluster-reset", &restore]),
    );
    assert!(reset.wait_exit().success(), "{}", reset.log());
    drop(reset);
    let mut s1 = start(&new_card, server("the-token", &[]));
    s1.wait_ready();
    assert_eq!(
        s1.file("var/lib/rancher/k3s/server/tls/server-ca.crt"),
        old_ca,
        "the old cluster's CA is served again"
    );
    assert_eq!(ca_hash(&s1), old_hash);
    assert_eq!(
        s1.kubectl_ok(&["get", "configmap", "keep", "-o", "jsonpath={.data.colour}"]),
        "blue"
    );
    drop(s1);

    // Another card given another token: the snapshot's data cannot be opened with it.
    let other_card = scratch("bootstrap-other");
    let mut other = start(&other_card, server("another-token", &[]));
    other.wait_ready();
    drop(other);
    let mut reset = start(
        &other_card,
        server("another-token", &["--cluster-reset", &restore]),
    );
    assert!(!reset.wait_exit().success(), "{}", reset.log());
    assert!(
        reset
            .log()
            .contains("bootstrap data already found and encrypted with different token"),
        "{}",
        reset.log()
    );
    let _ = std::fs::remove_file(kept);
}
