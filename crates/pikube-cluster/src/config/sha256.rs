//! A SHA-256 digest written in cluster.toml: what a K3s release asset must hash to.

use std::fmt;
use std::str::FromStr;

/// 64 hex digits, kept lowercase (as `sha256sum` prints them; uppercase is accepted).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct Sha256(String);

/// A pinned digest that is not 64 hex digits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{input:?} is not a SHA-256: 64 hex digits, as sha256sum prints them")]
pub struct InvalidSha256 {
    input: String,
}

impl FromStr for Sha256 {
    type Err = InvalidSha256;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()) {
            Ok(Sha256(s.to_ascii_lowercase()))
        } else {
            Err(InvalidSha256 {
                input: s.to_owned(),
            })
        }
    }
}

impl Sha256 {
    /// Lowercase hex.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Sha256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_of_the_right_length_lowered() {
        let upper = "AB".repeat(32);
        assert_eq!(upper.parse::<Sha256>().unwrap().as_str(), "ab".repeat(32));
        for bad in ["", "abc", &"g".repeat(64), &"a".repeat(65)] {
            let err = bad.parse::<Sha256>().unwrap_err().to_string();
            assert!(err.contains("is not a SHA-256"), "{bad}: {err}");
        }
    }
}
