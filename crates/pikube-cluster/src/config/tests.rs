//! Whole-file tests: exact typed values, and every error class at its exact
//! `line:column` and field path.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::load::parse_with_home;
use super::*;
use crate::secrets::SecretKey;

const HOME: &str = "/home/me";

fn parse_at(text: &str, path: &str) -> Result<Loaded, ConfigError> {
    parse_with_home(text, Path::new(path), Some(Path::new(HOME)))
}

fn loaded(text: &str) -> Loaded {
    match parse_at(text, "lab/cluster.toml") {
        Ok(l) => l,
        Err(e) => panic!("expected a valid file, got:\n{e}"),
    }
}

/// Each problem as displayed, in the order reported.
fn errors(text: &str) -> Vec<String> {
    match parse_at(text, "cluster.toml") {
        Ok(_) => panic!("expected errors for:\n{text}"),
        Err(e) => e.to_string().lines().map(str::to_owned).collect(),
    }
}

fn warnings(text: &str) -> Vec<String> {
    loaded(text)
        .warnings
        .iter()
        .map(ToString::to_string)
        .collect()
}

const HEAD: &str = r#"[cluster]
name = "homelab"

[k3s]
version = "v1.31.4+k3s1"
"#;

/// `HEAD` (5 lines) and a blank line, then `nodes`: node text starts on line 7.
fn with_nodes(nodes: &str) -> String {
    format!("{HEAD}\n{nodes}")
}

fn node(name: &str, address: &str, role: &str) -> String {
    format!("[[nodes]]\nname = \"{name}\"\naddress = \"{address}\"\nrole = \"{role}\"\n")
}

#[test]
fn full_file_gives_exact_values() {
    let text = r#"[cluster]
name = "homelab"

[ssh]
user = "pi"
port = 2222
identity_file = "~/.ssh/id_ed25519"
config_file = "ssh_config"
known_hosts = "keys/known_hosts"
proxy_jump = "pi@gateway"
connect_timeout = 30
command_timeout = 1200
parallelism = 4

[k3s]
version = "v1.32.0-rc2+k3s1"

[[nodes]]
name = "pi-master-01"
address = "192.168.1.10"
role = "server"
proxy_jump = ""

[[nodes]]
name = "pi-worker-01"
address = "pi-worker-01.lan"
role = "agent"
user = "ubuntu"
port = 22
identity_file = "worker_key"
labels = { storage = "ssd", "example.com/tier" = "" }
"#;
    let Loaded { config, warnings } = loaded(text);
    assert!(warnings.is_empty());
    assert_eq!(config.path, PathBuf::from("lab/cluster.toml"));
    assert_eq!(config.dir(), Path::new("lab"));
    assert_eq!(config.name.as_ref(), "homelab");

    let ssh = &config.ssh;
    assert_eq!(ssh.user.as_deref(), Some("pi"));
    assert_eq!(ssh.port, Some(2222));
    assert_eq!(
        ssh.identity_file,
        Some(PathBuf::from("/home/me/.ssh/id_ed25519"))
    );
    assert_eq!(ssh.config_file, Some(PathBuf::from("lab/ssh_config")));
    assert_eq!(ssh.known_hosts, PathBuf::from("lab/keys/known_hosts"));
    assert_eq!(ssh.proxy_jump.as_deref(), Some("pi@gateway"));
    assert_eq!(ssh.connect_timeout, Duration::from_secs(30));
    assert_eq!(ssh.command_timeout, Duration::from_secs(1200));
    assert_eq!(ssh.parallelism, 4);

    assert_eq!(
        config.k3s.version,
        K3sVersion {
            major: 1,
            minor: 32,
            patch: 0,
            rc: Some(2),
            k3s: 1
        }
    );
    assert_eq!(config.k3s.version.to_string(), "v1.32.0-rc2+k3s1");

    let [server, agent] = &config.nodes[..] else {
        panic!("two nodes expected: {:?}", config.nodes)
    };
    assert_eq!(server.name.as_ref(), "pi-master-01");
    assert_eq!(
        server.address,
        Address::Ip(IpAddr::V4(Ipv4Addr::new(192, 168, 1, 10)))
    );
    assert_eq!(server.role, Role::Server);
    // Inherited from [ssh], except the proxy_jump it switched off.
    assert_eq!(server.user.as_deref(), Some("pi"));
    assert_eq!(server.port, Some(2222));
    assert_eq!(
        server.identity_file,
        Some(PathBuf::from("/home/me/.ssh/id_ed25519"))
    );
    assert_eq!(server.proxy_jump, None);
    assert!(server.labels.is_empty());

    assert_eq!(agent.address, Address::Host("pi-worker-01.lan".into()));
    assert_eq!(agent.role, Role::Agent);
    assert_eq!(agent.user.as_deref(), Some("ubuntu"));
    assert_eq!(agent.port, Some(22));
    assert_eq!(agent.identity_file, Some(PathBuf::from("lab/worker_key")));
    assert_eq!(agent.proxy_jump.as_deref(), Some("pi@gateway"));
    let labels: BTreeMap<String, String> = agent
        .labels
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    assert_eq!(
        labels,
        BTreeMap::from([
            ("example.com/tier".to_owned(), String::new()),
            ("storage".to_owned(), "ssd".to_owned()),
        ])
    );

    assert_eq!(config.servers().count(), 1);
    assert_eq!(
        config.agents().next().map(|n| n.name.as_ref()),
        Some("pi-worker-01")
    );
    assert!(config.node("pi-master-01").is_some());
    assert!(config.node("nope").is_none());
}

#[test]
fn defaults_when_ssh_is_absent() {
    let config = loaded(&with_nodes(&node("a", "10.0.0.1", "server"))).config;
    let ssh = &config.ssh;
    assert_eq!(ssh.user, None);
    assert_eq!(ssh.port, None);
    assert_eq!(ssh.identity_file, None);
    assert_eq!(ssh.config_file, None);
    assert_eq!(ssh.known_hosts, PathBuf::from("lab/known_hosts"));
    assert_eq!(ssh.proxy_jump, None);
    assert_eq!(ssh.connect_timeout, Duration::from_secs(10));
    assert_eq!(ssh.command_timeout, Duration::from_secs(600));
    assert_eq!(ssh.parallelism, 10);
    assert_eq!(config.nodes[0].user, None);
}

#[test]
fn paths_beside_a_bare_file_name_stay_relative() {
    let text = format!(
        "{HEAD}[ssh]\nidentity_file = \"key\"\n{}",
        node("a", "10.0.0.1", "server")
    );
    let config = parse_at(&text, "cluster.toml").unwrap().config;
    assert_eq!(config.dir(), Path::new("."));
    assert_eq!(config.ssh.known_hosts, PathBuf::from("known_hosts"));
    assert_eq!(config.ssh.identity_file, Some(PathBuf::from("key")));
}

#[test]
fn tilde_without_home_is_an_error() {
    let text = format!(
        "{HEAD}[ssh]\nidentity_file = \"~/.ssh/id\"\n{}",
        node("a", "10.0.0.1", "server")
    );
    let err = parse_with_home(&text, Path::new("cluster.toml"), None).unwrap_err();
    assert_eq!(
        err.to_string(),
        "cluster.toml:7:17: ssh.identity_file: \"~/.ssh/id\": ~ needs $HOME, which is not set"
    );
}

