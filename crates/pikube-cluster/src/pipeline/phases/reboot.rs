//! The nodes whose preparation needs it rebooted (each waited for until it answers with a
//! new boot id), then every node prepared in this run checked: its facts read again and
//! compared with what preparation wanted. Nodes not yet in the cluster reboot together; a
//! node running K3s reboots one at a time, taken out of service first (cordoned, an agent
//! drained) and waited for until Ready again, so a fleet-wide change never takes every
//! server (and etcd's quorum) down at once.

use futures::future::join_all;
use futures::stream::{self, StreamExt};

use crate::apply::verify_prepared;
use crate::config::{NodeName, Role};
use crate::k3s::paths::Service;
use crate::k3s::{read_state, service_status, stopped, Maintenance, StageNode};
use crate::node_error::NodeError;
use crate::pipeline::{Mode, NodeOutcome, PhaseReport, Run};
use crate::plan::{DesiredNode, NodePlan};
use crate::progress::Progress;
use crate::reboot::reboot_node;
use crate::ssh::{ClientConfig, SudoPassword};

/// A node back from this phase, and whether it was rebooted.
type Rebooted = (StageNode, bool);

/// What rebooting one node needs from the run.
#[derive(Clone, Copy)]
struct Rebooter<'a> {
    client: &'a ClientConfig,
    sudo_password: &'a (dyn Fn(&str) -> Option<SudoPassword> + Sync),
    timeout: std::time::Duration,
    progress: &'a dyn Progress,
}

impl Rebooter<'_> {
    /// Reboots `node` when `plan` needs it, then checks that its preparation took effect.
    async fn reboot_and_verify(
        &self,
        node: StageNode,
        plan: &NodePlan,
    ) -> Result<Rebooted, NodeError> {
        let StageNode {
            name,
            mut connection,
            facts,
        } = node;
        let rebooted = plan.needs_reboot();
        if rebooted {
            self.progress
                .node(&name, &format!("rebooting ({})", plan.reboot.join("; ")));
            connection = reboot_node(connection, self.client, &facts.boot_id, self.timeout).await?;
            self.progress.node(&name, "back with a new boot id");
            // A new connection must learn sudo's password again.
            if connection.needs_sudo_password() {
                if let Some(password) = (self.sudo_password)(&name) {
                    connection.use_sudo_password(&password).await?;
                }
            }
        }
        let desired = DesiredNode { name: name.clone() };
        let facts = match verify_prepared(&connection, &desired).await {
            Ok(facts) => facts,
            Err(err) => {
                connection.close().await;
                return Err(err);
            }
        };
        self.progress.node(&name, "prepared and verified");
        Ok((
            StageNode {
                name,
                connection,
                facts,
            },
            rebooted,
        ))
    }
}

pub(super) async fn run(run: &mut Run<'_>, report: &mut PhaseReport) {
    let rebooting = |node: &StageNode, run: &Run<'_>| {
        run.plans
            .get(&node.name)
            .is_some_and(NodePlan::needs_reboot)
    };
    if run.mode == Mode::Plan {
        for node in run.nodes.iter().filter(|n| run.is_up(&n.name)) {
            if rebooting(node, run) {
                let reasons = run.plans[&node.name].reboot.clone();
                report.push(
                    &node.name,
                    NodeOutcome::Changed {
                        summary: "reboot".to_owned(),
                        changes: reasons,
                    },
                );
            }
        }
        return;
    }

    // Only the nodes prepared in this run: the others were found as wanted already.
    let changed = |node: &StageNode, run: &Run<'_>| {
        run.is_up(&node.name)
            && run
                .plans
                .get(&node.name)
                .is_some_and(|plan| !plan.changes.is_empty() || plan.needs_reboot())
    };
    let (work, rest): (Vec<StageNode>, Vec<StageNode>) = std::mem::take(&mut run.nodes)
        .into_iter()
        .partition(|node| changed(node, run));
    run.nodes = rest;
    if work.is_empty() {
        return;
    }
    let parallelism = run.config.ssh.parallelism.max(1);
    let rebooter = Rebooter {
        client: run.fleet.client(),
        sudo_password: run.sudo_password,
        timeout: run.settings.reboot_timeout,
        progress: run.progress,
    };
    let plans = &run.plans;

    // Which of the nodes to reboot run K3s now: those go one at a time. (One installed but
    // stopped serves nothing and is not waited for.)
    let services = join_all(work.iter().map(|node| async move {
        if !plans[&node.name].needs_reboot() {
            return None;
        }
        let service = read_state(&node.connection)
            .await
            .ok()?
            .installed_service()?;
        let status = service_status(&node.connection, service).await.ok()?;
        (status.active_state == "active").then_some(service)
    }))
    .await;
    // Running K3s: one at a time, with the service they run; the rest together.
    let mut in_cluster: Vec<(StageNode, Service)> = Vec::new();
    let mut outside: Vec<StageNode> = Vec::new();
    for (node, service) in work.into_iter().zip(services) {
        match service {
            Some(service) => in_cluster.push((node, service)),
            None => outside.push(node),
        }
    }

    let mut done: Vec<(NodeName, Result<Rebooted, String>)> = stream::iter(outside)
        .map(|node| async move {
            let name = node.name.clone();
            let result = rebooter
                .reboot_and_verify(node, &plans[&name])
                .await
                .map_err(|err| err.to_string());
            if let Err(err) = &result {
                rebooter.progress.node(&name, &format!("FAILED: {err}"));
            }
            (name, result)
        })
        .buffered(parallelism)
        .collect()
        .await;
    let rolled = roll(run, in_cluster, rebooter, &done).await;
    done.extend(rolled);
    for (name, result) in done {
        match result {
            Ok((node, rebooted)) => {
                if rebooted {
                    report.push(
                        &name,
                        NodeOutcome::Changed {
                            summary: "rebooted".to_owned(),
                            changes: run.plans[&name].reboot.clone(),
                        },
                    );
                }
                run.nodes.push(node);
            }
            Err(err) => run.fail(report, &name, err),
        }
    }
    // Back in file order: later phases report in it.
    let members = run.members();
    run.nodes
        .sort_by_key(|node| members.iter().position(|m| *m == node.name));
}

