//! The sudo password for the nodes, and the secrets beside cluster.toml that may hold it.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use pikube_cluster::secrets::{SecretKey, Secrets, SecretsFile};
use pikube_cluster::ssh::SudoPassword;

/// The directory of the cluster.toml this run loaded: its secrets.age may hold the sudo
/// password.
static CONFIG_DIR: OnceLock<PathBuf> = OnceLock::new();

/// Records the directory of cluster.toml, for [`sudo_password`].
pub fn secrets_beside(config_dir: &Path) {
    let _ = CONFIG_DIR.set(config_dir.to_owned());
}

/// The secrets beside cluster.toml, opened once per run (`None`: no file, or it could not be
/// opened, which is said once as a warning rather than silently falling back to a prompt).
fn secrets() -> Option<&'static Secrets> {
    static OPENED: OnceLock<Option<Secrets>> = OnceLock::new();
    OPENED
        .get_or_init(|| {
            let file = SecretsFile::beside(CONFIG_DIR.get()?);
            if !file.exists() {
                return None;
            }
            match file.open(&super::secrets::unlock()) {
                Ok(secrets) => Some(secrets),
                Err(err) => {
                    errln!("warning: the secrets beside cluster.toml were not read: {err}");
                    None
                }
            }
        })
        .as_ref()
}

/// A secret the cluster needs (a registry password), from secrets.age beside cluster.toml.
pub fn secret(key: &SecretKey) -> Option<String> {
    secrets()?.get(key).map(str::to_owned)
}

/// `nodes.<node>.<name>`, else `<name>`, from the secrets beside cluster.toml.
pub fn node_secret(node: &str, name: &str) -> Option<String> {
    secrets()?.node_secret(node, name).map(str::to_owned)
}

/// `nodes.<node>.sudo_password`, else `sudo_password`, from the secrets.
pub fn sudo_password_from_secrets(node: &str) -> Option<SudoPassword> {
    node_secret(node, "sudo_password").map(SudoPassword::new)
}

/// `node`'s sudo password: from the environment (the same for every node), the secrets file
/// beside cluster.toml (`nodes.<node>.sudo_password`, else `sudo_password`), or asked once
/// on the terminal for every node the secrets do not cover; `None` when none of these is
/// possible (the node then fails with a message saying how to fix it).
pub fn sudo_password(node: &str) -> Option<SudoPassword> {
    static ASKED: std::sync::Mutex<Option<Option<SudoPassword>>> = std::sync::Mutex::new(None);
    if let Some(password) = super::env_secrets::sudo_password_from_env() {
        return Some(SudoPassword::new(password));
    }
    if let Some(password) = sudo_password_from_secrets(node) {
        return Some(password);
    }
    let mut asked = ASKED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(answer) = asked.as_ref() {
        return answer.clone();
    }
    let answer = if std::io::stdin().is_terminal() {
        rpassword::prompt_password("sudo password for the nodes (asked once): ")
            .ok()
            .map(SudoPassword::new)
    } else {
        None
    };
    *asked = Some(answer.clone());
    answer
}
