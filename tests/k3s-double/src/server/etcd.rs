//! The server's real etcd member, started as k3s starts its embedded one: TLS for clients
//! and peers from the etcd CAs, data in `server/db/etcd`, its member name in
//! `server/db/etcd/name`. The first server (`--cluster-init`) starts a new cluster; a joining
//! server adds itself as a learner through the existing members (`member add --learner`),
//! starts with the existing cluster and is promoted once it has caught up; a restart uses
//! the data on disk.

use crate::components;
use crate::kube_client::{self, KubeClient};
use crate::tls::{self, Usage};
use crate::{log, node_identity};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub const CLIENT_PORT: u16 = 2379;
pub const PEER_PORT: u16 = 2380;

/// Where a server's member lives and how it is reached.
pub struct Member {
    pub data_dir: PathBuf,
    pub name: String,
    pub ip: String,
}

/// How the member starts.
pub enum Start {
    /// A new one-member cluster.
    New,
    /// Joins the cluster whose member answers at `endpoint` (`https://ip:2379`).
    Join { endpoint: String },
    /// Its data is on disk.
    Restart,
}

impl Member {
    /// The member of this server; its name is made once and kept.
    pub fn new(server_data: &Path, ip: &str) -> Result<Member, String> {
        let data_dir = Self::data_dir_of(server_data);
        let name_file = data_dir.join("name");
        let name = match std::fs::read_to_string(&name_file) {
            Ok(name) if !name.trim().is_empty() => name.trim().to_string(),
            _ => {
                let name = format!(
                    "{}-{}",
                    node_identity::hostname(),
                    crate::encoding::random_hex(4)
                );
                crate::files::write_mode(&name_file, name.as_bytes(), 0o600)
                    .map_err(|e| format!("write {}: {e}", name_file.display()))?;
                name
            }
        };
        Ok(Member {
            data_dir,
            name,
            ip: ip.to_string(),
        })
    }

    /// Where a server's member keeps its data.
    pub fn data_dir_of(server_data: &Path) -> PathBuf {
        server_data.join("server/db/etcd")
    }

    pub fn has_data(&self) -> bool {
        self.data_dir.join("member/wal").exists()
    }

    pub fn client_url(&self) -> String {
        format!("https://{}", join_host_port(&self.ip, CLIENT_PORT))
    }

    pub fn peer_url(&self) -> String {
        format!("https://{}", join_host_port(&self.ip, PEER_PORT))
    }
}

/// The certificates etcd and its clients use; leaf certificates follow the node's address.
pub fn issue_certificates(server_data: &Path, ip: &str) -> Result<(), String> {
    let names = vec![
        "localhost".to_string(),
        "127.0.0.1".to_string(),
        ip.to_string(),
        node_identity::hostname(),
    ];
    tls::issue(
        server_data,
        "etcd/server-ca",
        "etcd/server-client",
        "etcd-server",
        Usage::Peer { names: &names },
    )?;
    tls::issue(
        server_data,
        "etcd/peer-ca",
        "etcd/peer-server-client",
        "etcd-peer",
        Usage::Peer { names: &names },
    )?;
    tls::issue_once(
        server_data,
        "etcd/server-ca",
        "etcd/client",
        "etcd-client",
        Usage::Client { organization: None },
    )
}

/// etcdctl's TLS flags for this server's client certificate.
pub fn etcdctl_tls(server_data: &Path, endpoint: &str) -> Vec<String> {
    let tls = tls::dir(server_data);
    vec![
        format!("--endpoints={endpoint}"),
        format!("--cacert={}", tls.join("etcd/server-ca.crt").display()),
        format!("--cert={}", tls.join("etcd/client.crt").display()),
        format!("--key={}", tls.join("etcd/client.key").display()),
        "--command-timeout=10s".to_string(),
    ]
}

/// Starts the member; returns once it answers `/health` as healthy.
pub fn start(
    server_data: &Path,
    member: &Member,
    start: Start,
    extra_args: &[String],
) -> Result<(), String> {
    let initial_cluster = match &start {
        Start::Join { endpoint } if !member.has_data() => {
            let cluster = add_learner(server_data, member, endpoint)?;
            Some((cluster, "existing"))
        }
        Start::New if !member.has_data() => {
            Some((format!("{}={}", member.name, member.peer_url()), "new"))
        }
        _ => None,
    };
    let mut args = base_args(server_data, member);
    if let Some((cluster, state)) = &initial_cluster {
        args.push(format!("--initial-cluster={cluster}"));
        args.push(format!("--initial-cluster-state={state}"));
    }
    args.extend(
        extra_args
            .iter()
            .map(|a| format!("--{}", a.trim_start_matches('-'))),
    );
    let log_file = server_data.join("server/logs/etcd.log");
    let child = components::spawn("etcd", &args, &log_file)?;
    let data_dir = member.data_dir.clone();
    components::watch_then("etcd", child, log_file.clone(), move |log| {
        super::tombstone::leave_if_removed(&data_dir, log)
    });
    let url_file = crate::snapshot::client_url_file(server_data);
    crate::files::write_mode(&url_file, member.client_url().as_bytes(), 0o600)
        .map_err(|e| format!("write {}: {e}", url_file.display()))?;
    if let (Start::Join { endpoint }, Some(_)) = (&start, &initial_cluster) {
        // A learner serves no client requests: promote it first, through the member it
        // joined by, as k3s waits for promotion before it starts the API server.
        promote(server_data, &member.name, endpoint, &log_file)?;
    }
    wait_healthy(&client(server_data, &member.client_url())?, &log_file)
}

