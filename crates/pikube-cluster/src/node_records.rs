//! The nodes pikube installed K3s on, kept in `.pikube/<cluster>/nodes.json` and
//! refreshed at every apply: how to reach each over SSH, its role, and the labels and taints
//! pikube set on it. A node dropped from cluster.toml is still in the cluster, and `apply
//! --prune` has only this record left to reach it and uninstall K3s.

use crate::config::{NodeName, Role};
use std::fs;
use std::io;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::state::{LocalState, StateError};

const FILE_NAME: &str = "nodes.json";
const VERSION: u32 = 1;

/// One node as it was last installed: its SSH settings already resolved from cluster.toml
/// (the node's own value, else `[ssh]`'s).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeRecord {
    /// Its name in cluster.toml (and the cluster).
    pub name: NodeName,
    /// Where it was reached.
    pub address: String,
    /// The SSH user, when not ssh's own default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// The SSH port, when not 22.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// The key it was reached with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity_file: Option<PathBuf>,
    /// The jump host it was reached through.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_jump: Option<String>,
    /// Server or agent.
    pub role: Role,
    /// The server new nodes join through at the last apply: the one that started the
    /// cluster, or, once that one is gone, the server of cluster.toml that took its place.
    /// (Named for the first; kept so that older records still read.)
    #[serde(default)]
    pub initialised_cluster: bool,
    /// The labels and taints pikube set on its Node, kept here rather than read back from
    /// the node, which must not decide what pikube removes (security review L8). Absent in
    /// records written before it was kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registration: Option<Registration>,
}

/// Labels and taints, as pikube set them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registration {
    /// `key`, `value`.
    pub labels: Vec<(String, String)>,
    /// `key=value:Effect`.
    pub taints: Vec<String>,
}

#[derive(Serialize, Deserialize)]
struct RecordsFile {
    version: u32,
    nodes: Vec<NodeRecord>,
}

impl LocalState {
    /// `.pikube/<cluster>/nodes.json`.
    pub fn node_records_path(&self) -> PathBuf {
        self.dir().join(FILE_NAME)
    }

    /// The recorded nodes; none when nothing was recorded yet.
    pub fn node_records(&self) -> Result<Vec<NodeRecord>, StateError> {
        let path = self.node_records_path();
        let text = match fs::read_to_string(&path) {
            Ok(text) => text,
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => {
                return Err(StateError::Io {
                    path,
                    cause: source,
                })
            }
        };
        let file: RecordsFile =
            serde_json::from_str(&text).map_err(|cause| StateError::Malformed { path, cause })?;
        Ok(file.nodes)
    }

    /// Replaces the record, atomically (a temporary file renamed over it), mode 0600: an
    /// interrupted apply leaves the old record or the new one, never half of one.
    pub fn write_node_records(&self, records: &[NodeRecord]) -> Result<(), StateError> {
        let file = RecordsFile {
            version: VERSION,
            nodes: records.to_vec(),
        };
        let text = serde_json::to_string_pretty(&file).expect("records serialize") + "\n";
        crate::private_file::replace(self.dir(), FILE_NAME, text.as_bytes()).map_err(|cause| {
            StateError::Io {
                path: self.node_records_path(),
                cause,
            }
        })
    }
}

/// The record after an apply: `previous` updated with the nodes just `installed`, without
/// the nodes `forget` names (pruned, or gone from both cluster.toml and the cluster).
pub fn merge_records(
    previous: Vec<NodeRecord>,
    installed: Vec<NodeRecord>,
    forget: impl Fn(&str) -> bool,
) -> Vec<NodeRecord> {
    // One server is the one new nodes join through: when this apply names it, an older
    // record (of the server it replaced) no longer is.
    let named_anew = installed.iter().any(|new| new.initialised_cluster);
    let mut records: Vec<NodeRecord> = previous
        .into_iter()
        .filter(|old| !installed.iter().any(|new| new.name == old.name))
        .map(|old| NodeRecord {
            initialised_cluster: old.initialised_cluster && !named_anew,
            ..old
        })
        .collect();
    records.extend(installed);
    records.retain(|record| !forget(&record.name));
    records.sort_by(|a, b| a.name.cmp(&b.name));
    records
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn record(name: &str, address: &str) -> NodeRecord {
        NodeRecord {
            name: name.parse().unwrap(),
            address: address.into(),
            user: Some("pi".into()),
            port: None,
            identity_file: None,
            proxy_jump: None,
            role: Role::Agent,
            initialised_cluster: false,
            registration: None,
        }
    }

    #[test]
    fn records_round_trip_privately_and_atomically() {
        let dir = tempfile::tempdir().unwrap();
        let state = LocalState::new(dir.path(), "lab");
        assert!(state.node_records().unwrap().is_empty());
        let records = vec![record("a", "10.0.0.1"), record("b", "10.0.0.2")];
        state.write_node_records(&records).unwrap();
        assert_eq!(state.node_records().unwrap(), records);
        let path = state.node_records_path();
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let dir_mode = fs::metadata(state.dir()).unwrap().permissions().mode() & 0o777;
        assert_eq!(dir_mode, 0o700);
        let entries: Vec<_> = fs::read_dir(state.dir()).unwrap().collect();
        assert_eq!(entries.len(), 1, "no temporary file left");
        let text = fs::read_to_string(&path).unwrap();
        assert!(text.contains("\"role\": \"agent\""), "{text}");
    }

    #[test]
    fn a_damaged_record_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let state = LocalState::new(dir.path(), "lab");
        fs::create_dir_all(state.dir()).unwrap();
        fs::write(state.node_records_path(), "{not json").unwrap();
        let err = state.node_records().unwrap_err().to_string();
        assert!(err.contains("nodes.json"), "{err}");
    }

    #[test]
    fn an_apply_updates_keeps_and_forgets() {
        let previous = vec![
            record("gone", "1"),
            record("kept", "2"),
            record("moved", "3"),
        ];
        let installed = vec![record("moved", "4"), record("new", "5")];
        let merged = merge_records(previous, installed, |name| name == "gone");
        let names: Vec<(&str, &str)> = merged
            .iter()
            .map(|r| (r.name.as_str(), r.address.as_str()))
            .collect();
        assert_eq!(names, [("kept", "2"), ("moved", "4"), ("new", "5")]);
    }

    #[test]
    fn the_server_nodes_join_through_is_one_the_latest_apply_named() {
        let through = |name: &str, yes: bool| NodeRecord {
            initialised_cluster: yes,
            role: Role::Server,
            ..record(name, "1")
        };
        // s1 (dead, not uninstalled: its record stays) started the cluster; s2 took its place.
        let merged = merge_records(
            vec![through("s1", true), through("s2", false)],
            vec![through("s2", true)],
            |_| false,
        );
        let marked: Vec<(&str, bool)> = merged
            .iter()
            .map(|r| (r.name.as_str(), r.initialised_cluster))
            .collect();
        assert_eq!(marked, [("s1", false), ("s2", true)]);
        // An apply that names none (no server reached) leaves the record as it was.
        let merged = merge_records(vec![through("s1", true)], vec![record("a1", "2")], |_| {
            false
        });
        assert!(merged[1].initialised_cluster, "{merged:?}");
    }
}