#[test]
fn bad_addresses() {
    let text = with_nodes(
        &[
            node("a", "192.168.1.300", "server"),
            node("b", "10.0.0", "agent"),
            node("c", "-bad-.host", "agent"),
            node("d", "", "agent"),
            node("e", "pi 01", "agent"),
        ]
        .concat(),
    );
    assert_eq!(
        errors(&text),
        [
            "cluster.toml:9:11: nodes[0].address: \"192.168.1.300\" is not a valid IPv4 address (octet 300 is over 255)",
            "cluster.toml:13:11: nodes[1].address: \"10.0.0\" is not a valid IPv4 address (it has 3 parts; IPv4 has 4, like 192.168.1.10)",
            "cluster.toml:17:11: nodes[2].address: \"-bad-.host\" is not a valid host name (label \"-bad-\" starts or ends with '-')",
            "cluster.toml:21:11: nodes[3].address: \"\" is not a valid address (it is empty)",
            "cluster.toml:25:11: nodes[4].address: \"pi 01\" is not a valid address (it contains whitespace)",
        ]
    );
}

#[test]
fn bad_k3s_versions() {
    for (version, hint) in [
        ("1.31.4", "it must start with 'v'"),
        ("v1.31", "it lacks the +k3sN suffix"),
        ("v1.31.4+k3s", "+k3s must be followed by a number"),
        ("latest", "a channel name is not a pinned version"),
    ] {
        let text = format!(
            "[cluster]\nname = \"x\"\n[k3s]\nversion = \"{version}\"\n{}",
            node("a", "10.0.0.1", "server")
        );
        assert_eq!(
            errors(&text),
            [format!(
                "cluster.toml:4:11: k3s.version: \"{version}\" is not a K3s version: {hint}; \
                 expected v<major>.<minor>.<patch>[-rcN]+k3s<N>, e.g. \"v1.31.4+k3s1\""
            )]
        );
    }
}

#[test]
fn bad_names() {
    let text = "[cluster]\nname = \"Home Lab\"\n[k3s]\nversion = \"v1.31.4+k3s1\"\n\
                [[nodes]]\nname = \"pi_01\"\naddress = \"10.0.0.1\"\nrole = \"server\"\n";
    assert_eq!(
        errors(text),
        [
            "cluster.toml:2:8: cluster.name: \"Home Lab\" is not a valid cluster name: uppercase 'H' is not allowed (hostnames are lowercase)",
            "cluster.toml:6:8: nodes[0].name: \"pi_01\" is not a valid node name: '_' is not allowed; use lowercase letters, digits and '-'",
        ]
    );
}

#[test]
fn duplicates_point_at_the_second_and_name_the_first() {
    let text = with_nodes(
        &[
            node("pi-01", "10.0.0.1", "server"),
            node("pi-02", "10.0.0.2", "agent"),
            node("pi-01", "10.0.0.1", "agent"),
            node("pi-03", "PI-02.lan", "agent"),
            node("pi-04", "pi-02.lan.", "agent"),
        ]
        .concat(),
    );
    assert_eq!(
        errors(&text),
        [
            "cluster.toml:16:8: nodes[2].name: duplicate node name \"pi-01\"; nodes[0] at line 8 already has it",
            "cluster.toml:17:11: nodes[2].address: duplicate address \"10.0.0.1\"; nodes[0] at line 9 already has it",
            "cluster.toml:25:11: nodes[4].address: duplicate address \"pi-02.lan\"; nodes[3] at line 21 already has it",
        ]
    );
}

#[test]
fn no_server() {
    let text = with_nodes(
        &[
            node("a", "10.0.0.1", "agent"),
            node("b", "10.0.0.2", "agent"),
        ]
        .concat(),
    );
    assert_eq!(
        errors(&text),
        ["cluster.toml:7:1: nodes: no node has role = \"server\"; K3s needs at least one server to run the control plane"]
    );
}

#[test]
fn a_bad_role_does_not_also_claim_no_server() {
    let text = with_nodes(&node("a", "10.0.0.1", "master"));
    assert_eq!(
        errors(&text),
        ["cluster.toml:10:8: nodes[0].role: \"master\" is not a role; K3s calls control-plane nodes \"server\""]
    );
}

#[test]
fn missing_and_empty_nodes() {
    assert_eq!(
        errors(HEAD),
        ["cluster.toml:1:1: nodes: no nodes; add a [[nodes]] table for each Pi, at least one with role = \"server\""]
    );
    assert_eq!(
        errors(&format!("nodes = []\n{HEAD}")),
        ["cluster.toml:1:9: nodes: the node list is empty; add a [[nodes]] table for each Pi"]
    );
}

#[test]
fn missing_required_keys_point_at_their_table() {
    let text = "[cluster]\n\n[k3s]\n\n[[nodes]]\nport = 22\n";
    assert_eq!(
        errors(text),
        [
            "cluster.toml:1:1: cluster.name: missing required key `name`, e.g. name = \"homelab\"",
            "cluster.toml:3:1: k3s.version: missing required key `version`, e.g. version = \"v1.31.4+k3s1\"",
            "cluster.toml:5:1: nodes[0].name: missing required key `name`, e.g. name = \"pi-worker-01\"",
            "cluster.toml:5:1: nodes[0].address: missing required key `address`, e.g. address = \"192.168.1.20\"",
            "cluster.toml:5:1: nodes[0].role: missing required key `role`, e.g. role = \"agent\"",
        ]
    );
    assert_eq!(
        errors(""),
        [
            "cluster.toml:1:1: cluster: missing [cluster] table, e.g. [cluster] name = \"homelab\"",
            "cluster.toml:1:1: k3s: missing [k3s] table, e.g. [k3s] version = \"v1.31.4+k3s1\"",
            "cluster.toml:1:1: nodes: no nodes; add a [[nodes]] table for each Pi, at least one with role = \"server\"",
        ]
    );
}

#[test]
fn out_of_range_numbers() {
    let text = format!(
        "{HEAD}[ssh]\nport = 0\nconnect_timeout = 301\nparallelism = 0\ncommand_timeout = 5\n\n[[nodes]]\n\
         name = \"a\"\naddress = \"10.0.0.1\"\nrole = \"server\"\nport = 65536\n"
    );
    assert_eq!(
        errors(&text),
        [
            "cluster.toml:7:8: ssh.port: 0 is out of range; a port must be 1..=65535",
            "cluster.toml:8:19: ssh.connect_timeout: 301 is out of range; the timeout in seconds must be 1..=300",
            "cluster.toml:9:15: ssh.parallelism: 0 is out of range; the number of nodes worked on at once must be 1..=256",
            "cluster.toml:10:19: ssh.command_timeout: 5 is out of range; the command timeout in seconds must be 10..=86400",
            "cluster.toml:16:8: nodes[0].port: 65536 is out of range; a port must be 1..=65535",
        ]
    );
}

