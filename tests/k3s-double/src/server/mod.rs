//! `k3s server`: bootstrap (first, joining or restarting server), write the
//! token files and the admin kubeconfig, serve the API, run the server's own
//! kubelet stand-in (unless `--disable-agent`) and tell systemd it is ready.

mod bootstrap;
mod replicate;
mod routes;
mod state;

use crate::config::Settings;
use crate::files::{symlink_force, write_mode};
use crate::node_identity::{self, Role};
use crate::nodes::Refusal;
use crate::{http, kubeconfig, log, notify, pki};
use state::Server;
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

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
        "Starting k3s {} (double) — a test double, not k3s",
        crate::version::current()
    ));

    let server = Arc::new(bootstrap::bootstrap(settings, &data_dir, port));
    let listener = TcpListener::bind((bind.as_str(), port))
        .unwrap_or_else(|e| log::fatal(&format!("failed to listen on {bind}:{port}: {e}")));
    log::info(&format!(
        "Serving the double's API (plain HTTP) on {bind}:{port}"
    ));
    {
        let server = server.clone();
        let handler: http::Handler = Arc::new(move |req| routes::route(&server, req));
        std::thread::spawn(move || http::serve(listener, handler));
    }
    write_admin_kubeconfig(settings, &server, &bind, port);
    replicate::spawn_saver(server.clone());
    if server.etcd {
        replicate::spawn(server.clone());
    }
    if !settings.bool("disable-agent") {
        run_own_node(settings, &data_dir, server.clone());
    }
    log::info("k3s is up and running");
    notify::ready();
    loop {
        std::thread::park();
    }
}

fn write_admin_kubeconfig(settings: &Settings, server: &Server, bind: &str, port: u16) {
    let host = if bind == "0.0.0.0" || bind == "::" {
        "127.0.0.1"
    } else {
        bind
    };
    let (cert, key) = pki::admin_credentials(&server.ca, &server.password);
    let text = kubeconfig::render(&format!("https://{host}:{port}"), &server.ca, &cert, &key);
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

/// The server's own node: registered locally, heartbeating every 2 s.
fn run_own_node(settings: &Settings, data_dir: &std::path::Path, server: Arc<Server>) {
    let name = node_identity::node_name(settings, data_dir);
    let password = node_identity::node_password()
        .unwrap_or_else(|e| log::fatal(&format!("failed to write the node password: {e}")));
    let mut reg = node_identity::registration(
        settings,
        &name,
        Role::Server { etcd: server.etcd },
        &password,
    )
    .unwrap_or_else(|e| log::fatal(&e));
    if reg.internal_ip.is_empty() {
        reg.internal_ip = own_ip(settings.str("server"));
    }
    let register = move |server: &Server| {
        let result = server.store().register(reg.clone(), &server.id);
        server.mark_dirty();
        result
    };
    if register(&server) == Err(Refusal::PasswordRejected) {
        log::fatal(&format!("Node {name}: {}", crate::nodes::PASSWORD_REJECTED));
    }
    std::thread::spawn(move || loop {
        std::thread::sleep(Duration::from_secs(2));
        let result = server.store().heartbeat(&name, &password);
        match result {
            Ok(()) => server.mark_dirty(),
            Err(Refusal::NotFound) => {
                let _ = register(&server);
            }
            Err(Refusal::PasswordRejected) => {
                log::error(&format!("Node {name}: {}", crate::nodes::PASSWORD_REJECTED))
            }
        }
    });
}

/// The address other nodes most likely reach this one at.
fn own_ip(server_url: Option<&str>) -> String {
    let target = server_url
        .map(http::host_port)
        .unwrap_or_else(|| "10.255.255.255:6443".to_string());
    std::net::UdpSocket::bind("0.0.0.0:0")
        .and_then(|s| s.connect(&target).map(|_| s))
        .and_then(|s| s.local_addr())
        .map(|a| a.ip().to_string())
        .unwrap_or_else(|_| "127.0.0.1".to_string())
}
