//! secrets.age beside a workspace's cluster.toml, encrypted to a fresh age identity made
//! with the real age-keygen.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::cluster::{Run, Workspace};

/// A new age identity written to `path` by the real age-keygen; its public key.
pub fn new_age_identity(path: &Path) -> String {
    let keygen = Command::new("age-keygen")
        .arg("-o")
        .arg(path)
        .output()
        .expect("age-keygen (Debian package age)");
    assert!(keygen.status.success());
    let public = Command::new("age-keygen")
        .arg("-y")
        .arg(path)
        .output()
        .unwrap();
    String::from_utf8(public.stdout).unwrap().trim().to_owned()
}

pub struct WorkspaceSecrets<'a> {
    ws: &'a Workspace,
    identity: PathBuf,
}

impl<'a> WorkspaceSecrets<'a> {
    /// `pikube secrets init` for a new identity (`age.key` in the workspace).
    pub fn init(ws: &'a Workspace) -> WorkspaceSecrets<'a> {
        let identity = ws.path().join("age.key");
        let public = new_age_identity(&identity);
        let secrets = WorkspaceSecrets { ws, identity };
        Run::from(
            secrets
                .command(&["secrets", "init", "--recipient", &public])
                .output()
                .unwrap(),
        )
        .expect_code(0);
        secrets
    }

    /// A pikube command that can open the secrets.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = self.ws.command(args);
        command.env("PIKUBE_AGE_IDENTITY", &self.identity);
        command
    }

    pub fn pikube(&self, args: &[&str]) -> Run {
        Run::from(self.command(args).output().expect("run pikube"))
    }

    /// `pikube secrets set NAME` with the value on standard input.
    pub fn set(&self, name: &str, value: &str) {
        let mut set = self.command(&["secrets", "set", name]);
        set.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = set.spawn().unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(value.as_bytes())
            .unwrap();
        Run::from(child.wait_with_output().unwrap()).expect_code(0);
    }
}
