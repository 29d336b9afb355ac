use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use pikube_cluster::secrets::{SecretKey, SecretsFile};
use pikube_cluster::ssh::SudoPassword;

/// PIKUBE_SUDO_PASSWORD and PIKUBE_SECRETS_PASSPHRASE, taken out of the environment at
/// start, before any thread or child process exists: ssh (and the ControlMaster that
/// outlives pikube for a minute), its ProxyCommands and `Match exec` would otherwise
/// inherit them (security review L4).
static FROM_ENV: OnceLock<(Option<String>, Option<String>)> = OnceLock::new();

/// Call first thing in `main`, while the process has a single thread.
pub fn take_secrets_from_env() {
    let sudo = std::env::var(SUDO_PASSWORD_ENV).ok();
    let passphrase = std::env::var(pikube_cluster::secrets::PASSPHRASE_ENV).ok();
    std::env::remove_var(SUDO_PASSWORD_ENV);
    std::env::remove_var(pikube_cluster::secrets::PASSPHRASE_ENV);
    let _ = FROM_ENV.set((sudo, passphrase));
}

/// The secrets passphrase that was in the environment at start.
pub fn passphrase_from_env() -> Option<String> {
    FROM_ENV.get().and_then(|(_, p)| p.clone())
}

/// The directory of the cluster.toml this run loaded: its secrets.age may hold the sudo
/// password.
static CONFIG_DIR: OnceLock<PathBuf> = OnceLock::new();

/// Records where cluster.toml is, for [`sudo_password`].
pub fn secrets_beside(config: &Path) {
    let dir = config
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let _ = CONFIG_DIR.set(dir.to_owned());
}

/// `sudo_password` from secrets.age beside cluster.toml, when there is one. A file that
/// exists but cannot be opened is an error worth showing, not a reason to prompt silently.
fn from_secrets() -> Option<SudoPassword> {
    let file = SecretsFile::beside(CONFIG_DIR.get()?);
    if !file.exists() {
        return None;
    }
    let key = SecretKey::parse("sudo_password").ok()?;
    match file.open(&super::secrets::unlock()) {
        Ok(secrets) => secrets.get(&key).map(|p| SudoPassword::new(p.to_owned())),
        Err(err) => {
            errln!("warning: the sudo password was not read from the secrets: {err}");
            None
        }
    }
}

/// The environment variable that carries a sudo password for unattended runs.
pub const SUDO_PASSWORD_ENV: &str = "PIKUBE_SUDO_PASSWORD";

/// The sudo password, from the environment, the secrets file beside cluster.toml
/// (`sudo_password`), or asked once on the terminal; `None` when
/// neither is possible (the affected nodes then fail with a message saying how to fix it).
/// Asked at most once per run, however many times the nodes are connected to.
pub fn sudo_password() -> Option<SudoPassword> {
    static ASKED: std::sync::Mutex<Option<Option<SudoPassword>>> = std::sync::Mutex::new(None);
    let mut asked = ASKED.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(answer) = asked.as_ref() {
        return answer.clone();
    }
    let from_env = FROM_ENV.get().and_then(|(sudo, _)| sudo.clone());
    let answer = if let Some(password) = from_env {
        Some(SudoPassword::new(password))
    } else if let Some(password) = from_secrets() {
        Some(password)
    } else if std::io::stdin().is_terminal() {
        rpassword::prompt_password("sudo password for the nodes (asked once): ")
            .ok()
            .map(SudoPassword::new)
    } else {
        None
    };
    *asked = Some(answer.clone());
    answer
}
