//! Rolling K3s upgrades, before the k3s phase: the nodes whose K3s runs another version
//! than cluster.toml's (or from another binary) are upgraded one at a time (servers), then
//! a few at a time (agents, --max-unavailable), after a preflight and, with embedded etcd,
//! a snapshot. The k3s phase then finds their binary in place and restarts nothing more.
//! A node not upgraded (refused, or after the rollout stopped) is out of the run, so the
//! k3s phase never swaps its binary under it all at once.

use std::collections::BTreeMap;

use futures::future::join_all;
use futures::stream::{self, StreamExt};

use crate::config::{Arch, NodeName};
use crate::k3s::paths::Service;
use crate::k3s::upgrade::{
    etcd_ready, plan_upgrade, pre_upgrade_snapshot, Candidate, NodeUpgrade, Rollout, Survey,
};
use crate::k3s::{live_nodes, read_state, K3sNodeState, StageNode};
use crate::pipeline::{Mode, NodeOutcome, PhaseReport, Run};
use crate::plan::{Change, ChangeArea, NodePlan, PlannedChange};
use crate::progress::Progress;
use crate::ssh::Connection;

pub(super) async fn run(run: &mut Run<'_>, report: &mut PhaseReport) {
    let Some(binaries) = run.binaries.as_ref() else {
        return;
    };
    let target = run.config.k3s.version;
    let (candidates, states) = candidates(run).await;
    run.k3s_states = states;
    if candidates.is_empty() {
        return;
    }
    // A dry run's facts phase read the node list already; a real run asks now.
    let known_live = match run.mode {
        Mode::Plan => run.live.clone(),
        Mode::Apply => None,
    };
    let differing: Vec<NodeName> = candidates
        .iter()
        .filter(|c| c.binary_differs)
        .map(|c| c.name.clone())
        .collect();
    let asked = match known_live {
        Some(live) => Ok(live),
        None => live_nodes(&run.spec, &run.nodes)
            .await
            .map(|(_, live)| live),
    };
    let live = match asked {
        Ok(live) => {
            run.live = Some(live.clone());
            live
        }
        Err(err) if !differing.is_empty() => {
            report.errors.push(format!(
                "the upgrade to {target} needs the cluster's node list first: {err}"
            ));
            for node in differing {
                run.fail(
                    report,
                    &node.clone(),
                    format!("{node}: not upgraded: {err}"),
                );
            }
            return;
        }
        // Nothing to roll out that the k3s phase would not see by itself.
        Err(_) => return,
    };
    let members = run.members();
    let out_of_run: Vec<(NodeName, String)> = members
        .iter()
        .filter_map(|name| Some((name.clone(), run.failed.get(name)?.clone())))
        .collect();
    let survey = Survey {
        members: &members,
        candidates: &candidates,
        out_of_run: &out_of_run,
        live: &live,
    };
    let plan = match plan_upgrade(&target, survey, run.settings.allow_downgrade) {
        Ok(plan) if plan.is_empty() => return,
        Ok(plan) => plan,
        Err(problems) => {
            for problem in &problems {
                report
                    .errors
                    .push(format!("upgrade to {target} refused: {problem}"));
            }
            let behind: Vec<NodeName> = candidates
                .iter()
                .filter(|c| {
                    c.binary_differs
                        || live
                            .iter()
                            .any(|n| n.name == c.name && n.kubelet_version != target.to_string())
                })
                .map(|c| c.name.clone())
                .collect();
            for node in behind {
                let why = format!("{node}: not upgraded: the upgrade was refused (see above)");
                run.fail(report, &node, why);
            }
            return;
        }
    };

    if run.mode == Mode::Plan {
        for step in plan.nodes() {
            let with_images = step.replace_binary
                && run
                    .nodes
                    .iter()
                    .find(|n| n.name == step.name)
                    .and_then(|n| binaries.get(&Arch::of_machine(&n.facts.arch)?))
                    .is_some_and(|b| b.images.is_some());
            let summary = match with_images {
                true => format!("{}, with its airgap images", step.summary(&target)),
                false => step.summary(&target),
            };
            report.push(
                &step.name,
                NodeOutcome::Changed {
                    summary: summary.clone(),
                    changes: vec![summary.clone()],
                },
            );
            let node_plan = run
                .plans
                .entry(step.name.clone())
                .or_insert_with(|| NodePlan {
                    node: step.name.clone(),
                    changes: Vec::new(),
                    reboot: Vec::new(),
                });
            node_plan.changes.push(PlannedChange {
                phase: ChangeArea::Upgrade,
                change: Change::command(summary, steps_script(step, &target, with_images)),
            });
            run.rolled_out.insert(step.name.clone());
        }
        return;
    }

    let outcomes = roll_out(run, &plan, binaries).await;
    for (name, outcome) in outcomes {
        match outcome {
            Ok(summary) => {
                report.push(
                    &name,
                    NodeOutcome::Changed {
                        summary: summary.clone(),
                        changes: vec![summary],
                    },
                );
                run.rolled_out.insert(name);
            }
            Err(error) => run.fail(report, &name, error),
        }
    }
}

