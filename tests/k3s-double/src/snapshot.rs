//! `k3s etcd-snapshot save|ls|delete|prune`, made by the real etcd: a snapshot is
//! `etcdctl snapshot save` of the server's own member, kept as
//! `<data-dir>/server/db/snapshots/<name>-<node>-<unix time>` (k3s' default place and name).
//! Restoring one is the server's `--cluster-reset --cluster-reset-restore-path` (see
//! `server::reset`).

use crate::config::{self, Settings};
use crate::flags::Command;
use crate::{components, log, node_identity};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// The flags of the subcommand itself (`--name` is the snapshot's prefix here).
#[derive(Debug, Default)]
struct Options {
    name: Option<String>,
    dir: Option<String>,
    retention: Option<usize>,
    node_name: Option<String>,
    data_dir: Option<String>,
    output: Option<String>,
    positional: Vec<String>,
}

fn parse(args: &[String]) -> Result<Options, String> {
    let mut options = Options::default();
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        let Some(flag) = arg.strip_prefix("--").or_else(|| arg.strip_prefix('-')) else {
            options.positional.push(arg.clone());
            continue;
        };
        let (name, inline) = match flag.split_once('=') {
            Some((name, value)) => (name, Some(value.to_string())),
            None => (flag, None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| iter.next().cloned())
                .ok_or_else(|| format!("flag needs an argument: -{name}"))
        };
        match name {
            "name" => options.name = Some(value()?),
            "dir" | "etcd-snapshot-dir" => options.dir = Some(value()?),
            "snapshot-retention" | "etcd-snapshot-retention" => {
                let text = value()?;
                options.retention = Some(
                    text.parse()
                        .map_err(|_| format!("invalid value {text:?} for flag -{name}"))?,
                );
            }
            "node-name" => options.node_name = Some(value()?),
            "data-dir" | "d" => options.data_dir = Some(value()?),
            "o" | "output" => options.output = Some(value()?),
            "config" | "c" => {
                value()?;
            }
            _ => return Err(format!("flag provided but not defined: -{name}")),
        }
    }
    Ok(options)
}

/// Where the server's files are, from the flags, then config.yaml and env, as k3s reads them.
pub(crate) struct Place {
    pub(crate) data_dir: PathBuf,
    pub(crate) snapshots: PathBuf,
    pub(crate) node_name: String,
}

fn place(options: &Options) -> Result<Place, String> {
    let env = |name: &str| std::env::var(name).ok();
    let settings: Settings = config::resolve(
        Command::Server,
        &[],
        &env,
        crate::roots::config_file(),
        &mut |_| {},
    )?;
    let data_dir = options
        .data_dir
        .clone()
        .or_else(|| settings.str("data-dir").map(str::to_string))
        .map(PathBuf::from)
        .unwrap_or_else(crate::roots::data_dir);
    let snapshots = options
        .dir
        .clone()
        .or_else(|| settings.str("etcd-snapshot-dir").map(str::to_string))
        .map(PathBuf::from)
        .unwrap_or_else(|| data_dir.join("server/db/snapshots"));
    let node_name = match &options.node_name {
        Some(name) => name.to_lowercase(),
        None => node_identity::node_name(&settings, &data_dir),
    };
    Ok(Place {
        data_dir,
        snapshots,
        node_name,
    })
}

pub fn main(args: &[String]) -> i32 {
    let Some((command, rest)) = args.split_first() else {
        eprintln!("usage: k3s etcd-snapshot save|ls|delete|prune [flags]");
        return 1;
    };
    let result = parse(rest).and_then(|options| {
        let place = place(&options)?;
        match command.as_str() {
            "save" => save(&place, &options),
            "ls" | "list" | "l" => list(&place, &options),
            "delete" | "rm" => delete(&place, &options.positional),
            "prune" => prune(&place, &options),
            other => Err(format!("No help topic for '{other}'")),
        }
    });
    match result {
        Ok(()) => 0,
        Err(e) => {
            log::error(&e);
            1
        }
    }
}

/// The URL of this server's own etcd member, written when it started.
pub fn client_url_file(data_dir: &Path) -> PathBuf {
    data_dir.join("server/db/etcd/client-url")
}

fn save(place: &Place, options: &Options) -> Result<(), String> {
    save_named(place, options.name.as_deref().unwrap_or("on-demand")).map(|_| ())
}

