//! The text of every file a k3s node gets: config.yaml, the registration drop-in, the
//! env file, the systemd unit and the helper scripts. Pure functions of the desired node.

use yaml_serde::{Mapping, Value};

use super::paths::{Service, BINARY};
use crate::config::{BackupSettings, K3sVersion, SnapshotSchedule};

/// How a node takes part in the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Membership {
    /// The first server. `cluster_init`: start embedded etcd (more servers will join).
    Init {
        /// Start embedded etcd.
        cluster_init: bool,
    },
    /// The first server of a running cluster on embedded etcd, in the place of the server
    /// that started it (gone for good): on etcd data of its own it neither starts a cluster
    /// nor joins one (K3s would ignore both), so its config.yaml says neither.
    Successor,
    /// Another server, joining through `url`.
    JoinServer {
        /// The first server's supervisor URL.
        url: String,
    },
    /// An agent, joining through `url`.
    Agent {
        /// The API endpoint (or first server) URL.
        url: String,
    },
}

impl Membership {
    /// The service it runs.
    pub fn service(&self) -> Service {
        match self {
            Membership::Init { .. } | Membership::Successor | Membership::JoinServer { .. } => {
                Service::Server
            }
            Membership::Agent { .. } => Service::Agent,
        }
    }
}

/// Server-wide settings from cluster.toml's `[k3s]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServerOptions {
    /// Extra names and addresses for the API server's certificate.
    pub tls_san: Vec<String>,
    /// Packaged components not to deploy (`traefik`, `servicelb`...).
    pub disable: Vec<String>,
    /// Serve embedded etcd's metrics on the node's address (port 2381) for the monitoring
    /// add-on's Prometheus; K3s keeps them on 127.0.0.1 otherwise.
    pub etcd_metrics: bool,
    /// `[backup]`: K3s' scheduled snapshots (embedded etcd only); `None`: K3s' defaults.
    pub backup: Option<BackupSettings>,
}

/// What config.yaml says for one node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeConfig<'a> {
    pub cluster: &'a str,
    pub node: &'a str,
    pub node_ip: Option<std::net::IpAddr>,
    pub membership: &'a Membership,
    pub server: &'a ServerOptions,
    /// A server keeps Secrets encrypted in the datastore (K3s' `secrets-encryption`),
    /// decided for the whole cluster (`secrets_encryption.rs`).
    pub secrets_encryption: bool,
    pub kubelet_args: &'a [String],
}

/// How config.yaml written by pikube starts (the cluster's name follows).
pub const CONFIG_HEADER: &str = "# Managed by pikube for cluster";

/// Whether two config.yaml texts differ only in how the node joins (`server`,
/// `cluster-init`), which K3s ignores on a server whose etcd data is on disk.
pub fn differ_only_in_joining(old: &str, new: &str) -> bool {
    let rest = |text: &str| -> Vec<String> {
        text.lines()
            .filter(|l| !l.starts_with("server:") && !l.starts_with("cluster-init:"))
            .map(str::to_owned)
            .collect()
    };
    rest(old) == rest(new)
}

