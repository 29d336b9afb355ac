//! K3s' scheduled etcd snapshots on a server: the newest, and how long K3s has run, so that
//! `doctor` can say when they silently stopped (a full card, a broken S3 upload, a schedule
//! turned off by hand). Read as root: the snapshot directory is root's.

use serde::Serialize;

use crate::ssh::{Connection, SshError};

/// Where K3s keeps them, and the prefix of the scheduled ones (on-demand and pikube's own
/// backups have others).
const DIR: &str = "/var/lib/rancher/k3s/server/db/snapshots";
const PREFIX: &str = "etcd-snapshot-";

/// A server's scheduled etcd snapshots, as far as `status` and `doctor` need them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScheduledSnapshots {
    /// The newest scheduled snapshot's name and age in seconds, if there is one.
    pub newest: Option<(String, u64)>,
    /// How long the server's K3s has run, in seconds, when it runs.
    pub k3s_running_secs: Option<u64>,
}

const SCRIPT: &str = r#"d=/var/lib/rancher/k3s/server/db/snapshots
date +%s
pid=$(systemctl show -p MainPID --value k3s 2>/dev/null)
if [ -n "$pid" ] && [ "$pid" != 0 ]; then ps -o etimes= -p "$pid" 2>/dev/null | tr -d ' '; else echo; fi
for f in "$d"/etcd-snapshot-*; do [ -f "$f" ] && stat -c '%Y %n' "$f"; done 2>/dev/null
true"#;

/// The server's scheduled snapshots, as [`ScheduledSnapshots`].
pub async fn read_scheduled(server: &Connection) -> Result<ScheduledSnapshots, SshError> {
    let output = server
        .run_privileged("listing scheduled snapshots", SCRIPT, b"")
        .await?;
    Ok(parse(&output.stdout))
}

/// The script's output: the node's time, K3s' running time (or an empty line), then
/// `<mtime> <path>` per snapshot. Half-written ones (`.part`) are left out.
pub fn parse(text: &str) -> ScheduledSnapshots {
    let mut lines = text.lines();
    let now: Option<u64> = lines.next().and_then(|l| l.trim().parse().ok());
    let k3s_running_secs = lines.next().and_then(|l| l.trim().parse().ok());
    let newest = lines
        .filter_map(|line| {
            let (mtime, path) = line.split_once(' ')?;
            let name = path.strip_prefix(DIR)?.trim_start_matches('/');
            let complete = name.starts_with(PREFIX)
                && name
                    .rsplit('-')
                    .next()
                    .is_some_and(|t| t.bytes().all(|b| b.is_ascii_digit()));
            complete.then(|| (name.to_owned(), mtime.parse::<u64>().ok()))
        })
        .filter_map(|(name, mtime)| Some((name, mtime?)))
        .max_by_key(|(_, mtime)| *mtime)
        .map(|(name, mtime)| (name, now.unwrap_or(mtime).saturating_sub(mtime)));
    ScheduledSnapshots {
        newest,
        k3s_running_secs,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_newest_complete_one_and_how_long_k3s_has_run() {
        let text = format!(
            "1000\n3600\n900 {DIR}/etcd-snapshot-s1-900\n990 {DIR}/etcd-snapshot-s1-990.part\n\
             960 {DIR}/etcd-snapshot-s1-960\n"
        );
        assert_eq!(
            parse(&text),
            ScheduledSnapshots {
                newest: Some(("etcd-snapshot-s1-960".into(), 40)),
                k3s_running_secs: Some(3600),
            }
        );
        assert_eq!(
            parse("1000\n\n"),
            ScheduledSnapshots {
                newest: None,
                k3s_running_secs: None
            }
        );
    }
}
