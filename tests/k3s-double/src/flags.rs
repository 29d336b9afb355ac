//! The flags `k3s server` and `k3s agent` accept, with their kinds and env variables:
//! every flag of K3s' `agent` command (`pkg/cli/cmds/agent.go`), so an agent's valid
//! config.yaml is never refused, and the server flags an installer writes (a server skips
//! a key it does not know with a warning, as K3s does, so a missing one is not fatal).
//! Most are accepted and recorded only; the double acts on the few it models.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `--flag`, `--flag=false`; YAML `true`/`false`.
    Bool,
    /// One value; the last one given wins.
    Str,
    /// Repeatable; YAML list; CLI occurrences replace the file's list.
    List,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    Server,
    Agent,
}

#[derive(Debug)]
pub struct Flag {
    pub name: &'static str,
    pub kind: Kind,
    pub env: Option<&'static str>,
    pub short: Option<&'static str>,
    /// Accepted by `k3s agent` too (every flag is accepted by `k3s server`).
    pub agent: bool,
}

const fn f(
    name: &'static str,
    kind: Kind,
    env: Option<&'static str>,
    short: Option<&'static str>,
    agent: bool,
) -> Flag {
    Flag {
        name,
        kind,
        env,
        short,
        agent,
    }
}

use Kind::{Bool, List, Str};

