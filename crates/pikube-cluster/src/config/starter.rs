//! The commented `cluster.toml` that `pikube init` writes: a file that works
//! as it stands once the addresses are edited, and documents every option.

/// The starter file for a cluster called `cluster_name`.
///
/// The name is written as a TOML string, escaped, so the file always parses;
/// whether the name is valid is then reported by [`super::parse`] like any
/// other value.
pub fn starter_file(cluster_name: &str) -> String {
    let name = toml::Value::String(cluster_name.to_owned()).to_string();
    TEMPLATE.replace("@NAME@", &name)
}

const TEMPLATE: &str = r#"# cluster.toml: the Raspberry Pis pikube prepares and the K3s cluster it
# installs on them. `pikube plan` shows what would change; `pikube apply` does it.
# Paths in this file are relative to this file's directory.

[cluster]
# Lowercase letters, digits and '-', at most 63 characters.
name = @NAME@

[ssh]
# How pikube reaches the nodes. Every option is optional: ~/.ssh/config (or
# config_file below), the ssh agent and ProxyJump are honoured as by `ssh`.
# Any of user, port, identity_file and proxy_jump can also be set per node.

# Login user on the Pis (Raspberry Pi OS asks for one at imaging time).
user = "pi"

# Pinned host keys. pikube records each node's key here on first contact and
# refuses to connect if it later changes. Keep this file with cluster.toml.
known_hosts = "known_hosts"

# SSH port, if not 22 or what ssh_config says.
# port = 22

# Private key to log in with; "~/" means your home directory.
# identity_file = "~/.ssh/id_ed25519"

# An ssh_config file to use instead of ~/.ssh/config.
# config_file = "ssh_config"

# Reach the nodes through a gateway (OpenSSH -J syntax; a comma list for
# several hops). A node can opt out with proxy_jump = "".
# proxy_jump = "pi@gateway"

# Seconds to wait for a TCP connection before giving up on a node (1..=300).
# connect_timeout = 10

# Seconds one command on a node may run before pikube stops waiting for it
# and names it (10..=86400). OS upgrades, drains and large uploads get longer.
# command_timeout = 600

# How many nodes are worked on at once (1..=256).
# parallelism = 10

[k3s]
# The K3s release to install on every node, pinned so that re-running pikube
# never upgrades by surprise: v<major>.<minor>.<patch>[-rcN]+k3s<N>.
version = "v1.31.4+k3s1"

# A virtual IP or DNS name in front of the servers (kube-vip, a load balancer,
# a DNS record listing every server). It is added to the API certificate, and
# agents and your kubeconfig reach the API through it rather than through the
# first server. The name or IP alone: pikube adds https:// and port 6443.
# api_endpoint = "k3s.home.arpa"

# More names or IPs to put in the API certificate (K3s' tls-san).
# tls_san = ["10.0.0.100", "pi.example.org"]

# Packaged components K3s should not deploy, from: coredns, servicelb,
# traefik, local-storage, metrics-server, runtimes.
# disable = ["traefik", "servicelb"]

# Extra kubelet flags for every node, as name=value without the leading "--".
# kubelet_args = ["max-pods=50", "eviction-hard=memory.available<100Mi"]

# An external datastore instead of the embedded etcd: postgres://, mysql://,
# or http(s):// for etcd (a comma-separated list of members). The cluster
# state then lives there, so any number of servers works, even 2. It usually
# holds a password: keep this file private. pikube shows it redacted.
# datastore_endpoint = "postgres://k3s:secret@db.home.arpa:5432/k3s"
# Or keep it out of this file: `pikube secrets set datastore_endpoint`, then
# datastore_endpoint_secret = "datastore_endpoint"

# Offline nodes also need the images K3s' system pods run (CoreDNS, pause,
# Traefik...): with this, every node gets the release's image archive for its
# architecture (downloaded once like the binary, checksum-verified) in K3s'
# images directory before K3s starts.
# airgap_images = true

# Air-gapped installs: a local K3s binary per architecture (amd64, arm64,
# armhf), copied to the nodes instead of downloading the release. It must be
# the build for `version`. Nodes of an architecture not listed download it.
# [k3s.binary]
# arm64 = "bin/k3s-arm64"
# armhf = "bin/k3s-armhf"