/// The flags every start of the member has: its name, data, URLs and TLS.
fn base_args(server_data: &Path, member: &Member) -> Vec<String> {
    let tls = tls::dir(server_data);
    let file = |rel: &str| tls.join(rel).display().to_string();
    let mut client_urls = vec![member.client_url()];
    if !member.ip.starts_with("127.") {
        client_urls.insert(0, format!("https://127.0.0.1:{CLIENT_PORT}"));
    }
    vec![
        format!("--name={}", member.name),
        format!("--data-dir={}", member.data_dir.display()),
        format!("--listen-client-urls={}", client_urls.join(",")),
        format!("--advertise-client-urls={}", member.client_url()),
        format!("--listen-peer-urls={}", member.peer_url()),
        format!("--initial-advertise-peer-urls={}", member.peer_url()),
        "--client-cert-auth=true".into(),
        format!("--trusted-ca-file={}", file("etcd/server-ca.crt")),
        format!("--cert-file={}", file("etcd/server-client.crt")),
        format!("--key-file={}", file("etcd/server-client.key")),
        "--peer-client-cert-auth=true".into(),
        format!("--peer-trusted-ca-file={}", file("etcd/peer-ca.crt")),
        format!("--peer-cert-file={}", file("etcd/peer-server-client.crt")),
        format!("--peer-key-file={}", file("etcd/peer-server-client.key")),
        // k3s' timings, tuned for SD cards and slow links.
        "--heartbeat-interval=500".into(),
        "--election-timeout=5000".into(),
        "--snapshot-count=10000".into(),
        "--quota-backend-bytes=2147483648".into(),
        "--logger=zap".into(),
        "--log-outputs=stderr".into(),
    ]
}

/// An HTTPS client of an etcd member with this server's etcd client certificate.
pub fn client(server_data: &Path, url: &str) -> Result<KubeClient, String> {
    let tls = tls::dir(server_data);
    KubeClient::from_files(
        url,
        &tls.join("etcd/server-ca.crt"),
        &tls.join("etcd/client.crt"),
        &tls.join("etcd/client.key"),
    )
}

