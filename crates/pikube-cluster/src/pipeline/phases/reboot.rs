//! The nodes whose preparation needs it rebooted (each waited for until it answers with a
//! new boot id), then every node prepared in this run checked: its facts read again and
//! compared with what preparation wanted.

use futures::stream::{self, StreamExt};

use crate::apply::{reboot_node, verify_prepared};
use crate::k3s::StageNode;
use crate::node_error::NodeError;
use crate::pipeline::{Mode, NodeOutcome, PhaseReport, Run};
use crate::plan::DesiredNode;

/// A node back from this phase, and whether it was rebooted.
type Rebooted = (StageNode, bool);

pub(super) async fn run(run: &mut Run<'_>, report: &mut PhaseReport) {
    let rebooting = |node: &StageNode, run: &Run<'_>| {
        run.plans
            .get(&node.name)
            .is_some_and(|plan| plan.needs_reboot())
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
    let progress = run.progress;
    let client = run.fleet.client();
    let sudo_password = run.sudo_password;
    let timeout = run.settings.reboot_timeout;
    let plans = &run.plans;
    let done: Vec<(String, Result<Rebooted, NodeError>)> = stream::iter(work)
        .map(|node| async move {
            let name = node.name.clone();
            let plan = &plans[&name];
            let result = async {
                let StageNode {
                    name,
                    mut connection,
                    facts,
                } = node;
                let rebooted = plan.needs_reboot();
                if rebooted {
                    progress.node(&name, &format!("rebooting ({})", plan.reboot.join("; ")));
                    connection = reboot_node(connection, client, &facts.boot_id, timeout).await?;
                    progress.node(&name, "back with a new boot id");
                    // A new connection must learn sudo's password again.
                    if connection.needs_sudo_password() {
                        if let Some(password) = sudo_password(&name) {
                            connection.use_sudo_password(&password).await?;
                        }
                    }
                }
                let desired = DesiredNode { name: name.clone() };
                let facts = verify_prepared(&connection, &desired).await;
                let facts = match facts {
                    Ok(facts) => facts,
                    Err(err) => {
                        connection.close().await;
                        return Err(err);
                    }
                };
                progress.node(&name, "prepared and verified");
                Ok((
                    StageNode {
                        name,
                        connection,
                        facts,
                    },
                    rebooted,
                ))
            }
            .await;
            if let Err(err) = &result {
                progress.node(&name, &format!("FAILED: {err}"));
            }
            (name, result)
        })
        .buffered(parallelism)
        .collect()
        .await;
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
            Err(err) => run.fail(report, &name, err.to_string()),
        }
    }
    // Back in file order: later phases report in it.
    let members = run.members();
    run.nodes
        .sort_by_key(|node| members.iter().position(|m| *m == node.name));
}
