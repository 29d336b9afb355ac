use pikube_cluster::error_chain::describe;
use pikube_cluster::health::{self, ClusterHealth};
use pikube_cluster::progress::SilentProgress;
use pikube_cluster::restore::unfinished;
use pikube_pi::facts::OsFamily;
use pikube_pi::NodeFacts;
use serde_json::json;

use crate::cli::{OutputFormat, ReportArgs};
use crate::commands::cluster::{fleet, load_config};
use crate::commands::local_state::local_state;
use crate::commands::runtime;
use crate::commands::sudo_prompt::sudo_password;
use crate::exit::Outcome;

pub fn run(args: &ReportArgs) -> anyhow::Result<Outcome> {
    let config = load_config(&args.file.file)?;
    let fleet = fleet(&config)?;
    let runtime = runtime()?;
    let results = runtime.block_on(fleet.facts(&SilentProgress));
    let failed = results.iter().filter(|r| r.result.is_err()).count();
    let health = runtime.block_on(health::check(&config, &results, &sudo_password));
    // A restore stopped half-way leaves the cluster as no health check can tell: said.
    let unfinished = unfinished::read(&local_state(&config))?;

    match args.output {
        OutputFormat::Json => {
            let nodes: Vec<_> = fleet
                .members()
                .iter()
                .zip(&results)
                .map(|(member, result)| match &result.result {
                    Ok(facts) => json!({
                        "node": result.node, "role": member.role, "address": member.target.address,
                        "reachable": true, "facts": facts,
                    }),
                    Err(err) => json!({
                        "node": result.node, "role": member.role, "address": member.target.address,
                        "reachable": false, "error": describe(err),
                    }),
                })
                .collect();
            let value = json!({
                "nodes": nodes,
                "cluster": health,
                "unfinished_restore": unfinished.as_ref().map(|u| json!({
                    "snapshot": u.snapshot, "started_at": u.started_at, "message": u.describe(),
                })),
            });
            outln!("{}", serde_json::to_string_pretty(&value)?);
        }
        OutputFormat::Text => {
            let mut rows = vec![HEADER.iter().map(ToString::to_string).collect::<Vec<_>>()];
            let mut errors = Vec::new();
            for (member, result) in fleet.members().iter().zip(&results) {
                match &result.result {
                    Ok(facts) => {
                        let node_health = health.nodes.iter().find(|n| n.node == result.node);
                        rows.push(row(
                            &result.node,
                            &member.role.to_string(),
                            &member.target.address,
                            facts,
                            health::k3s_version(facts, node_health),
                        ))
                    }
                    Err(err) => {
                        let mut cells = vec![
                            result.node.to_string(),
                            member.role.to_string(),
                            member.target.address.clone(),
                        ];
                        cells.push("UNREACHABLE".to_owned());
                        rows.push(cells);
                        errors.push(describe(err));
                    }
                }
            }
            out!("{}", table(&rows));
            for err in errors {
                outln!("error: {err}");
            }
            out!("{}", health_text(&health));
            if let Some(unfinished) = &unfinished {
                outln!("restore: {}", unfinished.describe());
            }
        }
    }
    Ok(if failed > 0 || !health.healthy || unfinished.is_some() {
        Outcome::Failed
    } else {
        Outcome::Success
    })
}

/// The cluster's health under the table: a verdict, then what it rests on.
fn health_text(health: &ClusterHealth) -> String {
    let mut text = format!(
        "\nCluster: {}\n",
        if health.healthy {
            "healthy"
        } else {
            "NOT healthy"
        }
    );
    if let Some(api) = &health.api {
        text.push_str(&format!(
            "  API: {} (asked {})\n",
            if api.answering {
                "answering"
            } else {
                "NOT answering"
            },
            api.server
        ));
    }
    if let Some(etcd) = &health.etcd {
        let verdict = if etcd.quorum {
            "quorum holds"
        } else {
            "NO quorum"
        };
        let count = if etcd.members == 0 {
            // The API did not answer: no member list to count.
            format!(
                "{} of {} servers Ready, members unknown",
                etcd.servers_ready, etcd.servers
            )
        } else {
            format!("{} of {} members Ready", etcd.members_ready, etcd.members)
        };
        text.push_str(&format!("  etcd: {verdict} ({count})\n"));
    }
    if health.api.as_ref().is_some_and(|api| api.answering) {
        text.push_str(&format!("  nodes: {}\n", readiness(health)));
    }
    for problem in &health.problems {
        text.push_str(&format!("  problem: {problem}\n"));
    }
    for note in &health.notes {
        text.push_str(&format!("  note: {note}\n"));
    }
    text
}