/// The nodes running K3s, rebooted one at a time in file order, each taken out of service
/// through another server's API (its own when it is the only one) and brought back before
/// the next; after a failure the rest are left alone.
async fn roll(
    run: &Run<'_>,
    nodes: Vec<(StageNode, Service)>,
    rebooter: Rebooter<'_>,
    outside: &[(NodeName, Result<Rebooted, String>)],
) -> Vec<(NodeName, Result<Rebooted, String>)> {
    let maintenance = Maintenance {
        drain_servers: run.settings.drain_servers,
        drain: run.settings.drain,
        ready_timeout: run.settings.ready_timeout,
    };
    let is_server = |name: &str| {
        run.config
            .node(name)
            .is_some_and(|n| n.role == Role::Server)
    };
    let mut queue: Vec<Option<(StageNode, Service)>> = nodes.into_iter().map(Some).collect();
    let mut finished: Vec<(NodeName, Result<Rebooted, String>)> = Vec::new();
    let mut stopped_at: Option<NodeName> = None;
    for index in 0..queue.len() {
        let Some((node, service)) = queue[index].take() else {
            continue;
        };
        let name = node.name.clone();
        if let Some(at) = &stopped_at {
            node.connection.close().await;
            finished.push((
                name.clone(),
                Err(format!(
                    "{name}: not rebooted: the rolling reboot stopped at {at}"
                )),
            ));
            continue;
        }
        let say = |line: &str| rebooter.progress.node(&name, &format!("[reboot] {line}"));
        // Another server to reach the API through while this one is down.
        let other = run
            .nodes
            .iter()
            .chain(
                outside
                    .iter()
                    .filter_map(|(_, r)| r.as_ref().ok().map(|(n, _)| n)),
            )
            .chain(
                finished
                    .iter()
                    .filter_map(|(_, r)| r.as_ref().ok().map(|(n, _)| n)),
            )
            .chain(queue.iter().flatten().map(|(n, _)| n))
            .find(|n| n.name != name && is_server(&n.name))
            .map(|n| &n.connection);
        let stopped = |step: &str, reason: String, cordoned: bool| {
            stopped(&name, "reboot", step, &reason, cordoned, "pikube apply")
        };
        say(if service == Service::Agent || maintenance.drain_servers {
            "cordon and drain before the reboot"
        } else {
            "cordon before the reboot"
        });
        if let Err(err) = maintenance
            .take_out(other.unwrap_or(&node.connection), &name, service, "reboot")
            .await
        {
            let error = stopped(err.step, err.reason, err.cordoned);
            rebooter.progress.node(&name, &format!("FAILED: {error}"));
            finished.push((name.clone(), Err(error)));
            stopped_at = Some(name.clone());
            node.connection.close().await;
            continue;
        }
        let result = match rebooter.reboot_and_verify(node, &run.plans[&name]).await {
            Ok((back, rebooted)) => {
                say("waiting for Ready");
                match maintenance
                    .bring_back(other.unwrap_or(&back.connection), &back.connection, service)
                    .await
                {
                    Ok(()) => {
                        say("Ready again, uncordoned");
                        Ok((back, rebooted))
                    }
                    Err(err) => {
                        back.connection.close().await;
                        Err(stopped(err.step, err.reason, err.cordoned))
                    }
                }
            }
            Err(err) => Err(stopped("reboot", err.to_string(), true)),
        };
        if let Err(error) = &result {
            rebooter.progress.node(&name, &format!("FAILED: {error}"));
            stopped_at = Some(name.clone());
        }
        finished.push((name, result));
    }
    finished
}