#[test]
fn bad_labels() {
    let text = with_nodes(&format!(
        "{}labels = {{ \"-x\" = \"ok\", good = \"bad value\", \"node-role.kubernetes.io/worker\" = \"true\" }}\n",
        node("a", "10.0.0.1", "server")
    ));
    assert_eq!(
        errors(&text),
        [
            "cluster.toml:11:12: nodes[0].labels.-x: \"-x\" is not a valid label key: it must start and end with a letter or digit",
            "cluster.toml:11:32: nodes[0].labels.good: \"bad value\" is not a valid label value: ' ' is not allowed; use letters, digits, '.', '_' and '-'",
            "cluster.toml:11:45: nodes[0].labels.\"node-role.kubernetes.io/worker\": \"node-role.kubernetes.io/worker\" \
             is in a namespace kubelet reserves (kubernetes.io, k8s.io), so the node would fail to start; \
             use your own prefix, e.g. \"example.com/worker\", or node.kubernetes.io/",
        ]
    );
}

#[test]
fn many_problems_at_once_sorted_by_position() {
    let text = "[k3s]\nversion = \"latest\"\n\n[cluster]\nname = \"-lab\"\n\n[ssh]\nuser = \"a b\"\n\n\
                [[nodes]]\nname = \"ok\"\naddress = \"1.2.3.4.5\"\nrole = \"agent\"\nproxy_jump = \"gw:0\"\n";
    assert_eq!(
        errors(text),
        [
            "cluster.toml:2:11: k3s.version: \"latest\" is not a K3s version: a channel name is not a pinned version; expected v<major>.<minor>.<patch>[-rcN]+k3s<N>, e.g. \"v1.31.4+k3s1\"",
            "cluster.toml:5:8: cluster.name: \"-lab\" is not a valid cluster name: it must not start with '-'",
            "cluster.toml:8:8: ssh.user: \"a b\": a user name cannot contain whitespace",
            "cluster.toml:10:1: nodes: no node has role = \"server\"; K3s needs at least one server to run the control plane",
            "cluster.toml:12:11: nodes[0].address: \"1.2.3.4.5\" is not a valid IPv4 address (it has 5 parts; IPv4 has 4, like 192.168.1.10)",
            "cluster.toml:14:14: nodes[0].proxy_jump: \"gw:0\" is not a valid jump host list: hop \"gw:0\" has port \"0\"; use 1..=65535",
        ]
    );
}

#[test]
fn unknown_keys_suggest_the_close_one() {
    let text = with_nodes("[[nodes]]\nname = \"a\"\nadress = \"10.0.0.1\"\n");
    assert_eq!(
        errors(&text),
        ["cluster.toml:9:1: nodes[0].adress: unknown key `adress`; did you mean `address`?"]
    );
    let text = format!("{HEAD}[ssh]\nProxyJump = \"gw\"\n");
    assert_eq!(
        errors(&text),
        ["cluster.toml:7:1: ssh.ProxyJump: unknown key `ProxyJump`; did you mean `proxy_jump`?"]
    );
    let text = format!("{HEAD}[[node]]\n");
    assert_eq!(
        errors(&text),
        ["cluster.toml:6:3: node: unknown key `node`; did you mean `nodes`?"]
    );
    assert_eq!(
        errors("[cluster]\ncolour = 1\n"),
        ["cluster.toml:2:1: cluster.colour: unknown key `colour`; the only key here is `name`"]
    );
    // An implicit parent table: toml points at its name in the header.
    assert_eq!(
        errors("[k3s.channel]\n"),
        [
            "cluster.toml:1:2: k3s: unknown key `channel`; expected one of `version`, \
          `api_endpoint`, `tls_san`, `disable`, `kubelet_args`, `datastore_endpoint`, `datastore_endpoint_secret`, `binary`, `airgap_images`, `secrets_encryption`, `images`, `sha256`, `images_sha256`, `registries`"
        ]
    );
    let text = format!("{HEAD}tls_sans = []\n");
    assert_eq!(
        errors(&text),
        ["cluster.toml:6:1: k3s.tls_sans: unknown key `tls_sans`; did you mean `tls_san`?"]
    );
    let text = format!("{HEAD}kubelet-args = []\n");
    assert_eq!(
        errors(&text),
        ["cluster.toml:6:1: k3s.kubelet-args: unknown key `kubelet-args`; did you mean `kubelet_args`?"]
    );
    let text = with_nodes("[[nodes]]\ntaint = []\n");
    assert_eq!(
        errors(&text),
        ["cluster.toml:8:1: nodes[0].taint: unknown key `taint`; did you mean `taints`?"]
    );
}

#[test]
fn syntax_and_type_errors() {
    assert_eq!(
        errors("[cluster\nname = \"x\"\n"),
        ["cluster.toml:1:9: invalid table header: expected `.`, `]`"]
    );
    assert_eq!(
        errors("[cluster]\nname = 5\n"),
        ["cluster.toml:2:8: cluster.name: invalid type: integer `5`, expected a string"]
    );
    assert_eq!(
        errors(&with_nodes("[[nodes]]\nname = \"a\"\nport = \"22\"\n")),
        ["cluster.toml:9:8: nodes[0].port: invalid type: string \"22\", expected an integer"]
    );
    assert_eq!(
        errors("[nodes]\nname = \"a\"\n"),
        ["cluster.toml:1:1: nodes: invalid type: map, expected a sequence; write each node as its own [[nodes]] table (double brackets)"]
    );
    assert_eq!(
        errors("[[cluster]]\nname = \"a\"\n"),
        ["cluster.toml:1:1: cluster: this is an array; write one [cluster] table (single brackets)"]
    );
    assert_eq!(
        errors("cluster = 5\n"),
        ["cluster.toml:1:11: cluster: invalid type: integer `5`, expected a table"]
    );
}

fn servers_and_agents(servers: usize) -> String {
    let nodes: String = (0..servers)
        .map(|i| node(&format!("s{i}"), &format!("10.0.0.{}", i + 1), "server"))
        .chain(std::iter::once(node("w", "10.0.1.1", "agent")))
        .collect();
    with_nodes(&nodes)
}

#[test]
fn even_server_counts_warn() {
    assert_eq!(warnings(&servers_and_agents(1)), Vec::<String>::new());
    assert_eq!(warnings(&servers_and_agents(3)), Vec::<String>::new());
    assert_eq!(
        warnings(&servers_and_agents(2)),
        ["lab/cluster.toml:14:8: nodes[1].role: 2 servers: etcd needs a majority, so they tolerate 0 failures, \
          no more than 1 would; use an odd number such as 3"]
    );
    assert_eq!(
        warnings(&servers_and_agents(4)),
        ["lab/cluster.toml:22:8: nodes[3].role: 4 servers: etcd needs a majority, so they tolerate 1 failure, \
          no more than 3 would; use an odd number such as 3 or 5"]
    );
}

#[test]
fn starter_file_parses_cleanly() {
    let text = starter_file("homelab");
    let Loaded { config, warnings } = loaded(&text);
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(config.name.as_ref(), "homelab");
    assert_eq!(config.servers().count(), 1);
    assert_eq!(config.agents().count(), 1);
    assert_eq!(config.ssh.known_hosts, PathBuf::from("lab/known_hosts"));
    // Every option is documented, even those left commented out.
    for key in [
        "user",
        "port",
        "identity_file",
        "config_file",
        "known_hosts",
        "proxy_jump",
        "connect_timeout",
        "command_timeout",
        "parallelism",
        "labels",
        "api_endpoint",
        "tls_san",
        "disable",
        "kubelet_args",
        "datastore_endpoint",
        "arm64",
        "taints",
        "retention",
        "storage",
        "grafana_password_secret",
    ] {
        assert!(text.contains(&format!("{key} = ")), "{key} is not shown");
    }
}

