//! `pikube bootstrap`: nodes on their image's default login made reachable by key.

use pikube_cluster::bootstrap::Bootstrap;
use pikube_cluster::config::NodeSpec;
use pikube_cluster::fleet::Fleet;
use pikube_cluster::ssh::{Connection, SudoPassword};

use crate::cli::BootstrapArgs;
use crate::commands::admin_access::{admin_user, keys_for};
use crate::commands::cluster::{check_node_names, load_config};
use crate::commands::runtime;
use crate::commands::sudo_prompt::{node_secret, sudo_password_from_secrets};
use crate::exit::Outcome;

pub fn run(args: &BootstrapArgs) -> anyhow::Result<Outcome> {
    let config = load_config(&args.file.file)?;
    check_node_names(&config, &args.nodes)?;
    if args.nodes.is_empty() && !args.all {
        anyhow::bail!("say which nodes: NODE... or --all");
    }
    let chosen = |n: &NodeSpec| args.all || args.nodes.iter().any(|name| name == n.name.as_ref());
    // Everything checked before any node is touched.
    let mut setups = Vec::new();
    for node in config.nodes.iter().filter(|n| chosen(n)) {
        let admin_password = if args.sudo_password {
            let name = &node.name;
            Some(sudo_password_from_secrets(name.as_ref()).ok_or_else(|| {
                anyhow::anyhow!(
                    "{name}: --sudo-password gives the admin user the password kept in \
                     secrets.age, and it holds none: `pikube secrets set sudo_password` (or \
                     nodes.{name}.sudo_password)"
                )
            })?)
        } else {
            None
        };
        setups.push((
            node.name.to_string(),
            admin_user(&config, node)?,
            keys_for(&args.authorized_key, node)?,
            admin_password,
        ));
    }
    let sudo_kind = if args.sudo_password {
        "sudo with its password from secrets.age"
    } else {
        "passwordless sudo"
    };
    let fleet = Fleet::of_config_where(&config, |n| chosen(n))?;
    let askpass = std::env::current_exe()?;
    let mut asked: Option<String> = None;
    let mut failed = 0;
    let runtime = runtime()?;
    for ((name, admin, keys, admin_password), member) in setups.iter().zip(fleet.members()) {
        // Already reached by key with working sudo: nothing to do, nothing asked.
        if let Some(sudo) =
            runtime.block_on(reached_by_key(&fleet, member, admin_password.as_ref()))
        {
            outln!("ok      {name}: {admin} already logs in by key with {sudo}; unchanged");
            continue;
        }
        let Some(password) = password_for(name, &mut asked) else {
            errln!(
                "FAILED  {name}: no bootstrap password: `pikube secrets set bootstrap_password` \
                 (or nodes.{name}.bootstrap_password), or run from a terminal to be asked"
            );
            failed += 1;
            continue;
        };
        let bootstrap = Bootstrap {
            target: &member.target,
            login: &args.login,
            password: &password,
            admin,
            keys,
            admin_password: admin_password.as_ref(),
            disable_password_login: args.disable_password_login,
            askpass: &askpass,
        };
        let done = runtime.block_on(async {
            bootstrap.run(fleet.client()).await?;
            // sshd may be reloading (password login turned off): give it a moment.
            for _ in 0..15 {
                if reached_by_key(&fleet, member, admin_password.as_ref())
                    .await
                    .is_some()
                {
                    return Ok(true);
                }
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            }
            Ok::<bool, pikube_cluster::bootstrap::BootstrapError>(false)
        });
        match done {
            Ok(true) => outln!(
                "ok      {name}: {admin} set up with the key and {sudo_kind}{}",
                if args.disable_password_login {
                    "; password login off"
                } else {
                    ""
                }
            ),
            Ok(false) => {
                failed += 1;
                outln!("FAILED  {name}: set up, but {admin} still cannot log in by key with {sudo_kind}");
            }
            Err(err) => {
                failed += 1;
                outln!("FAILED  {err}");
            }
        }
    }
    Ok(if failed == 0 {
        Outcome::Success
    } else {
        Outcome::Failed
    })
}

/// How the node's admin user gets root when pikube reaches it by key: passwordless sudo,
/// or sudo taking `sudo_password`; `None` when it cannot (yet).
async fn reached_by_key(
    fleet: &Fleet,
    member: &pikube_cluster::fleet::Member,
    sudo_password: Option<&SudoPassword>,
) -> Option<&'static str> {
    let mut connection = Connection::open(&member.target, fleet.client())
        .await
        .ok()?;
    let how = if !connection.needs_sudo_password() {
        Some("passwordless sudo")
    } else if let Some(password) = sudo_password {
        connection
            .use_sudo_password(password)
            .await
            .ok()
            .map(|()| "sudo with its password from secrets.age")
    } else {
        None
    };
    connection.close().await;
    how
}

/// `nodes.<name>.bootstrap_password`, else `bootstrap_password`, from the secrets; else
/// asked once on the terminal for every node the secrets do not cover.
fn password_for(node: &str, asked: &mut Option<String>) -> Option<String> {
    let from_secrets = node_secret(node, "bootstrap_password");
    if from_secrets.is_some() {
        return from_secrets;
    }
    if asked.is_none() && std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        *asked = rpassword::prompt_password("the image's login password (asked once): ").ok();
    }
    asked.clone()
}
