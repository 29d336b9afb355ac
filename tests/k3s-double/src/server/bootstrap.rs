//! How a server comes up: first server (SQLite or `--cluster-init` etcd),
//! joining server (`--server` + token), or restart on existing data, in which
//! case `--cluster-init` and `--server` are ignored as k3s does.

use super::state::{load_store, Server};
use crate::config::Settings;
use crate::encoding::{base64, random_hex};
use crate::files::{symlink_force, write_mode};
use crate::protocol::{JoinReply, JoinRequest, JOIN};
use crate::token::{full, Token};
use crate::{http, log, pki};
use std::path::Path;
use std::time::Duration;

/// Password part of `--token`/`--token-file` (or the agent variants).
fn configured_password(settings: &Settings, flag: &str) -> Option<String> {
    let text = match settings.str(flag) {
        Some(text) => text.to_string(),
        None => {
            let file = settings.str(&format!("{flag}-file"))?;
            std::fs::read_to_string(file)
                .unwrap_or_else(|e| log::fatal(&format!("failed to read {flag} file {file}: {e}")))
        }
    };
    match Token::parse(&text) {
        Ok(token) => Some(token.password),
        Err(e) => log::fatal(&format!("failed to normalize {flag}: {e}")),
    }
}

/// Password stored in `server/token` by an earlier start.
fn stored_password(data_dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(data_dir.join("server/token")).ok()?;
    Token::parse(&text).ok().map(|t| t.password)
}

pub fn bootstrap(settings: &Settings, data_dir: &Path, port: u16) -> Server {
    let db = data_dir.join("server/db");
    let etcd_dir = db.join("etcd");
    let sqlite = db.join("state.db");
    let id_file = db.join("double-server-id");
    let configured = configured_password(settings, "token");
    let configured_agent = configured_password(settings, "agent-token");
    let existing = etcd_dir.exists() || sqlite.exists();

    let (ca, password, agent_password, etcd, store) = if existing {
        let ca = pki::ensure_ca(data_dir).unwrap_or_else(|e| fatal_io("read the CA", e));
        let password = match (stored_password(data_dir), configured) {
            (Some(stored), Some(given)) if stored != given => log::fatal(
                "starting kubernetes: preparing server: bootstrap data already found and \
                 encrypted with different token",
            ),
            (Some(stored), _) => stored,
            (None, Some(given)) => given,
            (None, None) => random_hex(16),
        };
        if settings.str("server").is_some() {
            log::info("Existing datastore found on disk: --server is ignored");
        }
        let mut etcd = etcd_dir.exists();
        if !etcd && settings.bool("cluster-init") {
            log::info("Migrating content from sqlite to etcd");
            etcd = true;
        }
        let agent = configured_agent.or_else(|| stored_agent_password(data_dir));
        let store = load_store(&db.join("double-nodes.json"));
        (ca, password, agent, etcd, store)
    } else if let Some(url) = settings.str("server") {
        let id = read_or_create_id(&id_file);
        let reply = join(url, configured.as_deref(), &id, port, settings);
        if let (Some(ours), Some(theirs)) = (&configured_agent, &reply.agent_password) {
            if ours != theirs {
                log::fatal(
                    "failed to validate server configuration: critical configuration value \
                     mismatch: agent-token",
                );
            }
        }
        let ca = reply.ca.into_bytes();
        pki::install_ca(data_dir, &ca).unwrap_or_else(|e| fatal_io("write the CA", e));
        let mut store = reply.store;
        store.servers.insert(reply.id, url.to_string());
        let agent = reply.agent_password.or(configured_agent);
        (ca, reply.password, agent, true, store)
    } else {
        let ca = pki::ensure_ca(data_dir).unwrap_or_else(|e| fatal_io("create the CA", e));
        let password = configured.unwrap_or_else(|| random_hex(16));
        let etcd = settings.bool("cluster-init");
        if settings.str("datastore-endpoint").is_some() {
            log::warn(
                "k3s-double: --datastore-endpoint is recorded but not modelled; this server \
                 keeps its own node store",
            );
        }
        (
            ca,
            password,
            configured_agent,
            etcd,
            crate::nodes::Store::default(),
        )
    };

    let id = read_or_create_id(&id_file);
    if etcd {
        std::fs::create_dir_all(&etcd_dir).unwrap_or_else(|e| fatal_io("create the etcd dir", e));
        log::info("Managed etcd cluster membership ready (k3s-double model)");
    } else {
        write_mode(
            &sqlite,
            b"k3s-double: stand-in for the SQLite datastore\n",
            0o600,
        )
        .unwrap_or_else(|e| fatal_io("create the datastore", e));
        log::info("Configuring sqlite3 database connection pooling (k3s-double model)");
    }
    write_tokens(data_dir, &ca, &password, agent_password.as_deref())
        .unwrap_or_else(|e| fatal_io("write the token files", e));
    let (_, key) = pki::admin_credentials(&ca, &password);
    Server::new(
        id,
        etcd,
        ca,
        password,
        agent_password,
        base64(key.as_bytes()),
        db.join("double-nodes.json"),
        store,
    )
}