#[test]
fn starter_file_escapes_the_name() {
    let err = parse_at(&starter_file("a\"b"), "cluster.toml").unwrap_err();
    let [d] = err.diagnostics() else {
        panic!("one problem expected: {err}")
    };
    assert_eq!(d.field, "cluster.name");
}

#[test]
fn no_panic_on_odd_input() {
    for text in [
        "\u{feff}",
        "\0",
        "[",
        "]]",
        "=",
        "nodes = [1]",
        "nodes = [[]]",
        "[[nodes]]\nlabels = []",
        "ssh = 1",
        "[ssh]\nport = -1",
        "[ssh]\nport = 9223372036854775807",
        "k3s.version = 1",
        "[[nodes]]\nname = \"\u{e9}\"",
        "cluster = []",
        "nodes = [{}]",
        "[k3s]\ndisable = [1]",
        "[k3s]\ndisable = \"traefik\"",
        "[k3s]\ntls_san = [[]]",
        "[k3s]\nkubelet_args = [\"=\", \"-\", \"--\", \"\u{e9}=\u{e9}\"]",
        "[k3s]\ndatastore_endpoint = \"\u{e9}://@@\"",
        "[k3s]\ndatastore_endpoint = \"://\"",
        "[k3s]\napi_endpoint = \"[\"",
        "[k3s]\napi_endpoint = \"[]:1\"",
        "[k3s.binary]\n\"\" = \"\"",
        "[k3s]\nbinary = []",
        "[[nodes]]\ntaints = [\":\", \"=:\", \"::\", \"a=:\"]",
    ] {
        let _ = parse_at(text, "cluster.toml");
    }
}

/// A cluster directory with real files for `[k3s.binary]` to point at.
struct Dir {
    dir: tempfile::TempDir,
}

impl Dir {
    fn new(files: &[&str]) -> Dir {
        let dir = tempfile::tempdir().unwrap();
        for file in files {
            let path = dir.path().join(file);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, "").unwrap();
        }
        Dir { dir }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// `text` as `<dir>/cluster.toml`, with `$HOME` at `<dir>/home`.
    fn parse(&self, text: &str) -> Result<Loaded, ConfigError> {
        parse_with_home(text, &self.path("cluster.toml"), Some(&self.path("home")))
    }
}

#[test]
fn k3s_settings_give_exact_values() {
    let dir = Dir::new(&["bin/k3s-arm64", "home/k3s-armhf"]);
    let text = r#"[cluster]
name = "homelab"

[k3s]
version = "v1.31.4+k3s1"
api_endpoint = "k3s.home.arpa"
tls_san = ["10.0.0.100", "pi.example.org", "[fd00::1]", "k3s.home.arpa"]
disable = ["traefik", "servicelb", "local-storage"]
kubelet_args = ["max-pods=50", "eviction-hard=memory.available<100Mi"]
datastore_endpoint = "postgres://k3s:s3cret@db:5432/k3s"

[k3s.binary]
arm64 = "bin/k3s-arm64"
armhf = "~/k3s-armhf"

[[nodes]]
name = "a"
address = "10.0.0.1"
role = "server"
"#;
    let Loaded { config, warnings } = dir.parse(text).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    let k3s = &config.k3s;
    assert_eq!(
        k3s.api_endpoint,
        Some(Address::Host("k3s.home.arpa".into()))
    );
    let shown = |v: &[&Address]| v.iter().map(ToString::to_string).collect::<Vec<_>>();
    assert_eq!(
        shown(&k3s.tls_san.iter().collect::<Vec<_>>()),
        ["10.0.0.100", "pi.example.org", "fd00::1", "k3s.home.arpa"]
    );
    // The endpoint first, and only once.
    assert_eq!(
        shown(&k3s.tls_sans()),
        ["k3s.home.arpa", "10.0.0.100", "pi.example.org", "fd00::1"]
    );
    assert_eq!(
        k3s.disable.iter().copied().collect::<Vec<_>>(),
        [
            K3sComponent::Servicelb,
            K3sComponent::Traefik,
            K3sComponent::LocalStorage
        ]
    );
    let args: Vec<(&str, &str)> = k3s
        .kubelet_args
        .iter()
        .map(|a| (a.name(), a.value()))
        .collect();
    assert_eq!(
        args,
        [
            ("max-pods", "50"),
            ("eviction-hard", "memory.available<100Mi")
        ]
    );
    let datastore = k3s
        .datastore
        .as_ref()
        .and_then(ExternalDatastore::endpoint)
        .unwrap();
    assert_eq!(datastore.expose(), "postgres://k3s:s3cret@db:5432/k3s");
    assert_eq!(datastore.to_string(), "postgres://***@db:5432/k3s");
    assert_eq!(
        k3s.binaries,
        BTreeMap::from([
            (Arch::Arm64, dir.path("bin/k3s-arm64")),
            (Arch::Armhf, dir.path("home/k3s-armhf")),
        ])
    );
    assert_eq!(k3s.binary(Arch::Amd64), None);

    // Nothing of the password in any output form.
    let json = serde_json::to_string(&config).unwrap();
    assert!(!json.contains("s3cret"), "{json}");
    assert!(!format!("{config:?}").contains("s3cret"));
}

#[test]
fn k3s_settings_default_to_empty() {
    let k3s = loaded(&with_nodes(&node("a", "10.0.0.1", "server")))
        .config
        .k3s;
    assert_eq!(k3s.api_endpoint, None);
    assert!(k3s.tls_san.is_empty());
    assert!(k3s.tls_sans().is_empty());
    assert!(k3s.disable.is_empty());
    assert!(k3s.kubelet_args.is_empty());
    assert!(k3s.datastore.is_none());
    assert!(k3s.binaries.is_empty());
}

#[test]
fn bad_k3s_settings_are_reported_together() {
    let text = format!(
        r#"[cluster]
name = "x"
[k3s]
version = "v1.31.4+k3s1"
api_endpoint = "https://k3s.home.arpa"
tls_san = ["10.0.0.1:6443", "pi.lan", "PI.lan."]
disable = ["traefik", "traefic", "traefik"]
kubelet_args = ["--max-pods=50", "ok=1", "fail-swap-on"]
datastore_endpoint = "postgresql://k3s:s3cret@db/k3s"
{}"#,
        node("a", "10.0.0.1", "server")
    );
    let errors = errors(&text);
    assert_eq!(
        errors,
        [
            "cluster.toml:5:16: k3s.api_endpoint: \"https://k3s.home.arpa\" is not a valid API address \
             (no scheme: write \"k3s.home.arpa\" alone; pikube adds https:// and the port)",
            "cluster.toml:6:12: k3s.tls_san[0]: \"10.0.0.1:6443\" is not a valid certificate name \
             (no port: write \"10.0.0.1\" alone; K3s serves the API on port 6443)",
            "cluster.toml:6:39: k3s.tls_san[2]: duplicate name \"PI.lan.\"; k3s.tls_san[1] already has it",
            "cluster.toml:7:23: k3s.disable[1]: \"traefic\" is not a component K3s can disable; \
             did you mean \"traefik\"?",
            "cluster.toml:7:34: k3s.disable[2]: duplicate component \"traefik\"; k3s.disable[0] already has it",
            "cluster.toml:8:17: k3s.kubelet_args[0]: \"--max-pods=50\" is not a kubelet argument: \
             write max-pods=50, not --max-pods=50",
            "cluster.toml:8:42: k3s.kubelet_args[2]: \"fail-swap-on\" is not a kubelet argument: \
             write name=value, e.g. \"max-pods=50\"; a boolean flag needs its value too, \
             e.g. \"fail-swap-on=true\"",
            "cluster.toml:9:22: k3s.datastore_endpoint: \"postgresql://***@db/k3s\" is not a \
             datastore endpoint: K3s takes postgres://, not postgresql://",
        ]
    );
    assert!(!errors.concat().contains("s3cret"));
}

