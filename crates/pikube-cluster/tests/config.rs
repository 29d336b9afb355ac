//! `cluster.toml` through the public API, from real files on disk.

use std::fs;
use std::path::PathBuf;

use pikube_cluster::config::{
    load, parse, starter_file, Address, Arch, ConfigError, K3sComponent, Role, TaintEffect,
};

#[test]
fn loads_a_file_and_resolves_paths_beside_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cluster.toml");
    fs::write(
        &path,
        r#"[cluster]
name = "lab"

[ssh]
identity_file = "keys/id_ed25519"
config_file = "ssh_config"

[k3s]
version = "v1.31.4+k3s1"

[[nodes]]
name = "pi-01"
address = "192.168.1.10"
role = "server"
identity_file = "/etc/pikube/key"
"#,
    )
    .unwrap();
    let loaded = load(&path).unwrap();
    let config = loaded.config;
    assert!(loaded.warnings.is_empty());
    assert_eq!(config.dir(), dir.path());
    assert_eq!(config.ssh.known_hosts, dir.path().join("known_hosts"));
    assert_eq!(config.ssh.config_file, Some(dir.path().join("ssh_config")));
    assert_eq!(
        config.ssh.identity_file,
        Some(dir.path().join("keys/id_ed25519"))
    );
    // An absolute path is taken as written.
    assert_eq!(
        config.nodes[0].identity_file,
        Some(PathBuf::from("/etc/pikube/key"))
    );
    assert_eq!(config.nodes[0].role, Role::Server);
}

#[test]
fn tilde_expands_to_home() {
    let Some(home) = std::env::var_os("HOME").filter(|h| !h.is_empty()) else {
        return; // Nothing to expand against; covered by the unit tests.
    };
    let text = starter_file("lab").replace(
        "# identity_file = \"~/.ssh/id_ed25519\"",
        "identity_file = \"~/.ssh/id_ed25519\"",
    );
    let config = parse(&text, "x/cluster.toml".as_ref()).unwrap().config;
    assert_eq!(
        config.ssh.identity_file,
        Some(PathBuf::from(home).join(".ssh/id_ed25519"))
    );
}

#[test]
fn a_missing_file_suggests_init() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cluster.toml");
    let err = load(&path).unwrap_err();
    assert!(matches!(err, ConfigError::NotFound { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!(
            "{}: no such file; run `pikube init` to write a starter cluster.toml",
            path.display()
        )
    );
    assert!(err.diagnostics().is_empty());
}

#[test]
fn errors_name_the_file_as_given() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cluster.toml");
    let text = starter_file("lab").replace("192.168.1.20", "192.168.1.300");
    fs::write(&path, &text).unwrap();
    let err = load(&path).unwrap_err();
    let line = text
        .lines()
        .position(|l| l.contains("192.168.1.300"))
        .unwrap()
        + 1;
    assert_eq!(
        err.to_string(),
        format!(
            "{}:{line}:11: nodes[1].address: \"192.168.1.300\" is not a valid IPv4 address (octet 300 is over 255)",
            path.display()
        )
    );
    let [d] = err.diagnostics() else {
        panic!("one diagnostic expected")
    };
    assert_eq!(
        (d.line, d.column, d.field.as_str()),
        (line, 11, "nodes[1].address")
    );
}

#[test]
fn starter_file_round_trips() {
    let loaded = parse(&starter_file("homelab"), "cluster.toml".as_ref()).unwrap();
    assert!(loaded.warnings.is_empty());
    assert_eq!(loaded.config.name.to_string(), "homelab");
    assert_eq!(loaded.config.k3s.version.to_string(), "v1.31.4+k3s1");
}