fn fatal_io(what: &str, e: std::io::Error) -> ! {
    log::fatal(&format!("failed to {what}: {e}"))
}

fn read_or_create_id(path: &Path) -> String {
    if let Ok(id) = std::fs::read_to_string(path) {
        if !id.trim().is_empty() {
            return id.trim().to_string();
        }
    }
    let id = random_hex(8);
    write_mode(path, id.as_bytes(), 0o600).unwrap_or_else(|e| fatal_io("write the server id", e));
    id
}

fn stored_agent_password(data_dir: &Path) -> Option<String> {
    let path = data_dir.join("server/agent-token");
    if path.is_symlink() {
        return None;
    }
    let text = std::fs::read_to_string(path).ok()?;
    Token::parse(&text).ok().map(|t| t.password)
}

/// `server/token` (0600), `node-token` → `token`, `agent-token` as a file
/// when an agent token is set, else → `token`; `cred/passwd`.
fn write_tokens(
    data_dir: &Path,
    ca: &[u8],
    password: &str,
    agent_password: Option<&str>,
) -> std::io::Result<()> {
    let server_dir = data_dir.join("server");
    let token = format!("{}\n", full(ca, "server", password));
    write_mode(&server_dir.join("token"), token.as_bytes(), 0o600)?;
    symlink_force(Path::new("token"), &server_dir.join("node-token"))?;
    let agent_token = server_dir.join("agent-token");
    let mut passwd = format!("{password},server,server,k3s:server\n");
    match agent_password {
        Some(agent) => {
            let text = format!("{}\n", full(ca, "node", agent));
            write_mode(&agent_token, text.as_bytes(), 0o600)?;
            passwd.push_str(&format!("{agent},node,node,k3s:agent\n"));
        }
        None => {
            symlink_force(Path::new("token"), &agent_token)?;
            passwd.push_str(&format!("{password},node,node,k3s:agent\n"));
        }
    }
    write_mode(&server_dir.join("cred/passwd"), passwd.as_bytes(), 0o600)
}

/// Joins the cluster of the server at `url`; retries while it cannot be
/// reached, exits like k3s when it refuses.
fn join(url: &str, password: Option<&str>, id: &str, port: u16, settings: &Settings) -> JoinReply {
    let token_text = settings
        .str("token")
        .map(str::to_string)
        .or_else(|| {
            settings
                .str("token-file")
                .and_then(|f| std::fs::read_to_string(f).ok())
        })
        .unwrap_or_default();
    if password.is_none() {
        log::fatal("starting kubernetes: preparing server: token is required to join a cluster");
    }
    let token = Token::parse(&token_text).unwrap_or_else(|e| log::fatal(&e));
    let ca = crate::agent::fetch_ca(url);
    if let Err(e) = token.check_ca(&ca) {
        log::fatal(&e);
    }
    let body = serde_json::to_vec(&JoinRequest {
        id: id.to_string(),
        port,
    })
    .expect("serializes");
    loop {
        match http::call(url, "POST", JOIN, Some(token_text.trim()), Some(&body)) {
            Ok(reply) if reply.status == 200 => {
                return serde_json::from_slice(&reply.body)
                    .unwrap_or_else(|e| log::fatal(&format!("bad join reply: {e}")));
            }
            Ok(reply) if reply.status == 400 => log::fatal(&format!(
                "starting kubernetes: preparing server: failed to join cluster at {url}: {}",
                String::from_utf8_lossy(&reply.body)
            )),
            Ok(reply) => log::fatal(&format!(
                "starting kubernetes: preparing server: {}{JOIN}: {} {}",
                url.trim_end_matches('/'),
                reply.status,
                http::reason(reply.status)
            )),
            Err(e) => {
                log::error(&format!("failed to contact server {url}: {e}"));
                std::thread::sleep(Duration::from_secs(2));
            }
        }
    }
}