#[test]
fn the_datastore_endpoint_may_be_kept_in_the_secrets_file() {
    let with = |lines: &str| {
        format!(
            "{HEAD}{lines}\n{}{}",
            node("a", "10.0.0.1", "server"),
            node("b", "10.0.0.2", "server")
        )
    };
    let config = loaded(&with("datastore_endpoint_secret = \"k3s.datastore\"")).config;
    assert_eq!(
        config.k3s.datastore,
        Some(ExternalDatastore::InSecret(
            SecretKey::parse("k3s.datastore").unwrap()
        ))
    );
    // Two servers on an external datastore: no embedded etcd, so no quorum warning.
    assert_eq!(config.datastore(), DatastoreKind::External);

    assert_eq!(
        errors(&with(
            "datastore_endpoint = \"postgres://k3s:pw@db/k3s\"\n\
             datastore_endpoint_secret = \"k3s.datastore\""
        )),
        [
            "cluster.toml:7:29: k3s.datastore_endpoint_secret: give the endpoint once: either \
          datastore_endpoint, or the name of the secret in secrets.age that holds it here"
        ]
    );
    assert_eq!(
        errors(&with("datastore_endpoint_secret = \"db password\"")),
        [
            "cluster.toml:6:29: k3s.datastore_endpoint_secret: \"db password\" is not a secret \
          name: dotted words of letters, digits, '_' and '-', e.g. sudo_password or \
          nodes.pi-1.sudo_password"
        ]
    );
}

#[test]
fn a_list_written_as_one_value() {
    assert_eq!(
        errors(&format!("{HEAD}disable = \"traefik\"\n")),
        ["cluster.toml:6:11: k3s.disable: invalid type: string \"traefik\", expected a sequence; \
          write a list, e.g. disable = [\"...\"]"]
    );
}

#[test]
fn binaries_must_exist_and_be_known_architectures() {
    let dir = Dir::new(&["bin/k3s"]);
    std::fs::create_dir_all(dir.path("bin/k3s-arm64")).unwrap();
    let text = format!(
        "{HEAD}\n[k3s.binary]\namd64 = \"bin/k3s\"\narm64 = \"bin/k3s-arm64\"\n\
         armhf = \"bin/missing\"\naarch64 = \"bin/k3s\"\nriscv = \"bin/k3s\"\n{}",
        node("a", "10.0.0.1", "server")
    );
    let err = dir.parse(&text).unwrap_err();
    let file = dir.path("cluster.toml");
    let got: Vec<String> = err.to_string().lines().map(str::to_owned).collect();
    let want =
        |line: usize, col: usize, rest: String| format!("{}:{line}:{col}: {rest}", file.display());
    assert_eq!(
        got,
        [
            // The table's keys come sorted, but errors are in file order.
            want(
                9,
                9,
                format!(
                    "k3s.binary.arm64: {}: is a directory, not a file",
                    dir.path("bin/k3s-arm64").display()
                )
            ),
            want(
                10,
                9,
                format!(
                    "k3s.binary.armhf: {}: no such file",
                    dir.path("bin/missing").display()
                )
            ),
            want(
                11,
                1,
                "k3s.binary.aarch64: \"aarch64\" is not an architecture K3s publishes; \
                 K3s calls it \"arm64\""
                    .into()
            ),
            want(
                12,
                1,
                "k3s.binary.riscv: \"riscv\" is not an architecture K3s publishes; \
                 expected \"amd64\", \"arm64\" or \"armhf\""
                    .into()
            ),
        ]
    );
}

#[test]
fn a_binary_path_resolves_like_identity_file() {
    let dir = Dir::new(&["home/k3s", "k3s-armhf"]);
    let text = format!(
        "{HEAD}\n[k3s.binary]\namd64 = \"~/k3s\"\narmhf = \"k3s-armhf\"\narm64 = \"~\"\n{}",
        node("a", "10.0.0.1", "server")
    );
    let err = dir.parse(&text).unwrap_err();
    let [d] = err.diagnostics() else {
        panic!("one problem expected: {err}")
    };
    // `~` alone is the home directory, which is not a file.
    assert_eq!(
        (d.line, d.column, d.field.as_str()),
        (10, 9, "k3s.binary.arm64")
    );
    let text = text.replace("arm64 = \"~\"\n", "");
    let binaries = dir.parse(&text).unwrap().config.k3s.binaries;
    assert_eq!(binaries[&Arch::Amd64], dir.path("home/k3s"));
    assert_eq!(binaries[&Arch::Armhf], dir.path("k3s-armhf"));
}

#[test]
fn taints_give_exact_values() {
    let text = with_nodes(&format!(
        "{}taints = [\"dedicated=storage:NoSchedule\", \"gpu:NoExecute\", \"gpu:NoSchedule\", \
         \"node-role.kubernetes.io/control-plane:NoSchedule\"]\n",
        node("a", "10.0.0.1", "server")
    ));
    let config = loaded(&text).config;
    let taints = &config.nodes[0].taints;
    assert_eq!(
        taints.iter().map(ToString::to_string).collect::<Vec<_>>(),
        [
            "dedicated=storage:NoSchedule",
            "gpu:NoExecute",
            "gpu:NoSchedule",
            "node-role.kubernetes.io/control-plane:NoSchedule"
        ]
    );
    assert_eq!(taints[0].key.as_ref(), "dedicated");
    assert_eq!(taints[0].value.as_ref().map(AsRef::as_ref), Some("storage"));
    assert_eq!(taints[1].effect, TaintEffect::NoExecute);
    assert!(loaded(&with_nodes(&node("a", "10.0.0.1", "server")))
        .config
        .nodes[0]
        .taints
        .is_empty());
}

