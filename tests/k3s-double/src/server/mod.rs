//! `k3s server`: bootstrap (first, joining or restarting server), then the real control
//! plane as k3s runs it (an etcd member, or kine over SQLite for a single server;
//! kube-apiserver, kube-controller-manager), the
//! admin kubeconfig, the supervisor's routes, the deploy controller applying
//! `server/manifests`, the server's own node (unless `--disable-agent`), and READY=1 to
//! systemd.

mod bootstrap;
mod bootstrap_data;
mod control_plane;
mod deploy;
mod encryption;
mod etcd;
mod kine;
mod node_controller;
mod node_passwords;
mod routes;
mod state;
mod tombstone;

use crate::config::Settings;
use crate::files::{symlink_force, write_mode};
use crate::kube_client::{self, KubeClient};
use crate::node_identity::{self, Role};
use crate::protocol::SUPERVISOR_PORT;
use crate::tls::{self, Usage};
use crate::{http, kubeconfig, kubelet, log, notify};
use control_plane::Endpoint;
use serde_json::json;
use state::Server;

pub use etcd::etcdctl_tls;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub fn run(settings: &Settings) -> ! {
    let data_dir = settings
        .str("data-dir")
        .map(PathBuf::from)
        .unwrap_or_else(crate::roots::data_dir);
    let port: u16 = match settings.str("https-listen-port") {
        Some(p) => p
            .parse()
            .unwrap_or_else(|_| log::fatal(&format!("invalid https-listen-port {p:?}"))),
        None => 6443,
    };
    let bind = settings
        .str("bind-address")
        .unwrap_or("0.0.0.0")
        .to_string();
    log::info(&format!(
        "Starting k3s {} (double) — a test double supervising the real control plane",
        crate::version::current()
    ));
    for program in [
        "etcd",
        "etcdctl",
        "kube-apiserver",
        "kube-controller-manager",
        "kine",
    ] {
        if let Err(e) = crate::components::program(program) {
            log::fatal(&e);
        }
    }
    // A server runs an agent too: its containerd imports the archives as it starts.
    crate::registries::load(settings);
    crate::images::import(&data_dir);
    let toward = settings.str("server").map(http::host_port);
    let ip = node_identity::node_ip(settings, toward.as_deref());
    tombstone::act_on(&data_dir).unwrap_or_else(|e| log::fatal(&e));
    let member = etcd::Member::new(&data_dir, &ip).unwrap_or_else(|e| log::fatal(&e));
    let prepared = bootstrap::bootstrap(settings, &data_dir, member.has_data(), &ip);
    let endpoint = Endpoint {
        bind: bind.clone(),
        advertise: settings.str("advertise-address").unwrap_or(&ip).to_string(),
        port,
    };

    etcd::issue_certificates(&data_dir, &ip).unwrap_or_else(|e| log::fatal(&e));
    control_plane::issue_certificates(&data_dir, &endpoint, &settings.list("tls-san"))
        .unwrap_or_else(|e| log::fatal(&e));
    if settings.bool("cluster-reset") {
        let restore = settings.str("cluster-reset-restore-path").map(Path::new);
        etcd::reset(&data_dir, &member, restore).unwrap_or_else(|e| log::fatal(&e));
        if restore.is_some() {
            restore_bootstrap_data(&data_dir, &member, &prepared.password);
        }
        log::info(
            "Managed etcd cluster membership has been reset, restart without --cluster-reset \
             flag now. Backup and delete ${datadir}/server/db on each peer etcd server and \
             rejoin the nodes",
        );
        std::process::exit(0);
    }
    let _ = std::fs::remove_file(data_dir.join("server/db/reset-flag"));
    // `etcd-expose-metrics` serves etcd's metrics on the node's address, as K3s does; the
    // double leaves out K3s' default 127.0.0.1:2381, which servers sharing a host in the
    // double's own tests would fight over.
    let mut etcd_args = Vec::new();
    if settings.bool("etcd-expose-metrics") {
        etcd_args.push(format!("listen-metrics-urls=http://{ip}:2381"));
    }
    etcd_args.extend(settings.list("etcd-arg"));
    let datastore = if prepared.etcd {
        etcd::start(&data_dir, &member, prepared.start, &etcd_args)
            .unwrap_or_else(|e| log::fatal(&e));
        if prepared.migrate_from_sqlite {
            etcd::client(&data_dir, &member.client_url())
                .and_then(|etcd| kine::migrate_into(&data_dir, &etcd))
                .unwrap_or_else(|e| log::fatal(&format!("migrating from sqlite: {e}")));
        }
        control_plane::Datastore::Etcd(member.client_url())
    } else {
        kine::start(&data_dir).unwrap_or_else(|e| log::fatal(&e));
        control_plane::Datastore::Kine(kine::endpoint(&data_dir))
    };
    if prepared.etcd {
        let node = node_identity::node_name(settings, &data_dir);
        crate::snapshot_schedule::start(settings, &data_dir, &node)
            .unwrap_or_else(|e| log::fatal(&e));
    }
    let mut apiserver_args = Vec::new();
    if settings.bool("secrets-encryption") {
        let config = encryption::ensure(&data_dir).unwrap_or_else(|e| log::fatal(&e));
        apiserver_args.push(format!("encryption-provider-config={}", config.display()));
    }
    if prepared.etcd {
        keep_bootstrap_data(&data_dir, &member, &prepared.password);
    }
    apiserver_args.extend(settings.list("kube-apiserver-arg"));
    control_plane::start_apiserver(&data_dir, &endpoint, &datastore, &apiserver_args)
        .unwrap_or_else(|e| log::fatal(&e));
    control_plane::start_controller_manager(
        &data_dir,
        &endpoint,
        &settings.list("kube-controller-manager-arg"),
    )
    .unwrap_or_else(|e| log::fatal(&e));
    if !settings.bool("disable-scheduler") {
        control_plane::start_scheduler(&data_dir, &endpoint, &settings.list("kube-scheduler-arg"))
            .unwrap_or_else(|e| log::fatal(&e));
    }
    write_admin_kubeconfig(settings, &data_dir, &endpoint);

    let admin = control_plane::admin_client(&data_dir, &endpoint.local_url())
        .unwrap_or_else(|e| log::fatal(&e));
    let server = Arc::new(Server {
        etcd: prepared.etcd,
        data_dir: data_dir.clone(),
        ca: std::fs::read(tls::server_ca_path(&data_dir))
            .unwrap_or_else(|e| log::fatal(&format!("read the server CA: {e}"))),
        password: prepared.password,
        agent_password: prepared.agent_password,
        etcd_endpoint: member.client_url(),
        admin,
        critical: bootstrap::critical_config(settings),
    });
    let listener = TcpListener::bind((bind.as_str(), SUPERVISOR_PORT)).unwrap_or_else(|e| {
        log::fatal(&format!(
            "failed to listen on {bind}:{SUPERVISOR_PORT}: {e}"
        ))
    });
    {
        let server = server.clone();
        let handler: http::Handler = Arc::new(move |req| routes::route(&server, req));
        std::thread::spawn(move || http::serve(listener, handler));
    }
    node_controller::Controller {
        admin: control_plane::admin_client(&data_dir, &endpoint.local_url())
            .unwrap_or_else(|e| log::fatal(&e)),
        data_dir: data_dir.clone(),
        etcd_endpoint: member.client_url(),
    }
    .spawn();
    deploy::Controller {
        manifests: data_dir.join("server/manifests"),
        kubeconfig: data_dir.join("server/cred/admin.kubeconfig"),
    }
    .spawn();
    if !settings.bool("disable-agent") {
        run_own_node(settings, &server, &endpoint, &ip, &member.name);
    }
    log::info("k3s is up and running");
    notify::ready();
    loop {
        std::thread::park();
    }
}