fn wait_healthy(client: &KubeClient, log_file: &Path) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut last = String::new();
    while Instant::now() < deadline {
        match kube_client::json(client.get("/health")) {
            Ok(v) if v["health"] == "true" => {
                log::info("etcd member is healthy");
                return Ok(());
            }
            Ok(v) => last = v.to_string(),
            Err(e) => last = e,
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    Err(format!(
        "etcd did not become healthy within 120 s (last: {last}); see {}",
        log_file.display()
    ))
}

/// `member add --learner` through an existing member; removes an earlier, never started
/// attempt of this member first. Returns the `--initial-cluster` value to start with.
fn add_learner(server_data: &Path, member: &Member, endpoint: &str) -> Result<String, String> {
    let tls = etcdctl_tls(server_data, endpoint);
    let list = components::run(
        "etcdctl",
        &[
            tls.clone(),
            vec!["member".into(), "list".into(), "-w".into(), "json".into()],
        ]
        .concat(),
    )?;
    let list: serde_json::Value =
        serde_json::from_str(&list).map_err(|e| format!("etcdctl member list: {e}"))?;
    for m in list["members"].as_array().into_iter().flatten() {
        let ours = m["peerURLs"]
            .as_array()
            .is_some_and(|urls| urls.iter().any(|u| u == member.peer_url().as_str()));
        if ours {
            let id = format!("{:x}", m["ID"].as_u64().unwrap_or(0));
            log::info(&format!(
                "Removing stale etcd member {id} at {}",
                member.peer_url()
            ));
            components::run(
                "etcdctl",
                &[tls.clone(), vec!["member".into(), "remove".into(), id]].concat(),
            )?;
        }
    }
    log::info(&format!(
        "Adding member {}={} to etcd cluster as a learner",
        member.name,
        member.peer_url()
    ));
    let added = components::run(
        "etcdctl",
        &[
            tls,
            vec![
                "member".into(),
                "add".into(),
                member.name.clone(),
                format!("--peer-urls={}", member.peer_url()),
                "--learner".into(),
            ],
        ]
        .concat(),
    )?;
    added
        .lines()
        .find_map(|l| l.strip_prefix("ETCD_INITIAL_CLUSTER="))
        .map(|v| v.trim_matches('"').to_string())
        .ok_or_else(|| format!("etcdctl member add printed no ETCD_INITIAL_CLUSTER: {added}"))
}

/// Promotes this learner once etcd accepts it (it must have caught up with the leader).
fn promote(server_data: &Path, name: &str, endpoint: &str, log_file: &Path) -> Result<(), String> {
    let tls = etcdctl_tls(server_data, endpoint);
    let etcdctl = |args: &[&str]| {
        let args: Vec<String> = tls
            .iter()
            .cloned()
            .chain(args.iter().map(ToString::to_string))
            .collect();
        components::run("etcdctl", &args)
    };
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut last = String::new();
    while Instant::now() < deadline {
        let list = etcdctl(&["member", "list", "-w", "json"]).and_then(|text| {
            serde_json::from_str::<serde_json::Value>(&text).map_err(|e| e.to_string())
        });
        match list {
            Ok(list) => {
                let ours = list["members"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .find(|m| m["name"] == name);
                match ours {
                    Some(m) if m["isLearner"] != true => {
                        log::info(&format!("etcd member {name} is a voting member"));
                        return Ok(());
                    }
                    Some(m) => {
                        let id = format!("{:x}", m["ID"].as_u64().unwrap_or(0));
                        match etcdctl(&["member", "promote", &id]) {
                            Ok(_) => {
                                log::info(&format!(
                                    "Promoted etcd learner {name} to voting member"
                                ));
                                return Ok(());
                            }
                            Err(e) => last = e,
                        }
                    }
                    None => last = format!("member {name} has not started yet"),
                }
            }
            Err(e) => last = e,
        }
        std::thread::sleep(Duration::from_secs(1));
    }
    Err(format!(
        "etcd learner {name} was not promoted within 120 s (last: {last}); see {}",
        log_file.display()
    ))
}

/// `--cluster-reset`: this member becomes a one-member cluster, from its own data or,
/// with `restore`, from a snapshot (the old data is kept as `db/etcd-old-<unix time>`).
pub fn reset(server_data: &Path, member: &Member, restore: Option<&Path>) -> Result<(), String> {
    match restore {
        Some(snapshot) => {
            if !snapshot.is_file() {
                return Err(format!(
                    "cluster-reset-restore-path {}: no such file",
                    snapshot.display()
                ));
            }
            if member.data_dir.exists() {
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_secs())
                    .unwrap_or(0);
                let old = member.data_dir.with_file_name(format!("etcd-old-{now}"));
                std::fs::rename(&member.data_dir, &old)
                    .map_err(|e| format!("move {} aside: {e}", member.data_dir.display()))?;
                log::info(&format!("Moved the old etcd data to {}", old.display()));
            }
            components::run(
                "etcdutl",
                &[
                    "snapshot".into(),
                    "restore".into(),
                    snapshot.display().to_string(),
                    format!("--data-dir={}", member.data_dir.display()),
                    format!("--name={}", member.name),
                    format!("--initial-cluster={}={}", member.name, member.peer_url()),
                    format!("--initial-advertise-peer-urls={}", member.peer_url()),
                ],
            )
            .map_err(|e| format!("restoring {}: {e}", snapshot.display()))?;
            let name_file = member.data_dir.join("name");
            crate::files::write_mode(&name_file, member.name.as_bytes(), 0o600)
                .map_err(|e| format!("write {}: {e}", name_file.display()))?;
            log::info(&format!(
                "Restored etcd from snapshot {}",
                snapshot.display()
            ));
        }
        None => {
            if !member.has_data() {
                return Err("cluster-reset: this server has no etcd data to reset".into());
            }
            run_with(
                server_data,
                member,
                &["--force-new-cluster".to_string()],
                |_| Ok(()),
            )?;
        }
    }
    let flag = server_data.join("server/db/reset-flag");
    crate::files::write_mode(&flag, b"", 0o600)
        .map_err(|e| format!("write {}: {e}", flag.display()))
}

/// Runs this member's etcd on its data for `work` (with a client of it), then stops it.
pub fn while_running<T>(
    server_data: &Path,
    member: &Member,
    work: impl FnOnce(&KubeClient) -> Result<T, String>,
) -> Result<T, String> {
    run_with(server_data, member, &[], work)
}

fn run_with<T>(
    server_data: &Path,
    member: &Member,
    extra: &[String],
    work: impl FnOnce(&KubeClient) -> Result<T, String>,
) -> Result<T, String> {
    let mut args = extra.to_vec();
    args.extend(base_args(server_data, member));
    let log_file = server_data.join("server/logs/etcd.log");
    let child = components::spawn("etcd", &args, &log_file)?;
    let etcd = client(server_data, &member.client_url());
    let done = etcd.and_then(|etcd| {
        wait_healthy(&etcd, &log_file)?;
        work(&etcd)
    });
    components::end(child, Duration::from_secs(10));
    done
}

pub fn join_host_port(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}
