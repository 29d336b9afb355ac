use anyhow::{bail, Context};
use pikube_cluster::config::Role;
use pikube_cluster::error_chain::describe;
use pikube_cluster::k3s::{api_url, paths};
use pikube_cluster::kubeconfig::{
    check_covers, from_server, kubeconfig_target, merge_into_file, write_private, CaPin,
    SERVING_CERT,
};
use pikube_cluster::progress::SilentProgress;

use crate::cli::KubeconfigArgs;
use crate::commands::cluster::{fleet_of, load_config};
use crate::commands::local_state::local_state;
use crate::commands::runtime;
use crate::commands::sudo_prompt::sudo_password;
use crate::exit::Outcome;

pub fn run(args: &KubeconfigArgs) -> anyhow::Result<Outcome> {
    let config = load_config(&args.file.file)?;
    let servers = fleet_of(&config, |node| node.role == Role::Server)?;
    // The token kept here pins the cluster's CA (when it is a full one): the node's k3s.yaml
    // must not be able to choose which CA this machine trusts for the cluster.
    let local = local_state(&config);
    let ca_pin = CaPin::from_state(
        local.existing_token()?.as_ref(),
        &local.dir().join("token"),
        local.recorded_ca_hash()?,
        &local.ca_hash_path(),
    )?;
    // The first server (in file order) that answers and has a kubeconfig.
    let (server, k3s_yaml, problems) = runtime()?.block_on(async {
        let mut found = None;
        let mut problems = Vec::new();
        for connected in servers
            .connect_privileged(&SilentProgress, &sudo_password)
            .await
        {
            let connection = match connected.result {
                Ok(connection) => connection,
                Err(err) => {
                    problems.push(describe(&err));
                    continue;
                }
            };
            if found.is_none() {
                match connection
                    .run_privileged(
                        "reading the admin kubeconfig",
                        &format!("cat {}", paths::KUBECONFIG),
                        b"",
                    )
                    .await
                {
                    Ok(output) => {
                        // What the API server's certificate names (checked below).
                        let serving = connection
                            .run_privileged(
                                "reading the API server's certificate",
                                &format!("cat {SERVING_CERT}"),
                                b"",
                            )
                            .await
                            .ok()
                            .map(|o| o.stdout);
                        // kubectl cannot use an ssh_config alias: the IP it was reached at.
                        let reached_at = connection
                            .run("finding its address", "echo \"$SSH_CONNECTION\"")
                            .await
                            .ok()
                            .and_then(|o| o.stdout.split_whitespace().nth(2).map(str::to_owned));
                        found = Some((connected.node.clone(), output.stdout, reached_at, serving))
                    }
                    Err(err) => problems.push(describe(&err)),
                }
            }
            connection.close().await;
        }
        match found {
            Some((node, yaml, ip, serving)) => (Some((node, ip, serving)), yaml, problems),
            None => (None, String::new(), problems),
        }
    });
    let Some((server, reached_at, serving)) = server else {
        bail!(
            "no server gave its kubeconfig (is k3s installed? run `pikube apply`):\n  {}",
            problems.join("\n  ")
        );
    };
    let host = match &config.k3s.api_endpoint {
        Some(endpoint) => endpoint.to_string(),
        None => {
            let address = config
                .node(&server)
                .map(|n| n.address.to_string())
                .unwrap_or_default();
            match reached_at {
                Some(ip) if address.parse::<std::net::IpAddr>().is_err() => ip,
                _ => address,
            }
        }
    };
    // kubectl will only trust the server at an address its certificate names.
    match &serving {
        Some(pem) => check_covers(&server, pem, &host)?,
        None => errln!(
            "warning: {server}: {SERVING_CERT} could not be read: whether its certificate \
             names {host} was not checked"
        ),
    }
    // Refuses anything but what K3s writes, and a CA other than the pinned one, before any
    // file is touched. The error names the node and the file.
    let kubeconfig = from_server(
        &server,
        &k3s_yaml,
        config.name.as_ref(),
        &api_url(&host),
        &ca_pin,
    )?;
    if let Some(reason) = ca_pin.unchecked_reason() {
        errln!(
            "warning: {server}: {}: the CA is taken as the node sent it: {reason}",
            paths::KUBECONFIG
        );
    }

    if args.merge {
        let home = std::env::var_os("HOME").unwrap_or_default();
        let target = kubeconfig_target(
            std::env::var_os("KUBECONFIG").as_deref(),
            std::path::Path::new(&home),
        );
        merge_into_file(&target, &kubeconfig, !args.keep_context)?;
        errln!(
            "merged context {} into {}{}",
            config.name,
            target.display(),
            if args.keep_context {
                String::new()
            } else {
                " (now the current context: kubectl get nodes)".to_owned()
            }
        );
    } else if let Some(path) = &args.write {
        write_private(path, &kubeconfig.to_yaml()?)
            .with_context(|| format!("writing {}", path.display()))?;
        errln!(
            "wrote {} (KUBECONFIG={} kubectl get nodes)",
            path.display(),
            path.display()
        );
    } else {
        out!("{}", kubeconfig.to_yaml()?);
    }
    Ok(Outcome::Success)
}