/// Every commented-out example in the starter file, switched on, is valid:
/// the examples are what people copy.
#[test]
fn starter_file_examples_are_valid() {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join("bin")).unwrap();
    fs::write(dir.path().join("bin/k3s-arm64"), "").unwrap();
    fs::write(dir.path().join("bin/k3s-armhf"), "").unwrap();
    fs::create_dir(dir.path().join("images")).unwrap();
    fs::write(
        dir.path().join("images/k3s-airgap-images-arm64.tar.zst"),
        "",
    )
    .unwrap();
    let mut text = starter_file("lab");
    for key in [
        "api_endpoint = ",
        "tls_san = ",
        "disable = ",
        "kubelet_args = ",
        "datastore_endpoint = ",
        "airgap_images = ",
        "[k3s.binary]",
        "arm64 = ",
        "armhf = ",
        "[k3s.images]",
        "arm64 = ",
        "[k3s.registries.mirrors]",
        "\"docker.io\" = ",
        "[k3s.registries.configs.",
        "username = ",
        "password_secret = ",
        "[network]",
        "gateway = ",
        "dns = ",
        "interface = ",
        "taints = ",
    ] {
        // In file order: the first still commented-out one.
        let commented = format!("\n# {key}");
        assert!(text.contains(&commented), "no example for {key}");
        text = text.replacen(&commented, &format!("\n{key}"), 1);
    }
    let path = dir.path().join("cluster.toml");
    fs::write(&path, &text).unwrap();
    let loaded = load(&path).unwrap();
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    let k3s = &loaded.config.k3s;
    assert_eq!(
        k3s.api_endpoint,
        Some(Address::Host("k3s.home.arpa".into()))
    );
    assert_eq!(k3s.tls_san.len(), 2);
    assert!(k3s.disable.contains(&K3sComponent::Traefik));
    assert_eq!(k3s.kubelet_args[0].to_string(), "max-pods=50");
    assert!(k3s.datastore.as_ref().and_then(|d| d.endpoint()).is_some());
    assert!(k3s.airgap_images);
    assert_eq!(loaded.config.network.dns.len(), 2);
    assert_eq!(
        k3s.registries
            .secrets()
            .map(|(_, s)| s.as_str())
            .collect::<Vec<_>>(),
        ["registry.password"]
    );
    assert_eq!(
        k3s.images[&Arch::Arm64],
        dir.path().join("images/k3s-airgap-images-arm64.tar.zst")
    );
    assert_eq!(
        k3s.binary(Arch::Arm64),
        Some(dir.path().join("bin/k3s-arm64").as_path())
    );
    assert_eq!(k3s.binary(Arch::Amd64), None);
    let agent = loaded.config.agents().next().unwrap();
    assert_eq!(agent.taints[0].effect, TaintEffect::NoSchedule);
}

#[test]
fn json_output_never_shows_the_datastore_password() {
    let text = starter_file("lab").replace(
        "# datastore_endpoint = \"postgres://k3s:secret@db.home.arpa:5432/k3s\"",
        "datastore_endpoint = \"postgres://k3s:hunter2@db.home.arpa:5432/k3s\"",
    );
    let config = parse(&text, "cluster.toml".as_ref()).unwrap().config;
    let endpoint = config
        .k3s
        .datastore
        .as_ref()
        .and_then(|d| d.endpoint())
        .unwrap();
    assert_eq!(
        endpoint.expose(),
        "postgres://k3s:hunter2@db.home.arpa:5432/k3s"
    );
    let json: serde_json::Value = serde_json::to_value(&config).unwrap();
    assert_eq!(
        json["k3s"]["datastore"]["endpoint"],
        "postgres://***@db.home.arpa:5432/k3s"
    );
    for shown in [
        json.to_string(),
        format!("{config:?}"),
        format!("{config:#?}"),
        endpoint.to_string(),
    ] {
        assert!(!shown.contains("hunter2"), "{shown}");
    }
}

#[test]
fn a_missing_binary_is_reported_at_its_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cluster.toml");
    let text = starter_file("lab").replace(
        "# [k3s.binary]\n# arm64 = \"bin/k3s-arm64\"",
        "[k3s.binary]\narm64 = \"bin/k3s-arm64\"",
    );
    fs::write(&path, &text).unwrap();
    let err = load(&path).unwrap_err();
    let line = text
        .lines()
        .position(|l| l.starts_with("arm64 = "))
        .unwrap()
        + 1;
    assert_eq!(
        err.to_string(),
        format!(
            "{}:{line}:9: k3s.binary.arm64: {}: no such file",
            path.display(),
            dir.path().join("bin/k3s-arm64").display()
        )
    );
}
