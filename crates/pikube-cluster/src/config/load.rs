//! Entry points: file or text in, a whole `ClusterConfig` (or every problem) out.

use std::io;
use std::path::{Path, PathBuf};

use super::addons;
use super::backup;
use super::decode::decode;
use super::diagnostic::{ConfigError, ConfigWarning};
use super::fields;
use super::fleet;
use super::k3s;
use super::model::ClusterConfig;
use super::names::ClusterName;
use super::network;
use super::nodes;
use super::report::Report;
use super::ssh;

/// A valid configuration and what is worth a second look in it.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The configuration.
    pub config: ClusterConfig,
    /// What is allowed but likely a mistake (an even number of servers).
    pub warnings: Vec<ConfigWarning>,
}

/// Reads and parses `path`.
pub fn load(path: &Path) -> Result<Loaded, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| match source.kind() {
        io::ErrorKind::NotFound => ConfigError::NotFound {
            path: path.to_path_buf(),
        },
        _ => ConfigError::Read {
            path: path.to_path_buf(),
            cause: source,
        },
    })?;
    parse(&text, path)
}

/// Parses `text` as the contents of `path`, which names the file in messages
/// and anchors relative paths; `~` expands to `$HOME`.
pub fn parse(text: &str, path: &Path) -> Result<Loaded, ConfigError> {
    let home = std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from);
    parse_with_home(text, path, home.as_deref())
}

/// `parse` with `$HOME` given, so tests need not touch the environment.
pub(crate) fn parse_with_home(
    text: &str,
    path: &Path,
    home: Option<&Path>,
) -> Result<Loaded, ConfigError> {
    let mut report = Report::new(text, path);
    let Some(raw) = decode(text, &mut report) else {
        return Err(report.into_error());
    };
    let dir = path.parent().unwrap_or(Path::new(""));

    let name = match raw.cluster {
        None => {
            report.error(
                None,
                "cluster",
                "missing [cluster] table, e.g. [cluster] name = \"homelab\"",
            );
            None
        }
        Some(table) => match &table.value.name {
            None => {
                fields::missing(
                    &mut report,
                    table.span,
                    "cluster.name",
                    "name = \"homelab\"",
                );
                None
            }
            Some(name) => fields::parse::<ClusterName>(&mut report, "cluster.name", name),
        },
    };

    let ssh = ssh::lower(&mut report, raw.ssh, dir, home);

    // With an external datastore there is no etcd quorum to warn about. A
    // bad endpoint is reported on its own, so it still counts as external.
    let external_datastore = raw.k3s.as_ref().is_some_and(|k| {
        k.value.datastore_endpoint.is_some() || k.value.datastore_endpoint_secret.is_some()
    });
    let k3s = k3s::lower(&mut report, raw.k3s, dir, home);
    let network = network::lower(&mut report, raw.network);
    let addons = addons::lower(&mut report, raw.addons);
    let backup_span = raw.backup.as_ref().map(|b| b.span.clone());
    let backup = backup::lower(&mut report, raw.backup);

    let mut lowered = Vec::new();
    match raw.nodes {
        None => report.error(
            None,
            "nodes",
            "no nodes; add a [[nodes]] table for each Pi, at least one with role = \"server\"",
        ),
        Some(list) if list.value.is_empty() => report.error(
            list.span,
            "nodes",
            "the node list is empty; add a [[nodes]] table for each Pi",
        ),
        Some(list) => {
            for (index, node) in list.value.into_iter().enumerate() {
                lowered.push(nodes::lower(&mut report, index, node, &ssh, dir, home));
            }
            fleet::check(&mut report, &lowered, list.span, external_datastore);
            if let Some(span) = backup_span {
                fleet::check_backup_datastore(&mut report, span, &lowered, external_datastore);
            }
            if let Some(network) = &network {
                for node in &lowered {
                    if let Some(address) = &node.static_address {
                        let field = format!("nodes[{}].address", node.index);
                        network::check_static(&mut report, &field, address, network);
                    }
                }
            }
        }
    }

    let warnings = report.finish()?;
    // `finish` succeeding means every value above was valid, so none of these
    // can be missing; the `ok_or_else` keeps that promise from panicking.
    let config = (|| {
        Some(ClusterConfig {
            path: path.to_path_buf(),
            name: name?,
            ssh,
            k3s: k3s?,
            network: network?,
            addons: addons?,
            backup: backup?,
            nodes: lowered.into_iter().map(|n| n.spec).collect::<Option<_>>()?,
        })
    })();
    let config = config.ok_or_else(|| internal(text, path))?;
    Ok(Loaded { config, warnings })
}

fn internal(text: &str, path: &Path) -> ConfigError {
    let mut report = Report::new(text, path);
    report.error(
        None,
        "",
        "internal error: a value was rejected without a message",
    );
    report.into_error()
}