/// The datastore keeps the cluster's bootstrap data, sealed with the token: written by
/// each server as it starts (what is on disk is current: a restore put the snapshot's back
/// on disk first), read back by a restore. Data sealed with another token stops the
/// server, as in K3s.
fn keep_bootstrap_data(data_dir: &Path, member: &etcd::Member, password: &str) {
    let kept = etcd::client(data_dir, &member.client_url()).and_then(|etcd| {
        bootstrap_data::load(&etcd, password)?;
        bootstrap_data::store(&etcd, password, &bootstrap_data::from_disk(data_dir)?)
    });
    if let Err(e) = kept {
        log::fatal(&format!("starting kubernetes: preparing server: {e}"));
    }
}

/// After `--cluster-reset-restore-path`: the snapshot's bootstrap data (its CAs, its
/// encryption config) replaces this server's, so a restore onto new hardware serves the
/// old cluster's CAs again; the token must be the one the snapshot's cluster had.
fn restore_bootstrap_data(data_dir: &Path, member: &etcd::Member, password: &str) {
    let found = etcd::while_running(data_dir, member, |etcd| {
        bootstrap_data::load(etcd, password)
    });
    match found {
        Ok(Some(data)) => {
            bootstrap_data::install(data_dir, &data).unwrap_or_else(|e| log::fatal(&e));
            log::info("Restored the cluster's bootstrap data (CAs) from the snapshot");
        }
        Ok(None) => log::warn("the snapshot holds no bootstrap data; the CAs on disk stay"),
        Err(e) => log::fatal(&format!(
            "starting kubernetes: preparing server: failed to restore from the snapshot: {e}"
        )),
    }
}

