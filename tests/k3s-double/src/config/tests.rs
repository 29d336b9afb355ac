use super::*;
use crate::flags::Command;
use std::path::Path;

fn write(dir: &Path, rel: &str, text: &str) {
    let path = dir.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// A test's config directory, removed when the test ends.
struct TempDir(PathBuf);

impl std::ops::Deref for TempDir {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn tempdir(tag: &str) -> TempDir {
    let dir = std::env::temp_dir().join(format!(
        "k3s-double-config-{tag}-{}",
        crate::encoding::random_hex(6)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    TempDir(dir)
}

fn resolve_with(
    command: Command,
    dir: &Path,
    args: &[&str],
    env: &[(&str, &str)],
) -> (Settings, Vec<String>) {
    let args: Vec<String> = args.iter().map(ToString::to_string).collect();
    let cli = parse_args(command, &args).unwrap();
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let lookup = move |name: &str| env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    let mut warnings = Vec::new();
    let settings = resolve(command, &cli, &lookup, dir.join("config.yaml"), &mut |w| {
        warnings.push(w)
    })
    .unwrap();
    (settings, warnings)
}

#[test]
fn files_then_dropins_in_lexical_order_then_cli() {
    let dir = tempdir("order");
    write(
        &dir,
        "config.yaml",
        "token: from-file\ncluster-init: true\nnode-label:\n  - a=1\n  - b=2\nwrite-kubeconfig-mode: \"0644\"\n",
    );
    write(&dir, "config.yaml.d/20-late.yaml", "node-name: late\n");
    write(
        &dir,
        "config.yaml.d/10-early.yaml",
        "node-name: early\nnode-label+: [c=3]\n",
    );
    write(&dir, "config.yaml.d/ignored.txt", "node-name: ignored\n");
    // K3s matches the suffix in any case, `.yml` too.
    write(&dir, "config.yaml.d/30-upper.YML", "node-label+: [d=4]\n");

    let (s, warnings) = resolve_with(Command::Server, &dir, &[], &[]);
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(s.str("token"), Some("from-file"));
    assert!(s.bool("cluster-init"));
    assert_eq!(s.str("node-name"), Some("late"));
    assert_eq!(s.list("node-label"), ["a=1", "b=2", "c=3", "d=4"]);
    assert_eq!(s.str("write-kubeconfig-mode"), Some("0644"));

    let (s, _) = resolve_with(
        Command::Server,
        &dir,
        &[
            "--node-label",
            "x=9",
            "--node-label=y=8",
            "--token=cli",
            "--cluster-init=false",
        ],
        &[],
    );
    assert_eq!(
        s.list("node-label"),
        ["x=9", "y=8"],
        "CLI list replaces the file's"
    );
    assert_eq!(s.str("token"), Some("cli"));
    assert!(!s.bool("cluster-init"));
}

#[test]
fn env_is_the_default_and_file_and_cli_override_it() {
    let dir = tempdir("env");
    let env = [
        ("K3S_TOKEN", "from-env"),
        ("K3S_URL", "https://10.0.0.1:6443"),
    ];
    let (s, _) = resolve_with(Command::Agent, &dir, &[], &env);
    assert_eq!(s.str("token"), Some("from-env"));
    assert_eq!(s.str("server"), Some("https://10.0.0.1:6443"));

    write(&dir, "config.yaml", "token: from-file\n");
    let (s, _) = resolve_with(Command::Agent, &dir, &[], &env);
    assert_eq!(s.str("token"), Some("from-file"));
    let (s, _) = resolve_with(Command::Agent, &dir, &["-t", "cli"], &env);
    assert_eq!(s.str("token"), Some("cli"));
}

#[test]
fn config_path_from_flag_and_env() {
    let dir = tempdir("path");
    write(&dir, "other.yaml", "node-name: other\n");
    write(
        &dir,
        "other.yaml.d/x.yaml",
        "node-taint: [k=v:NoSchedule]\n",
    );
    let path = dir.join("other.yaml");
    let (s, _) = resolve_with(
        Command::Agent,
        &dir,
        &["--config", path.to_str().unwrap()],
        &[],
    );
    assert_eq!(s.str("node-name"), Some("other"));
    assert_eq!(s.list("node-taint"), ["k=v:NoSchedule"]);
    let (s, _) = resolve_with(
        Command::Agent,
        &dir,
        &[],
        &[("K3S_CONFIG_FILE", path.to_str().unwrap())],
    );
    assert_eq!(s.str("node-name"), Some("other"));
}

#[test]
fn a_server_skips_unknown_keys_with_a_warning_an_agent_refuses_them() {
    let dir = tempdir("unknown");
    write(&dir, "config.yaml", "no-such-flag: 1\ntoken: t\n");
    let (s, warnings) = resolve_with(Command::Server, &dir, &[], &[]);
    assert_eq!(s.str("token"), Some("t"));
    assert_eq!(
        warnings,
        ["Unknown flag --no-such-flag found in config.yaml, skipping"]
    );
    // A server-only key in an agent's file: k3s agent exits "flag provided but not defined".
    let dir = tempdir("server-only");
    write(&dir, "config.yaml", "cluster-init: true\ntoken: t\n");
    let err = resolve(
        Command::Agent,
        &[],
        &|_| None,
        dir.join("config.yaml"),
        &mut |_| {},
    )
    .unwrap_err();
    assert_eq!(err, "flag provided but not defined: -cluster-init");
}

#[test]
fn every_flag_of_k3s_agent_is_accepted_in_an_agents_file() {
    // An agent K3s runs with these (pkg/cli/cmds/agent.go) must not be refused by the
    // double: adopting such a node keeps them in a drop-in.
    let dir = tempdir("agent-flags");
    write(
        &dir,
        "config.yaml",
        "server: https://10.0.0.1:6443\ntoken: t\nvpn-auth: name=tailscale,joinKey=k\n\
         vpn-auth-file: /etc/vpn\ncontainer-runtime-endpoint: /run/cri.sock\ndocker: false\n\
         flannel-conf: /etc/flannel.json\nflannel-cni-conf: /etc/cni.conf\n\
         default-runtime: crun\nimage-service-endpoint: /run/img.sock\n\
         disable-default-registry-endpoint: true\nairgap-extra-registry: [r.lan]\n\
         node-internal-dns: [a.lan]\nnode-external-dns: [b.example]\n\
         image-credential-provider-config: /etc/cred.yaml\nbind-address: 10.0.0.9\n\
         enable-pprof: true\nrootless: false\ndisable-apiserver-lb: true\nvmodule: x=2\n",
    );
    let (s, warnings) = resolve_with(Command::Agent, &dir, &[], &[]);
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(s.str("vpn-auth"), Some("name=tailscale,joinKey=k"));
    assert_eq!(s.str("container-runtime-endpoint"), Some("/run/cri.sock"));
    assert!(s.bool("disable-default-registry-endpoint"));
    assert_eq!(s.list("node-external-dns"), ["b.example"]);
}

#[test]
fn cli_errors_like_k3s() {
    let args = |a: &[&str]| a.iter().map(ToString::to_string).collect::<Vec<_>>();
    assert_eq!(
        parse_args(Command::Server, &args(&["--bogus"])).unwrap_err(),
        "flag provided but not defined: -bogus"
    );
    assert_eq!(
        parse_args(Command::Agent, &args(&["--cluster-init"])).unwrap_err(),
        "flag provided but not defined: -cluster-init"
    );
    assert_eq!(
        parse_args(Command::Agent, &args(&["--token"])).unwrap_err(),
        "flag needs an argument: -token"
    );
    let parsed = parse_args(
        Command::Server,
        &args(&["--disable=traefik,servicelb", "-disable", "coredns"]),
    )
    .unwrap();
    assert_eq!(
        parsed,
        [
            (
                "disable",
                Value::List(vec!["traefik".into(), "servicelb".into()])
            ),
            ("disable", Value::List(vec!["coredns".into()])),
        ]
    );
}

#[test]
fn plain_yaml_1_1_booleans_are_booleans_as_k3s_reads_them() {
    let dir = tempdir("yaml11");
    write(
        &dir,
        "config.yaml",
        "node-name: on\ntoken: \"off\"\nnode-label: [zone=on]\n",
    );
    let (s, _) = resolve_with(Command::Server, &dir, &[], &[]);
    // k3s turns the boolean back into a string for a string flag: the node is called "true".
    assert_eq!(s.str("node-name"), Some("true"));
    assert_eq!(s.str("token"), Some("off"));
    assert_eq!(s.list("node-label"), ["zone=on"]);
}
