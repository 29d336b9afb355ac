//! A secret's name: `sudo_password`, `nodes.pi-1.sudo_password`, `backup.s3.secret_key`.

use std::fmt;

/// Dotted words of letters, digits, `_` and `-`: safe as a TOML key, in a shell and in an
/// error message.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct SecretKey(String);

/// A name that is not a [`SecretKey`]; shows the name (never a secret).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{0:?} is not a secret name: dotted words of letters, digits, '_' and '-', e.g. \
     sudo_password or nodes.pi-1.sudo_password"
)]
pub struct InvalidSecretKey(pub String);

impl SecretKey {
    /// A name as the secrets file and `pikube secrets set` take it; else why not.
    pub fn parse(text: &str) -> Result<SecretKey, InvalidSecretKey> {
        let valid_word = |w: &str| {
            !w.is_empty()
                && w.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        };
        if text.len() <= 200 && text.split('.').all(valid_word) {
            Ok(SecretKey(text.to_owned()))
        } else {
            Err(InvalidSecretKey(text.to_owned()))
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
            assert_eq!(SecretKey::parse(bad), Err(InvalidSecretKey(bad.into())));
        }
        assert!(SecretKey::parse(&"a".repeat(201)).is_err());
        assert_eq!(
            SecretKey::parse("a b").unwrap_err().to_string(),
            "\"a b\" is not a secret name: dotted words of letters, digits, '_' and '-', e.g. \
             sudo_password or nodes.pi-1.sudo_password"
        );
    }
}
