//! `kubectl get nodes [NAME...] [-o json|yaml|wide|name] [--show-labels]`.

use super::client::Client;
use super::{node_names, table, Args};
use crate::nodes::now_ms;
use serde_json::{json, Value};

pub fn run(client: &Client, args: &Args, words: &[String]) -> Result<(), String> {
    let names = node_names(words)?;
    let single = names.len() == 1;
    let nodes: Vec<Value> = if names.is_empty() {
        client.get_list()?
    } else {
        names
            .iter()
            .map(|n| client.get(n))
            .collect::<Result<_, _>>()?
    };
    match args.output.as_deref() {
        None | Some("wide") => {
            if nodes.is_empty() {
                eprintln!("No resources found");
                return Ok(());
            }
            print!("{}", table_of(&nodes, args));
        }
        Some("json") => println!("{}", pretty(&nodes, single)?),
        Some("yaml") => {
            let value = if single { nodes[0].clone() } else { list(&nodes) };
            print!("{}", serde_yaml::to_string(&value).map_err(|e| e.to_string())?);
        }
        Some("name") => {
            for node in &nodes {
                println!("node/{}", node["metadata"]["name"].as_str().unwrap_or(""));
            }
        }
        Some(other) => {
            return Err(format!(
                "error: unable to match a printer suitable for the output format \"{other}\", allowed formats are: json,name,wide,yaml"
            ))
        }
    }
    Ok(())
}

fn list(nodes: &[Value]) -> Value {
    json!({"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""}, "items": nodes})
}

fn pretty(nodes: &[Value], single: bool) -> Result<String, String> {
    let value = if single {
        nodes[0].clone()
    } else {
        list(nodes)
    };
    serde_json::to_string_pretty(&value).map_err(|e| e.to_string())
}

fn table_of(nodes: &[Value], args: &Args) -> String {
    let wide = args.output.as_deref() == Some("wide");
    let mut header = vec!["NAME", "STATUS", "ROLES", "AGE", "VERSION"];
    if wide {
        header.extend([
            "INTERNAL-IP",
            "EXTERNAL-IP",
            "OS-IMAGE",
            "KERNEL-VERSION",
            "CONTAINER-RUNTIME",
        ]);
    }
    if args.show_labels {
        header.push("LABELS");
    }
    let mut rows = vec![header.into_iter().map(str::to_string).collect::<Vec<_>>()];
    let now = now_ms() / 1000;
    for node in nodes {
        let mut row = vec![
            node["metadata"]["name"].as_str().unwrap_or("").to_string(),
            status(node),
            roles(node),
            table::age(now.saturating_sub(created_secs(node))),
            node["status"]["nodeInfo"]["kubeletVersion"]
                .as_str()
                .unwrap_or("")
                .to_string(),
        ];
        if wide {
            let ip = node["status"]["addresses"][0]["address"]
                .as_str()
                .unwrap_or("<none>");
            row.extend([
                ip.to_string(),
                "<none>".into(),
                "Debian GNU/Linux 12 (bookworm)".into(),
                "unknown".into(),
                node["status"]["nodeInfo"]["containerRuntimeVersion"]
                    .as_str()
                    .unwrap_or("")
                    .to_string(),
            ]);
        }
        if args.show_labels {
            row.push(labels(node));
        }
        rows.push(row);
    }
    table::render(&rows)
}

fn status(node: &Value) -> String {
    let ready = node["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|c| c["type"] == "Ready" && c["status"] == "True");
    let mut status = if ready { "Ready" } else { "NotReady" }.to_string();
    if node["spec"]["unschedulable"] == json!(true) {
        status.push_str(",SchedulingDisabled");
    }
    status
}

fn roles(node: &Value) -> String {
    let mut roles: Vec<&str> = node["metadata"]["labels"]
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(k, _)| k.strip_prefix("node-role.kubernetes.io/"))
        .filter(|r| !r.is_empty())
        .collect();
    roles.sort_unstable();
    if roles.is_empty() {
        "<none>".into()
    } else {
        roles.join(",")
    }
}

fn labels(node: &Value) -> String {
    node["metadata"]["labels"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default()
}

fn created_secs(node: &Value) -> u64 {
    let text = node["metadata"]["creationTimestamp"].as_str().unwrap_or("");
    parse_rfc3339(text).unwrap_or(0)
}

/// `YYYY-MM-DDTHH:MM:SSZ` → Unix seconds (days-from-civil).
fn parse_rfc3339(text: &str) -> Option<u64> {
    let num = |range: std::ops::Range<usize>| text.get(range)?.parse::<i64>().ok();
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hh, mm, ss) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    u64::try_from(days * 86_400 + hh * 3600 + mm * 60 + ss).ok()
}

#[cfg(test)]
mod tests {
    #[test]
    fn timestamps_round_trip() {
        for secs in [0u64, 1_709_251_199, 1_800_000_000] {
            assert_eq!(super::parse_rfc3339(&crate::log::rfc3339(secs)), Some(secs));
        }
    }
}
