//! Backup files as the real tools make them, judged by what `pikube restore` checks before
//! it stops anything: a snapshot of a real etcd (`etcdctl snapshot save`, what K3s' `etcd-
//! snapshot save` does), a SQLite backup made by `tar -czf` of a real `sqlite3` database,
//! and files that are neither.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use pikube_cluster::backup::Datastore;
use pikube_cluster::config::K3sVersion;
use pikube_cluster::restore::{resolve, SnapshotError};
use pikube_test_support::loopback::free_port;
use pikube_test_support::real_programs::real_kube_bin;

/// A real etcd on loopback, stopped when dropped.
struct Etcd {
    child: Child,
    endpoint: String,
}

impl Drop for Etcd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn etcdctl(bin: &Path, endpoint: &str, args: &[&str]) -> String {
    let out = Command::new(bin.join("etcdctl"))
        .arg(format!("--endpoints={endpoint}"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "etcdctl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn start_etcd(bin: &Path, dir: &Path) -> Etcd {
    let (client, peer) = (free_port(), free_port());
    let endpoint = format!("http://127.0.0.1:{client}");
    let peer_url = format!("http://127.0.0.1:{peer}");
    let child = Command::new(bin.join("etcd"))
        .arg("--name=backup-test")
        .arg(format!("--data-dir={}", dir.join("etcd").display()))
        .arg(format!("--listen-client-urls={endpoint}"))
        .arg(format!("--advertise-client-urls={endpoint}"))
        .arg(format!("--listen-peer-urls={peer_url}"))
        .arg(format!("--initial-advertise-peer-urls={peer_url}"))
        .arg(format!("--initial-cluster=backup-test={peer_url}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let etcd = Etcd { child, endpoint };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let health = Command::new(bin.join("etcdctl"))
            .arg(format!("--endpoints={}", etcd.endpoint))
            .args(["endpoint", "health"])
            .output()
            .unwrap();
        if health.status.success() {
            return etcd;
        }
        assert!(Instant::now() < deadline, "etcd did not start");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn resolve_file(dir: &Path, file: &Path, expected: Datastore) -> Result<Datastore, SnapshotError> {
    let version: K3sVersion = "v1.34.4+k3s1".parse().unwrap();
    resolve(
        file.to_str().unwrap(),
        &dir.join("backups"),
        "lab",
        None,
        &version,
        expected,
    )
    .map(|snapshot| snapshot.datastore)
}

#[test]
fn a_real_etcd_snapshot_is_taken_and_one_cut_short_or_altered_is_refused() {
    let bin = real_kube_bin();
    let dir = tempfile::tempdir().unwrap();
    let etcd = start_etcd(bin, dir.path());
    etcdctl(bin, &etcd.endpoint, &["put", "/registry/answer", "42"]);
    let snapshot = dir.path().join("on-demand-s1-1700000000");
    etcdctl(
        bin,
        &etcd.endpoint,
        &["snapshot", "save", snapshot.to_str().unwrap()],
    );
    drop(etcd);
    let bytes = std::fs::read(&snapshot).unwrap();

    assert_eq!(
        resolve_file(dir.path(), &snapshot, Datastore::Etcd).unwrap(),
        Datastore::Etcd
    );

    // Cut short, as a copy that stopped half-way leaves it.
    let cut = dir.path().join("cut");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let err = resolve_file(dir.path(), &cut, Datastore::Etcd).unwrap_err();
    assert!(matches!(err, SnapshotError::NotASnapshot { .. }), "{err}");
    assert!(
        err.to_string().starts_with(&format!(
            "{}: not a snapshot pikube can restore: an etcd snapshot (a bbolt database), but \
             damaged: ",
            cut.display()
        )),
        "{err}"
    );
    // One byte changed in its data: etcd's checksum at its end tells it, as etcdutl would.
    let altered = dir.path().join("altered");
    let mut changed = bytes.clone();
    let at = changed.len() - 100;
    changed[at] ^= 0x55;
    std::fs::write(&altered, &changed).unwrap();
    let err = resolve_file(dir.path(), &altered, Datastore::Etcd).unwrap_err();
    assert!(
        err.to_string()
            .contains("the SHA-256 etcd wrote at its end does not match"),
        "{err}"
    );
    let status = Command::new(bin.join("etcdutl"))
        .args(["snapshot", "restore", altered.to_str().unwrap()])
        .arg(format!(
            "--data-dir={}",
            dir.path().join("restored").display()
        ))
        .output()
        .unwrap();
    assert!(
        !status.status.success(),
        "etcdutl restored the altered snapshot that pikube refuses"
    );
}

#[test]
fn a_real_sqlite_backup_is_taken_and_other_archives_and_files_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let server = dir.path().join("server");
    std::fs::create_dir_all(server.join("db")).unwrap();
    let made = Command::new("sqlite3")
        .arg(server.join("db/state.db"))
        .arg("CREATE TABLE kine (name TEXT); INSERT INTO kine VALUES ('/registry/answer');")
        .status()
        .unwrap();
    assert!(made.success());
    std::fs::write(server.join("token"), "K10abc::server:secret").unwrap();
    // As backup/sqlite.rs makes one on the server.
    let tar = |archive: &Path, items: &[&str]| {
        let status = Command::new("tar")
            .arg("-czf")
            .arg(archive)
            .arg("-C")
            .arg(&server)
            .args(items)
            .status()
            .unwrap();
        assert!(status.success());
    };
    let archive = dir.path().join("before-s1-1700000000");
    tar(&archive, &["db", "token"]);
    assert_eq!(
        resolve_file(dir.path(), &archive, Datastore::Sqlite).unwrap(),
        Datastore::Sqlite
    );
    let err = resolve_file(dir.path(), &archive, Datastore::Etcd).unwrap_err();
    assert!(matches!(err, SnapshotError::OtherDatastore { .. }), "{err}");

    let no_token = dir.path().join("no-token.tar.gz");
    tar(&no_token, &["db"]);
    let err = resolve_file(dir.path(), &no_token, Datastore::Sqlite).unwrap_err();
    assert!(err.to_string().contains("it holds no token"), "{err}");

    let cut = dir.path().join("cut.tar.gz");
    let bytes = std::fs::read(&archive).unwrap();
    std::fs::write(&cut, &bytes[..bytes.len() - 8]).unwrap();
    let err = resolve_file(dir.path(), &cut, Datastore::Sqlite).unwrap_err();
    assert!(err.to_string().contains("cannot be unpacked"), "{err}");

    // The database itself, not the archive of it.
    let err = resolve_file(dir.path(), &server.join("db/state.db"), Datastore::Sqlite).unwrap_err();
    assert!(
        err.to_string()
            .contains("a SQLite database alone: K3s cannot read it without its token"),
        "{err}"
    );
}
