//! Issuing and checking bearer tokens.

use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::clock::now_millis;
use crate::config::JwtSecret;

/// How long a user's token is valid.
pub const TOKEN_LIFETIME: Duration = Duration::from_secs(3600);
/// Services mint a short-lived token for each call to another service.
const SERVICE_TOKEN_LIFETIME: Duration = Duration::from_secs(60);
/// How far apart two services' clocks may be for their tokens to pass (review M8):
/// Raspberry Pis have no real-time clock, and after a power cut one may boot minutes off
/// until NTP catches up. A token whose `exp` passed at most this long ago by the checker's
/// clock still passes; `pikube status` reports each node's clock offset.
pub const CLOCK_LEEWAY: Duration = Duration::from_secs(120);
const ISSUER: &str = "pikube-movies";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    User,
    Admin,
    /// Another Movies service, calling an `/internal` route.
    Service,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Admin => "admin",
            Role::Service => "service",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    /// The user id (or the calling service's name).
    pub sub: String,
    pub email: String,
    pub role: Role,
    pub iss: String,
    pub iat: u64,
    pub exp: u64,
}

/// The keys of the shared secret. Cloning is cheap enough for request state.
#[derive(Clone)]
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

/// Why a bearer token is refused: each says what to do about it.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    #[error("the token has expired: get a new one from POST /api/auth/token")]
    Expired,
    #[error("the token's signature is not valid")]
    BadSignature,
    /// Well-formed, but another issuer's or algorithm's (`alg: none` included).
    #[error("the token was not issued by this API: get one from POST /api/auth/token")]
    Foreign,
    #[error("the token is not valid yet")]
    NotYetValid,
    #[error("the token is malformed")]
    Malformed,
}

impl TokenKeys {
    pub fn new(secret: &JwtSecret) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        validation.leeway = CLOCK_LEEWAY.as_secs();
        TokenKeys {
            encoding: EncodingKey::from_secret(secret.expose()),
            decoding: DecodingKey::from_secret(secret.expose()),
            validation,
        }
    }

    /// A user's token.
    pub fn issue(&self, user_id: &str, email: &str, role: Role) -> String {
        self.sign(user_id, email, role, TOKEN_LIFETIME)
    }

    /// A token for one call from service `name` to another service's `/internal` routes.
    pub fn service_token(&self, name: &str) -> String {
        self.sign(name, "", Role::Service, SERVICE_TOKEN_LIFETIME)
    }

    fn sign(&self, sub: &str, email: &str, role: Role, lifetime: Duration) -> String {
        let iat = (now_millis() / 1000) as u64;
        let claims = Claims {
            sub: sub.to_owned(),
            email: email.to_owned(),
            role,
            iss: ISSUER.to_owned(),
            iat,
            exp: iat + lifetime.as_secs(),
        };
        // HS256 signing of a serializable struct cannot fail.
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .expect("signing a token with HS256")
    }

    pub fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map(|data| data.claims)
            .map_err(|error| {
                use jsonwebtoken::errors::ErrorKind;
                match error.kind() {
                    ErrorKind::ExpiredSignature => TokenError::Expired,
                    ErrorKind::InvalidSignature => TokenError::BadSignature,
                    ErrorKind::InvalidIssuer
                    | ErrorKind::InvalidAlgorithm
                    | ErrorKind::InvalidAlgorithmName => TokenError::Foreign,
                    ErrorKind::ImmatureSignature => TokenError::NotYetValid,
                    _ => TokenError::Malformed,
                }
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_other_keys_are_refused() {
        let keys = TokenKeys::new(&JwtSecret::random());
        let token = keys.issue("u1", "a@example.org", Role::Admin);
        let claims = keys.verify(&token).unwrap();
        assert_eq!((claims.sub.as_str(), claims.role), ("u1", Role::Admin));
        assert!(claims.exp > claims.iat);

        let stranger = TokenKeys::new(&JwtSecret::random());
        assert_eq!(stranger.verify(&token), Err(TokenError::BadSignature));
        assert_eq!(keys.verify("not.a.token"), Err(TokenError::Malformed));
    }

    /// A service token minted by a clock `offset` seconds away from the checker's.
    fn minted_off_by(keys: &TokenKeys, offset: i64) -> String {
        let iat = (now_millis() / 1000 + offset) as u64;
        let claims = Claims {
            sub: "payments".into(),
            email: String::new(),
            role: Role::Service,
            iss: ISSUER.into(),
            iat,
            exp: iat + SERVICE_TOKEN_LIFETIME.as_secs(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &keys.encoding).unwrap()
    }

    #[test]
    fn service_tokens_pass_between_clocks_minutes_apart_but_not_more() {
        let keys = TokenKeys::new(&JwtSecret::random());
        // The minting service 3 minutes behind: exp passed 2 minutes ago here, at the edge.
        for offset in [-170, -90, 0, 90, 600] {
            assert!(
                keys.verify(&minted_off_by(&keys, offset)).is_ok(),
                "{offset} s"
            );
        }
        assert_eq!(
            keys.verify(&minted_off_by(&keys, -200)),
            Err(TokenError::Expired)
        );
    }
}