/// The nodes of cluster.toml still in the run whose K3s service runs, with whether their
/// binary is the one cluster.toml names; and every K3s state read. A node whose state
/// cannot be read is left to the k3s phase, which reads it again and says why.
async fn candidates(run: &Run<'_>) -> (Vec<Candidate>, BTreeMap<NodeName, K3sNodeState>) {
    let binaries = run.binaries.as_ref();
    let parallelism = run.config.ssh.parallelism.max(1);
    let up: Vec<&StageNode> = run.nodes.iter().filter(|n| run.is_up(&n.name)).collect();
    // A dry run's facts phase read them already.
    let known = match run.mode {
        Mode::Plan => Some(&run.k3s_states),
        Mode::Apply => None,
    };
    let states: Vec<_> = stream::iter(up)
        .map(|node| async move {
            let state = match known.and_then(|k| k.get(&node.name)) {
                Some(state) => Ok(state.clone()),
                None => read_state(&node.connection).await,
            };
            (node, state)
        })
        .buffered(parallelism)
        .collect()
        .await;
    let mut candidates = Vec::new();
    let mut read = BTreeMap::new();
    for (node, state) in states {
        let Ok(state) = state else { continue };
        read.insert(node.name.clone(), state.clone());
        let Some(member) = run.spec.member(&node.name) else {
            continue;
        };
        let service = member.service;
        // A role change is the k3s phase's to refuse.
        if state.installed_service() != Some(service) || !state.service(service).active {
            continue;
        }
        let wanted = binaries.and_then(|b| b.get(&Arch::of_machine(&node.facts.arch)?));
        candidates.push(Candidate {
            name: node.name.clone(),
            service,
            binary_differs: wanted.is_some_and(|b| state.binary_sha256.as_ref() != Some(&b.sha256)),
        });
    }
    (candidates, read)
}

/// Runs the rollout; one outcome per node of `plan` (the summary, or the error naming the
/// node and the step), in the order they went.
async fn roll_out(
    run: &Run<'_>,
    plan: &crate::k3s::upgrade::UpgradePlan,
    binaries: &BTreeMap<Arch, crate::k3s::BinaryArtifact>,
) -> Vec<(NodeName, Result<String, String>)> {
    let target = run.config.k3s.version;
    let mut outcomes = Vec::new();
    let progress = run.progress;
    let fail_all = |steps: &mut dyn Iterator<Item = &NodeUpgrade>, why: &str| {
        steps
            .map(|s| {
                (
                    s.name.clone(),
                    Err(format!("{}: not upgraded: {why}", s.name)),
                )
            })
            .collect::<Vec<_>>()
    };

    // Before anything changes: etcd healthy, and a snapshot to come back to.
    let servers: Vec<&StageNode> = run.servers_up();
    let embedded_etcd = run.spec.datastore.is_none()
        && run
            .spec
            .nodes
            .iter()
            .filter(|m| m.service == Service::Server)
            .count()
            > 1;
    // Only uncordons to do (a rollout already done, a shutdown): nothing to snapshot for.
    if embedded_etcd && plan.nodes().any(|step| step.restart) {
        let Some(server) = servers.first() else {
            return fail_all(&mut plan.nodes(), "no server of cluster.toml answers");
        };
        let checked = async {
            etcd_ready(&server.connection).await?;
            progress.step(&format!(
                "upgrade: etcd healthy; snapshot pre-upgrade on {}",
                server.name
            ));
            pre_upgrade_snapshot(&server.connection, &target).await
        }
        .await;
        match checked {
            Ok(name) => progress.node(&server.name, &format!("[upgrade] snapshot {name} saved")),
            Err(err) => return fail_all(&mut plan.nodes(), &err.to_string()),
        }
    }

    let mut stopped: Option<NodeName> = None;
    for group in [&plan.first, &plan.then] {
        let Some(first) = group.first() else { continue };
        // Servers one at a time: etcd keeps its quorum; agents a few at a time.
        let width = if first.service == Service::Server {
            1
        } else {
            run.settings.max_unavailable.max(1)
        };
        for chunk in group.chunks(width) {
            if let Some(at) = &stopped {
                outcomes.extend(fail_all(
                    &mut chunk.iter(),
                    &format!("the rollout stopped at {at}"),
                ));
                continue;
            }
            let work = chunk
                .iter()
                .map(|step| upgrade_one(run, step, binaries, &servers, progress));
            for (step, outcome) in chunk.iter().zip(join_all(work).await) {
                if outcome.is_err() && stopped.is_none() {
                    stopped = Some(step.name.clone());
                }
                outcomes.push((step.name.clone(), outcome));
            }
        }
    }
    outcomes
}

