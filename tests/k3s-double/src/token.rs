//! Join tokens: the short form (just a password) and the secure form
//! `K10<sha256 hex of the cluster CA file>::<user>:<password>`.

use crate::encoding::sha256_hex;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    /// 64 hex chars; `None` for a short token (no CA pinning).
    pub ca_hash: Option<String>,
    /// `server` or `node` in a full token.
    pub username: Option<String>,
    pub password: String,
}

impl Token {
    pub fn parse(text: &str) -> Result<Token, String> {
        let text = text.trim();
        if text.is_empty() {
            return Err("token is empty".into());
        }
        let Some(rest) = text.strip_prefix("K10") else {
            return Ok(Token {
                ca_hash: None,
                username: None,
                password: text.to_string(),
            });
        };
        let (hash, creds) = rest
            .split_once("::")
            .ok_or("invalid token format: missing '::' after the CA hash")?;
        if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err("invalid token CA hash length".into());
        }
        // A full token always names its user (server or node).
        let Some((user, password)) = creds.split_once(':') else {
            return Err("invalid token format".into());
        };
        let (username, password) = (Some(user.to_string()), password.to_string());
        if password.is_empty() {
            return Err("invalid token format: empty password".into());
        }
        Ok(Token {
            ca_hash: Some(hash.to_lowercase()),
            username,
            password,
        })
    }

    /// Compares the pinned CA hash (if any) with the CA the server handed out,
    /// worded like k3s's error.
    pub fn check_ca(&self, ca_pem: &[u8]) -> Result<(), String> {
        match &self.ca_hash {
            Some(hash) if *hash != sha256_hex(ca_pem) => Err(format!(
                "token CA hash does not match the Cluster CA certificate hash: {hash} != {}",
                sha256_hex(ca_pem)
            )),
            _ => Ok(()),
        }
    }
}

/// The secure token of a cluster: `K10<hash>::<user>:<password>`.
pub fn full(ca_pem: &[u8], user: &str, password: &str) -> String {
    format!("K10{}::{user}:{password}", sha256_hex(ca_pem))
}

/// What a presented token may do, as a server decides it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grant {
    /// Join as a server, register as any node.
    Server,
    /// Register an agent only.
    Agent,
}

/// The server side check: CA hash (when given) must be ours, the password
/// must be the server password, or the agent password for agents.
pub fn authorize(
    presented: &str,
    ca_pem: &[u8],
    server_password: &str,
    agent_password: Option<&str>,
) -> Option<Grant> {
    let token = Token::parse(presented).ok()?;
    token.check_ca(ca_pem).ok()?;
    if token.password == server_password && token.username.as_deref() != Some("node") {
        Some(Grant::Server)
    } else if token.password == server_password || Some(token.password.as_str()) == agent_password {
        Some(Grant::Agent)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CA: &[u8] = b"-----BEGIN CERTIFICATE-----\nabc\n-----END CERTIFICATE-----\n";

    #[test]
    fn short_and_full_forms() {
        let short = Token::parse("secret\n").unwrap();
        assert_eq!(short.password, "secret");
        assert_eq!(short.ca_hash, None);

        let text = full(CA, "server", "secret");
        assert!(text.starts_with("K10"));
        assert_eq!(text.len(), 3 + 64 + 2 + "server:secret".len());
        let parsed = Token::parse(&text).unwrap();
        assert_eq!(parsed.username.as_deref(), Some("server"));
        assert_eq!(parsed.password, "secret");
        assert_eq!(parsed.ca_hash.as_deref(), Some(&sha256_hex(CA)[..]));
        parsed.check_ca(CA).unwrap();
    }

    #[test]
    fn malformed_full_tokens() {
        assert_eq!(
            Token::parse("K10abc::server:x").unwrap_err(),
            "invalid token CA hash length"
        );
        assert!(Token::parse("K10nocolons").is_err());
        let no_user = format!("K10{}::secret", "a".repeat(64));
        assert_eq!(Token::parse(&no_user).unwrap_err(), "invalid token format");
        assert!(Token::parse("").is_err());
    }

    #[test]
    fn ca_pinning() {
        let other = full(b"another CA", "server", "secret");
        let err = Token::parse(&other).unwrap().check_ca(CA).unwrap_err();
        assert!(err.starts_with("token CA hash does not match the Cluster CA certificate hash: "));
    }

    #[test]
    fn server_authorization() {
        assert_eq!(authorize("secret", CA, "secret", None), Some(Grant::Server));
        assert_eq!(
            authorize(&full(CA, "server", "secret"), CA, "secret", None),
            Some(Grant::Server)
        );
        assert_eq!(
            authorize(&full(b"x", "server", "secret"), CA, "secret", None),
            None
        );
        assert_eq!(authorize("wrong", CA, "secret", None), None);
        assert_eq!(
            authorize("agentpw", CA, "secret", Some("agentpw")),
            Some(Grant::Agent)
        );
        assert_eq!(
            authorize(&full(CA, "node", "agentpw"), CA, "secret", Some("agentpw")),
            Some(Grant::Agent)
        );
    }
}