/// Each node's Ready condition as the API lists it: `s1 Ready, a1 NotReady`.
fn readiness(health: &ClusterHealth) -> String {
    health
        .nodes
        .iter()
        .map(|node| {
            let state = match node.ready {
                Some(true) => "Ready",
                Some(false) => "NotReady",
                None => "not listed",
            };
            format!("{} {state}", node.node)
        })
        .collect::<Vec<_>>()
        .join(", ")
}

const HEADER: [&str; 14] = [
    "NODE",
    "ROLE",
    "ADDRESS",
    "OS",
    "ARCH",
    "MODEL",
    "MEMORY",
    "STORAGE",
    "MEMCG",
    "SWAP",
    "HOSTNAME",
    "TEMP",
    "THROTTLING",
    "K3S",
];

fn row(
    node: &str,
    role: &str,
    address: &str,
    facts: &NodeFacts,
    k3s_version: Option<&str>,
) -> Vec<String> {
    let os = &facts.os;
    let os_name = match os.family() {
        OsFamily::RaspberryPiOs => "pi-os".to_owned(),
        _ => os.id.clone(),
    };
    let os_cell = [
        Some(os_name),
        os.version_id.clone(),
        os.codename.clone().map(|c| format!("({c})")),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(" ");
    let model = facts
        .model
        .as_ref()
        .map(|m| m.raw.trim_start_matches("Raspberry Pi ").to_owned())
        .or_else(|| facts.dmi_product_name.clone())
        .unwrap_or_else(|| "-".to_owned());
    let swap = if facts.swap.is_off_for_good() {
        "off".to_owned()
    } else if facts.swap.is_off() {
        "off (returns at boot)".to_owned()
    } else {
        let total: u64 = facts.swap.active.iter().map(|s| s.size_kib).sum();
        format!("on {}", mib(total))
    };
    let version = match k3s_version {
        Some(version) => Some(version),
        // A release before mid-2023 answers `--version` only to root, and the cluster's node
        // list did not say either.
        None if facts.k3s.is_installed() => Some("installed"),
        None => None,
    };
    let k3s = match version {
        None => "-".to_owned(),
        Some(version) => {
            let state = if facts.k3s.server.is_active() {
                "server active"
            } else if facts.k3s.agent.is_active() {
                "agent active"
            } else {
                "stopped"
            };
            format!("{version} {state}")
        }
    };
    vec![
        node.to_owned(),
        role.to_owned(),
        address.to_owned(),
        os_cell,
        facts.arch.uname_m().to_owned(),
        model,
        mib(facts.memory_total_kib),
        facts.storage.kind.name().to_owned(),
        if facts.memory_cgroup.enabled {
            "on"
        } else {
            "off"
        }
        .to_owned(),
        swap,
        facts.hostname.trim().to_owned(),
        facts
            .soc_temp_celsius
            .map_or_else(|| "-".to_owned(), |t| format!("{t:.1}°C")),
        facts
            .throttle
            .map_or_else(|| "-".to_owned(), pikube_pi::Throttled::describe),
        k3s,
    ]
}

fn mib(kib: u64) -> String {
    if kib >= 1024 * 1024 {
        format!("{:.1}Gi", kib as f64 / (1024.0 * 1024.0))
    } else {
        format!("{}Mi", kib / 1024)
    }
}

/// Left-aligned columns, two spaces apart, as kubectl prints them.
fn table(rows: &[Vec<String>]) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        let line: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(i, cell)| format!("{cell:<width$}", width = widths[i]))
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_aligns_columns() {
        let rows = vec![
            vec!["NODE".to_owned(), "ROLE".to_owned()],
            vec!["pi-master-01".to_owned(), "server".to_owned()],
        ];
        assert_eq!(table(&rows), "NODE          ROLE\npi-master-01  server\n");
        assert_eq!(mib(3_882_276), "3.7Gi");
        assert_eq!(mib(512 * 1024), "512Mi");
    }
}
