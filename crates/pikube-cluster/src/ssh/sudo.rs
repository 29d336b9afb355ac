use std::fmt;

/// A sudo password: never printed, never put on a command line; it travels only on the
/// standard input of `sudo -S`.
#[derive(Clone)]
pub struct SudoPassword(String);

impl SudoPassword {
    pub fn new(password: String) -> Self {
        SudoPassword(password.trim_end_matches(['\r', '\n']).to_owned())
    }

    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SudoPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SudoPassword(<redacted>)")
    }
}

/// How a node's privileged commands are run.
#[derive(Debug, Clone)]
pub enum Privilege {
    /// Logged in as root: no sudo at all.
    Root,
    /// `sudo -n` works.
    Passwordless,
    /// `sudo -S -k` with the password as the first line of standard input.
    Password(SudoPassword),
}
