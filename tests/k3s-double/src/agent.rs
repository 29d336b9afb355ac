//! `k3s agent`: pin the CA (full token), have the supervisor check the node password and
//! issue the node's client certificate, register the Node with the real API server, tell
//! systemd it is ready, then keep the node's lease and status fresh. Unreachable servers
//! are retried forever ("failed to contact server"); a refused token or node password ends
//! the process with status 1 so systemd restarts it (RestartSec=5s).

use crate::config::Settings;
use crate::kube_client::KubeClient;
use crate::protocol::{supervisor_url, RegisterReply, RegisterRequest, REGISTER};
use crate::token::Token;
use crate::{files, http, kubelet, log, node_identity, notify};
use std::path::PathBuf;
use std::time::Duration;

const RETRY: Duration = Duration::from_secs(2);

/// `GET /cacerts` from the supervisor, retried while it cannot be reached.
pub fn fetch_ca(supervisor: &str, server: &str) -> Vec<u8> {
    loop {
        match http::call(supervisor, "GET", "/cacerts", None, None) {
            Ok(reply) if reply.status == 200 => return reply.body,
            Ok(reply) => log::error(&format!(
                "failed to contact server {server}: failed to get CA certs: {}/cacerts: {} {}",
                server.trim_end_matches('/'),
                reply.status,
                http::reason(reply.status)
            )),
            Err(e) => log::error(&format!(
                "failed to contact server {server}: failed to get CA certs: {e}"
            )),
        }
        std::thread::sleep(RETRY);
    }
}

fn token_text(settings: &Settings) -> Option<String> {
    if let Some(t) = settings.str("token") {
        return Some(t.trim().to_string());
    }
    let file = settings.str("token-file")?;
    match std::fs::read_to_string(file) {
        Ok(t) => Some(t.trim().to_string()),
        Err(e) => log::fatal(&format!("failed to read token file {file}: {e}")),
    }
}

pub fn run(settings: &Settings) -> ! {
    let Some(server) = settings.str("server").map(str::to_string) else {
        log::fatal("--server is required");
    };
    if !server.starts_with("https://") {
        log::fatal(&format!(
            "server url must begin with https://, got {server}"
        ));
    }
    let Some(token) = token_text(settings) else {
        log::fatal("--token is required");
    };
    if let Err(e) = Token::parse(&token) {
        log::fatal(&e);
    }
    let data_dir = settings
        .str("data-dir")
        .map(PathBuf::from)
        .unwrap_or_else(crate::roots::data_dir);
    let _ = std::fs::create_dir_all(data_dir.join("agent"));
    log::info(&format!(
        "Starting k3s agent {} (double) — a test double, not k3s",
        crate::version::current()
    ));
    crate::registries::load(settings);
    crate::images::import(&data_dir);
    let name = node_identity::node_name(settings, &data_dir);
    let password = node_identity::node_password()
        .unwrap_or_else(|e| log::fatal(&format!("failed to write the node password: {e}")));
    let ip = node_identity::node_ip(settings, Some(&http::host_port(&server)));
    let spec = node_identity::node_spec(settings, &name, ip).unwrap_or_else(|e| log::fatal(&e));

    let request = RegisterRequest {
        name: name.clone(),
        password,
    };
    let reply = register(&server, &token, &request);
    save_credentials(&data_dir, &reply);
    let mut urls = vec![server.clone()];
    for url in &reply.servers {
        if !urls.contains(url) {
            log::info(&format!("Adding server to load balancer: {url}"));
            urls.push(url.clone());
        }
    }
    let clients: Vec<KubeClient> = urls
        .iter()
        .map(|url| KubeClient::new(url, &reply.server_ca, &reply.certificate, &reply.key))
        .collect::<Result<_, _>>()
        .unwrap_or_else(|e| log::fatal(&e));
    loop {
        match kubelet::register(&clients[0], &spec) {
            Ok(()) => break,
            Err(e) if e.starts_with("failed to contact") => log::error(&e),
            Err(e) => log::fatal(&e),
        }
        std::thread::sleep(RETRY);
    }
    log::info(&format!("Node {name} registered with server {server}"));
    notify::ready();
    kubelet::keep_alive(clients, spec);
    loop {
        std::thread::park();
    }
}

/// The node's client certificate and the cluster CA, where k3s' agent keeps them.
fn save_credentials(data_dir: &std::path::Path, reply: &RegisterReply) {
    let agent = data_dir.join("agent");
    let writes = [
        (agent.join("client-kubelet.crt"), &reply.certificate, 0o644),
        (agent.join("client-kubelet.key"), &reply.key, 0o600),
        (agent.join("server-ca.crt"), &reply.server_ca, 0o644),
    ];
    for (path, text, mode) in writes {
        if let Err(e) = files::write_mode(&path, text.as_bytes(), mode) {
            log::fatal(&format!("failed to write {}: {e}", path.display()));
        }
    }
}

fn refuse_token(url: &str, path: &str) -> ! {
    log::fatal(&format!(
        "token is not valid: {}{path}: 401 Unauthorized",
        url.trim_end_matches('/')
    ))
}

/// Pins the CA, then registers; retries while the server is unreachable.
fn register(server: &str, token: &str, request: &RegisterRequest) -> RegisterReply {
    let supervisor = supervisor_url(server);
    let body = serde_json::to_vec(request).expect("serializes");
    loop {
        let ca = fetch_ca(&supervisor, server);
        if let Err(e) = Token::parse(token).and_then(|t| t.check_ca(&ca)) {
            log::fatal(&e);
        }
        match http::call(&supervisor, "POST", REGISTER, Some(token), Some(&body)) {
            Ok(r) if r.status == 200 => match serde_json::from_slice(&r.body) {
                Ok(reply) => return reply,
                Err(e) => log::error(&format!("malformed registration reply from {server}: {e}")),
            },
            Ok(r) if r.status == 401 => refuse_token(server, REGISTER),
            // K3s' agent does not give up on a refused node password: it waits for the
            // record to go (`kubectl delete node`, or the Secret deleted) and tries again.
            Ok(r) if r.status == 403 => log::info(&format!(
                "Waiting to retrieve agent configuration; server is not ready: {}",
                String::from_utf8_lossy(&r.body)
            )),
            Ok(r) => log::error(&format!(
                "failed to register with {server}: {} {}: {}",
                r.status,
                http::reason(r.status),
                String::from_utf8_lossy(&r.body)
            )),
            Err(e) => log::error(&format!("failed to contact server {server}: {e}")),
        }
        std::thread::sleep(RETRY);
    }
}
