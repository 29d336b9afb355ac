//! The real kube-apiserver and kube-controller-manager, with the flags k3s gives them
//! (authorization Node,RBAC, NodeRestriction, the CAs of its layout, the service-account
//! key, its cluster and service CIDRs), plus what `kube-apiserver-arg` and
//! `kube-controller-manager-arg` add.

use crate::components;
use crate::kube_client::KubeClient;
use crate::tls::{self, Usage};
use crate::{log, node_identity};
use std::path::Path;
use std::time::{Duration, Instant};

pub struct Endpoint {
    /// The address the API server listens on (`0.0.0.0` or `--bind-address`).
    pub bind: String,
    /// The address it advertises to the cluster (the node's address).
    pub advertise: String,
    pub port: u16,
}

impl Endpoint {
    /// Where local clients (kubeconfigs on this node) reach it.
    pub fn local_url(&self) -> String {
        let host = if self.bind == "0.0.0.0" || self.bind == "::" {
            "127.0.0.1"
        } else {
            &self.bind
        };
        format!("https://{}", super::etcd::join_host_port(host, self.port))
    }
}

/// The serving certificate's names: the in-cluster service names, loopback, the node's
/// own names and addresses, and every `--tls-san`.
pub fn serving_names(endpoint: &Endpoint, tls_sans: &[String]) -> Vec<String> {
    let mut names: Vec<String> = [
        "kubernetes",
        "kubernetes.default",
        "kubernetes.default.svc",
        "kubernetes.default.svc.cluster.local",
        "localhost",
        "127.0.0.1",
        "::1",
        "10.43.0.1",
    ]
    .iter()
    .map(ToString::to_string)
    .collect();
    names.push(node_identity::hostname());
    names.push(endpoint.advertise.clone());
    if endpoint.bind != "0.0.0.0" && endpoint.bind != "::" {
        names.push(endpoint.bind.clone());
    }
    names.extend(tls_sans.iter().cloned());
    names
}

/// The certificates of the control plane's own clients and of the serving endpoint.
pub fn issue_certificates(
    data: &Path,
    endpoint: &Endpoint,
    tls_sans: &[String],
) -> Result<(), String> {
    let names = serving_names(endpoint, tls_sans);
    tls::issue(
        data,
        "server-ca",
        "serving-kube-apiserver",
        "kube-apiserver",
        Usage::Server { names: &names },
    )?;
    let clients: [(&str, &str, Option<&str>); 5] = [
        ("client-admin", "system:admin", Some("system:masters")),
        ("client-controller", "system:kube-controller-manager", None),
        ("client-scheduler", "system:kube-scheduler", None),
        (
            "client-supervisor",
            "system:k3s-supervisor",
            Some("system:masters"),
        ),
        (
            "client-kube-apiserver",
            "system:apiserver",
            Some("system:masters"),
        ),
    ];
    for (file, cn, org) in clients {
        tls::issue_once(
            data,
            "client-ca",
            file,
            cn,
            Usage::Client { organization: org },
        )?;
    }
    tls::issue_once(
        data,
        "request-header-ca",
        "client-auth-proxy",
        "system:auth-proxy",
        Usage::Client { organization: None },
    )
}

/// Where the API server keeps its objects.
pub enum Datastore {
    /// The server's etcd member, over TLS with the etcd client certificate.
    Etcd(String),
    /// kine's unix socket (a single server on SQLite), without TLS as in K3s.
    Kine(String),
}