pub fn config_yaml(c: &NodeConfig<'_>) -> String {
    let mut map = Mapping::new();
    let mut put = |key: &str, value: Value| {
        map.insert(Value::from(key), value);
    };
    put("node-name", c.node.into());
    if let Some(ip) = c.node_ip {
        put("node-ip", ip.to_string().into());
    }
    match c.membership {
        Membership::Init { cluster_init } => {
            if *cluster_init {
                put("cluster-init", true.into());
            }
        }
        Membership::Successor => {}
        Membership::JoinServer { url } | Membership::Agent { url } => {
            put("server", url.as_str().into())
        }
    }
    if c.membership.service() == Service::Server {
        // Only root may read the admin kubeconfig; `pikube kubeconfig` fetches it.
        put("write-kubeconfig-mode", "0600".into());
        if !c.server.tls_san.is_empty() {
            put("tls-san", list(&c.server.tls_san));
        }
        if !c.server.disable.is_empty() {
            put("disable", list(&c.server.disable));
        }
        if c.secrets_encryption {
            put("secrets-encryption", true.into());
        }
        let embedded_etcd = matches!(
            c.membership,
            Membership::Init { cluster_init: true }
                | Membership::Successor
                | Membership::JoinServer { .. }
        );
        if c.server.etcd_metrics && embedded_etcd {
            put("etcd-expose-metrics", true.into());
        }
        if let Some(backup) = c.server.backup.as_ref().filter(|_| embedded_etcd) {
            match &backup.schedule {
                SnapshotSchedule::Cron(cron) => {
                    put("etcd-snapshot-schedule-cron", cron.as_str().into())
                }
                SnapshotSchedule::Off => put("etcd-disable-snapshots", true.into()),
            }
            if let Some(retention) = backup.retention {
                put("etcd-snapshot-retention", retention.into());
            }
            // The keys go to the env file (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY).
            if let Some(s3) = &backup.s3 {
                put("etcd-s3", true.into());
                if let Some(endpoint) = &s3.endpoint {
                    put("etcd-s3-endpoint", endpoint.as_str().into());
                }
                put("etcd-s3-bucket", s3.bucket.as_str().into());
                if let Some(region) = &s3.region {
                    put("etcd-s3-region", region.as_str().into());
                }
                if let Some(folder) = &s3.folder {
                    put("etcd-s3-folder", folder.as_str().into());
                }
                if s3.insecure {
                    put("etcd-s3-insecure", true.into());
                }
            }
        }
    }
    if !c.kubelet_args.is_empty() {
        put("kubelet-arg", list(c.kubelet_args));
    }
    with_header(
        &format!(
            "{CONFIG_HEADER} {}: `pikube apply` rewrites this file from\n\
             # cluster.toml, and restarts k3s when it changes.\n",
            c.cluster
        ),
        map,
    )
}

/// Labels and taints for k3s to set on the node. k3s re-applies the labels at every start
/// (adding or overwriting, never removing) and the taints only when the node first
/// registers, so pikube keeps the live node in step itself; this file is also its record
/// of which labels and taints it set (to remove them when cluster.toml drops one).
///
/// Where the release takes them (`version`), the keys append (`node-label+:`), so labels
/// and taints an operator's own config file or earlier drop-in sets are kept beside
/// pikube's rather than replaced (audit F13).
pub fn registration_yaml(
    labels: &[(String, String)],
    taints: &[String],
    version: K3sVersion,
) -> String {
    let suffix = if version.appends_config_lists() {
        "+"
    } else {
        ""
    };
    let mut map = Mapping::new();
    let labels: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    map.insert(format!("node-label{suffix}").into(), list(&labels));
    if !taints.is_empty() {
        map.insert(format!("node-taint{suffix}").into(), list(taints));
    }
    let header = if suffix.is_empty() {
        "# Managed by pikube. k3s applies the labels at every start and the taints when the\n\
         # node first registers; pikube applies changes to the live node, so editing them\n\
         # restarts nothing. This K3s release has no `key+:` appends: these lists replace\n\
         # any node-label or node-taint set in config.yaml or an earlier drop-in.\n"
    } else {
        "# Managed by pikube. k3s applies the labels at every start and the taints when the\n\
         # node first registers; pikube applies changes to the live node, so editing them\n\
         # restarts nothing. The `+` appends to node-label / node-taint set in config.yaml\n\
         # or an earlier drop-in; a later drop-in with a plain `node-label:` replaces all.\n"
    };
    with_header(header, map)
}

