use std::io::IsTerminal;

use pikube_cluster::ssh::SudoPassword;

/// The environment variable that carries a sudo password for unattended runs.
pub const SUDO_PASSWORD_ENV: &str = "PIKUBE_SUDO_PASSWORD";

/// The sudo password, from the environment or asked once on the terminal; `None` when
/// neither is possible (the affected nodes then fail with a message saying how to fix it).
/// Asked at most once per run, however many times the nodes are connected to.
pub fn sudo_password() -> Option<SudoPassword> {
    static ASKED: std::sync::Mutex<Option<Option<SudoPassword>>> = std::sync::Mutex::new(None);
    let mut asked = ASKED.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(answer) = asked.as_ref() {
        return answer.clone();
    }
    let answer = if let Ok(password) = std::env::var(SUDO_PASSWORD_ENV) {
        Some(SudoPassword::new(password))
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
