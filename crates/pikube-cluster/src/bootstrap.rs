//! `pikube bootstrap`: a node still on its image's default login (a user and a password)
//! made into one pikube reaches by key: the admin user created, given the controller's
//! keys and passwordless sudo (or sudo asking for a password of its own, kept in
//! secrets.age), optionally password login turned off. The password goes to ssh through an
//! askpass program reading a private file, and to sudo (then the admin's, to chpasswd) on
//! standard input: never on a command line or in the environment.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use tokio::io::AsyncWriteExt;

use crate::config::NodeName;
use crate::firstboot::{admin_access, AdminSudo, AuthorizedKey};

use crate::ssh::{last_line, shell_quote, ClientConfig, SshTarget};

/// The environment variable that turns `pikube` into ssh's askpass program: it names the
/// private file whose content is the answer.
pub const ASKPASS_FILE_ENV: &str = "PIKUBE_ASKPASS_FILE";

/// What bootstrap does on one node.
pub struct Bootstrap<'a> {
    /// How to reach the node (its user is the image's, for this once).
    pub target: &'a SshTarget,
    /// The image's user to log in as once.
    pub login: &'a str,
    /// Its password (also its sudo password).
    pub password: &'a str,
    /// The admin user to create (cluster.toml's user).
    pub admin: &'a str,
    /// The public keys the admin user accepts.
    pub keys: &'a [AuthorizedKey],
    /// The admin user's own password, for a sudo that asks for it; `None`: passwordless
    /// sudo.
    pub admin_password: Option<&'a crate::ssh::SudoPassword>,
    /// Turn sshd's password login off once the keys work.
    pub disable_password_login: bool,
    /// The program ssh runs for the password (pikube itself).
    pub askpass: &'a Path,
}

/// Why a node was not bootstrapped.
#[derive(Debug, thiserror::Error)]
pub enum BootstrapError {
    /// The image's login did not work with the password.
    #[error("{node}: cannot log in as {login} with the bootstrap password (ssh: {reason})")]
    Login {
        /// The node.
        node: NodeName,
        /// The image's user.
        login: String,
        /// What ssh said.
        reason: String,
    },
    /// Logged in, but sudo would not run.
    #[error("{node}: {login}'s sudo refused the bootstrap password, or {login} may not use sudo")]
    Sudo {
        /// The node.
        node: NodeName,
        /// The image's user.
        login: String,
    },
    /// The setup script failed.
    #[error("{node}: setting up {admin} failed: {reason}")]
    Script {
        /// The node.
        node: NodeName,
        /// The admin user being set up.
        admin: String,
        /// What failed.
        reason: String,
    },
    /// The login or the setup did not finish in time (a prompt nobody answers, a hung
    /// package tool); ssh is stopped.
    #[error(
        "{node}: bootstrap did not finish within {}; pikube stopped it ([ssh] command_timeout sets the limit)",
        crate::human_duration::human_duration(*limit)
    )]
    TimedOut {
        /// The node.
        node: NodeName,
        /// How long it was given.
        limit: std::time::Duration,
    },
    /// The askpass file could not be written here.
    #[error("cannot prepare the password for ssh: {0}")]
    Local(std::io::Error),
}

// Shown in the message, so not also returned as its source: each cause is read once.
impl From<std::io::Error> for BootstrapError {
    fn from(err: std::io::Error) -> Self {
        BootstrapError::Local(err)
    }
}