fn write_admin_kubeconfig(settings: &Settings, data_dir: &Path, endpoint: &Endpoint) {
    let tls = tls::dir(data_dir);
    let read = |rel: &str| {
        std::fs::read_to_string(tls.join(rel))
            .unwrap_or_else(|e| log::fatal(&format!("read {rel}: {e}")))
    };
    let text = kubeconfig::render(
        &endpoint.local_url(),
        read("server-ca.crt").as_bytes(),
        &read("client-admin.crt"),
        &read("client-admin.key"),
    );
    let _ = control_plane::write_kubeconfig(
        &data_dir.join("server/cred/admin.kubeconfig"),
        &endpoint.local_url(),
        &tls.join("server-ca.crt"),
        &tls.join("client-admin.crt"),
        &tls.join("client-admin.key"),
    );
    let mode = match settings.str("write-kubeconfig-mode") {
        Some(m) => kubeconfig::parse_mode(m).unwrap_or_else(|e| log::fatal(&e)),
        None => 0o600,
    };
    let default = crate::roots::kubeconfig();
    let target = settings.str("write-kubeconfig").map(PathBuf::from);
    let path = target.clone().unwrap_or_else(|| default.clone());
    if let Err(e) = write_mode(&path, text.as_bytes(), mode) {
        log::error(&format!(
            "Unable to write kubeconfig {}: {e}",
            path.display()
        ));
        return;
    }
    if let Some(target) = target.filter(|t| *t != default) {
        let _ = std::fs::create_dir_all(default.parent().expect("has a parent"));
        if let Err(e) = symlink_force(&target, &default) {
            log::warn(&format!("failed to link {}: {e}", default.display()));
        }
    }
    log::info(&format!("Wrote kubeconfig {}", path.display()));
}

/// The server's own node: its password verified locally, its client certificate issued
/// locally, registered by its kubelet, then labelled with its roles.
fn run_own_node(settings: &Settings, server: &Server, endpoint: &Endpoint, ip: &str, member: &str) {
    let name = node_identity::node_name(settings, &server.data_dir);
    let password = node_identity::node_password()
        .unwrap_or_else(|e| log::fatal(&format!("failed to write the node password: {e}")));
    node_passwords::ensure_own(&server.admin, &name, &password);
    let (cert, key) = tls::sign(
        &server.data_dir,
        "client-ca",
        &format!("system:node:{name}"),
        Usage::Client {
            organization: Some("system:nodes"),
        },
    )
    .unwrap_or_else(|e| log::fatal(&e));
    let ca = String::from_utf8_lossy(&server.ca).into_owned();
    let client =
        KubeClient::new(&endpoint.local_url(), &ca, &cert, &key).unwrap_or_else(|e| log::fatal(&e));
    let spec = node_identity::node_spec(settings, &name, ip.to_string())
        .unwrap_or_else(|e| log::fatal(&e));
    kubelet::register(&client, &spec).unwrap_or_else(|e| log::fatal(&e));
    // The supervisor marks its node with its roles, and an etcd server's node with its
    // member, which the etcd controller removes when the node is deleted.
    let mut roles = json!({"metadata": {"labels": node_identity::role_labels(Role::Server { etcd: server.etcd })}});
    if server.etcd {
        roles["metadata"]["annotations"] = json!({
            node_controller::ETCD_NAME: member,
            node_controller::ETCD_ADDRESS: ip,
        });
    }
    if let Err(e) = kube_client::json(
        server
            .admin
            .merge_patch(&format!("/api/v1/nodes/{name}"), &roles),
    ) {
        log::fatal(&format!(
            "failed to set the role labels of node {name}: {e}"
        ));
    }
    log::info(&format!("Node {name} registered"));
    kubelet::keep_alive(vec![client], spec);
}
