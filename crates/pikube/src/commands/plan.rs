//! `pikube plan`: the pipeline run dry; every phase says what it would do.

use pikube_cluster::pipeline::{self, Mode, Run, Settings};
use pikube_cluster::plan::render_plan_text;
use pikube_cluster::progress::SilentProgress;
use serde_json::json;

use crate::cli::{OutputFormat, PlanArgs};
use crate::commands::cluster::{check_node_names, load_config};
use crate::commands::runtime;
use crate::commands::sudo_prompt::{secret, sudo_password};
use crate::exit::Outcome;

pub fn run(args: &PlanArgs) -> anyhow::Result<Outcome> {
    let config = load_config(&args.report.file.file)?;
    check_node_names(&config, &args.replace)?;
    let mut run = Run::new(
        Mode::Plan,
        &config,
        Settings {
            adopt: args.adopt,
            replace: args.replace.clone(),
            ..Settings::plan()
        },
        &SilentProgress,
        &sudo_password,
        &secret,
    )?;
    let report = runtime()?.block_on(pipeline::run(&mut run))?;
    let plans = run.plans();
    let mut errors: Vec<(String, String)> = Vec::new();
    for node in run.members() {
        if let Some(error) = report.failure_of(&node) {
            errors.push((node.to_string(), error.to_owned()));
        }
    }
    errors.extend(
        report
            .errors()
            .map(|error| ("cluster".to_owned(), error.to_owned())),
    );
    let changed = plans.iter().filter(|p| !p.is_empty()).count();
    let reboots = plans.iter().filter(|p| p.needs_reboot()).count();
    for warning in report.warnings() {
        errln!("warning: {warning}");
    }

    match args.report.output {
        OutputFormat::Text => {
            let owned: Vec<_> = plans.iter().map(|plan| (*plan).clone()).collect();
            out!("{}", render_plan_text(&owned));
            for note in report.notes() {
                outln!("{note}");
            }
            for (_, err) in &errors {
                outln!("error: {err}");
            }
            outln!(
                "Plan: {changed} node{} to change ({reboots} to reboot), {} unchanged{}.",
                if changed == 1 { "" } else { "s" },
                plans.len() - changed,
                if errors.is_empty() {
                    String::new()
                } else {
                    format!(", {} failed", errors.len())
                }
            );
        }
        OutputFormat::Json => {
            let value = json!({
                "nodes": plans,
                "stale": run.stale().iter().map(|step| json!({
                    "node": step.name,
                    "role": step.service.command(),
                    "prune_refused": step.refused,
                })).collect::<Vec<_>>(),
                "errors": errors.iter().map(|(node, error)| json!({"node": node, "error": error})).collect::<Vec<_>>(),
                "summary": {"changed": changed, "reboots": reboots, "unchanged": plans.len() - changed, "failed": errors.len()},
                "phases": report.phases,
            });
            outln!("{}", serde_json::to_string_pretty(&value)?);
        }
    }
    Ok(if !errors.is_empty() {
        Outcome::Failed
    } else if changed > 0 {
        Outcome::ChangesPending
    } else {
        Outcome::Success
    })
}