/// The script run as root: the admin user made if missing (no password: the key is the
/// way in), keys and sudo given, password login off when asked. With
/// [`AdminSudo::WithPassword`] the admin's password is the next line of standard input
/// (after sudo's), set with chpasswd so it is never an argument of any process.
pub fn bootstrap_script(
    admin: &str,
    keys: &[AuthorizedKey],
    disable_password_login: bool,
    sudo: AdminSudo,
) -> String {
    let admin_password = match sudo {
        AdminSudo::NoPassword => "",
        // printf is the shell's own here, so the password is no process's argument.
        AdminSudo::WithPassword => {
            "IFS= read -r PIKUBE_ADMIN_PASSWORD
             printf '%s:%s\n' \"$ADMIN\" \"$PIKUBE_ADMIN_PASSWORD\" | chpasswd
             unset PIKUBE_ADMIN_PASSWORD
"
        }
    };
    let password_login = if disable_password_login {
        "mkdir -p /etc/ssh/sshd_config.d\n\
         printf 'PasswordAuthentication no\\nKbdInteractiveAuthentication no\\n' > /etc/ssh/sshd_config.d/50-pikube.conf\n\
         systemctl reload ssh 2>/dev/null || systemctl reload sshd 2>/dev/null || true\n"
    } else {
        ""
    };
    format!(
        "set -e\nADMIN={admin}\n\
         if ! getent passwd \"$ADMIN\" >/dev/null; then\n  \
           useradd -m -s /bin/bash \"$ADMIN\"\n  \
           usermod -p '*' \"$ADMIN\"\n\
         fi\n\
         for group in sudo adm; do\n  \
           if getent group \"$group\" >/dev/null; then usermod -aG \"$group\" \"$ADMIN\"; fi\n\
         done\n\
         {admin_password}{access}{password_login}echo pikube-bootstrap-done\n",
        admin = shell_quote(admin),
        access = admin_access(keys, sudo),
    )
}

impl Bootstrap<'_> {
    /// Logs in once with the password and runs [`bootstrap_script`] under `sudo -S`.
    pub async fn run(&self, client: &ClientConfig) -> Result<(), BootstrapError> {
        let node = self.target.node.clone();
        // The answer for ssh's password prompt, in a file only this user can read, removed
        // when this returns.
        let secret_dir = tempfile::Builder::new()
            .prefix("pikube-askpass")
            .tempdir()?;
        let answer = write_private(secret_dir.path(), self.password)?;
        let sudo = match self.admin_password {
            None => AdminSudo::NoPassword,
            Some(_) => AdminSudo::WithPassword,
        };
        let script = bootstrap_script(self.admin, self.keys, self.disable_password_login, sudo);
        let remote = format!("sudo -k -S -p '' -- sh -c {}", shell_quote(&script));
        let mut ssh = tokio::process::Command::new("ssh");
        // pikube's ssh_config says BatchMode, which turns password prompts off.
        ssh.arg("-F").arg(client.ssh_config()).args([
            "-o",
            "BatchMode=no",
            "-o",
            "PreferredAuthentications=password,keyboard-interactive",
            "-o",
            "PubkeyAuthentication=no",
            "-o",
            "NumberOfPasswordPrompts=1",
            "-o",
            "ConnectTimeout=15",
            "-l",
            self.login,
        ]);
        if let Some(port) = self.target.port {
            ssh.arg("-p").arg(port.to_string());
        }
        if let Some(jump) = self.target.proxy_jump.as_deref().filter(|j| !j.is_empty()) {
            ssh.arg("-J").arg(jump);
        }
        ssh.arg("--")
            .arg(&self.target.address)
            .arg(remote)
            .env("SSH_ASKPASS", self.askpass)
            .env("SSH_ASKPASS_REQUIRE", "force")
            .env(ASKPASS_FILE_ENV, &answer)
            .env_remove("DISPLAY")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        // Stopped when given up on below (the future holding it is dropped).
        ssh.kill_on_drop(true);
        let mut child = ssh.spawn()?;
        if let Some(mut stdin) = child.stdin.take() {
            // sudo -S reads the password as its first line (a byte at a time, so the
            // admin's, when there is one, is left for the script).
            let mut input = zeroize::Zeroizing::new(format!("{}\n", self.password).into_bytes());
            if let Some(admin_password) = self.admin_password {
                input.extend_from_slice(&admin_password.line_then(b""));
            }
            let _ = stdin.write_all(&input).await;
            let _ = stdin.shutdown().await;
        }
        let limit = client.command_timeout();
        let output = tokio::time::timeout(limit, child.wait_with_output())
            .await
            .map_err(|_| BootstrapError::TimedOut {
                node: node.clone(),
                limit,
            })??;
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        let sudo_refused = [
            "incorrect password",
            "Sorry, try again",
            "not in the sudoers",
            "may not run sudo",
            "not allowed to execute",
        ]
        .iter()
        .any(|m| stderr.contains(m));
        if stdout.contains("pikube-bootstrap-done") {
            Ok(())
        } else if output.status.code() == Some(255) {
            Err(BootstrapError::Login {
                node,
                login: self.login.to_owned(),
                reason: last_line(&stderr),
            })
        } else if sudo_refused {
            Err(BootstrapError::Sudo {
                node,
                login: self.login.to_owned(),
            })
        } else {
            Err(BootstrapError::Script {
                node,
                admin: self.admin.to_owned(),
                reason: last_line(&stderr),
            })
        }
    }
}

