use std::io::IsTerminal;

use pikube_cluster::ssh::SudoPassword;

/// The environment variable that carries a sudo password for unattended runs.
pub const SUDO_PASSWORD_ENV: &str = "PIKUBE_SUDO_PASSWORD";

/// The sudo password, from the environment or asked once on the terminal; `None` when
/// neither is possible (the affected nodes then fail with a message saying how to fix it).
pub fn sudo_password() -> Option<SudoPassword> {
    if let Ok(password) = std::env::var(SUDO_PASSWORD_ENV) {
        return Some(SudoPassword::new(password));
    }
    if !std::io::stdin().is_terminal() {
        return None;
    }
    rpassword::prompt_password("sudo password for the nodes (asked once): ")
        .ok()
        .map(SudoPassword::new)
}
