//! The snapshots K3s keeps on the servers, asked of every server that answers: each takes
//! its own scheduled snapshots onto its own card, so asking one would miss the others'.

use futures::future::join_all;
use serde::Serialize;

use crate::config::NodeName;
use crate::error_chain::describe;
use crate::fleet::NodeResult;
use crate::ssh::Connection;

/// A snapshot a server listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServerSnapshot {
    /// The server that listed it: for a file on a card (`file://`), the one holding it.
    pub node: NodeName,
    /// Its name, as `backup pull` and `restore` take it.
    pub name: String,
    /// Where K3s says it is (`file:///var/lib/rancher/k3s/server/db/snapshots/...`, or S3).
    pub location: String,
    /// Its size in bytes, when K3s says.
    pub size: Option<u64>,
    /// When it was taken, as K3s says (RFC 3339).
    pub created_at: Option<String>,
}

/// A server that could not be asked, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NotAsked {
    /// The server.
    pub node: NodeName,
    /// Why.
    pub reason: String,
}

/// What the servers keep.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ServerSnapshots {
    /// The servers that answered.
    pub asked: Vec<NodeName>,
    /// Their snapshots, by server in cluster.toml order, oldest first on each.
    pub snapshots: Vec<ServerSnapshot>,
    /// The servers that did not.
    pub not_asked: Vec<NotAsked>,
}

/// Asks every connected server for its snapshots (`k3s etcd-snapshot ls -o json`), and
/// closes the connections.
pub async fn list_on_servers<E: std::error::Error + 'static>(
    connected: Vec<NodeResult<Connection, E>>,
) -> ServerSnapshots {
    let asks = connected.into_iter().map(|connected| async move {
        let node = connected.node;
        let connection = match connected.result {
            Ok(connection) => connection,
            Err(err) => return (node, Err(describe(&err))),
        };
        let listed = connection
            .run_privileged(
                "listing etcd snapshots",
                "/usr/local/bin/k3s etcd-snapshot ls -o json",
                b"",
            )
            .await;
        connection.close().await;
        let items = listed
            .map_err(|err| describe(&err))
            .and_then(|output| read_listing(&node, &output.stdout));
        (node, items)
    });
    let mut found = ServerSnapshots::default();
    for (node, items) in join_all(asks).await {
        match items {
            Ok(items) => {
                found.asked.push(node);
                for item in items {
                    // A bucket every server lists alike is said once.
                    let seen = !item.location.starts_with("file://")
                        && found
                            .snapshots
                            .iter()
                            .any(|s| s.name == item.name && s.location == item.location);
                    if !seen {
                        found.snapshots.push(item);
                    }
                }
            }
            Err(reason) => found.not_asked.push(NotAsked { node, reason }),
        }
    }
    found
}

/// `k3s etcd-snapshot ls -o json`'s `{"items": [{name, location, size, createdAt}]}`.
fn read_listing(node: &NodeName, stdout: &str) -> Result<Vec<ServerSnapshot>, String> {
    let value: serde_json::Value = serde_json::from_str(stdout).map_err(|e| {
        format!("`k3s etcd-snapshot ls -o json` printed no JSON ({e}): {stdout:.200}")
    })?;
    let items = match &value["items"] {
        serde_json::Value::Array(items) => items.as_slice(),
        serde_json::Value::Null => &[],
        _ => {
            return Err(format!(
                "`k3s etcd-snapshot ls -o json`: no list of items in {value}"
            ))
        }
    };
    let mut snapshots: Vec<ServerSnapshot> = items
        .iter()
        .filter_map(|item| {
            Some(ServerSnapshot {
                node: node.clone(),
                name: item["name"].as_str()?.to_owned(),
                location: item["location"].as_str().unwrap_or_default().to_owned(),
                size: item["size"]
                    .as_u64()
                    .or_else(|| item["size"].as_str()?.parse().ok()),
                created_at: item["createdAt"].as_str().map(str::to_owned),
            })
        })
        .collect();
    snapshots.sort_by(|a, b| (&a.created_at, &a.name).cmp(&(&b.created_at, &b.name)));
    Ok(snapshots)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listing_is_read_oldest_first_and_each_snapshot_named_with_its_server() {
        let s2: NodeName = "s2".parse().unwrap();
        let listed = read_listing(
            &s2,
            r#"{"items":[
              {"name":"etcd-snapshot-s2-20","location":"file:///var/lib/rancher/k3s/server/db/snapshots/etcd-snapshot-s2-20","size":"4096","createdAt":"2025-12-01T00:00:20Z"},
              {"name":"etcd-snapshot-s2-10","location":"file:///var/lib/rancher/k3s/server/db/snapshots/etcd-snapshot-s2-10","size":2048,"createdAt":"2025-12-01T00:00:10Z"}
            ]}"#,
        )
        .unwrap();
        assert_eq!(
            listed
                .iter()
                .map(|s| (s.node.as_ref(), s.name.as_str(), s.size))
                .collect::<Vec<_>>(),
            [
                ("s2", "etcd-snapshot-s2-10", Some(2048)),
                ("s2", "etcd-snapshot-s2-20", Some(4096))
            ]
        );
        assert_eq!(read_listing(&s2, r#"{"items":null}"#).unwrap(), []);
        let err = read_listing(&s2, "level=fatal msg=\"etcd datastore disabled\"").unwrap_err();
        assert!(
            err.starts_with("`k3s etcd-snapshot ls -o json` printed no JSON"),
            "{err}"
        );
    }
}