fn write_private(dir: &Path, password: &str) -> std::io::Result<PathBuf> {
    use std::os::unix::fs::OpenOptionsExt;
    let path = dir.join("answer");
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)?;
    file.write_all(password.as_bytes())?;
    Ok(path)
}

/// ssh's askpass program: prints the answer kept in the file `ASKPASS_FILE_ENV` names.
/// `pikube` calls it first thing when that variable is set.
pub fn answer_askpass(file: &Path) -> std::io::Result<()> {
    let answer = std::fs::read_to_string(file)?;
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{answer}")?;
    stdout.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A node that accepts the connection and then says nothing (a wedged sshd): the login
    /// is given up on at `[ssh] command_timeout`, not left waiting.
    #[tokio::test]
    async fn a_login_that_never_answers_is_given_up_on_in_time() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            let held: Vec<_> = listener.incoming().take(4).collect();
            std::thread::sleep(std::time::Duration::from_secs(60));
            drop(held);
        });
        let dir = tempfile::tempdir().unwrap();
        let user_config = dir.path().join("ssh_config");
        std::fs::write(&user_config, "").unwrap();
        let limit = std::time::Duration::from_secs(2);
        let client = ClientConfig::create(
            &dir.path().join("known_hosts"),
            Some(&user_config),
            None,
            limit,
            limit,
        )
        .unwrap();
        let target = SshTarget {
            node: "pi-1".parse().unwrap(),
            address: "127.0.0.1".into(),
            user: None,
            port: Some(port),
            identity_file: None,
            proxy_jump: None,
        };
        let started = std::time::Instant::now();
        let result = Bootstrap {
            target: &target,
            login: "pi",
            password: "raspberry",
            admin: "admin",
            keys: &[],
            admin_password: None,
            disable_password_login: false,
            askpass: Path::new("/bin/false"),
        }
        .run(&client)
        .await;
        let err = result.expect_err("nothing answered");
        assert!(matches!(err, BootstrapError::TimedOut { .. }), "{err}");
        assert!(
            err.to_string()
                .starts_with("pi-1: bootstrap did not finish within 2 s"),
            "{err}"
        );
        assert!(started.elapsed() < std::time::Duration::from_secs(10));
    }

    #[test]
    fn the_script_is_valid_sh_and_quotes_the_user() {
        let keys = ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ3x7bQ me@laptop"
            .parse::<AuthorizedKey>()
            .unwrap()];
        for (off, sudo) in [
            (false, AdminSudo::NoPassword),
            (true, AdminSudo::NoPassword),
            (false, AdminSudo::WithPassword),
        ] {
            let script = bootstrap_script("ops", &keys, off, sudo);
            assert!(script.contains("ADMIN='ops'\n"), "{script}");
            assert_eq!(script.contains("PasswordAuthentication no"), off);
            assert_eq!(
                script.contains("NOPASSWD:ALL"),
                sudo == AdminSudo::NoPassword,
                "{script}"
            );
            assert_eq!(script.contains("chpasswd"), sudo == AdminSudo::WithPassword);
            let checked = std::process::Command::new("sh")
                .args(["-n", "-c", &script])
                .status()
                .unwrap();
            assert!(checked.success());
        }
    }
}
