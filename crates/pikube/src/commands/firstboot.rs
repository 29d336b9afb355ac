//! `pikube firstboot`: the boot-partition files of a fresh card, per node of cluster.toml.

use pikube_cluster::config::NodeSpec;
use pikube_cluster::firstboot::{
    detect_boot_os, write_boot_files, BootOs, FirstBoot, StaticNetwork,
};

use crate::cli::{FirstbootArgs, FirstbootOs};
use crate::commands::admin_access::{admin_user, keys_for};
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
        Some(FirstbootOs::Bookworm) => BootOs::Bookworm,
        Some(FirstbootOs::Trixie) => BootOs::Trixie,
        Some(FirstbootOs::Ubuntu) => BootOs::Ubuntu,
        None if args.all || nodes.len() > 1 => anyhow::bail!(
            "say --os bookworm, trixie or ubuntu: the image is told from a card's boot \
             partition only when writing for one node"
        ),
        None => {
            let (os, by) = detect_boot_os(&args.out)?;
            errln!(
                "{}: taken for {os}'s boot partition ({by}); pass --os if it is another image",
                args.out.display()
            );
            os
        }
    };
    // Everything is checked for every node before anything is written.
    let mut planned = Vec::new();
    for node in &nodes {
        let first = FirstBoot {
            cluster: config.name.to_string(),
            node: node.name.clone(),
            user: admin_user(&config, node)?,
            keys: keys_for(&args.authorized_key, node)?,
            os,
            network: StaticNetwork::of(&config, node),
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
