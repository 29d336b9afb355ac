//! `pikube exec`: a command on the chosen nodes at once, its output prefixed with each
//! node's name as it comes, a summary at the end (see `pikube_cluster::exec`).

use std::io::Write;

use pikube_cluster::config::Role;
use pikube_cluster::exec::exec_all;
use pikube_cluster::terminal_text::safe;
use serde_json::json;

use crate::cli::{ExecArgs, ExecRole, OutputFormat};
use crate::commands::cluster::{check_node_names, fleet_of, load_config};
use crate::commands::runtime;
use crate::commands::sudo_prompt::sudo_password;
use crate::exit::Outcome;

pub fn run(args: &ExecArgs) -> anyhow::Result<Outcome> {
    let config = load_config(&args.file.file)?;
    check_node_names(&config, &args.nodes)?;
    if args.nodes.is_empty() && args.role.is_none() && !args.all {
        anyhow::bail!("say where to run it: NODE..., --role server|agent, or --all");
    }
    let role = args.role.map(|r| match r {
        ExecRole::Server => Role::Server,
        ExecRole::Agent => Role::Agent,
    });
    let fleet = fleet_of(&config, |n| {
        args.all || args.nodes.iter().any(|name| name == n.name.as_ref()) || Some(n.role) == role
    })?;
    // As ssh does: the words are joined and the node's shell reads them.
    let script = args.command.join(" ");
    let width = fleet
        .members()
        .iter()
        .map(|m| m.desired.name.len())
        .max()
        .unwrap_or(0);
    let streaming = args.output == OutputFormat::Text;
    let print = |node: &str, is_err: bool, line: &str| {
        if !streaming {
            return;
        }
        let text = format!("{node:<width$} | {}\n", safe(line));
        // Whole lines, so that nodes' output never interleaves within one.
        let _ = if is_err {
            std::io::stderr().lock().write_all(text.as_bytes())
        } else {
            std::io::stdout().lock().write_all(text.as_bytes())
        };
    };
    let parallelism = args.parallelism.unwrap_or(config.ssh.parallelism);
    let limit = args.timeout.unwrap_or(config.ssh.command_timeout);
    let results = runtime()?.block_on(exec_all(
        &fleet,
        &script,
        args.sudo,
        parallelism,
        limit,
        &sudo_password,
        &print,
    ));
    let failed: Vec<String> = results
        .iter()
        .filter_map(|r| match &r.result {
            Ok(output) if output.success() => None,
            Ok(output) => Some(format!("{} (exit {})", r.node, output.code)),
            Err(err) => Some(err.to_string()),
        })
        .collect();
    match args.output {
        OutputFormat::Text => {
            errln!(
                "exec: {} ok, {} failed{}",
                results.len() - failed.len(),
                failed.len(),
                if failed.is_empty() {
                    String::new()
                } else {
                    format!(": {}", failed.join("; "))
                }
            );
        }
        OutputFormat::Json => {
            let nodes: Vec<_> = results
                .iter()
                .map(|r| match &r.result {
                    Ok(output) => json!({
                        "node": r.node, "exit_code": output.code,
                        "stdout": output.stdout, "stderr": output.stderr,
                    }),
                    Err(err) => json!({"node": r.node, "error": err.to_string()}),
                })
                .collect();
            outln!(
                "{}",
                serde_json::to_string_pretty(&json!({"nodes": nodes}))?
            );
        }
    }
    Ok(if failed.is_empty() {
        Outcome::Success
    } else {
        Outcome::Failed
    })
}
