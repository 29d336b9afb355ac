//! The token a k3s server writes once it has started (`/var/lib/rancher/k3s/server/token`):
//! `K10<sha256 of the cluster CA>::server:<secret>`. Joining nodes get this full form, so
//! they check the CA they are talking to before they send any credential.

use std::fmt;

/// A server's full cluster token, `K10<CA hash>::server:<secret>`: the CA hash pins the
/// cluster's CA for joining nodes. Never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct ServerToken {
    full: String,
    secret_start: usize,
}

/// `K10<64 hex>::<user>:<secret>`: the line and where the secret starts.
fn parse_full(line: &str, user: &str) -> Option<(String, usize)> {
    let line = line.trim();
    let rest = line.strip_prefix("K10")?;
    let (ca_hash, credentials) = rest.split_once("::")?;
    if ca_hash.len() != 64 || !ca_hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let secret = credentials.strip_prefix(user)?.strip_prefix(':')?;
    if secret.is_empty() {
        return None;
    }
    Some((line.to_owned(), line.len() - secret.len()))
}

impl ServerToken {
    /// `None` for anything that is not the full, CA-pinned form.
    pub fn parse(line: &str) -> Option<ServerToken> {
        let (full, secret_start) = parse_full(line, "server")?;
        Some(ServerToken { full, secret_start })
    }

    /// The token an agent joins with: the same CA pin, the `node` user and the agent
    /// secret (what a server writes to `server/agent-token` when `agent-token` is set).
    pub fn for_agents(&self, agent_secret: &str) -> String {
        format!("K10{}::node:{agent_secret}", self.ca_hash())
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

/// The agent token a server keeps in `server/agent-token` once `agent-token` is set:
/// `K10<sha256 of the cluster CA>::node:<secret>`.
#[derive(Clone, PartialEq, Eq)]
pub struct AgentToken {
    full: String,
    secret_start: usize,
}

impl AgentToken {
    /// `None` for anything that is not the full, CA-pinned `node` form.
    pub fn parse(line: &str) -> Option<AgentToken> {
        let (full, secret_start) = parse_full(line, "node")?;
        Some(AgentToken { full, secret_start })
    }

    /// The secret the servers were started with as `agent-token`.
    pub fn expose_secret(&self) -> &str {
        &self.full[self.secret_start..]
    }
}

impl fmt::Debug for AgentToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AgentToken(<redacted>)")
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

    #[test]
    fn agents_get_the_same_ca_pin_with_their_own_secret() {
        let hash = "ab".repeat(32);
        let server = ServerToken::parse(&format!("K10{hash}::server:s3cret")).unwrap();
        let agent = server.for_agents("a93nt");
        assert_eq!(agent, format!("K10{hash}::node:a93nt"));
        assert!(!agent.contains("s3cret"));
        let parsed = AgentToken::parse(&agent).unwrap();
        assert_eq!(parsed.expose_secret(), "a93nt");
        assert!(!format!("{parsed:?}").contains("a93nt"));
        assert!(AgentToken::parse(&format!("K10{hash}::server:s3cret")).is_none());
    }
}