pub const FLAGS: &[Flag] = &[
    // Both commands.
    f("config", Str, Some("K3S_CONFIG_FILE"), Some("c"), true),
    f("debug", Bool, Some("K3S_DEBUG"), None, true),
    f("v", Str, None, None, true),
    f("vmodule", Str, None, None, true),
    f("log", Str, None, Some("l"), true),
    f("alsologtostderr", Bool, None, None, true),
    f("data-dir", Str, Some("K3S_DATA_DIR"), Some("d"), true),
    f("token", Str, Some("K3S_TOKEN"), Some("t"), true),
    f("token-file", Str, Some("K3S_TOKEN_FILE"), None, true),
    f("server", Str, Some("K3S_URL"), Some("s"), true),
    f("node-name", Str, Some("K3S_NODE_NAME"), None, true),
    f("with-node-id", Bool, None, None, true),
    f("node-label", List, None, None, true),
    f("node-taint", List, None, None, true),
    f("node-ip", List, None, Some("i"), true),
    f("node-external-ip", List, None, None, true),
    f("node-internal-dns", List, None, None, true),
    f("node-external-dns", List, None, None, true),
    f("bind-address", Str, None, None, true),
    f("kubelet-arg", List, None, None, true),
    f("kube-proxy-arg", List, None, None, true),
    f("private-registry", Str, None, None, true),
    f("disable-default-registry-endpoint", Bool, None, None, true),
    f("airgap-extra-registry", List, None, None, true),
    f("container-runtime-endpoint", Str, None, None, true),
    f("default-runtime", Str, None, None, true),
    f("image-service-endpoint", Str, None, None, true),
    f("docker", Bool, None, None, true),
    f("system-default-registry", Str, None, None, true),
    f("prefer-bundled-bin", Bool, None, None, true),
    f("protect-kernel-defaults", Bool, None, None, true),
    f("selinux", Bool, Some("K3S_SELINUX"), None, true),
    f("resolv-conf", Str, Some("K3S_RESOLV_CONF"), None, true),
    f("flannel-iface", Str, None, None, true),
    f("flannel-conf", Str, None, None, true),
    f("flannel-cni-conf", Str, None, None, true),
    f("vpn-auth", Str, Some("K3S_VPN_AUTH"), None, true),
    f("vpn-auth-file", Str, Some("K3S_VPN_AUTH_FILE"), None, true),
    f("disable-apiserver-lb", Bool, None, None, true),
    f("enable-pprof", Bool, None, None, true),
    f("rootless", Bool, None, None, true),
    f(
        "lb-server-port",
        Str,
        Some("K3S_LB_SERVER_PORT"),
        None,
        true,
    ),
    f("image-credential-provider-bin-dir", Str, None, None, true),
    f("image-credential-provider-config", Str, None, None, true),
    f("pause-image", Str, None, None, true),
    f("snapshotter", Str, None, None, true),
    // Server only.
    f("agent-token", Str, Some("K3S_AGENT_TOKEN"), None, false),
    f(
        "agent-token-file",
        Str,
        Some("K3S_AGENT_TOKEN_FILE"),
        None,
        false,
    ),
    f("cluster-init", Bool, Some("K3S_CLUSTER_INIT"), None, false),
    f(
        "cluster-reset",
        Bool,
        Some("K3S_CLUSTER_RESET"),
        None,
        false,
    ),
    f("cluster-reset-restore-path", Str, None, None, false),
    f(
        "datastore-endpoint",
        Str,
        Some("K3S_DATASTORE_ENDPOINT"),
        None,
        false,
    ),
    f("advertise-address", Str, None, None, false),
    f("https-listen-port", Str, None, None, false),
    f("tls-san", List, None, None, false),
    f("tls-san-security", Bool, None, None, false),
    f("disable", List, None, None, false),
    f("disable-agent", Bool, None, None, false),
    f("disable-scheduler", Bool, None, None, false),
    f("disable-cloud-controller", Bool, None, None, false),
    f("disable-helm-controller", Bool, None, None, false),
    f("disable-kube-proxy", Bool, None, None, false),
    f("disable-network-policy", Bool, None, None, false),
    f("embedded-registry", Bool, None, None, false),
    f("secrets-encryption", Bool, None, None, false),
    f("secrets-encryption-provider", Str, None, None, false),
    f("supervisor-metrics", Bool, None, None, false),
    f(
        "write-kubeconfig",
        Str,
        Some("K3S_KUBECONFIG_OUTPUT"),
        Some("o"),
        false,
    ),
    f(
        "write-kubeconfig-mode",
        Str,
        Some("K3S_KUBECONFIG_MODE"),
        None,
        false,
    ),
    f(
        "write-kubeconfig-group",
        Str,
        Some("K3S_KUBECONFIG_GROUP"),
        None,
        false,
    ),
    f("kube-apiserver-arg", List, None, None, false),
    f("kube-controller-manager-arg", List, None, None, false),
    f("kube-scheduler-arg", List, None, None, false),
    f("etcd-arg", List, None, None, false),
    f("cluster-cidr", Str, None, None, false),
    f("service-cidr", Str, None, None, false),
    f("cluster-dns", Str, None, None, false),
    f("cluster-domain", Str, None, None, false),
    f("flannel-backend", Str, None, None, false),
    f("flannel-ipv6-masq", Bool, None, None, false),
    f("flannel-external-ip", Bool, None, None, false),
    f(
        "flannel-ip-masq-disable-random-fully",
        Bool,
        None,
        None,
        false,
    ),
    f("egress-selector-mode", Str, None, None, false),
    f("default-local-storage-path", Str, None, None, false),
    f("etcd-disable-snapshots", Bool, None, None, false),
    f("etcd-snapshot-schedule-cron", Str, None, None, false),
    f("etcd-snapshot-retention", Str, None, None, false),
    f("etcd-snapshot-dir", Str, None, None, false),
    f("etcd-expose-metrics", Bool, None, None, false),
    f("etcd-snapshot-name", Str, None, None, false),
    f("etcd-snapshot-compress", Bool, None, None, false),
    f("etcd-s3", Bool, None, None, false),
    f("etcd-s3-endpoint", Str, None, None, false),
    f("etcd-s3-endpoint-ca", Str, None, None, false),
    f("etcd-s3-skip-ssl-verify", Bool, None, None, false),
    f(
        "etcd-s3-access-key",
        Str,
        Some("AWS_ACCESS_KEY_ID"),
        None,
        false,
    ),
    f(
        "etcd-s3-secret-key",
        Str,
        Some("AWS_SECRET_ACCESS_KEY"),
        None,
        false,
    ),
    f("etcd-s3-bucket", Str, None, None, false),
    f("etcd-s3-region", Str, None, None, false),
    f("etcd-s3-folder", Str, None, None, false),
    f("etcd-s3-insecure", Bool, None, None, false),
    f("etcd-s3-timeout", Str, None, None, false),
];

pub fn lookup(name: &str) -> Option<&'static Flag> {
    FLAGS
        .iter()
        .find(|flag| flag.name == name || flag.short == Some(name))
}

/// The flag if `command` accepts it.
pub fn for_command(name: &str, command: Command) -> Option<&'static Flag> {
    lookup(name).filter(|flag| command == Command::Server || flag.agent)
}