pub fn start_apiserver(
    data: &Path,
    endpoint: &Endpoint,
    datastore: &Datastore,
    extra_args: &[String],
) -> Result<(), String> {
    let tls = tls::dir(data);
    let file = |rel: &str| tls.join(rel).display().to_string();
    let mut args = vec![
        format!("--advertise-address={}", endpoint.advertise),
        format!("--bind-address={}", endpoint.bind),
        format!("--secure-port={}", endpoint.port),
        "--allow-privileged=true".into(),
        "--anonymous-auth=false".into(),
        "--api-audiences=https://kubernetes.default.svc.cluster.local,k3s".into(),
        "--authorization-mode=Node,RBAC".into(),
        "--enable-admission-plugins=NodeRestriction".into(),
        "--enable-aggregator-routing=true".into(),
        format!("--cert-dir={}", file("temporary-certs")),
        format!("--client-ca-file={}", file("client-ca.crt")),
        format!(
            "--kubelet-client-certificate={}",
            file("client-kube-apiserver.crt")
        ),
        format!("--kubelet-client-key={}", file("client-kube-apiserver.key")),
        "--profiling=false".into(),
        format!("--proxy-client-cert-file={}", file("client-auth-proxy.crt")),
        format!("--proxy-client-key-file={}", file("client-auth-proxy.key")),
        "--requestheader-allowed-names=system:auth-proxy".into(),
        format!(
            "--requestheader-client-ca-file={}",
            file("request-header-ca.crt")
        ),
        "--requestheader-extra-headers-prefix=X-Remote-Extra-".into(),
        "--requestheader-group-headers=X-Remote-Group".into(),
        "--requestheader-username-headers=X-Remote-User".into(),
        "--service-account-issuer=https://kubernetes.default.svc.cluster.local".into(),
        format!("--service-account-key-file={}", file("service.pub")),
        format!("--service-account-signing-key-file={}", file("service.key")),
        "--service-cluster-ip-range=10.43.0.0/16".into(),
        "--service-node-port-range=30000-32767".into(),
        "--storage-backend=etcd3".into(),
        format!("--tls-cert-file={}", file("serving-kube-apiserver.crt")),
        format!(
            "--tls-private-key-file={}",
            file("serving-kube-apiserver.key")
        ),
    ];
    match datastore {
        Datastore::Etcd(url) => args.extend([
            format!("--etcd-servers={url}"),
            format!("--etcd-cafile={}", file("etcd/server-ca.crt")),
            format!("--etcd-certfile={}", file("etcd/client.crt")),
            format!("--etcd-keyfile={}", file("etcd/client.key")),
        ]),
        Datastore::Kine(url) => args.push(format!("--etcd-servers={url}")),
    }
    args.extend(
        extra_args
            .iter()
            .map(|a| format!("--{}", a.trim_start_matches('-'))),
    );
    let log_file = data.join("server/logs/kube-apiserver.log");
    let child = components::spawn("kube-apiserver", &args, &log_file)?;
    components::watch("kube-apiserver", child, log_file.clone());
    wait_ready(&admin_client(data, &endpoint.local_url())?, &log_file)
}

/// A client of the API server as the supervisor (group system:masters).
pub fn admin_client(data: &Path, url: &str) -> Result<KubeClient, String> {
    let tls = tls::dir(data);
    KubeClient::from_files(
        url,
        &tls.join("server-ca.crt"),
        &tls.join("client-supervisor.crt"),
        &tls.join("client-supervisor.key"),
    )
}

