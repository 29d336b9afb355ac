//! Checks across nodes: names and addresses unique, a control plane present, a server
//! count etcd can make use of, and a datastore `[backup]` can snapshot.

use std::collections::HashMap;
use std::ops::Range;

use super::datastore::DatastoreKind;
use super::nodes::LoweredNode;
use super::report::Report;
use super::role::Role;

/// `nodes_span` is where the node list starts, for problems of the list as a
/// whole; `external_datastore` is whether `[k3s] datastore_endpoint` is set.
pub(crate) fn check(
    report: &mut Report<'_>,
    nodes: &[LoweredNode],
    nodes_span: Option<Range<usize>>,
    external_datastore: bool,
) {
    unique(report, nodes, "name", "node name", |n| {
        n.name.as_ref().map(|s| (s.get_ref().to_string(), s.span()))
    });
    unique(report, nodes, "address", "address", |n| {
        n.address
            .as_ref()
            .map(|s| (s.get_ref().identity(), s.span()))
    });
    servers(report, nodes, nodes_span, external_datastore);
}

/// Reports each repeat at its own position, naming where the value first appeared.
fn unique(
    report: &mut Report<'_>,
    nodes: &[LoweredNode],
    key: &str,
    what: &str,
    value: impl Fn(&LoweredNode) -> Option<(String, Range<usize>)>,
) {
    let mut first: HashMap<String, (usize, Range<usize>)> = HashMap::new();
    for node in nodes {
        let Some((v, span)) = value(node) else {
            continue;
        };
        match first.get(&v) {
            Some((index, first_span)) => {
                let line = report.line_of(Some(first_span.clone()));
                report.error(
                    Some(span),
                    format!("nodes[{}].{key}", node.index),
                    format!("duplicate {what} {v:?}; nodes[{index}] at line {line} already has it"),
                );
            }
            None => {
                first.insert(v, (node.index, span));
            }
        }
    }
}

fn servers(
    report: &mut Report<'_>,
    nodes: &[LoweredNode],
    nodes_span: Option<Range<usize>>,
    external_datastore: bool,
) {
    // A role that failed to parse may have been meant as "server"; saying
    // there is none would then be noise on top of the real error.
    if nodes.iter().any(|n| n.bad_role) {
        return;
    }
    let servers = servers_of(nodes);
    let count = servers.len();
    if count == 0 {
        if nodes.iter().all(|n| n.role.is_some()) {
            report.error(
                nodes_span,
                "nodes",
                "no node has role = \"server\"; K3s needs at least one server to run the control plane",
            );
        }
        return;
    }
    let odd = count % 2 == 1;
    // With an external datastore the servers hold no etcd votes, so an even
    // count loses nothing.
    if count > 1 && !odd && !external_datastore {
        // etcd needs a majority: n servers survive (n-1)/2 failures, so an
        // even count adds a machine (and a vote to lose) for nothing.
        let tolerated = (count - 1) / 2;
        let better = if count - 1 > 1 {
            format!("{} or {}", count - 1, count + 1)
        } else {
            (count + 1).to_string()
        };
        let last = servers[count - 1];
        let span = last.role.as_ref().map(toml::Spanned::span);
        report.warning(
            span,
            format!("nodes[{}].role", last.index),
            format!(
                "{count} servers: etcd needs a majority, so they tolerate {tolerated} failure{}, \
                 no more than {} would; use an odd number such as {better}",
                if tolerated == 1 { "" } else { "s" },
                count - 1,
            ),
        );
    }
}

/// K3s takes snapshots of its embedded etcd only: with one server it runs SQLite, and
/// with `datastore_endpoint` the database is someone else's. Either way `[backup]` would do
/// nothing, which is said at the table rather than left to be found after a dead card.
pub(crate) fn check_backup_datastore(
    report: &mut Report<'_>,
    span: Option<Range<usize>>,
    nodes: &[LoweredNode],
    external_datastore: bool,
) {
    let why = match DatastoreKind::chosen(servers_of(nodes).len(), external_datastore) {
        DatastoreKind::External => {
            "with [k3s] datastore_endpoint the cluster's data is in that database; back it up \
             with the database's own tools"
        }
        DatastoreKind::Sqlite => {
            "with one server K3s keeps its data in SQLite, which it takes no snapshots of; \
             scheduled snapshots need embedded etcd (three servers for HA)"
        }
        DatastoreKind::EmbeddedEtcd => return,
    };
    report.error(
        span,
        "backup",
        format!("[backup] asks for K3s' etcd snapshots, but {why}"),
    );
}

/// The nodes whose role is server.
fn servers_of(nodes: &[LoweredNode]) -> Vec<&LoweredNode> {
    nodes
        .iter()
        .filter(|n| {
            n.role
                .as_ref()
                .is_some_and(|r| *r.get_ref() == Role::Server)
        })
        .collect()
}