/// Parses a registration file back: the labels and taints pikube set last time (written
/// with appending keys or, for older releases and older pikube, plain ones).
pub fn parse_registration(text: &str) -> (Vec<(String, String)>, Vec<String>) {
    let value: Value = yaml_serde::from_str(text).unwrap_or(Value::Null);
    let strings = |key: &str| -> Vec<String> {
        value
            .get(format!("{key}+"))
            .or_else(|| value.get(key))
            .and_then(Value::as_sequence)
            .map(|items| {
                items
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    };
    let labels = strings("node-label")
        .into_iter()
        .filter_map(|l| l.split_once('=').map(|(k, v)| (k.to_owned(), v.to_owned())))
        .collect();
    (labels, strings("node-taint"))
}

/// The keys of `[backup.s3]`, as looked up for the servers' env files.
#[derive(Clone, PartialEq, Eq)]
pub struct S3Credentials {
    /// The access key id.
    pub access_key: String,
    /// The secret access key.
    pub secret_key: String,
}

impl std::fmt::Debug for S3Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("S3Credentials(<redacted>)")
    }
}

/// What a server's env file holds beyond its token; agents get none of it.
#[derive(Debug, Clone, Copy)]
pub struct ServerEnv<'a> {
    /// K3s' `agent-token`, identical on every server.
    pub agent_token: &'a str,
    pub datastore_endpoint: Option<&'a str>,
    pub s3: Option<&'a S3Credentials>,
}

/// The env file's content: secrets only, which is why it, not config.yaml, holds them.
/// Agents get only a token made of the agent token, never the server token.
pub fn env_file(token: &str, server: Option<ServerEnv<'_>>) -> String {
    let mut out = String::from("# Managed by pikube: secrets for k3s. Mode 0600.\n");
    out.push_str(&format!("K3S_TOKEN={}\n", env_quote(token)));
    if let Some(server) = server {
        out.push_str(&format!(
            "K3S_AGENT_TOKEN={}\n",
            env_quote(server.agent_token)
        ));
        if let Some(endpoint) = server.datastore_endpoint {
            out.push_str(&format!("K3S_DATASTORE_ENDPOINT={}\n", env_quote(endpoint)));
        }
        // K3s reads --etcd-s3-access-key and --etcd-s3-secret-key from these.
        if let Some(s3) = server.s3 {
            out.push_str(&format!(
                "AWS_ACCESS_KEY_ID={}\n",
                env_quote(&s3.access_key)
            ));
            out.push_str(&format!(
                "AWS_SECRET_ACCESS_KEY={}\n",
                env_quote(&s3.secret_key)
            ));
        }
    }
    out
}

/// systemd's EnvironmentFile syntax: inside double quotes, `\` escapes `"`, `\` and `$`
/// is taken literally (no expansion happens in environment files).
fn env_quote(value: &str) -> String {
    format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\""))
}

/// The unit, with the directives k3s' install.sh writes (KillMode=process keeps pods
/// running across a k3s restart; Type=notify: active means k3s said it is ready).
pub fn unit_file(service: Service) -> String {
    format!(
        "# Managed by pikube.\n\
         [Unit]\n\
         Description=Lightweight Kubernetes\n\
         Documentation=https://k3s.io\n\
         Wants=network-online.target\n\
         After=network-online.target\n\
         \n\
         [Install]\n\
         WantedBy=multi-user.target\n\
         \n\
         [Service]\n\
         Type=notify\n\
         EnvironmentFile=-/etc/default/%N\n\
         EnvironmentFile=-/etc/sysconfig/%N\n\
         EnvironmentFile=-{env}\n\
         KillMode=process\n\
         Delegate=yes\n\
         User=root\n\
         LimitNOFILE=1048576\n\
         LimitNPROC=infinity\n\
         LimitCORE=infinity\n\
         TasksMax=infinity\n\
         TimeoutStartSec=0\n\
         Restart=always\n\
         RestartSec=5s\n\
         ExecStartPre=-/sbin/modprobe br_netfilter\n\
         ExecStartPre=-/sbin/modprobe overlay\n\
         ExecStart={BINARY} {command}\n",
        env = service.env_path(),
        command = service.command(),
    )
}

pub const KILLALL_SCRIPT: &str = include_str!("scripts/killall.sh");

pub fn uninstall_script(service: Service) -> String {
    include_str!("scripts/uninstall.sh").replace("@SERVICE@", service.name())
}