/// Saves a snapshot named `<prefix>-<node>-<unix time>`; returns its name.
pub(crate) fn save_named(place: &Place, prefix: &str) -> Result<String, String> {
    if place.data_dir.join("server/db/state.db").exists() {
        return Err(
            "etcd datastore is not enabled: this server uses the SQLite datastore, which \
             etcd-snapshot cannot save"
                .into(),
        );
    }
    let endpoint = std::fs::read_to_string(client_url_file(&place.data_dir)).map_err(|_| {
        "etcd datastore is not started: this is not a server with embedded etcd (or it has not \
         run yet)"
            .to_string()
    })?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let name = format!("{prefix}-{}-{now}", place.node_name);
    std::fs::create_dir_all(&place.snapshots)
        .map_err(|e| format!("{}: {e}", place.snapshots.display()))?;
    let path = place.snapshots.join(&name);
    let mut args = crate::server::etcdctl_tls(&place.data_dir, endpoint.trim());
    args.extend(["snapshot".into(), "save".into(), path.display().to_string()]);
    components::run("etcdctl", &args)
        .map_err(|e| format!("failed to save snapshot {name}: {e}"))?;
    set_mode(&path, 0o600)?;
    log::info(&format!("Snapshot {name} saved."));
    Ok(name)
}

fn set_mode(path: &Path, mode: u32) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(|e| format!("{}: {e}", path.display()))
}

struct Snapshot {
    name: String,
    path: PathBuf,
    size: u64,
    created: u64,
}

/// The snapshots in the directory, oldest first.
fn snapshots(place: &Place) -> Vec<Snapshot> {
    let Ok(dir) = std::fs::read_dir(&place.snapshots) else {
        return Vec::new();
    };
    let mut found: Vec<Snapshot> = dir
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let created = name.rsplit('-').next()?.parse().ok()?;
            Some(Snapshot {
                size: e.metadata().map(|m| m.len()).unwrap_or(0),
                path: e.path(),
                name,
                created,
            })
        })
        .collect();
    found.sort_by(|a, b| (a.created, &a.name).cmp(&(b.created, &b.name)));
    found
}

fn list(place: &Place, options: &Options) -> Result<(), String> {
    let found = snapshots(place);
    if options.output.as_deref() == Some("json") {
        let items: Vec<serde_json::Value> = found
            .iter()
            .map(|s| {
                serde_json::json!({
                    "name": s.name,
                    "location": format!("file://{}", s.path.display()),
                    "size": s.size,
                    "createdAt": log::rfc3339(s.created),
                })
            })
            .collect();
        println!("{}", serde_json::json!({"items": items}));
        return Ok(());
    }
    let width = found
        .iter()
        .map(|s| s.path.display().to_string().len() + 7)
        .max()
        .unwrap_or(8);
    let name_width = found.iter().map(|s| s.name.len()).max().unwrap_or(4).max(4);
    println!(
        "{:name_width$} {:width$} {:>10} Created",
        "Name", "Location", "Size"
    );
    for s in &found {
        println!(
            "{:name_width$} {:width$} {:>10} {}",
            s.name,
            format!("file://{}", s.path.display()),
            s.size,
            log::rfc3339(s.created)
        );
    }
    Ok(())
}

fn delete(place: &Place, names: &[String]) -> Result<(), String> {
    if names.is_empty() {
        return Err("no snapshot name given".into());
    }
    for name in names {
        if name.contains('/') {
            return Err(format!("invalid snapshot name {name:?}"));
        }
        let path = place.snapshots.join(name);
        std::fs::remove_file(&path)
            .map_err(|e| format!("failed to delete snapshot {name}: {e}"))?;
        log::info(&format!("Snapshot {name} deleted."));
    }
    Ok(())
}

fn prune(place: &Place, options: &Options) -> Result<(), String> {
    prune_named(
        place,
        options.name.as_deref().unwrap_or("on-demand"),
        options.retention.unwrap_or(5),
    )
}

/// Keeps the newest `retention` snapshots whose name starts with `<prefix>-`.
pub(crate) fn prune_named(place: &Place, prefix: &str, retention: usize) -> Result<(), String> {
    let prefix = format!("{prefix}-");
    let matching: Vec<Snapshot> = snapshots(place)
        .into_iter()
        .filter(|s| s.name.starts_with(&prefix))
        .collect();
    let excess = matching.len().saturating_sub(retention);
    for s in &matching[..excess] {
        std::fs::remove_file(&s.path).map_err(|e| format!("failed to prune {}: {e}", s.name))?;
        log::info(&format!("Removing local snapshot {}", s.path.display()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_of_the_subcommand() {
        let args: Vec<String> = ["--name", "pre-upgrade", "--snapshot-retention=3", "a", "b"]
            .iter()
            .map(ToString::to_string)
            .collect();
        let options = parse(&args).unwrap();
        assert_eq!(options.name.as_deref(), Some("pre-upgrade"));
        assert_eq!(options.retention, Some(3));
        assert_eq!(options.positional, ["a", "b"]);
        assert!(parse(&["--snapshot-retention".into(), "x".into()]).is_err());
        assert!(parse(&["--bogus".into()]).is_err());
    }
}