#[test]
fn bad_taints() {
    let text = with_nodes(&format!(
        "{}taints = [\"gpu:noschedule\", \"gpu=a:NoExecute\", \"gpu=b:NoExecute\", \
         \"pikube.io/storage:NoSchedule\", \"dedicated\"]\n",
        node("a", "10.0.0.1", "server")
    ));
    assert_eq!(
        errors(&text),
        [
            "cluster.toml:11:11: nodes[0].taints[0]: \"gpu:noschedule\" is not a valid taint: \
             unknown effect \"noschedule\"; did you mean \"NoSchedule\"?",
            "cluster.toml:11:48: nodes[0].taints[2]: duplicate taint \"gpu\" with effect NoExecute; \
             nodes[0].taints[1] already has it",
            "cluster.toml:11:67: nodes[0].taints[3]: \"pikube.io/storage\" is in the pikube.io/ \
             namespace, which pikube sets on nodes itself (e.g. pikube.io/pi-model, \
             pikube.io/storage); give the taint your own prefix, e.g. \"example.com/storage\"",
            "cluster.toml:11:99: nodes[0].taints[4]: \"dedicated\" is not a valid taint: it has no \
             effect; write key[=value]:Effect, e.g. \"dedicated=storage:NoSchedule\"",
        ]
    );
}

#[test]
fn pikube_labels_are_refused() {
    let text = with_nodes(&format!(
        "{}labels = {{ \"pikube.io/pi-model\" = \"4b\", \"example.com/pikube.io\" = \"ok\" }}\n",
        node("a", "10.0.0.1", "server")
    ));
    assert_eq!(
        errors(&text),
        ["cluster.toml:11:12: nodes[0].labels.\"pikube.io/pi-model\": \"pikube.io/pi-model\" is in \
          the pikube.io/ namespace, which pikube sets on nodes itself (e.g. pikube.io/pi-model, \
          pikube.io/storage); give the label your own prefix, e.g. \"example.com/pi-model\""]
    );
}

#[test]
fn an_external_datastore_makes_even_server_counts_fine() {
    let text = servers_and_agents(2).replacen(
        "version = \"v1.31.4+k3s1\"\n",
        "version = \"v1.31.4+k3s1\"\ndatastore_endpoint = \"mysql://k3s:pw@tcp(db:3306)/k3s\"\n",
        1,
    );
    let loaded = loaded(&text);
    assert_eq!(loaded.warnings, []);
    assert_eq!(loaded.config.servers().count(), 2);
}

#[test]
fn airgap_images_are_local_archives_k3s_imports_or_downloaded() {
    let dir = Dir::new(&["images/arm64.tar.zst", "images/amd64.zip"]);
    let text = format!(
        "{HEAD}airgap_images = true\n[k3s.images]\narm64 = \"images/arm64.tar.zst\"\n{}",
        node("a", "10.0.0.1", "server")
    );
    let k3s = dir.parse(&text).unwrap().config.k3s;
    assert!(k3s.airgap_images);
    assert_eq!(k3s.images[&Arch::Arm64], dir.path("images/arm64.tar.zst"));
    // Downloaded for the others.
    assert!(k3s.wants_images(Arch::Amd64));

    // Without `airgap_images`, only the architectures with a local archive get images.
    let text = text.replace("airgap_images = true\n", "");
    let k3s = dir.parse(&text).unwrap().config.k3s;
    assert!(k3s.wants_images(Arch::Arm64) && !k3s.wants_images(Arch::Amd64));

    // An archive K3s would ignore is refused where it is named.
    let text = format!(
        "{HEAD}[k3s.images]\namd64 = \"images/amd64.zip\"\n{}",
        node("a", "10.0.0.1", "server")
    );
    let err = dir.parse(&text).unwrap_err();
    let [d] = err.diagnostics() else {
        panic!("one problem expected: {err}")
    };
    assert_eq!(d.field, "k3s.images.amd64");
    assert!(
        d.message.contains("K3s imports only .tar, .tar.lz4")
            && d.message.contains("would be ignored on the nodes"),
        "{}",
        d.message
    );
}

#[test]
fn registries_name_their_password_secret_and_bad_entries_are_placed() {
    let dir = Dir::new(&[]);
    let text = format!(
        "{HEAD}[k3s.registries.mirrors]\n\"docker.io\" = [\"https://registry.lan:5000\"]\n\
         \"*\" = [\"http://10.0.0.5:5000\"]\n\
         [k3s.registries.configs.\"registry.lan:5000\"]\nusername = \"pull\"\n\
         password_secret = \"registry.password\"\ninsecure_skip_verify = true\n{}",
        node("a", "10.0.0.1", "server")
    );
    let k3s = dir.parse(&text).unwrap().config.k3s;
    assert_eq!(
        k3s.registries.mirrors["docker.io"],
        ["https://registry.lan:5000"]
    );
    assert_eq!(k3s.registries.mirrors["*"], ["http://10.0.0.5:5000"]);
    let config = &k3s.registries.configs["registry.lan:5000"];
    let auth = config.auth.as_ref().unwrap();
    assert_eq!(auth.username, "pull");
    assert_eq!(auth.password_secret.as_str(), "registry.password");
    assert!(config.insecure_skip_verify);

    let text = format!(
        "{HEAD}[k3s.registries.mirrors]\n\"docker.io\" = [\"https://me:pw@registry.lan\", \"ftp://x\"]\n\
         \"bad name\" = [\"https://ok\"]\n\
         [k3s.registries.configs.\"registry.lan\"]\nusername = \"pull\"\n{}",
        node("a", "10.0.0.1", "server")
    );
    let err = dir.parse(&text).unwrap_err();
    let found: Vec<(usize, &str)> = err
        .diagnostics()
        .iter()
        .map(|d| (d.line, d.field.as_str()))
        .collect();
    assert_eq!(
        found,
        [
            (7, "k3s.registries.mirrors.\"docker.io\"[0]"),
            (7, "k3s.registries.mirrors.\"docker.io\"[1]"),
            (8, "k3s.registries.mirrors.\"bad name\""),
            (9, "k3s.registries.configs.\"registry.lan\""),
        ],
        "{err}"
    );
    let text = err.to_string();
    assert!(text.contains("credentials in a mirror URL"), "{text}");
    assert!(!text.contains("me:pw"), "{text}");
    assert!(
        text.contains("username and password_secret go together"),
        "{text}"
    );
}

#[test]
fn a_registry_ca_is_read_from_beside_cluster_toml_and_a_bad_one_is_placed() {
    let dir = Dir::new(&["empty.pem"]);
    let pem = "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIU\n-----END CERTIFICATE-----\n";
    std::fs::write(dir.path("certs/registry-ca.pem"), pem)
        .or_else(|_| {
            std::fs::create_dir_all(dir.path("certs"))?;
            std::fs::write(dir.path("certs/registry-ca.pem"), pem)
        })
        .unwrap();
    let registry = |ca_file: &str| {
        format!(
            "{HEAD}[k3s.registries.configs.\"registry.lan:5000\"]\nca_file = \"{ca_file}\"\n{}",
            node("a", "10.0.0.1", "server")
        )
    };
    let k3s = dir
        .parse(&registry("certs/registry-ca.pem"))
        .unwrap()
        .config
        .k3s;
    let ca = k3s.registries.configs["registry.lan:5000"]
        .ca
        .as_ref()
        .unwrap();
    assert_eq!(ca.pem, pem);
    assert_eq!(ca.source, dir.path("certs/registry-ca.pem"));

    for (file, problem) in [
        ("missing.pem", "missing.pem"),
        ("empty.pem", "not a PEM certificate"),
    ] {
        let err = dir.parse(&registry(file)).unwrap_err();
        let found: Vec<(usize, &str)> = err
            .diagnostics()
            .iter()
            .map(|d| (d.line, d.field.as_str()))
            .collect();
        assert_eq!(
            found,
            [(7, "k3s.registries.configs.\"registry.lan:5000\".ca_file")],
            "{err}"
        );
        assert!(err.to_string().contains(problem), "{err}");
    }
}

