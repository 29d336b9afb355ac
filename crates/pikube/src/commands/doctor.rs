//! `pikube doctor`: every node's health, a verdict per check, and the fix.

use pikube_cluster::config::Role;
use pikube_cluster::config::SnapshotSchedule;
use pikube_cluster::doctor::{
    examine, examine_certificates, examine_snapshots, examine_versions, holds_datastore, Finding,
    Verdict,
};
use pikube_cluster::error_chain::describe;
use pikube_cluster::health;
use pikube_cluster::progress::SilentProgress;

use crate::cli::{DoctorArgs, OutputFormat};
use crate::commands::cluster::{check_node_names, fleet_of, load_config};
use crate::commands::runtime;
use crate::commands::sudo_prompt::sudo_password;
use crate::exit::Outcome;

pub fn run(args: &DoctorArgs) -> anyhow::Result<Outcome> {
    let config = load_config(&args.file.file)?;
    check_node_names(&config, &args.nodes)?;
    let chosen = |name: &str| args.nodes.is_empty() || args.nodes.iter().any(|n| n == name);
    // The servers are asked even when not named: the versions are judged against theirs, and
    // the cluster's node list is read through them.
    let fleet = fleet_of(&config, |node| {
        chosen(node.name.as_ref()) || node.role == Role::Server
    })?;
    let runtime = runtime()?;
    let results = runtime.block_on(fleet.facts(&SilentProgress));
    let mut findings = Vec::new();
    let mut versions = Vec::new();
    for result in &results {
        let server = config
            .node(&result.node)
            .is_some_and(|node| node.role == Role::Server);
        match &result.result {
            Ok(facts) => {
                let datastore = holds_datastore(&config, &result.node);
                findings.extend(examine(&result.node, datastore, facts));
                versions.push((result.node.clone(), server, facts));
            }
            Err(err) => findings.push(Finding {
                node: result.node.clone(),
                check: "reachable",
                verdict: Verdict::Fail,
                detail: describe(err),
                fix: Some("check that it is on, on the network, and that SSH works".into()),
            }),
        }
    }

    // K3s' certificates, read from each node that runs it (as `status` reads them).
    let health = runtime.block_on(health::check(&config, &results, &sudo_password));
    let schedule = config
        .backup
        .as_ref()
        .map_or_else(SnapshotSchedule::k3s_default, |b| b.schedule.clone());
    // Versions once the cluster's node list is read: it tells those the login user may not ask.
    let versions: Vec<_> = versions
        .into_iter()
        .map(|(node, server, facts)| {
            let node_health = health.nodes.iter().find(|n| n.node == node);
            let version = health::k3s_version(facts, node_health).map(str::to_owned);
            (node, server, version)
        })
        .collect();
    findings.extend(examine_versions(&config.k3s.version, &versions));
    for node in &health.nodes {
        if let Some(first) = &node.first_expiry {
            findings.push(examine_certificates(&node.node, first));
        }
        if let Some(found) = &node.scheduled_snapshots {
            findings.push(examine_snapshots(&node.node, &schedule, found));
        }
    }

    findings.retain(|finding| chosen(finding.node.as_str()));

    match args.output {
        OutputFormat::Json => outln!("{}", serde_json::to_string_pretty(&findings)?),
        OutputFormat::Text => {
            let width = findings.iter().map(|f| f.node.len()).max().unwrap_or(0);
            for finding in &findings {
                outln!(
                    "{}  {:width$}  {}: {}",
                    finding.verdict.label(),
                    finding.node,
                    finding.check,
                    finding.detail
                );
                if let Some(fix) = &finding.fix {
                    outln!("      {:width$}  fix: {fix}", "");
                }
            }
            let count = |v| findings.iter().filter(|f| f.verdict == v).count();
            outln!(
                "Doctor: {} passed, {} warnings, {} failed.",
                count(Verdict::Pass),
                count(Verdict::Warn),
                count(Verdict::Fail)
            );
        }
    }
    Ok(match findings.iter().map(|f| f.verdict).max() {
        Some(Verdict::Fail) => Outcome::Failed,
        Some(Verdict::Warn) => Outcome::Warnings,
        _ => Outcome::Success,
    })
}
