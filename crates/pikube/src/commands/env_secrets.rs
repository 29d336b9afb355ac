//! The secrets an unattended run takes from its environment, taken out of it at start.

use std::sync::OnceLock;

/// The environment variable that carries a sudo password for unattended runs.
const SUDO_PASSWORD_ENV: &str = "PIKUBE_SUDO_PASSWORD";

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

/// The sudo password that was in the environment at start.
pub fn sudo_password_from_env() -> Option<String> {
    FROM_ENV.get().and_then(|(sudo, _)| sudo.clone())
}