#[test]
fn static_addresses_share_network_and_bad_ones_are_named_at_the_node() {
    let network = "[network]\ngateway = \"192.168.1.1\"\ndns = [\"192.168.1.1\", \"1.1.1.1\"]\n";
    let text = format!(
        "{HEAD}{network}\n{}{}",
        node("a", "192.168.1.10/24", "server"),
        node("b", "192.168.1.11", "agent")
    );
    let config = loaded(&text).config;
    let a = config.nodes[0].static_address.unwrap();
    assert_eq!(a.to_string(), "192.168.1.10/24");
    // Reached at the address without its prefix.
    assert_eq!(config.nodes[0].address.to_string(), "192.168.1.10");
    assert_eq!(config.nodes[1].static_address, None);
    assert_eq!(config.network.dns.len(), 2);
    assert_eq!(config.network.interface(), "eth0");
    assert_eq!(config.network.rollback_after, Duration::from_secs(90));

    // How long a moved node waits to be reached: seconds, 20 to 600.
    let with = |value: &str| {
        format!(
            "{HEAD}{network}rollback_after = {value}\n\n{}",
            node("a", "192.168.1.10/24", "server")
        )
    };
    assert_eq!(
        loaded(&with("30")).config.network.rollback_after,
        Duration::from_secs(30)
    );
    let found = errors(&with("5"));
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].contains("network.rollback_after"), "{found:?}");

    // A prefix without a gateway; a gateway outside the subnet; one IP twice.
    assert_eq!(
        errors(&format!(
            "{HEAD}\n{}",
            node("a", "192.168.1.10/24", "server")
        )),
        [
            "cluster.toml:9:11: nodes[0].address: 192.168.1.10/24 is a static address, which \
          needs a gateway: add [network] gateway = \"…\" (the router, inside 192.168.1.10/24)"
        ]
    );
    let text = format!(
        "{HEAD}{network}\n{}{}",
        node("a", "192.168.2.10/24", "server"),
        node("b", "192.168.1.11/24", "agent")
    )
    .replace("192.168.1.11/24", "192.168.2.10");
    let found = errors(&text);
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(
        found[0].contains("nodes[0].address: 192.168.2.10/24 and [network] gateway 192.168.1.1 are not in one subnet"),
        "{found:?}"
    );
    assert_eq!(
        found[1],
        "cluster.toml:16:11: nodes[1].address: duplicate address \"192.168.2.10\"; nodes[0] \
         at line 12 already has it"
    );
    // An address its subnet keeps for itself, named where it is written.
    assert_eq!(
        errors(&format!(
            "{HEAD}{network}\n{}",
            node("a", "192.168.1.255/24", "server")
        )),
        [
            "cluster.toml:12:11: nodes[0].address: \"192.168.1.255/24\" is not a valid static \
          address (192.168.1.255 is the broadcast address of 192.168.1.0/24, which no host can \
          have)"
        ]
    );
    assert!(
        errors(&format!(
            "{HEAD}[network]\ngateway = \"router\"\ndns = [\"x\"]\ninterface = \"eth 0\"\n\n{}",
            node("a", "10.0.0.2", "server")
        ))
        .len()
            == 3
    );
}

#[test]
fn a_user_cannot_carry_shell_syntax_into_a_proxy_command() {
    // Security review L1: OpenSSH runs `-J user@host` through a shell.
    let text = format!(
        "{HEAD}\n[ssh]\nuser = \"u$(touch${{IFS}}x)\"\n\n{}",
        node("a", "10.0.0.1", "server")
    );
    let found = errors(&text);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].contains("ssh.user: \"u$(touch${IFS}x)\": a user name here is letters, digits"),
        "{found:?}"
    );
    assert!(loaded(&format!(
        "{HEAD}\n[ssh]\nuser = \"deploy.bot_1-x\"\n\n{}",
        node("a", "10.0.0.1", "server")
    ))
    .config
    .ssh
    .user
    .is_some());
}

#[test]
fn addons_give_typed_settings_defaults_and_placed_errors() {
    let server = node("a", "10.0.0.1", "server");
    let config = loaded(&format!("{HEAD}[addons.monitoring]\n{server}")).config;
    let monitoring = config.addons.monitoring.unwrap();
    assert_eq!(monitoring.retention.as_str(), "15d");
    assert_eq!(monitoring.storage.as_str(), "8Gi");
    assert_eq!(monitoring.grafana_password_secret, None);

    let config = loaded(&format!(
        "{HEAD}[addons.monitoring]\nretention = \"30d\"\nstorage = \"20Gi\"\n\
         grafana_password_secret = \"grafana.admin\"\n{server}"
    ))
    .config;
    let monitoring = config.addons.monitoring.unwrap();
    assert_eq!(monitoring.retention.as_str(), "30d");
    assert_eq!(monitoring.storage.as_str(), "20Gi");
    assert_eq!(
        monitoring.grafana_password_secret.unwrap().as_str(),
        "grafana.admin"
    );

    let off = loaded(&format!(
        "{HEAD}[addons.monitoring]\nenabled = false\n{server}"
    ));
    assert_eq!(off.config.addons.monitoring, None);
    assert_eq!(loaded(&with_nodes(&server)).config.addons.monitoring, None);

    assert_eq!(
        errors(&format!(
            "{HEAD}[addons.monitoring]\nretention = \"-1d\"\nstorage = \"lots\"\n\
             grafana_password_secret = \"a b\"\n{server}"
        )),
        [
            "cluster.toml:7:13: addons.monitoring.retention: \"-1d\" is not a retention: a \
             Prometheus duration like 15d, 12h or 1w3d, more than zero",
            "cluster.toml:8:11: addons.monitoring.storage: \"lots\" is not a storage size: a \
             Kubernetes quantity like 8Gi, 500Mi or 20G",
            "cluster.toml:9:27: addons.monitoring.grafana_password_secret: \"a b\" is not a \
             secret name: dotted words of letters, digits, '_' and '-', e.g. sudo_password or \
             nodes.pi-1.sudo_password",
        ]
    );
    // Even when the add-on is off, its settings are checked: turning it on later must not
    // surprise anyone.
    assert_eq!(
        errors(&format!(
            "{HEAD}[addons.monitoring]\nenabled = false\nstorage = \"1Mi\"\n{server}"
        )),
        [
            "cluster.toml:8:11: addons.monitoring.storage: \"1Mi\" is not a storage size: \
          Prometheus needs at least 1Gi"
        ]
    );
    assert_eq!(
        errors(&format!(
            "{HEAD}[addons.monitoring]\nretension = \"1d\"\n{server}"
        )),
        [
            "cluster.toml:7:1: addons.monitoring.retension: unknown key `retension`; did you \
          mean `retention`?"
        ]
    );
    assert_eq!(
        errors(&format!("{HEAD}[addons.grafana]\n{server}")),
        ["cluster.toml:6:2: addons: unknown key `grafana`; the only key here is `monitoring`"]
    );
}