async fn upgrade_one(
    run: &Run<'_>,
    step: &NodeUpgrade,
    binaries: &BTreeMap<Arch, crate::k3s::BinaryArtifact>,
    servers: &[&StageNode],
    progress: &dyn Progress,
) -> Result<String, String> {
    let target = run.config.k3s.version;
    let Some(node) = run.nodes.iter().find(|n| n.name == step.name) else {
        return Err(format!("{}: not upgraded: not connected", step.name));
    };
    let machine = &node.facts.arch;
    let Some(binary) = Arch::of_machine(machine).and_then(|arch| binaries.get(&arch)) else {
        return Err(format!(
            "{}: not upgraded: no k3s binary for {}",
            step.name,
            machine.name()
        ));
    };
    // The API through another server when there is one: this one is about to restart.
    let api: &Connection = servers
        .iter()
        .find(|s| s.name != step.name)
        .or_else(|| servers.first())
        .map_or(&node.connection, |s| &s.connection);
    let rollout = Rollout {
        target,
        binary,
        drain_servers: run.settings.drain_servers,
        drain: run.settings.drain,
        ready_timeout: run.settings.ready_timeout,
        keep_quorum: run.spec.datastore.is_none(),
    };
    rollout
        .upgrade(node, step, api, progress)
        .await
        .map(|()| {
            if !step.restart {
                format!(
                    "uncordoned (cordoned by pikube: {})",
                    step.cordoned.as_deref().unwrap_or("unknown")
                )
            } else if step.from == target {
                format!("k3s {target} restarted on its new binary")
            } else {
                format!("upgraded k3s {} → {target}", step.from)
            }
        })
        .map_err(|err| {
            let text = err.to_string();
            progress.node(&step.name, &format!("FAILED: {text}"));
            text
        })
}

/// What plan shows for one node's upgrade.
fn steps_script(step: &NodeUpgrade, target: &crate::config::K3sVersion, images: bool) -> String {
    let node = crate::ssh::shell_quote_arg(&step.name);
    if !step.restart {
        return format!("kubectl uncordon {node}");
    }
    let mut lines = vec![format!("kubectl cordon {node}")];
    lines.push(format!(
        "kubectl drain {node} --ignore-daemonsets --delete-emptydir-data{}",
        if step.service == Service::Server {
            "   (servers unless --no-drain-servers)"
        } else {
            ""
        }
    ));
    if step.replace_binary {
        lines.push(format!(
            "install k3s {target} at /usr/local/bin/k3s (sha256 checked)"
        ));
        if images {
            lines.push(format!(
                "install the airgap images of k3s {target} in {} (sha256 checked)",
                crate::k3s::paths::IMAGES_DIR
            ));
        }
    }
    lines.push(format!("systemctl restart {}", step.service.name()));
    lines.push(format!("wait until {node} is Ready on {target}"));
    lines.push(format!("kubectl uncordon {node}"));
    lines.join("\n")
}
