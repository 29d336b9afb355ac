use pikube_cluster::plan::render_plan_text;
use pikube_cluster::progress::SilentProgress;
use serde_json::json;

use crate::cli::{OutputFormat, ReportArgs};
use crate::commands::cluster::{fleet, load_config};
use crate::commands::runtime;
use crate::exit::Outcome;

pub fn run(args: &ReportArgs) -> anyhow::Result<Outcome> {
    let config = load_config(&args.file.file)?;
    let fleet = fleet(&config)?;
    let results = runtime()?.block_on(fleet.plan(&SilentProgress));

    let mut plans = Vec::new();
    let mut errors = Vec::new();
    for result in results {
        match result.result {
            Ok(plan) => plans.push(plan),
            Err(err) => errors.push((result.node, err.to_string())),
        }
    }
    let changed = plans.iter().filter(|p| !p.is_empty()).count();
    let reboots = plans.iter().filter(|p| p.needs_reboot()).count();

    match args.output {
        OutputFormat::Text => {
            print!("{}", render_plan_text(&plans));
            for (_, err) in &errors {
                println!("error: {err}");
            }
            println!(
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
                "errors": errors.iter().map(|(node, error)| json!({"node": node, "error": error})).collect::<Vec<_>>(),
                "summary": {"changed": changed, "reboots": reboots, "unchanged": plans.len() - changed, "failed": errors.len()},
            });
            println!("{}", serde_json::to_string_pretty(&value)?);
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