# Local image archives per architecture (.tar, .tar.zst, .tar.gz...), for a
# controller that is offline too; they imply airgap_images for that one.
# [k3s.images]
# arm64 = "images/k3s-airgap-images-arm64.tar.zst"

# Secrets are kept encrypted (AES-CBC) in K3s' datastore: unset, a new cluster
# gets it on and a running one keeps what it was started with (`pikube plan`
# says which). K3s switches a running cluster only through `k3s secrets-encrypt`,
# which pikube does not run, so a value here that differs is refused.
# secrets_encryption = false

# Pin what each architecture's binary (and image archive) must hash to, taken
# from a source you trust: a mirror serving both a binary and its checksum
# cannot vouch for itself. A download or local file that differs goes nowhere.
# [k3s.sha256]
# arm64 = "<64 hex digits from sha256sum-arm64.txt>"
# [k3s.images_sha256]
# arm64 = "<64 hex digits>"

# Registry mirrors and credentials for every node's containerd (written to
# /etc/rancher/k3s/registries.yaml). A password is never written here:
# password_secret names the secret in secrets.age that holds it
# (pikube secrets set registry.password).
# [k3s.registries.mirrors]
# "docker.io" = ["https://registry.lan:5000"]
# [k3s.registries.configs."registry.lan:5000"]
# username = "pull"
# password_secret = "registry.password"
# ca_file = "registry-ca.pem"   # a registry with its own CA: the PEM, put on every node

# Static addresses: a node whose address has a prefix ("192.168.1.10/24")
# gets that address from `pikube firstboot`, with these settings, and `apply`
# moves a running node to it (from the address it was last reached at): the
# node puts its old configuration back by itself unless pikube reaches it at
# the new one within rollback_after seconds. The gateway is required then, and
# must be inside the node's subnet.
# [network]
# gateway = "192.168.1.1"
# dns = ["192.168.1.1", "1.1.1.1"]
# interface = "eth0"
# rollback_after = 90

# Monitoring: Prometheus, Grafana (port 30300 on any node), node-exporter,
# kube-state-metrics and the Pi health exporter, installed through K3s'
# manifests folder on every server. Grafana's admin password is generated and
# kept in .pikube/ unless grafana_password_secret names one in secrets.age.
# [addons.monitoring]
# retention = "15d"
# storage = "8Gi"
# grafana_password_secret = "grafana.admin"

# Scheduled etcd snapshots, taken by K3s on every server (embedded etcd only:
# two or more servers). Without [backup], K3s' defaults apply: every 12 hours,
# 5 kept. schedule is cron (five fields), @daily, @every 6h, or "off". With
# [backup.s3] each snapshot is also copied to a bucket; its keys are read from
# secrets.age (pikube secrets set backup.s3.access_key / backup.s3.secret_key),
# else from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY where pikube runs.
# [backup]
# schedule = "0 */6 * * *"
# retention = 12
# [backup.s3]
# endpoint = "minio.lan:9000"
# bucket = "k3s-snapshots"
# folder = "homelab"

# One [[nodes]] table per Pi.
#   name     becomes the Pi's hostname and Kubernetes node name:
#            lowercase letters, digits and '-', at most 63 characters.
#   address  IPv4, IPv6, or a host name (DNS or an ssh_config Host alias);
#            an IP with a prefix ("192.168.1.10/24") is also its static address.
#   role     "server" runs the control plane; "agent" runs workloads only.
#            Use 1 or 3 servers (an odd number: etcd needs a majority),
#            or any number with datastore_endpoint.
#   labels   optional Kubernetes labels, e.g. labels = { storage = "ssd" }.
#            The pikube.io/ prefix is pikube's own and cannot be used.
#   taints   optional, as key[=value]:Effect with Effect one of NoSchedule,
#            PreferNoSchedule or NoExecute; pods without a matching
#            toleration are kept off the node.
#   user, port, identity_file, proxy_jump  override [ssh] for this node.

[[nodes]]
name = "pi-server-01"
address = "192.168.1.10"
role = "server"

[[nodes]]
name = "pi-agent-01"
address = "192.168.1.20"
role = "agent"
# user = "ubuntu"
labels = { storage = "ssd" }
# taints = ["dedicated=storage:NoSchedule"]
"#;
