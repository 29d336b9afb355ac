//! Room for the restore, checked before anything is stopped: a push or an etcd restore that
//! fills a server's card half-way would leave the whole cluster down.

use futures::future::join_all;

use super::{RestoreError, RestoreNode, StepFailure, DB, REMOTE_DIR};
use crate::ssh::shell_quote;

/// What etcd adds beyond the data itself: its write-ahead log preallocates 64 MiB.
const ETCD_OVERHEAD_KIB: u64 = 64 << 10;

/// Each server's free space against what the restore writes there: on the first, the
/// snapshot (unless it is there already, from a restore stopped half-way) and the data
/// restored from it; on the others, the data they take back when they rejoin (their old
/// data is only moved aside, on the same file system).
pub(super) async fn check_space(
    servers: &[&RestoreNode],
    snapshot_name: &str,
    snapshot_size: u64,
) -> Result<(), RestoreError> {
    let snapshot_kib = snapshot_size.div_ceil(1024);
    let checks = servers
        .iter()
        .enumerate()
        .map(|(index, server)| async move {
            // The nearest directory that exists: on a re-flashed server, /var/lib/rancher may not.
            let script = format!(
                "d={DB}; while [ ! -d \"$d\" ]; do d=$(dirname \"$d\"); done\n\
             df -Pk \"$d\" | awk 'NR == 2 {{ print $4 }}'\n\
             echo \"$d\"\n\
             if [ -f {remote} ]; then echo pushed; fi",
                remote = shell_quote(&format!("{REMOTE_DIR}/{snapshot_name}")),
            );
            let output = server
                .connection
                .run_privileged("checking free space", &script, b"")
                .await;
            (index, server, output)
        });
    for (index, server, output) in join_all(checks).await {
        let fail = |cause: StepFailure| RestoreError::Step {
            node: server.name.clone(),
            step: "checking free space",
            cause,
            advice: "; nothing was stopped or changed",
        };
        let output = output.map_err(|err| fail(StepFailure::Ssh(err)))?;
        let mut lines = output.stdout.lines();
        let free_kib: u64 = lines
            .next()
            .and_then(|l| l.trim().parse().ok())
            .ok_or_else(|| {
                fail(StepFailure::Answered(format!(
                    "df said {:?}",
                    output.stdout.trim()
                )))
            })?;
        let dir = lines.next().unwrap_or(DB).trim().to_owned();
        let pushed = lines.next().is_some_and(|l| l.trim() == "pushed");
        let needed_kib = match (index, pushed) {
            (0, false) => 2 * snapshot_kib + ETCD_OVERHEAD_KIB,
            _ => snapshot_kib + ETCD_OVERHEAD_KIB,
        };
        if free_kib < needed_kib {
            return Err(fail(StepFailure::NoRoom {
                dir,
                free_mib: free_kib / 1024,
                needed_mib: needed_kib.div_ceil(1024),
                snapshot_mib: snapshot_kib.div_ceil(1024),
            }));
        }
    }
    Ok(())
}
