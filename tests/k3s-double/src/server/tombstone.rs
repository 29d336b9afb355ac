//! A server whose etcd member was removed while it ran, as K3s handles it: its etcd stops
//! ("the member has been permanently removed from the cluster"), K3s leaves a `tombstone`
//! file in `server/db/etcd` and dies; systemd starts it again (`Restart=always`), and on that
//! start K3s finds the tombstone, moves its etcd data aside and, with `server:` still in its
//! configuration, joins the cluster again as a new learner (a new member name), is promoted
//! and registers its Node again. So deleting the Node of a server K3s still runs on (which
//! removes its member) is undone by the next restart, unless K3s is stopped first.
//!
//! K3s' source: `pkg/daemons/executor/etcd.go` (watches etcd's `ErrNotify` for
//! `ErrMemberRemoved`, writes `<db>/etcd/tombstone`, logs "this node has been removed from
//! the cluster please restart k3s to rejoin the cluster"), and `pkg/etcd/etcd.go`
//! `Register` ("tombstone file has been detected, removing data dir to rejoin the cluster",
//! `backupDirWithRetention` of the etcd dir, then `setName` makes a new name because the
//! name file went with it, and `Start` joins through the server URL as a learner).

use super::etcd::Member;
use crate::log;
use std::path::{Path, PathBuf};

/// What etcd says, and logs, when it finds it has been removed.
const REMOVED: &str = "the member has been permanently removed from the cluster";

fn path(etcd_data: &Path) -> PathBuf {
    etcd_data.join("tombstone")
}

/// Run as etcd exits: when its log says the member was removed, leaves the tombstone
/// that the next start acts on.
pub fn leave_if_removed(member_data: &Path, etcd_log: &Path) {
    // The log is appended to by every start: only its last lines are this run's end.
    let removed = crate::components::tail(etcd_log, 50)
        .iter()
        .any(|line| line.contains(REMOVED));
    if !removed {
        return;
    }
    let tombstone = path(member_data);
    if let Err(e) = crate::files::write_mode(&tombstone, b"", 0o600) {
        log::fatal(&format!(
            "failed to write tombstone file to {}: {e}",
            tombstone.display()
        ));
    }
    log::info(
        "this node has been removed from the cluster please restart k3s to rejoin the cluster",
    );
}

/// At start, before the member is named: a tombstone moves the etcd data aside (to
/// `db/etcd-old-<unix time>`, as `--cluster-reset-restore-path` does), so this server joins
/// again as a new member.
pub fn act_on(server_data: &Path) -> Result<(), String> {
    let etcd_data = Member::data_dir_of(server_data);
    if !path(&etcd_data).exists() {
        return Ok(());
    }
    log::info("tombstone file has been detected, removing data dir to rejoin the cluster");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let old = etcd_data.with_file_name(format!("etcd-old-{now}"));
    std::fs::rename(&etcd_data, &old)
        .map_err(|e| format!("move {} aside: {e}", etcd_data.display()))?;
    log::info(&format!("Moved the old etcd data to {}", old.display()));
    Ok(())
}
