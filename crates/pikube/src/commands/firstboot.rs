//! `pikube firstboot`: the boot-partition files of a fresh card, per node of cluster.toml.

use std::path::{Path, PathBuf};

use anyhow::Context;
use pikube_cluster::config::{ClusterConfig, NodeSpec};
use pikube_cluster::firstboot::{
    write_boot_files, AuthorizedKey, BootOs, FirstBoot, StaticNetwork,
};

use crate::cli::{FirstbootArgs, FirstbootOs};
use crate::commands::cluster::{check_node_names, load_config};
use crate::exit::Outcome;

pub fn run(args: &FirstbootArgs) -> anyhow::Result<Outcome> {
    let config = load_config(&args.file.file)?;
    check_node_names(&config, &args.nodes)?;
    let nodes: Vec<&NodeSpec> = match (args.all, args.nodes.is_empty()) {
        (true, _) => config.nodes.iter().collect(),
        (false, false) => config
            .nodes
            .iter()
            .filter(|n| args.nodes.iter().any(|name| name == n.name.as_ref()))
            .collect(),
        (false, true) => anyhow::bail!("say which nodes: NODE... or --all"),
    };
    let os = match args.os {
        FirstbootOs::Bookworm => BootOs::Bookworm,
        FirstbootOs::Trixie => BootOs::Trixie,
        FirstbootOs::Ubuntu => BootOs::Ubuntu,
    };
    // Everything is checked for every node before anything is written.
    let mut planned = Vec::new();
    for node in &nodes {
        let first = FirstBoot {
            cluster: config.name.to_string(),
            node: node.name.to_string(),
            user: admin_user(&config, node)?,
            keys: keys_for(args, node)?,
            os,
            network: static_network(&config, node),
        };
        let dir = if nodes.len() == 1 && !args.all {
            args.out.clone()
        } else {
            args.out.join(node.name.as_ref())
        };
        planned.push((first, dir));
    }
    for (first, dir) in &planned {
        let (files, edit) = first.files();
        let written = write_boot_files(dir, &files, edit.as_ref())?;
        outln!(
            "{}: {} for {os} written to {}",
            first.node,
            files.iter().map(|f| f.name).collect::<Vec<_>>().join(", "),
            dir.display()
        );
        match (&edit, &written.cmdline) {
            (Some(_), Some(cmdline)) => outln!(
                "{}: {} now runs firstrun.sh once at first boot",
                first.node,
                cmdline.display()
            ),
            (Some(edit), None) => outln!(
                "{}: no cmdline.txt in {}: add to the end of the card's cmdline.txt (one line):\n  {}",
                first.node,
                dir.display(),
                edit.append
            ),
            (None, _) => {}
        }
    }
    Ok(Outcome::Success)
}

/// The node's static address with `[network]` (whose gateway cluster.toml's checks made
/// sure of), or `None` for DHCP.
fn static_network(config: &ClusterConfig, node: &NodeSpec) -> Option<StaticNetwork> {
    let address = node.static_address?;
    Some(StaticNetwork {
        address,
        gateway: config.network.gateway?,
        dns: config.network.dns.clone(),
        interface: config.network.interface().to_owned(),
    })
}

/// The node's login user (its own `user`, else `[ssh] user`): what the card creates.
fn admin_user(config: &ClusterConfig, node: &NodeSpec) -> anyhow::Result<String> {
    let Some(user) = node.user.clone() else {
        anyhow::bail!(
            "{}: firstboot creates the user pikube logs in as, and cluster.toml names none: set \
             [ssh] user (or the node's user) in {}",
            node.name,
            config.path.display()
        );
    };
    let valid = user.len() <= 32
        && user.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
        && user
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '-'));
    if user == "root" || !valid {
        anyhow::bail!(
            "{}: user {user:?} cannot be the admin user a card creates: a lowercase name of \
             letters, digits, '_' and '-' (at most 32), other than root",
            node.name
        );
    }
    Ok(user)
}

/// --authorized-key files, else the node's identity_file with .pub, else ssh-agent's first
/// key, else the usual ~/.ssh/*.pub.
fn keys_for(args: &FirstbootArgs, node: &NodeSpec) -> anyhow::Result<Vec<AuthorizedKey>> {
    if !args.authorized_key.is_empty() {
        return args
            .authorized_key
            .iter()
            .map(|path| key_file(path))
            .collect();
    }
    if let Some(identity) = &node.identity_file {
        let public = PathBuf::from(format!("{}.pub", identity.display()));
        if public.is_file() {
            return Ok(vec![key_file(&public)?]);
        }
    }
    if let Some(key) = agent_key() {
        return Ok(vec![key]);
    }
    let home = std::env::var_os("HOME").map(PathBuf::from);
    for name in ["id_ed25519.pub", "id_ecdsa.pub", "id_rsa.pub"] {
        if let Some(path) = home.as_ref().map(|h| h.join(".ssh").join(name)) {
            if path.is_file() {
                return Ok(vec![key_file(&path)?]);
            }
        }
    }
    anyhow::bail!(
        "{}: no public key for the admin user: give --authorized-key FILE, or set [ssh] \
         identity_file (its .pub beside it), or load a key into ssh-agent",
        node.name
    )
}

fn key_file(path: &Path) -> anyhow::Result<AuthorizedKey> {
    let text = std::fs::read_to_string(path).with_context(|| format!("{}", path.display()))?;
    text.parse().with_context(|| format!("{}", path.display()))
}

fn agent_key() -> Option<AuthorizedKey> {
    std::env::var_os("SSH_AUTH_SOCK")?;
    let output = std::process::Command::new("ssh-add")
        .arg("-L")
        .stdin(std::process::Stdio::null())
        .output()
        .ok()?;
    if !output.status.success() {
        return None;
    }
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .find_map(|line| line.parse().ok())
}
