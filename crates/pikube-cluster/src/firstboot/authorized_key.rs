//! A public key for `authorized_keys`, checked before it is written to a card that is only
//! tried minutes later on a Pi without a screen.

use std::fmt;
use std::str::FromStr;

/// One OpenSSH public key line: `TYPE BASE64 [COMMENT]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizedKey(String);

/// A line that is not an SSH public key, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not an SSH public key ({why}); expected a line like `ssh-ed25519 AAAAC3... you@laptop`, as in ~/.ssh/id_ed25519.pub")]
pub struct InvalidAuthorizedKey {
    why: &'static str,
}

const TYPES: [&str; 8] = [
    "ssh-ed25519",
    "ssh-rsa",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "sk-ssh-ed25519@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com",
    "ssh-dss",
];

impl FromStr for AuthorizedKey {
    type Err = InvalidAuthorizedKey;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let line = text.trim();
        let bad = |why| Err(InvalidAuthorizedKey { why });
        if line.contains("PRIVATE KEY") {
            return bad("that is a private key: give the .pub file");
        }
        if line.contains(['\n', '\r']) {
            return bad("more than one line");
        }
        let mut fields = line.split_ascii_whitespace();
        let (Some(kind), Some(blob)) = (fields.next(), fields.next()) else {
            return bad("too few fields");
        };
        if !TYPES.contains(&kind) {
            return bad("unknown key type");
        }
        let base64 = blob
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='));
        if !base64 || blob.len() < 16 {
            return bad("the key is not base64");
        }
        if line.chars().any(char::is_control) {
            return bad("control characters");
        }
        Ok(AuthorizedKey(line.to_owned()))
    }
}

impl AuthorizedKey {
    /// The line, as authorized_keys holds it.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AuthorizedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_keys_pass_and_anything_else_is_named() {
        let key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ3x7bQ me@laptop\n";
        assert_eq!(key.parse::<AuthorizedKey>().unwrap().as_str(), key.trim());
        for (text, why) in [
            ("", "too few fields"),
            ("ssh-ed25519", "too few fields"),
            (
                "ssh-foo AAAAC3NzaC1lZDI1NTE5AAAAIJ3x7bQ",
                "unknown key type",
            ),
            ("ssh-ed25519 not*base64!", "the key is not base64"),
            (
                "-----BEGIN OPENSSH PRIVATE KEY-----",
                "that is a private key",
            ),
            (
                "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ3x7bQ a\nssh-rsa AAAAB3NzaC1yc2EAAAADAQAB b",
                "more than one line",
            ),
        ] {
            let err = text.parse::<AuthorizedKey>().unwrap_err().to_string();
            assert!(err.contains(why), "{text:?}: {err}");
        }
    }
}