fn wait_ready(client: &KubeClient, log_file: &Path) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(180);
    let mut last = String::new();
    while Instant::now() < deadline {
        match client.get("/readyz") {
            Ok(reply) if reply.status == 200 => {
                log::info("kube-apiserver is ready");
                return Ok(());
            }
            Ok(reply) => {
                last = format!(
                    "{} {}",
                    reply.status,
                    String::from_utf8_lossy(&reply.body).trim()
                )
            }
            Err(e) => last = e.to_string(),
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    Err(format!(
        "kube-apiserver not ready within 180 s (last: {last}); see {}",
        log_file.display()
    ))
}

pub fn start_controller_manager(
    data: &Path,
    endpoint: &Endpoint,
    extra_args: &[String],
) -> Result<(), String> {
    let tls = tls::dir(data);
    let file = |rel: &str| tls.join(rel).display().to_string();
    let own = vec![
        "--allocate-node-cidrs=true".into(),
        "--cluster-cidr=10.42.0.0/16".into(),
        format!(
            "--cluster-signing-kube-apiserver-client-cert-file={}",
            file("client-ca.crt")
        ),
        format!(
            "--cluster-signing-kube-apiserver-client-key-file={}",
            file("client-ca.key")
        ),
        format!(
            "--cluster-signing-kubelet-client-cert-file={}",
            file("client-ca.crt")
        ),
        format!(
            "--cluster-signing-kubelet-client-key-file={}",
            file("client-ca.key")
        ),
        format!(
            "--cluster-signing-kubelet-serving-cert-file={}",
            file("server-ca.crt")
        ),
        format!(
            "--cluster-signing-kubelet-serving-key-file={}",
            file("server-ca.key")
        ),
        format!(
            "--cluster-signing-legacy-unknown-cert-file={}",
            file("server-ca.crt")
        ),
        format!(
            "--cluster-signing-legacy-unknown-key-file={}",
            file("server-ca.key")
        ),
        "--configure-cloud-routes=false".into(),
        "--controllers=*,tokencleaner,-service,-route,-cloud-node-lifecycle".into(),
        format!("--root-ca-file={}", file("server-ca.crt")),
        format!("--service-account-private-key-file={}", file("service.key")),
        "--use-service-account-credentials=true".into(),
    ];
    start_client(
        "kube-controller-manager",
        "controller",
        10257,
        data,
        endpoint,
        own,
        extra_args,
    )
}

/// The real kube-scheduler, as K3s runs it on every server (unless `--disable-scheduler`):
/// it binds pods to nodes, one leader among the servers at a time.
pub fn start_scheduler(
    data: &Path,
    endpoint: &Endpoint,
    extra_args: &[String],
) -> Result<(), String> {
    start_client(
        "kube-scheduler",
        "scheduler",
        10259,
        data,
        endpoint,
        Vec::new(),
        extra_args,
    )
}

/// Starts `program`, a client of the local API server with its own certificate
/// (`client-<name>`, in `server/cred/<name>.kubeconfig` as K3s keeps it), serving its
/// health on `port`, with its `own` flags and the user's `extra_args` after them.
fn start_client(
    program: &'static str,
    name: &str,
    port: u16,
    data: &Path,
    endpoint: &Endpoint,
    own: Vec<String>,
    extra_args: &[String],
) -> Result<(), String> {
    let tls = tls::dir(data);
    let kubeconfig = data.join(format!("server/cred/{name}.kubeconfig"));
    write_kubeconfig(
        &kubeconfig,
        &endpoint.local_url(),
        &tls.join("server-ca.crt"),
        &tls.join(format!("client-{name}.crt")),
        &tls.join(format!("client-{name}.key")),
    )?;
    let kubeconfig = kubeconfig.display().to_string();
    // Its own HTTPS port must not collide between servers sharing one address in tests.
    let bind = if endpoint.bind == "0.0.0.0" || endpoint.bind == "::" {
        "127.0.0.1".to_string()
    } else {
        endpoint.bind.clone()
    };
    let mut args = vec![
        format!("--kubeconfig={kubeconfig}"),
        format!("--authentication-kubeconfig={kubeconfig}"),
        format!("--authorization-kubeconfig={kubeconfig}"),
        format!("--bind-address={bind}"),
        format!("--secure-port={port}"),
        "--profiling=false".into(),
    ];
    args.extend(own);
    args.extend(
        extra_args
            .iter()
            .map(|a| format!("--{}", a.trim_start_matches('-'))),
    );
    let log_file = data.join(format!("server/logs/{program}.log"));
    let child = components::spawn(program, &args, &log_file)?;
    components::watch(program, child, log_file);
    Ok(())
}

/// A kubeconfig that names certificate files (as k3s' `server/cred/*.kubeconfig` do).
pub fn write_kubeconfig(
    path: &Path,
    server: &str,
    ca: &Path,
    cert: &Path,
    key: &Path,
) -> Result<(), String> {
    let text = format!(
        "apiVersion: v1
clusters:
- cluster:
    certificate-authority: {ca}
    server: {server}
  name: local
contexts:
- context:
    cluster: local
    namespace: default
    user: user
  name: Default
current-context: Default
kind: Config
preferences: {{}}
users:
- name: user
  user:
    client-certificate: {cert}
    client-key: {key}
",
        ca = ca.display(),
        cert = cert.display(),
        key = key.display(),
    );
    crate::files::write_mode(path, text.as_bytes(), 0o600)
        .map_err(|e| format!("write {}: {e}", path.display()))
}
