//! The token a k3s server writes once it has started (`/var/lib/rancher/k3s/server/token`):
//! `K10<sha256 of the cluster CA>::server:<secret>`. Joining nodes get this full form, so
//! they check the CA they are talking to before they send any credential.

use std::fmt;

#[derive(Clone, PartialEq, Eq)]
pub struct ServerToken {
    full: String,
    secret_start: usize,
}

impl ServerToken {
    /// `None` for anything that is not the full, CA-pinned form.
    pub fn parse(line: &str) -> Option<ServerToken> {
        let line = line.trim();
        let rest = line.strip_prefix("K10")?;
        let (ca_hash, credentials) = rest.split_once("::")?;
        if ca_hash.len() != 64 || !ca_hash.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let secret = credentials.strip_prefix("server:")?;
        if secret.is_empty() {
            return None;
        }
        Some(ServerToken {
            full: line.to_owned(),
            secret_start: line.len() - secret.len(),
        })
    }

    /// The SHA-256 of the cluster CA the token pins (64 lowercase hex characters).
    pub fn ca_hash(&self) -> String {
        self.full[3..67].to_ascii_lowercase()
    }

    /// The whole token, for the env file of a joining node.
    pub fn expose_full(&self) -> &str {
        &self.full
    }

    /// The shared secret part: what the first server was started with.
    pub fn expose_secret(&self) -> &str {
        &self.full[self.secret_start..]
    }
}

impl fmt::Debug for ServerToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ServerToken(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_full_form_only() {
        let hash = "ab".repeat(32);
        let token = ServerToken::parse(&format!("K10{hash}::server:s3cret\n")).unwrap();
        assert_eq!(token.expose_secret(), "s3cret");
        assert!(token.expose_full().starts_with("K10ab"));
        assert!(!format!("{token:?}").contains("s3cret"));
        assert!(ServerToken::parse("s3cret").is_none());
        assert!(ServerToken::parse(&format!("K10{hash}::node:s3cret")).is_none());
        assert!(ServerToken::parse("K10abc::server:s3cret").is_none());
        assert!(ServerToken::parse(&format!("K10{hash}::server:")).is_none());
    }
}
