//! A single server's SQLite datastore, as K3s keeps it: the real kine (K3s embeds it)
//! serving the etcd API over `server/db/state.db` on a unix socket in the server directory,
//! with K3s' own SQLite options (WAL journal, shared cache, a 30 s busy timeout). The API
//! server reaches it without TLS, as K3s' does. A SQLite server restarted with
//! `--cluster-init` has its keys copied into its new etcd member, as K3s migrates it.

use crate::kube_client::{self, KubeClient};
use crate::{components, log};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::{Duration, Instant};

/// The SQLite database kine keeps, whose existence marks a SQLite server.
pub fn database(data_dir: &Path) -> PathBuf {
    data_dir.join("server/db/state.db")
}

fn socket(data_dir: &Path) -> PathBuf {
    data_dir.join("server/kine.sock")
}

/// The etcd endpoint kine serves, for `--etcd-servers`.
pub fn endpoint(data_dir: &Path) -> String {
    format!("unix://{}", socket(data_dir).display())
}

/// Starts kine over the server's database (made on first start); returns once it answers.
/// It runs for as long as the server: if it dies, the server does.
pub fn start(data_dir: &Path) -> Result<(), String> {
    let (child, log_file) = spawn(data_dir)?;
    components::watch("kine", child, log_file);
    log::info(&format!("Kine available at {}", endpoint(data_dir)));
    Ok(())
}

/// Copies every key of the SQLite database into the etcd member `etcd` answers for, then
/// renames the database `state.db.migrated`, as K3s does when `--cluster-init` is added to a
/// single server: from then on the server is the first member of an embedded etcd cluster.
pub fn migrate_into(data_dir: &Path, etcd: &KubeClient) -> Result<(), String> {
    let (kine, _) = spawn(data_dir)?;
    let copied = copy_keys(data_dir, etcd);
    // Closed cleanly, so that what its write-ahead log holds stays with the database.
    components::end(kine, Duration::from_secs(10));
    let count = copied?;
    let db = database(data_dir);
    // SQLite finds a database's log and shared memory by its name: they move with it.
    for suffix in ["", "-wal", "-shm"] {
        let from = db.with_file_name(format!("state.db{suffix}"));
        let to = db.with_file_name(format!("state.db.migrated{suffix}"));
        if from.exists() {
            std::fs::rename(&from, &to)
                .map_err(|e| format!("rename {} to {}: {e}", from.display(), to.display()))?;
        }
    }
    let migrated = db.with_file_name("state.db.migrated");
    log::info(&format!(
        "Migrated {count} keys from sqlite to etcd; the database is kept as {}",
        migrated.display()
    ));
    Ok(())
}

/// Each key under /registry/ read from kine and put into etcd, through etcd's JSON gateway
/// (keys and values stay base64 from one to the other).
fn copy_keys(data_dir: &Path, etcd: &KubeClient) -> Result<usize, String> {
    let listing = components::run(
        "etcdctl",
        &[
            format!("--endpoints={}", endpoint(data_dir)),
            "--command-timeout=60s".into(),
            "--write-out=json".into(),
            "get".into(),
            "/registry/".into(),
            "--prefix".into(),
        ],
    )?;
    let listing: serde_json::Value =
        serde_json::from_str(&listing).map_err(|e| format!("etcdctl's listing: {e}"))?;
    let kvs = listing["kvs"].as_array().cloned().unwrap_or_default();
    for kv in &kvs {
        kube_client::json(etcd.post(
            "/v3/kv/put",
            &json!({"key": kv["key"], "value": kv["value"]}),
        ))
        .map_err(|e| format!("putting a key into etcd: {e}"))?;
    }
    Ok(kvs.len())
}

/// kine over the server's database, answering; the caller watches or ends it.
fn spawn(data_dir: &Path) -> Result<(Child, PathBuf), String> {
    let db = database(data_dir);
    let dir = db.parent().expect("state.db has a parent");
    std::fs::create_dir_all(dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
    // The datastore holds the cluster's secrets: its directory is root's alone, as K3s'.
    std::fs::set_permissions(dir, std::os::unix::fs::PermissionsExt::from_mode(0o700))
        .map_err(|e| format!("chmod {}: {e}", dir.display()))?;
    let _ = std::fs::remove_file(socket(data_dir));
    let args = vec![
        format!(
            "--endpoint=sqlite://{}?_journal=WAL&cache=shared&_busy_timeout=30000&_txlock=immediate",
            db.display()
        ),
        format!("--listen-address={}", endpoint(data_dir)),
        // K3s serves kine's metrics through its own; port 8080 is not kine's to take here.
        "--metrics-bind-address=0".into(),
    ];
    let log_file = data_dir.join("server/logs/kine.log");
    let child = components::spawn("kine", &args, &log_file)?;
    if let Err(e) = wait_answering(data_dir, &log_file) {
        components::end(child, Duration::from_secs(1));
        return Err(e);
    }
    Ok((child, log_file))
}

/// Until a range read through the socket succeeds (kine has made its table and listens).
fn wait_answering(data_dir: &Path, log_file: &Path) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(60);
    let args = vec![
        format!("--endpoints={}", endpoint(data_dir)),
        "--command-timeout=5s".into(),
        "get".into(),
        "/registry/health".into(),
    ];
    let mut last = String::new();
    while Instant::now() < deadline {
        if socket(data_dir).exists() {
            match components::run("etcdctl", &args) {
                Ok(_) => return Ok(()),
                Err(e) => last = e,
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    Err(format!(
        "kine did not answer within 60 s (last: {last}); see {}",
        log_file.display()
    ))
}
