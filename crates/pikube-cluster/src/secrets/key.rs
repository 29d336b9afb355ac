//! A secret's name: `sudo_password`, `nodes.pi-1.sudo_password`, `backup.s3.secret_key`.

use std::fmt;

/// Dotted words of letters, digits, `_` and `-`: safe as a TOML key, in a shell and in an
/// error message.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct SecretKey(String);

impl SecretKey {
    /// A name as the secrets file and `pikube secrets set` take it; else why not.
    pub fn parse(text: &str) -> Result<SecretKey, String> {
        let valid_word = |w: &str| {
            !w.is_empty()
                && w.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        };
        if text.len() <= 200 && text.split('.').all(valid_word) {
            Ok(SecretKey(text.to_owned()))
        } else {
            Err(format!(
                "{text:?} is not a secret name: dotted words of letters, digits, '_' and '-', \
                 e.g. sudo_password or nodes.pi-1.sudo_password"
            ))
        }
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_dotted_words() {
        for ok in [
            "sudo_password",
            "nodes.pi-1.sudo_password",
            "backup.s3.secret_key",
        ] {
            assert_eq!(SecretKey::parse(ok).unwrap().as_str(), ok);
        }
        for bad in ["", "a..b", ".a", "a b", "a=b", "nodes.$(id)"] {
            assert!(SecretKey::parse(bad).is_err(), "{bad}");
        }
    }
}
