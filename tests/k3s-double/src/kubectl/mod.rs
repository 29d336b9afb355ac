//! `k3s kubectl ...` (also `kubectl` via a symlink): the few node commands an
//! installer and its tests need, against the double's API. Anything else is
//! a clear error with status 1.

mod client;
mod duration;
mod edit;
mod get;
mod table;

use client::Client;

/// Parsed command line: words and the flags this kubectl understands.
#[derive(Debug, Default)]
pub struct Args {
    pub words: Vec<String>,
    pub kubeconfig: Option<String>,
    pub output: Option<String>,
    pub show_labels: bool,
    pub overwrite: bool,
}

fn parse(args: &[String]) -> Result<Args, String> {
    let mut out = Args::default();
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) if arg.starts_with('-') => (n, Some(v.to_string())),
            _ => (arg.as_str(), None),
        };
        let mut value = |inline: Option<String>| {
            inline
                .or_else(|| iter.next().cloned())
                .ok_or_else(|| format!("error: flag needs an argument: {name}"))
        };
        match name {
            "--kubeconfig" => out.kubeconfig = Some(value(inline)?),
            "-o" | "--output" => out.output = Some(value(inline)?),
            "--show-labels" => out.show_labels = true,
            "--overwrite" => out.overwrite = true,
            "--ignore-daemonsets"
            | "--delete-emptydir-data"
            | "--delete-local-data"
            | "--force" => {}
            "--timeout" => duration::check(name, &value(inline)?)?,
            "--grace-period" => {
                value(inline)?;
            }
            n if n.starts_with("-o") && n.len() > 2 && !n.starts_with("--") => {
                out.output = Some(n[2..].to_string())
            }
            n if n.starts_with('-') && n.len() > 1 => {
                return Err(format!("error: unknown flag: {n}"));
            }
            word => out.words.push(word.to_string()),
        }
    }
    Ok(out)
}

pub fn main(args: &[String]) -> i32 {
    match run(args) {
        Ok(()) => 0,
        Err(message) => {
            eprintln!("{message}");
            1
        }
    }
}

fn run(args: &[String]) -> Result<(), String> {
    let args = parse(args)?;
    let Some(command) = args.words.first().cloned() else {
        println!("kubectl (k3s-double): supported commands: get, label, taint, cordon, uncordon, drain, delete, version");
        return Ok(());
    };
    let rest = &args.words[1..];
    match command.as_str() {
        "version" => {
            let v = crate::version::current();
            println!("Client Version: {v}\nKustomize Version: v5.4.2");
            let client = Client::from_args(&args)?;
            if client.get_list().is_ok() {
                println!("Server Version: {v}");
            }
            Ok(())
        }
        "get" => get::run(&Client::from_args(&args)?, &args, rest),
        "label" | "taint" | "cordon" | "uncordon" | "drain" | "delete" => {
            edit::run(&Client::from_args(&args)?, &args, &command, rest)
        }
        other => Err(format!(
            "error: unknown command \"{other}\" for \"kubectl\" (k3s-double supports get, label, taint, cordon, uncordon, drain, delete, version)"
        )),
    }
}

/// `nodes`/`node`/`no` [NAME...] or `node/NAME` forms → names (maybe none).
pub fn node_names(words: &[String]) -> Result<Vec<String>, String> {
    let Some(first) = words.first() else {
        return Err("error: you must specify the type of resource to get".into());
    };
    let is_node = |kind: &str| matches!(kind, "node" | "nodes" | "no");
    if let Some((kind, name)) = first.split_once('/') {
        if !is_node(kind) {
            return Err(unsupported(kind));
        }
        let mut names = vec![name.to_string()];
        names.extend(
            words[1..]
                .iter()
                .map(|w| w.trim_start_matches("node/").to_string()),
        );
        return Ok(names);
    }
    if !is_node(first) {
        return Err(unsupported(first));
    }
    Ok(words[1..].to_vec())
}

fn unsupported(kind: &str) -> String {
    format!(
        "error: the server doesn't have a resource type \"{kind}\" (k3s-double only serves nodes)"
    )
}
