//! A scratch directory with a cluster.toml for a fake fleet, and the pikube binary to
//! run against it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use super::fleet::Fleet;

/// One node of the cluster file: the fleet node it runs on, its name and role.
pub struct Node<'a> {
    pub fleet_node: &'a str,
    pub name: &'a str,
    pub role: &'a str,
    /// Extra TOML lines for this node (e.g. `proxy_jump = "..."`).
    pub extra: &'a str,
}

/// The usual small cluster: `one` (server) on pi1, `two` and `three` (agents) on pi2, pi3.
pub fn one_server_two_agents() -> [Node<'static>; 3] {
    [
        node("pi1", "one", "server"),
        node("pi2", "two", "agent"),
        node("pi3", "three", "agent"),
    ]
}

/// An HA cluster: servers `s1`, `s2`, `s3` on pi1..pi3 (etcd keeps quorum with one down)
/// and the agent `a1` on pi4.
pub fn three_servers_one_agent() -> [Node<'static>; 4] {
    [
        node("pi1", "s1", "server"),
        node("pi2", "s2", "server"),
        node("pi3", "s3", "server"),
        node("pi4", "a1", "agent"),
    ]
}

pub fn node<'a>(fleet_node: &'a str, name: &'a str, role: &'a str) -> Node<'a> {
    Node {
        fleet_node,
        name,
        role,
        extra: "",
    }
}

/// The k3s test double (tests/k3s-double), built beside pikube: the fake nodes are x86-64
/// and cannot run real k3s.
pub fn k3s_double() -> PathBuf {
    let pikube = Path::new(env!("CARGO_BIN_EXE_pikube"));
    let double = pikube.with_file_name("k3s-double");
    assert!(
        double.is_file(),
        "{} is missing: build it with `cargo build -p k3s-double` (nextest --workspace does)",
        double.display()
    );
    double
}

pub struct Workspace {
    dir: tempfile::TempDir,
}

impl Workspace {
    /// Writes cluster.toml for `nodes` of `fleet`, logging in as `user` with the fleet's
    /// key, nodes addressed by IP.
    pub fn new(fleet: &Fleet, user: &str, nodes: &[Node<'_>]) -> Workspace {
        let ssh = format!(
            "identity_file = \"{}\"\nknown_hosts = \"known_hosts\"\nconnect_timeout = 5",
            fleet.identity_file().display()
        );
        Workspace::write(user, &ssh, nodes, |node| {
            fleet.node(node.fleet_node).ip.clone()
        })
    }

    /// cluster.toml that names nodes by their ssh_config `Host` aliases and carries no key:
    /// everything but the user comes from the fleet's ssh_config.
    pub fn with_ssh_config(fleet: &Fleet, user: &str, nodes: &[Node<'_>]) -> Workspace {
        let ssh = format!("config_file = \"{}\"", fleet.ssh_config().display());
        Workspace::write(user, &ssh, nodes, |node| node.fleet_node.to_owned())
    }

    fn write(
        user: &str,
        ssh: &str,
        nodes: &[Node<'_>],
        address: impl Fn(&Node<'_>) -> String,
    ) -> Workspace {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut text = format!(
            "[cluster]\nname = \"test\"\n\n[ssh]\nuser = \"{user}\"\n{ssh}\n\n[k3s]\nversion = \"v1.34.4+k3s1\"\n\n[k3s.binary]\namd64 = \"{}\"\n",
            k3s_double().display()
        );
        for node in nodes {
            text.push_str(&format!(
                "\n[[nodes]]\nname = \"{}\"\naddress = \"{}\"\nrole = \"{}\"\n{}\n",
                node.name,
                address(node),
                node.role,
                node.extra
            ));
        }
        std::fs::write(dir.path().join("cluster.toml"), text).expect("write cluster.toml");
        Workspace { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn known_hosts(&self) -> PathBuf {
        self.dir.path().join("known_hosts")
    }

    /// A pikube command in this directory, with no terminal and no sudo password.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_pikube"));
        command
            .args(args)
            .current_dir(self.dir.path())
            .env_remove("PIKUBE_SUDO_PASSWORD")
            .env_remove("PIKUBE_FILE")
            .stdin(Stdio::null());
        command
    }

    pub fn pikube(&self, args: &[&str]) -> Run {
        Run::from(self.command(args).output().expect("run pikube"))
    }
}

/// A finished pikube run.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(output: Output) -> Run {
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

impl Run {
    /// Asserts the exit code, showing everything the run printed when it differs.
    pub fn expect_code(self, code: i32) -> Run {
        assert_eq!(
            self.code, code,
            "exit code\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout, self.stderr
        );
        self
    }
}