fn list(items: &[String]) -> Value {
    Value::Sequence(items.iter().map(|i| Value::from(i.as_str())).collect())
}

pub(super) fn with_header(header: &str, map: Mapping) -> String {
    let mut body = String::new();
    for (key, value) in &map {
        let key = key.as_str().unwrap_or_default();
        match value {
            Value::Sequence(items) => {
                body.push_str(&format!("{key}:\n"));
                for item in items {
                    body.push_str(&format!("- {}\n", scalar(item)));
                }
            }
            other => body.push_str(&format!("{key}: {}\n", scalar(other))),
        }
    }
    format!("{header}{body}")
}

/// One scalar as k3s must read it back. k3s parses config files as YAML 1.1, where plain
/// `y`, `n`, `yes`, `no`, `on` and `off` are booleans (`node-name: on` would register a node
/// called `true`); yaml_serde speaks YAML 1.2 and leaves them plain, so those are quoted
/// here. Everything else is written as yaml_serde writes it.
fn scalar(value: &Value) -> String {
    if let Some(text) = value.as_str() {
        let yaml11_bool = matches!(
            text.to_ascii_lowercase().as_str(),
            "y" | "n" | "yes" | "no" | "on" | "off"
        );
        if yaml11_bool {
            return format!("\"{text}\"");
        }
    }
    // A string or a boolean always serialises.
    yaml_serde::to_string(value)
        .unwrap_or_default()
        .trim_end()
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// config.yaml of node `pi-1` in cluster `lab`, read back.
    fn yaml_of(server: &ServerOptions, membership: &Membership) -> Value {
        let text = config_yaml(&NodeConfig {
            node_ip: None,
            cluster: "lab",
            node: "pi-1",
            membership,
            server,
            secrets_encryption: false,
            kubelet_args: &[],
        });
        yaml_serde::from_str(&text).unwrap()
    }

    fn server() -> ServerOptions {
        ServerOptions {
            tls_san: vec!["k3s.home.arpa".into()],
            disable: vec!["traefik".into()],
            etcd_metrics: false,
            backup: None,
        }
    }

    #[test]
    fn backup_settings_reach_servers_on_embedded_etcd_only_and_read_back_as_written() {
        let s3 = crate::config::S3Target {
            endpoint: Some("minio.lan:9000".into()),
            bucket: "snaps".into(),
            region: Some("eu-west-1".into()),
            folder: Some("lab".into()),
            insecure: true,
            access_key_secret: crate::secrets::SecretKey::parse("a").unwrap(),
            secret_key_secret: crate::secrets::SecretKey::parse("b").unwrap(),
        };
        let yaml = |schedule: &str, membership: &Membership| {
            let server = ServerOptions {
                backup: Some(BackupSettings {
                    schedule: schedule.parse().unwrap(),
                    retention: Some(12),
                    s3: Some(s3.clone()),
                }),
                ..server()
            };
            yaml_of(&server, membership)
        };
        let etcd = Membership::Init { cluster_init: true };
        for schedule in ["*/15 * * * *", "@every 10s", "0 */6 * * *"] {
            let value = yaml(schedule, &etcd);
            assert_eq!(value["etcd-snapshot-schedule-cron"], schedule);
            assert_eq!(value["etcd-snapshot-retention"], 12);
            assert_eq!(value["etcd-s3"], true);
            assert_eq!(value["etcd-s3-endpoint"], "minio.lan:9000");
            assert_eq!(value["etcd-s3-bucket"], "snaps");
            assert_eq!(value["etcd-s3-region"], "eu-west-1");
            assert_eq!(value["etcd-s3-folder"], "lab");
            assert_eq!(value["etcd-s3-insecure"], true);
            assert!(value.get("etcd-disable-snapshots").is_none());
        }
        let join = Membership::JoinServer {
            url: "https://10.0.0.1:6443".into(),
        };
        let off = yaml("off", &join);
        assert_eq!(off["etcd-disable-snapshots"], true);
        assert!(off.get("etcd-snapshot-schedule-cron").is_none());
        // The server in the place of the one that started the cluster: etcd's settings,
        // and neither joining nor starting a cluster.
        let successor = yaml("@every 10s", &Membership::Successor);
        assert_eq!(successor["etcd-snapshot-schedule-cron"], "@every 10s");
        assert!(successor.get("server").is_none() && successor.get("cluster-init").is_none());
        for elsewhere in [
            Membership::Init {
                cluster_init: false,
            },
            Membership::Agent {
                url: "https://10.0.0.1:6443".into(),
            },
        ] {
            let value = yaml("@daily", &elsewhere);
            let keys: Vec<&str> = value
                .as_mapping()
                .unwrap()
                .keys()
                .filter_map(Value::as_str)
                .filter(|k| k.starts_with("etcd-"))
                .collect();
            assert!(keys.is_empty(), "{elsewhere:?}: {keys:?}");
        }
    }

    #[test]
    fn etcd_metrics_are_exposed_only_where_etcd_runs() {
        let server = ServerOptions {
            etcd_metrics: true,
            ..server()
        };
        let exposed = |membership: &Membership| {
            yaml_of(&server, membership)
                .get("etcd-expose-metrics")
                .cloned()
        };
        let url = "https://10.0.0.1:6443".to_owned();
        assert_eq!(
            exposed(&Membership::Init { cluster_init: true }),
            Some(Value::Bool(true))
        );
        assert_eq!(
            exposed(&Membership::JoinServer { url: url.clone() }),
            Some(Value::Bool(true))
        );
        // A lone server keeps its data in SQLite, and an agent runs no etcd.
        assert_eq!(
            exposed(&Membership::Init {
                cluster_init: false
            }),
            None
        );
        assert_eq!(exposed(&Membership::Agent { url }), None);
    }

    #[test]
    fn the_first_of_several_servers_initialises_etcd() {
        let text = config_yaml(&NodeConfig {
            node_ip: None,
            cluster: "lab",
            node: "pi-1",
            membership: &Membership::Init { cluster_init: true },
            server: &server(),
            secrets_encryption: false,
            kubelet_args: &["max-pods=50".into()],
        });
        let value: Value = yaml_serde::from_str(&text).unwrap();
        assert_eq!(value["node-name"], "pi-1");
        assert_eq!(value["cluster-init"], true);
        assert_eq!(value["write-kubeconfig-mode"], "0600");
        assert_eq!(value["tls-san"][0], "k3s.home.arpa");
        assert_eq!(value["disable"][0], "traefik");
        assert_eq!(value["kubelet-arg"][0], "max-pods=50");
        assert!(value.get("server").is_none());
        assert!(text.starts_with("# Managed by pikube for cluster lab"));
    }

    #[test]
    fn a_static_address_is_the_node_ip_and_none_is_left_to_k3s() {
        let with = |node_ip: Option<std::net::IpAddr>| {
            let text = config_yaml(&NodeConfig {
                node_ip,
                cluster: "lab",
                node: "pi-2",
                membership: &Membership::Agent {
                    url: "https://10.0.0.1:6443".into(),
                },
                server: &server(),
                secrets_encryption: false,
                kubelet_args: &[],
            });
            yaml_serde::from_str::<Value>(&text).unwrap()
        };
        assert_eq!(
            with(Some("10.0.0.60".parse().unwrap()))["node-ip"],
            "10.0.0.60"
        );
        assert!(with(None).get("node-ip").is_none());
    }

    #[test]
    fn a_node_named_like_a_yaml_1_1_boolean_stays_a_name() {
        for name in ["on", "off", "y", "n", "yes", "no", "On", "NO"] {
            let text = config_yaml(&NodeConfig {
                node_ip: None,
                cluster: "lab",
                node: name,
                membership: &Membership::Agent {
                    url: "https://10.0.0.1:6443".into(),
                },
                server: &server(),
                secrets_encryption: false,
                kubelet_args: &[],
            });
            assert!(text.contains(&format!("node-name: \"{name}\"\n")), "{text}");
        }
    }

    #[test]
    fn every_other_value_is_written_as_before_so_no_node_restarts_for_it() {
        let mut map = Mapping::new();
        map.insert("node-name".into(), "pi-1".into());
        map.insert("cluster-init".into(), true.into());
        map.insert("server".into(), "https://10.0.0.1:6443".into());
        map.insert("write-kubeconfig-mode".into(), "0600".into());
        map.insert(
            "tls-san".into(),
            list(&[
                "k3s.home.arpa".into(),
                "10.0.0.1".into(),
                "2001:db8::1".into(),
            ]),
        );
        map.insert(
            "kubelet-arg".into(),
            list(&[
                "max-pods=50".into(),
                "eviction-hard=memory.available<5%".into(),
            ]),
        );
        map.insert(
            "node-label".into(),
            list(&[
                "pikube.io/arch=arm64".into(),
                "zone=".into(),
                "a=true".into(),
            ]),
        );
        map.insert(
            "node-taint".into(),
            list(&["dedicated=db:NoSchedule".into()]),
        );
        let before = yaml_serde::to_string(&Value::Mapping(map.clone())).unwrap();
        assert_eq!(with_header("", map), before);
    }

    /// killall's `unmount_and_remove`, run as root in a private mount namespace on a
    /// scratch tree: a volume that cannot be unmounted (busy) keeps its data, one that was
    /// unmounted is removed, and the directory itself stays (as upstream's killall does).
    #[test]
    fn killall_removes_only_what_it_unmounted() {
        let function = KILLALL_SCRIPT
            .split("unmount_and_remove() {")
            .nth(1)
            .and_then(|rest| rest.split("\n}\n").next())
            .expect("killall.sh defines unmount_and_remove");
        let dir = tempfile::tempdir().unwrap();
        let pods = dir.path().join("pods");
        let script = format!(
            r#"unmount_and_remove() {{{function}
}}
mkdir -p {pods}/busy {pods}/idle
mount -t tmpfs tmpfs {pods}/busy; mount -t tmpfs tmpfs {pods}/idle
echo data > {pods}/busy/volume; echo data > {pods}/idle/volume
(cd {pods}/busy && exec sleep 30) >/dev/null 2>&1 & holder=$!
sleep 0.2
unmount_and_remove {pods}
kill $holder
cat {pods}/busy/volume
test -e {pods}/idle && echo idle-kept || echo idle-removed
test -d {pods} && echo dir-kept
"#,
            pods = pods.display()
        );
        let out = std::process::Command::new("unshare")
            .args(["--mount", "--propagation", "private", "sh", "-c", &script])
            .output()
            .expect("unshare (util-linux) runs; the suite runs as root");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(stdout, "data\nidle-removed\ndir-kept\n");
    }

    /// Run by someone else than root, the scripts go through sudo, handing K3S_DATA_DIR on
    /// only when it is set (a sudoers without SETENV refuses any variable otherwise). A fake
    /// sudo shows what sudo would be asked.
    #[test]
    fn the_scripts_ask_sudo_for_a_variable_only_when_one_is_set() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let sudo = dir.path().join("sudo");
        std::fs::write(&sudo, "#!/bin/sh\nprintf '%s|' \"$@\"\n").unwrap();
        std::fs::set_permissions(&sudo, std::fs::Permissions::from_mode(0o755)).unwrap();
        let scripts = [
            ("killall", KILLALL_SCRIPT.to_owned()),
            ("uninstall", uninstall_script(Service::Agent)),
        ];
        for (name, text) in scripts {
            let script = dir.path().join(name);
            std::fs::write(&script, text).unwrap();
            std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
            let asked = |data_dir: Option<&str>| {
                let mut command = std::process::Command::new("setpriv");
                command
                    .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
                    .arg(&script)
                    .arg("--flag")
                    .env_clear()
                    .env("PATH", format!("{}:/usr/bin:/bin", dir.path().display()));
                if let Some(data_dir) = data_dir {
                    command.env("K3S_DATA_DIR", data_dir);
                }
                let out = command.output().expect("setpriv (util-linux) runs as root");
                assert!(out.status.success(), "{name}: {out:?}");
                String::from_utf8(out.stdout).unwrap()
            };
            let path = script.display();
            assert_eq!(asked(None), format!("{path}|--flag|"), "{name}");
            assert_eq!(
                asked(Some("/srv/k3s")),
                format!("K3S_DATA_DIR=/srv/k3s|{path}|--flag|"),
                "{name}"
            );
        }
    }

    #[test]
    fn agents_get_the_url_and_no_server_settings() {
        let text = config_yaml(&NodeConfig {
            node_ip: None,
            cluster: "lab",
            node: "pi-4",
            membership: &Membership::Agent {
                url: "https://10.0.0.1:6443".into(),
            },
            server: &server(),
            secrets_encryption: false,
            kubelet_args: &[],
        });
        let value: Value = yaml_serde::from_str(&text).unwrap();
        assert_eq!(value["server"], "https://10.0.0.1:6443");
        for key in ["tls-san", "disable", "cluster-init", "kubelet-arg"] {
            assert!(value.get(key).is_none(), "{key} in {text}");
        }
    }

    #[test]
    fn registration_appends_where_the_release_can_and_round_trips_either_way() {
        let labels = vec![("pikube.io/storage".to_owned(), "sd".to_owned())];
        let taints = vec!["dedicated=db:NoSchedule".to_owned()];
        let version = |v: &str| v.parse::<K3sVersion>().unwrap();
        let current = registration_yaml(&labels, &taints, version("v1.34.4+k3s1"));
        let old = registration_yaml(&labels, &taints, version("v1.21.5+k3s1"));
        let keys = |text: &str| -> Vec<String> {
            let value: Value = yaml_serde::from_str(text).unwrap();
            let map = value.as_mapping().unwrap();
            map.keys().map(|k| k.as_str().unwrap().to_owned()).collect()
        };
        assert_eq!(keys(&current), ["node-label+", "node-taint+"], "{current}");
        assert_eq!(keys(&old), ["node-label", "node-taint"], "{old}");
        for text in [&current, &old] {
            assert_eq!(parse_registration(text), (labels.clone(), taints.clone()));
        }
        assert_eq!(parse_registration("not: [yaml"), (vec![], vec![]));
    }

    #[test]
    fn env_values_are_quoted_for_systemd() {
        let s3 = S3Credentials {
            access_key: "AKIA$X".into(),
            secret_key: r#"s"e\c"#.into(),
        };
        let text = env_file(
            "K10ab::server:x",
            Some(ServerEnv {
                agent_token: "agent",
                datastore_endpoint: Some(r#"postgres://u:p"a\b@db/k3s"#),
                s3: Some(&s3),
            }),
        );
        assert!(text.contains("K3S_TOKEN=\"K10ab::server:x\"\n"));
        assert!(text.contains("K3S_AGENT_TOKEN=\"agent\"\n"));
        assert!(text.contains(r#"K3S_DATASTORE_ENDPOINT="postgres://u:p\"a\\b@db/k3s""#));
        assert!(text.contains("AWS_ACCESS_KEY_ID=\"AKIA$X\"\n"));
        assert!(text.contains(r#"AWS_SECRET_ACCESS_KEY="s\"e\\c""#));
        assert_eq!(format!("{s3:?}"), "S3Credentials(<redacted>)");
        let agent = env_file("K10ab::agent", None);
        assert!(
            !agent.contains("AGENT_TOKEN") && !agent.contains("AWS"),
            "{agent}"
        );
    }

    #[test]
    fn the_unit_runs_the_right_command_with_its_env_file() {
        let unit = unit_file(Service::Agent);
        assert!(unit.contains("ExecStart=/usr/local/bin/k3s agent\n"));
        assert!(unit.contains("EnvironmentFile=-/etc/systemd/system/k3s-agent.service.env\n"));
        assert!(unit.contains("Type=notify\n"));
        assert!(uninstall_script(Service::Agent).contains("systemctl disable k3s-agent\n"));
    }
}