#[test]
fn backup_gives_typed_settings_and_refuses_what_k3s_would_not_snapshot() {
    let three: String = (1..=3)
        .map(|i| node(&format!("s{i}"), &format!("10.0.0.{i}"), "server"))
        .collect();
    assert_eq!(loaded(&with_nodes(&three)).config.backup, None);
    let config = loaded(&format!(
        "{HEAD}[backup]\nschedule = \"0 */6 * * *\"\nretention = 12\n\n[backup.s3]\n\
         endpoint = \"minio.lan:9000\"\nbucket = \"k3s-snapshots\"\nfolder = \"/homelab/\"\n\
         insecure = true\n{three}"
    ))
    .config;
    let backup = config.backup.unwrap();
    assert_eq!(backup.schedule.to_string(), "0 */6 * * *");
    assert_eq!(backup.retention, Some(12));
    let s3 = backup.s3.unwrap();
    assert_eq!(
        (
            s3.endpoint.as_deref(),
            s3.bucket.as_str(),
            s3.folder.as_deref(),
            s3.region.as_deref(),
            s3.insecure,
            s3.access_key_secret.as_str(),
            s3.secret_key_secret.as_str()
        ),
        (
            Some("minio.lan:9000"),
            "k3s-snapshots",
            Some("homelab"),
            None,
            true,
            "backup.s3.access_key",
            "backup.s3.secret_key"
        )
    );
    // No schedule: K3s' own default, written out so retention applies to it.
    let backup = loaded(&format!("{HEAD}[backup]\nretention = 3\n{three}"))
        .config
        .backup
        .unwrap();
    assert_eq!(
        (backup.schedule.to_string(), backup.retention),
        ("0 */12 * * *".to_owned(), Some(3))
    );

    assert_eq!(
        errors(&format!(
            "{HEAD}[backup]\nschedule = \"0 0 */6 * * *\"\nretention = 0\n\n[backup.s3]\n\
             endpoint = \"https://s3.lan\"\nbucket = \"My_Bucket\"\nsecret_key_secret = \"a b\"\n\
             {three}"
        )),
        [
            "cluster.toml:7:12: backup.schedule: \"0 0 */6 * * *\" is not a schedule: K3s \
             takes five fields, this has 6 (five cron fields like \"0 */6 * * *\", a \
             descriptor like @daily, @every 6h, or \"off\")",
            "cluster.toml:8:13: backup.retention: 0 is not a retention: the number of \
             snapshots each server keeps, from 1 to 1000",
            "cluster.toml:11:12: backup.s3.endpoint: \"https://s3.lan\" is not an S3 endpoint: \
             write the host (and port) without a scheme; insecure = true for plain http",
            "cluster.toml:12:10: backup.s3.bucket: \"My_Bucket\" is not a bucket name: 3 to 63 \
             lowercase letters, digits, '-' and '.', starting and ending with a letter or digit",
            "cluster.toml:13:21: backup.s3.secret_key_secret: \"a b\" is not a secret name: \
             dotted words of letters, digits, '_' and '-', e.g. sudo_password or \
             nodes.pi-1.sudo_password",
        ]
    );
    assert_eq!(
        errors(&format!("{HEAD}[backup.s3]\nfolder = \"x\"\n{three}")),
        [
            "cluster.toml:6:1: backup.s3.bucket: missing required key `bucket`, e.g. bucket = \
          \"k3s-snapshots\""
        ]
    );

    // A key written in clear: refused at its line, saying where it belongs, never echoed.
    for (key, secret, variable) in [
        ("access_key", "backup.s3.access_key", "AWS_ACCESS_KEY_ID"),
        (
            "secret_key",
            "backup.s3.secret_key",
            "AWS_SECRET_ACCESS_KEY",
        ),
        (
            "aws_secret_access_key",
            "backup.s3.secret_key",
            "AWS_SECRET_ACCESS_KEY",
        ),
    ] {
        let refused = errors(&format!(
            "{HEAD}[backup.s3]\nbucket = \"b\"\n{key} = \"wJalrXUtnFEMI-in-clear\"\n{three}"
        ));
        assert_eq!(
            refused,
            [format!(
                "cluster.toml:8:1: backup.s3.{key}: the bucket's keys are never read from \
                 cluster.toml, where they would sit in clear (and in git): remove `{key}` and \
                 keep it in the encrypted secrets file with `pikube secrets set {secret}` (or \
                 export {variable} where pikube runs)"
            )]
        );
    }

    let one = node("a", "10.0.0.1", "server");
    let single = errors(&format!("{HEAD}[backup]\nschedule = \"@daily\"\n{one}"));
    assert_eq!(single.len(), 1, "{single:?}");
    assert!(
        single[0].starts_with("cluster.toml:6:1: backup: [backup] asks for K3s' etcd snapshots")
            && single[0].contains("with one server K3s keeps its data in SQLite"),
        "{single:?}"
    );
    let external = errors(&format!(
        "[cluster]\nname = \"homelab\"\n\n[k3s]\nversion = \"v1.31.4+k3s1\"\n\
         datastore_endpoint = \"postgres://db.lan/k3s\"\n[backup]\n{three}"
    ));
    assert!(
        external.len() == 1 && external[0].contains("datastore_endpoint the cluster's data"),
        "{external:?}"
    );
}

#[test]
fn pinned_digests_are_per_architecture_and_checked_at_their_line() {
    let server = node("a", "10.0.0.1", "server");
    let digest = "AB".repeat(32);
    let config = loaded(&format!(
        "{HEAD}[k3s.sha256]\narm64 = \"{digest}\"\n[k3s.images_sha256]\narmhf = \"{}\"\n{server}",
        "0".repeat(64)
    ))
    .config;
    assert_eq!(
        config.k3s.binary_sha256[&Arch::Arm64].as_str(),
        "ab".repeat(32)
    );
    assert_eq!(config.k3s.images_sha256.len(), 1);
    assert_eq!(
        errors(&format!(
            "{HEAD}[k3s.sha256]\naarch64 = \"{digest}\"\narm64 = \"abc\"\n{server}"
        )),
        [
            "cluster.toml:7:1: k3s.sha256.aarch64: \"aarch64\" is not an architecture K3s \
             publishes; K3s calls it \"arm64\"",
            "cluster.toml:8:9: k3s.sha256.arm64: \"abc\" is not a SHA-256: 64 hex digits, as \
             sha256sum prints them",
        ]
    );
}

#[test]
fn adopt_is_a_per_node_switch_off_unless_set() {
    let text = with_nodes(&format!(
        "{}adopt = true\n\n{}",
        node("old", "10.0.0.1", "server"),
        node("new", "10.0.0.2", "agent")
    ));
    let config = loaded(&text).config;
    let adopt: Vec<bool> = config.nodes.iter().map(|n| n.adopt).collect();
    assert_eq!(adopt, [true, false]);
    let wrong = with_nodes(&format!(
        "{}adopt = \"yes\"\n",
        node("old", "10.0.0.1", "server")
    ));
    let errors = errors(&wrong);
    assert!(
        errors
            .iter()
            .any(|e| e.starts_with("cluster.toml:11:9:") && e.contains("adopt")),
        "{errors:?}"
    );
}
