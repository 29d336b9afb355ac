//! How often sign-in and registration may be tried (security review M3).

use std::time::Duration;

use crate::auth::Rate;

/// Limits on the routes that cost an Argon2 hash: per client address (sign-in and
/// registration together) and per account (failed sign-ins). `None` turns one off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthLimits {
    /// Default: 30 at once, then one every 2 s (`MOVIES_AUTH_PER_CLIENT_PER_MINUTE`).
    pub per_client: Option<Rate>,
    /// Default: 10 failures, then one more every 90 s
    /// (`MOVIES_SIGN_IN_FAILURES_PER_ACCOUNT`, per 15 minutes).
    pub failures_per_account: Option<Rate>,
    /// Take the client's address from the last `X-Forwarded-For` entry (the one the
    /// Ingress adds) instead of the connection's: only where nothing but the Ingress can
    /// reach the pods (`MOVIES_TRUST_FORWARDED_FOR=true`).
    pub trust_forwarded_for: bool,
}

/// The window `MOVIES_SIGN_IN_FAILURES_PER_ACCOUNT` counts in.
pub const ACCOUNT_WINDOW: Duration = Duration::from_secs(15 * 60);

impl Default for AuthLimits {
    fn default() -> Self {
        AuthLimits {
            per_client: Some(Rate::per(30, Duration::from_secs(60))),
            failures_per_account: Some(Rate::per(10, ACCOUNT_WINDOW)),
            trust_forwarded_for: false,
        }
    }
}
