//! `pikube ssh`: the system's ssh, pointed at a node exactly as pikube reaches it.

use std::process::Command;

use pikube_cluster::fleet::Fleet;

use crate::cli::SshArgs;
use crate::commands::cluster::{check_node_names, load_config};
use crate::exit::Outcome;

pub fn run(args: &SshArgs) -> anyhow::Result<Outcome> {
    let config = load_config(&args.file.file)?;
    check_node_names(&config, std::slice::from_ref(&args.node))?;
    // The same SSH settings as every command: the generated ssh_config (your own included,
    // host keys pinned in known_hosts beside cluster.toml).
    let fleet = Fleet::of_config_where(&config, |n| n.name.as_ref() == args.node)?;
    let Some(member) = fleet.members().first() else {
        anyhow::bail!("no node {} in {}", args.node, config.path.display());
    };
    let target = &member.target;
    let mut ssh = Command::new("ssh");
    ssh.arg("-F").arg(fleet.client().ssh_config());
    // A person is at the keyboard: a key's passphrase may be asked (pikube's own
    // connections run in batch mode).
    ssh.args(["-o", "BatchMode=no"]);
    if let Some(user) = &target.user {
        ssh.arg("-l").arg(user);
    }
    if let Some(port) = target.port {
        ssh.arg("-p").arg(port.to_string());
    }
    if let Some(key) = &target.identity_file {
        ssh.arg("-i").arg(key);
    }
    if let Some(jump) = target.proxy_jump.as_deref().filter(|j| !j.is_empty()) {
        ssh.arg("-J").arg(jump);
    }
    // `--` ends ssh's options: an address can never be read as one.
    ssh.arg("--").arg(&target.address);
    ssh.args(&args.command);
    let status = ssh
        .status()
        .map_err(|e| anyhow::anyhow!("cannot run ssh: {e}"))?;
    Ok(Outcome::PassedOn(
        status
            .code()
            .and_then(|c| u8::try_from(c).ok())
            .unwrap_or(255),
    ))
}
