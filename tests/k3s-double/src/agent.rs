//! `k3s agent`: pin the CA (full token), register the node, tell systemd it
//! is ready, then heartbeat every 2 s. Unreachable servers are retried
//! forever ("failed to contact server"); a refused token or node password
//! ends the process with status 1 so systemd restarts it (RestartSec=5s).

use crate::config::Settings;
use crate::node_identity::{self, Role};
use crate::nodes::{Registration, PASSWORD_REJECTED};
use crate::protocol::{Heartbeat, RegisterReply, HEARTBEAT, REGISTER};
use crate::token::Token;
use crate::{http, log, notify};
use std::path::PathBuf;
use std::time::Duration;

const RETRY: Duration = Duration::from_secs(2);

/// `GET /cacerts`, retried while the server cannot be reached.
pub fn fetch_ca(url: &str) -> Vec<u8> {
    loop {
        match http::call(url, "GET", "/cacerts", None, None) {
            Ok(reply) if reply.status == 200 => return reply.body,
            Ok(reply) => log::error(&format!(
                "failed to contact server {url}: failed to get CA certs: {url}/cacerts: {} {}",
                reply.status,
                http::reason(reply.status)
            )),
            Err(e) => log::error(&format!(
                "failed to contact server {url}: failed to get CA certs: {e}"
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
    let name = node_identity::node_name(settings, &data_dir);
    let password = node_identity::node_password()
        .unwrap_or_else(|e| log::fatal(&format!("failed to write the node password: {e}")));
    let reg = node_identity::registration(settings, &name, Role::Agent, &password)
        .unwrap_or_else(|e| log::fatal(&e));

    let mut servers = vec![server];
    let mut current = 0;
    let reply = register(&servers[current], &token, &reg);
    log::info(&format!(
        "Node {name} registered with server {}",
        servers[current]
    ));
    learn(&mut servers, reply);
    notify::ready();

    let beat = serde_json::to_vec(&Heartbeat {
        name: name.clone(),
        password,
    })
    .expect("serializes");
    loop {
        std::thread::sleep(RETRY);
        let url = servers[current].clone();
        match http::call(&url, "POST", HEARTBEAT, Some(&token), Some(&beat)) {
            Ok(r) if r.status == 200 => {}
            Ok(r) if r.status == 404 => {
                log::info(&format!(
                    "Node {name} not found on {url}; registering again"
                ));
                let reply = register(&url, &token, &reg);
                learn(&mut servers, reply);
            }
            Ok(r) if r.status == 401 => refuse_token(&url, HEARTBEAT),
            Ok(r) if r.status == 403 => log::fatal(PASSWORD_REJECTED),
            Ok(r) => log::error(&format!(
                "heartbeat to {url}: {} {}",
                r.status,
                http::reason(r.status)
            )),
            Err(e) => {
                log::error(&format!("failed to contact server {url}: {e}"));
                current = (current + 1) % servers.len();
            }
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
fn register(url: &str, token: &str, reg: &Registration) -> RegisterReply {
    let body = serde_json::to_vec(reg).expect("serializes");
    loop {
        let ca = fetch_ca(url);
        if let Err(e) = Token::parse(token).and_then(|t| t.check_ca(&ca)) {
            log::fatal(&e);
        }
        match http::call(url, "POST", REGISTER, Some(token), Some(&body)) {
            Ok(r) if r.status == 200 => {
                return serde_json::from_slice(&r.body).unwrap_or(RegisterReply {
                    servers: Vec::new(),
                })
            }
            Ok(r) if r.status == 401 => refuse_token(url, REGISTER),
            Ok(r) if r.status == 403 => log::fatal(&String::from_utf8_lossy(&r.body)),
            Ok(r) => log::error(&format!(
                "failed to register with {url}: {} {}",
                r.status,
                http::reason(r.status)
            )),
            Err(e) => log::error(&format!("failed to contact server {url}: {e}")),
        }
        std::thread::sleep(RETRY);
    }
}

/// Remembers every server of the cluster (client-side load balancer stand-in).
fn learn(servers: &mut Vec<String>, reply: RegisterReply) {
    for url in reply.servers {
        if !servers.contains(&url) {
            log::info(&format!("Adding server to load balancer: {url}"));
            servers.push(url);
        }
    }
}
