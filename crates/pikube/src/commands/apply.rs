//! `pikube apply`: the pipeline run for real, its report rendered as text or JSON.

use pikube_cluster::config::NodeName;
use pikube_cluster::k3s::Drain;
use pikube_cluster::pipeline::{self, Mode, NodeOutcome, Phase, PipelineReport, Run, Settings};
use pikube_cluster::progress::{Progress, SilentProgress, StderrProgress};
use pikube_cluster::restore::unfinished;
use serde_json::json;

use crate::cli::{ApplyArgs, OutputFormat};
use crate::commands::cluster::{check_node_names, load_config};
use crate::commands::local_state::local_state;
use crate::commands::runtime;
use crate::commands::sudo_prompt::{secret, sudo_password};
use crate::exit::Outcome;

pub fn run(args: &ApplyArgs) -> anyhow::Result<Outcome> {
    let config = load_config(&args.file.file)?;
    check_node_names(&config, &args.replace)?;
    // Half-restored, the servers must not be started on whatever data each holds.
    if let Some(unfinished) = unfinished::read(&local_state(&config))? {
        anyhow::bail!("not applying: {}", unfinished.describe());
    }
    let progress: Box<dyn Progress> = if args.quiet {
        Box::new(SilentProgress)
    } else {
        Box::new(StderrProgress::new())
    };
    let settings = Settings {
        command: "apply",
        reboot_timeout: args.reboot_timeout,
        ready_timeout: args.ready_timeout,
        prune: args.prune,
        drain: Drain {
            timeout: args.drain_timeout,
            force: args.force_drain,
        },
        delete_timeout: args.delete_timeout,
        force_unlock: args.lock.force_unlock,
        allow_downgrade: args.allow_downgrade,
        max_unavailable: usize::from(args.max_unavailable),
        drain_servers: !args.no_drain_servers,
        adopt: args.adopt,
        replace: args.replace.clone(),
    };
    let mut run = Run::new(
        Mode::Apply,
        &config,
        settings,
        progress.as_ref(),
        &sudo_password,
        &secret,
    )?;
    let report = runtime()?.block_on(pipeline::run(&mut run))?;
    let members = run.members();
    let summary = report.summary(&members);
    for warning in report.warnings() {
        errln!("warning: {warning}");
    }
    match args.output {
        OutputFormat::Text => {
            for line in text_lines(&report, &members) {
                outln!("{line}");
            }
            let stale = stale_steps(&report, &members).count();
            let pruning = if args.prune && stale > 0 {
                format!(", {} pruned", summary.pruned)
            } else {
                String::new()
            };
            outln!(
                "Apply: {} changed, {} unchanged, {} failed{pruning}.",
                summary.changed,
                summary.unchanged,
                summary.failed
            );
        }
        OutputFormat::Json => {
            let value = json!({
                "mode": report.mode,
                "summary": summary,
                "phases": report.phases,
            });
            outln!("{}", serde_json::to_string_pretty(&value)?);
        }
    }
    Ok(if report.has_failures() {
        Outcome::Failed
    } else {
        Outcome::Success
    })
}

/// One line per node of the file (what each phase changed, or its first failure), then
/// one per stale node and per failure of a phase as a whole.
fn text_lines(report: &PipelineReport, members: &[NodeName]) -> Vec<String> {
    let mut lines = Vec::new();
    for node in members {
        if let Some(error) = report.failure_of(node) {
            lines.push(format!("FAILED  {error}"));
            continue;
        }
        let done: Vec<&str> = report
            .steps_of(node)
            .filter_map(|(_, outcome)| match outcome {
                NodeOutcome::Changed { summary, .. } => Some(summary.as_str()),
                _ => None,
            })
            .collect();
        if done.is_empty() {
            lines.push(format!("ok      {node}: unchanged"));
        } else {
            lines.push(format!("ok      {node}: {}", done.join("; ")));
        }
    }
    for (node, outcome) in stale_steps(report, members) {
        match outcome {
            NodeOutcome::Failed { error } => lines.push(format!("FAILED  {error}")),
            NodeOutcome::Changed { summary, .. } => {
                lines.push(format!("ok      {node}: {summary}"))
            }
            NodeOutcome::Unchanged => {}
        }
    }
    for error in report.errors() {
        lines.push(format!("FAILED  {error}"));
    }
    lines
}

/// The prune phase's steps on nodes cluster.toml no longer lists.
fn stale_steps<'r>(
    report: &'r PipelineReport,
    members: &'r [NodeName],
) -> impl Iterator<Item = (&'r str, &'r NodeOutcome)> {
    report
        .phases
        .iter()
        .filter(|phase| phase.phase == Phase::Prune)
        .flat_map(|phase| &phase.nodes)
        .filter(move |step| !members.contains(&step.node))
        .map(|step| (step.node.as_str(), &step.outcome))
}
