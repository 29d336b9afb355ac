//! `cluster.toml` through the public API, from real files on disk.

use std::fs;
use std::path::PathBuf;

use pikube_cluster::config::{load, parse, starter_file, ConfigError, Role};

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
