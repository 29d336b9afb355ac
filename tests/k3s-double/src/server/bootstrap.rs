//! How a server comes up: first server (SQLite or `--cluster-init` etcd), joining server
//! (`--server` + token), or restart on existing data, in which case `--cluster-init` and
//! `--server` are ignored as k3s does. Ends with the CAs in place, the token files
//! written, and how the etcd member must start.

use super::etcd::Start;
use crate::config::Settings;
use crate::encoding::random_hex;
use crate::files::{symlink_force, write_mode};
use crate::protocol::{supervisor_url, JoinReply, JoinRequest, CRITICAL_MISMATCH, JOIN};
use crate::token::{full, Token};
use crate::{http, log, tls};
use std::path::Path;
use std::time::Duration;

pub struct Prepared {
    pub etcd: bool,
    /// A SQLite server restarted with `--cluster-init`: its keys go into the new etcd member.
    pub migrate_from_sqlite: bool,
    pub password: String,
    pub agent_password: Option<String>,
    pub start: Start,
}

/// The settings every server of a cluster must share (k3s' critical control arguments,
/// `CriticalControlArgs` in `pkg/daemons/config/types.go`, each named by its flag), with
/// k3s' defaults filled in, so a joining server can be refused when they differ.
pub fn critical_config(settings: &Settings) -> std::collections::BTreeMap<String, String> {
    let text = |flag: &str, default: &str| settings.str(flag).unwrap_or(default).to_string();
    let switch = |flag: &str| settings.bool(flag).to_string();
    let disabled = settings.list("disable");
    [
        ("cluster-cidr", text("cluster-cidr", "10.42.0.0/16")),
        ("service-cidr", text("service-cidr", "10.43.0.0/16")),
        ("cluster-dns", text("cluster-dns", "10.43.0.10")),
        ("cluster-domain", text("cluster-domain", "cluster.local")),
        ("flannel-backend", text("flannel-backend", "vxlan")),
        (
            "egress-selector-mode",
            text("egress-selector-mode", "agent"),
        ),
        (
            "disable-cloud-controller",
            switch("disable-cloud-controller"),
        ),
        ("disable-helm-controller", switch("disable-helm-controller")),
        ("disable-network-policy", switch("disable-network-policy")),
        ("secrets-encryption", switch("secrets-encryption")),
        (
            "secrets-encryption-provider",
            text("secrets-encryption-provider", "aescbc"),
        ),
        ("embedded-registry", switch("embedded-registry")),
        ("flannel-ipv6-masq", switch("flannel-ipv6-masq")),
        ("flannel-external-ip", switch("flannel-external-ip")),
        (
            "flannel-ip-masq-disable-random-fully",
            switch("flannel-ip-masq-disable-random-fully"),
        ),
        ("supervisor-metrics", switch("supervisor-metrics")),
        (
            "disable=servicelb",
            disabled
                .iter()
                .flat_map(|d| d.split(','))
                .any(|d| d.trim() == "servicelb")
                .to_string(),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// The first critical setting on which two servers differ.
pub fn critical_mismatch(
    ours: &std::collections::BTreeMap<String, String>,
    theirs: &std::collections::BTreeMap<String, String>,
) -> Option<String> {
    ours.iter()
        .find(|(k, v)| theirs.get(*k) != Some(v))
        .map(|(k, _)| k.clone())
}

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

pub fn bootstrap(settings: &Settings, data_dir: &Path, has_etcd_data: bool, ip: &str) -> Prepared {
    let sqlite = super::kine::database(data_dir);
    let configured = configured_password(settings, "token");
    let configured_agent = configured_password(settings, "agent-token");
    let existing = has_etcd_data || sqlite.exists();

    let prepared = if existing {
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
        let migrate_from_sqlite = sqlite.exists() && settings.bool("cluster-init");
        if migrate_from_sqlite {
            log::info("Migrating content from sqlite to etcd");
        }
        let etcd = !sqlite.exists() || migrate_from_sqlite;
        let agent_password = configured_agent.or_else(|| stored_agent_password(data_dir));
        Prepared {
            etcd,
            migrate_from_sqlite,
            password,
            agent_password,
            // The migration starts a new one-member cluster.
            start: if migrate_from_sqlite {
                Start::New
            } else {
                Start::Restart
            },
        }
    } else if let Some(url) = settings.str("server") {
        let reply = join(url, configured.as_deref(), ip, settings);
        if let (Some(ours), Some(theirs)) = (&configured_agent, &reply.agent_password) {
            if ours != theirs {
                log::fatal(
                    "failed to validate server configuration: critical configuration value \
                     mismatch: agent-token",
                );
            }
        }
        // A card that was another cluster's server before (a restore onto new hardware
        // rejoins such servers) has leaf certificates of other CAs: re-issued, as K3s does.
        tls::replace_cas(data_dir, &reply.bootstrap).unwrap_or_else(|e| log::fatal(&e));
        if let Some(config) = &reply.encryption_config {
            super::encryption::install(data_dir, config).unwrap_or_else(|e| log::fatal(&e));
        }
        Prepared {
            etcd: true,
            migrate_from_sqlite: false,
            password: reply.password,
            agent_password: reply.agent_password.or(configured_agent),
            start: Start::Join {
                endpoint: reply.etcd_endpoint,
            },
        }
    } else {
        tls::ensure_cas(data_dir)
            .unwrap_or_else(|e| log::fatal(&format!("failed to create the CAs: {e}")));
        let etcd = settings.bool("cluster-init");
        if settings.str("datastore-endpoint").is_some() {
            log::warn(
                "k3s-double: --datastore-endpoint is recorded but not modelled; this server \
                 keeps its own etcd",
            );
        }
        Prepared {
            etcd,
            migrate_from_sqlite: false,
            password: configured.unwrap_or_else(|| random_hex(16)),
            agent_password: configured_agent,
            start: Start::New,
        }
    };
    let ca = std::fs::read(tls::server_ca_path(data_dir))
        .unwrap_or_else(|e| fatal_io("read the server CA", e));
    write_tokens(
        data_dir,
        &ca,
        &prepared.password,
        prepared.agent_password.as_deref(),
    )
    .unwrap_or_else(|e| fatal_io("write the token files", e));
    prepared
}

fn fatal_io(what: &str, e: std::io::Error) -> ! {
    log::fatal(&format!("failed to {what}: {e}"))
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
fn join(url: &str, password: Option<&str>, ip: &str, settings: &Settings) -> JoinReply {
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
    let supervisor = supervisor_url(url);
    let ca = crate::agent::fetch_ca(&supervisor, url);
    if let Err(e) = token.check_ca(&ca) {
        log::fatal(&e);
    }
    let body = serde_json::to_vec(&JoinRequest {
        ip: ip.to_string(),
        critical: critical_config(settings),
    })
    .expect("serializes");
    loop {
        match http::call(
            &supervisor,
            "POST",
            JOIN,
            Some(token_text.trim()),
            Some(&body),
        ) {
            Ok(reply) if reply.status == 200 => {
                return serde_json::from_slice(&reply.body)
                    .unwrap_or_else(|e| log::fatal(&format!("bad join reply: {e}")));
            }
            Ok(reply)
                if reply.status == 400
                    && String::from_utf8_lossy(&reply.body).starts_with(CRITICAL_MISMATCH) =>
            {
                log::fatal(&format!(
                    "failed to validate server configuration: {}",
                    String::from_utf8_lossy(&reply.body)
                ))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn critical_settings_are_compared_with_k3s_defaults() {
        let settings = |file: &str| {
            let dir = std::env::temp_dir().join(format!(
                "k3sd-critical-{}-{}",
                std::process::id(),
                crate::encoding::random_hex(4)
            ));
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join("config.yaml"), file).unwrap();
            crate::config::resolve(
                crate::flags::Command::Server,
                &[],
                &|_| None,
                dir.join("config.yaml"),
                &mut |_| {},
            )
            .unwrap()
        };
        let plain = critical_config(&settings("token: t\n"));
        let explicit = critical_config(&settings(
            "cluster-cidr: 10.42.0.0/16\ndisable: [traefik]\n",
        ));
        assert_eq!(critical_mismatch(&plain, &explicit), None);
        let other = critical_config(&settings("service-cidr: 10.96.0.0/12\n"));
        assert_eq!(
            critical_mismatch(&plain, &other).as_deref(),
            Some("service-cidr")
        );
        let no_lb = critical_config(&settings("disable: [traefik, servicelb]\n"));
        assert_eq!(
            critical_mismatch(&plain, &no_lb).as_deref(),
            Some("disable=servicelb")
        );
        let encrypted = critical_config(&settings("secrets-encryption: true\n"));
        assert_eq!(
            critical_mismatch(&plain, &encrypted).as_deref(),
            Some("secrets-encryption")
        );
        // The rest of K3s' list, each against its default.
        assert_eq!(
            critical_mismatch(
                &plain,
                &critical_config(&settings("secrets-encryption-provider: aescbc\n"))
            ),
            None
        );
        for (file, setting) in [
            (
                "secrets-encryption-provider: secretbox\n",
                "secrets-encryption-provider",
            ),
            ("flannel-external-ip: true\n", "flannel-external-ip"),
            (
                "flannel-ip-masq-disable-random-fully: true\n",
                "flannel-ip-masq-disable-random-fully",
            ),
            ("supervisor-metrics: true\n", "supervisor-metrics"),
        ] {
            assert_eq!(
                critical_mismatch(&plain, &critical_config(&settings(file))).as_deref(),
                Some(setting),
                "{file}"
            );
        }
    }
}
