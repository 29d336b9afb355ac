//! `[ssh]` to `SshSettings`, with pikube's defaults filled in.

use std::path::Path;
use std::time::Duration;

use super::fields;
use super::located::Located;
use super::model::SshSettings;
use super::raw::RawSsh;
use super::report::Report;

/// Per-attempt TCP connect limit: long enough for a Pi on Wi-Fi, short enough
/// that an unplugged one does not stall a run.
pub(crate) const DEFAULT_CONNECT_TIMEOUT_SECS: u64 = 10;
/// Long enough for anything pikube runs on a slow Pi (a K3s start, an etcd snapshot); what
/// legitimately takes longer (an OS upgrade, a drain, a big upload) is given its own limit.
pub(crate) const DEFAULT_COMMAND_TIMEOUT_SECS: u64 = 600;
/// Enough to keep a rack busy without exhausting the local fd or agent limits.
pub(crate) const DEFAULT_PARALLELISM: usize = 10;
pub(crate) const DEFAULT_KNOWN_HOSTS: &str = "known_hosts";

/// Always yields settings (defaults where a value was bad), so nodes can still
/// be checked against them; the problems are in `report`.
pub(crate) fn lower(
    report: &mut Report<'_>,
    raw: Option<Located<RawSsh>>,
    dir: &Path,
    home: Option<&Path>,
) -> SshSettings {
    let raw = raw.map(|r| r.value);
    let raw = raw.as_ref();
    let user = raw
        .and_then(|r| r.user.as_ref())
        .and_then(|u| fields::user(report, "ssh.user", u));
    let port = raw
        .and_then(|r| r.port.as_ref())
        .and_then(|p| fields::port(report, "ssh.port", p));
    let identity_file = raw
        .and_then(|r| r.identity_file.as_ref())
        .and_then(|p| fields::path(report, "ssh.identity_file", p, dir, home));
    let config_file = raw
        .and_then(|r| r.config_file.as_ref())
        .and_then(|p| fields::path(report, "ssh.config_file", p, dir, home));
    let known_hosts = raw
        .and_then(|r| r.known_hosts.as_ref())
        .and_then(|p| fields::path(report, "ssh.known_hosts", p, dir, home))
        .unwrap_or_else(|| dir.join(DEFAULT_KNOWN_HOSTS));
    let proxy_jump = raw
        .and_then(|r| r.proxy_jump.as_ref())
        .and_then(|j| fields::proxy_jump(report, "ssh.proxy_jump", j))
        .flatten();
    let connect_timeout = raw
        .and_then(|r| r.connect_timeout.as_ref())
        .and_then(|t| fields::seconds(report, "ssh.connect_timeout", t))
        .unwrap_or(DEFAULT_CONNECT_TIMEOUT_SECS);
    let command_timeout = raw
        .and_then(|r| r.command_timeout.as_ref())
        .and_then(|t| fields::command_seconds(report, "ssh.command_timeout", t))
        .unwrap_or(DEFAULT_COMMAND_TIMEOUT_SECS);
    let parallelism = raw
        .and_then(|r| r.parallelism.as_ref())
        .and_then(|n| fields::parallelism(report, "ssh.parallelism", n))
        .unwrap_or(DEFAULT_PARALLELISM);
    SshSettings {
        user,
        port,
        identity_file,
        config_file,
        known_hosts,
        proxy_jump,
        connect_timeout: Duration::from_secs(connect_timeout),
        command_timeout: Duration::from_secs(command_timeout),
        parallelism,
    }
}
