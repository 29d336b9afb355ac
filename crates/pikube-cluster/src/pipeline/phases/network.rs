//! The nodes whose address in cluster.toml carries a prefix: the file that keeps their
//! static address (in the format of the program that owns their network) and, where the
//! interface does not have it yet, the move to it, one node at a time, each rolled back by
//! the node itself unless pikube reaches it at the new address in time. Later phases use
//! the connection at the new address, so K3s follows in the same run: node-ip, and for a
//! server its certificate's names and the agents' server URL. A server on embedded etcd is
//! not moved (etcd knows its members by address).

use crate::config::{DatastoreKind, NodeName};
use crate::error_chain::describe;
use crate::k3s::paths::Service;
use crate::k3s::StageNode;
use crate::network::{
    default_interface, parse_survey, plan_change, survey_script, switch_address, AddressChange,
    StaticNetwork,
};
use crate::pipeline::{Mode, NodeOutcome, PhaseReport, Run};
use crate::plan::NodePlan;

pub(super) async fn run(run: &mut Run<'_>, report: &mut PhaseReport) {
    let mut changes: Vec<AddressChange> = Vec::new();
    let mut failures: Vec<(NodeName, String)> = Vec::new();
    for node in run.nodes.iter().filter(|n| run.is_up(&n.name)) {
        let Some(mut network) = run
            .config
            .node(&node.name)
            .and_then(|spec| StaticNetwork::of(run.config, spec))
        else {
            continue;
        };
        if run.config.network.interface.is_none() {
            let reached = &node.connection.target().address;
            if let Some(interface) = default_interface(&node.facts, reached) {
                network.interface = interface;
            }
        }
        let planned = match plan_node(run, node, &network).await {
            Ok(Some(change)) => match refusal(run, node, &change).await {
                Some(why) => Err(why),
                None => Ok(change),
            },
            Ok(None) => continue,
            Err(err) => Err(err),
        };
        match planned {
            Ok(change) => changes.push(change),
            Err(err) => failures.push((node.name.clone(), err)),
        }
    }
    for (node, error) in failures {
        run.fail(report, &node, error);
    }
    match run.mode {
        Mode::Plan => {
            for change in changes {
                report.push(&change.node, outcome(&change, "to change"));
                let plan = run
                    .plans
                    .entry(change.node.clone())
                    .or_insert_with(|| NodePlan {
                        node: change.node.clone(),
                        changes: Vec::new(),
                        reboot: Vec::new(),
                    });
                plan.changes.extend(change.planned());
            }
        }
        Mode::Apply => {
            let client = run.fleet.shared_client();
            for change in changes {
                let Some(node) = run.nodes.iter_mut().find(|n| n.name == change.node) else {
                    continue;
                };
                match switch_address(&node.connection, &change, &client, run.progress).await {
                    Ok(reached) => {
                        let old = std::mem::replace(&mut node.connection, reached);
                        old.close().await;
                        report.push(&change.node, outcome(&change, "changed"));
                        let server = run
                            .spec
                            .member(&change.node)
                            .is_some_and(|m| m.service == Service::Server);
                        if server && change.moves() && run.config.k3s.api_endpoint.is_none() {
                            run.progress.notice(&format!(
                                "{} is now at {}: `pikube kubeconfig` points kubectl there",
                                change.node, change.network.address.ip
                            ));
                        }
                    }
                    Err(err) => {
                        let error = format!("{}: network: {}", change.node, describe(&err));
                        run.progress.node(&change.node, &format!("FAILED: {error}"));
                        run.fail(report, &change.node, error);
                    }
                }
            }
        }
    }
}

/// What `network` asks of `node`: which program owns its network and the file it keeps
/// the address in, read as root in one round trip (NetworkManager keyfiles are 0600), then
/// compared with the node's facts.
async fn plan_node(
    run: &Run<'_>,
    node: &StageNode,
    network: &StaticNetwork,
) -> Result<Option<AddressChange>, String> {
    let output = node
        .connection
        .run_privileged(
            "reading the network configuration",
            &survey_script(&network.interface),
            b"",
        )
        .await
        .map_err(|err| {
            format!(
                "{}: network: reading its network configuration: {}",
                node.name,
                describe(&err)
            )
        })?;
    let survey = parse_survey(&output.stdout);
    plan_change(
        &node.name,
        network,
        &node.facts,
        survey.stack,
        survey.current.as_deref(),
        run.config.network.rollback_after,
    )
}

/// Why `change` must not be made, if it must not: the node is a K3s server on embedded
/// etcd. (An address another node has now needs no check here: pikube reaches that node
/// there, and the validate phase refuses two entries that reach one machine.)
async fn refusal(run: &Run<'_>, node: &StageNode, change: &AddressChange) -> Option<String> {
    if !change.moves() {
        return None;
    }
    let server = run
        .spec
        .member(&node.name)
        .is_some_and(|m| m.service == Service::Server);
    let installed = node.facts.k3s.is_installed();
    (server && installed && runs_etcd(run, node).await).then(|| etcd_refusal(change))
}

/// Whether the server keeps its data in embedded etcd: by cluster.toml (several servers),
/// or by its own disk (a cluster once larger, or a server started with --cluster-init).
/// An unreadable answer counts as etcd: refusing is the safe side.
async fn runs_etcd(run: &Run<'_>, node: &StageNode) -> bool {
    if run.config.datastore() == DatastoreKind::EmbeddedEtcd {
        return true;
    }
    let asked = node
        .connection
        .run_privileged(
            "looking for embedded etcd",
            // etcd's own data (member/), not the directory: K3s may keep a name file there.
            "if [ -d /var/lib/rancher/k3s/server/db/etcd/member ]; then echo etcd; else echo none; fi",
            b"",
        )
        .await;
    !matches!(asked, Ok(out) if out.last_stdout_line() == "none")
}

/// K3s' embedded etcd knows each member by its peer address; a server that comes back at
/// another one is refused by it ("this server is a not a member of the etcd cluster").
fn etcd_refusal(change: &AddressChange) -> String {
    format!(
        "{}: network: it is a K3s server on embedded etcd, which knows each member by its \
         address: at another one ({}), K3s would refuse to start it as not a member of the \
         etcd cluster. Give it back its address in cluster.toml ({}); to move it, remove it \
         from the cluster (apply --prune without it), then add it again at the new address",
        change.node,
        change.summary(),
        change
            .old_ip()
            .map_or_else(|| "its current one".to_owned(), |ip| ip.to_string())
    )
}

fn outcome(change: &AddressChange, verb: &str) -> NodeOutcome {
    NodeOutcome::Changed {
        summary: format!("network: {} {verb}", change.summary()),
        changes: change
            .planned()
            .iter()
            .map(|planned| planned.change.summary())
            .collect(),
    }
}
