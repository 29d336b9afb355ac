use std::fmt;

use zeroize::{Zeroize, Zeroizing};

/// A sudo password: never printed, never put on a command line; it travels only on the
/// standard input of `sudo -S`. Its memory is wiped when the last copy is dropped, and so is
/// every input buffer it is copied into ([`SudoPassword::line_then`]).
#[derive(Clone)]
pub struct SudoPassword(Zeroizing<String>);

impl SudoPassword {
    /// Takes `password` (a trailing newline dropped) and wipes the string it came in.
    pub fn new(mut password: String) -> Self {
        let kept = Zeroizing::new(password.trim_end_matches(['\r', '\n']).to_owned());
        password.zeroize();
        SudoPassword(kept)
    }

    /// The password's line for `sudo -S`, then `rest`, in one buffer allocated once (no
    /// copy left behind by a reallocation) and wiped when dropped.
    pub(crate) fn line_then(&self, rest: &[u8]) -> Zeroizing<Vec<u8>> {
        let mut buffer = Zeroizing::new(Vec::with_capacity(self.0.len() + 1 + rest.len()));
        buffer.extend_from_slice(self.0.as_bytes());
        buffer.push(b'\n');
        buffer.extend_from_slice(rest);
        buffer
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_line_comes_first_in_one_allocation_and_never_prints() {
        let password = SudoPassword::new("s3cret\r\n".to_owned());
        let buffer = password.line_then(b"script input");
        assert_eq!(&buffer[..], b"s3cret\nscript input");
        // Sized once: no reallocation left a copy of the password in freed memory.
        assert_eq!(buffer.capacity(), buffer.len());
        assert_eq!(&password.line_then(b"")[..], b"s3cret\n");
        assert_eq!(format!("{password:?}"), "SudoPassword(<redacted>)");
    }
}
