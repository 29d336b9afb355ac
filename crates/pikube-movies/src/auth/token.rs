//! Issuing and checking bearer tokens: users' tokens (EdDSA, signed by the users service
//! alone, checked by every service with the public key) and the tokens one service sends
//! to another's `/internal` routes (HS256 with the caller's own key, for one callee).

use std::collections::BTreeMap;
use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::clock::now_millis;
use crate::config::{InternalKey, SigningKey, VerifyingKey};
use crate::ServiceName;

use super::internal_routes;

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
    /// The called service, in a service's token; none in a user's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
    pub iat: u64,
    pub exp: u64,
}

/// Signs users' tokens: only the users service has one.
#[derive(Clone)]
pub struct TokenSigner {
    encoding: EncodingKey,
}

impl TokenSigner {
    pub fn new(key: &SigningKey) -> Self {
        TokenSigner {
            encoding: EncodingKey::from_ed_der(key.expose_der()),
        }
    }

    /// A user's token.
    pub fn issue(&self, user_id: &str, email: &str, role: Role) -> String {
        let claims = claims(user_id, email, role, None, TOKEN_LIFETIME);
        // Signing a serializable struct with a key that parsed cannot fail.
        jsonwebtoken::encode(&Header::new(Algorithm::EdDSA), &claims, &self.encoding)
            .expect("signing a token with Ed25519")
    }
}

/// What one service checks tokens with, and signs its own calls to others' internal
/// routes with. Cloning is cheap enough for request state.
#[derive(Clone)]
pub struct TokenKeys {
    service: ServiceName,
    users: DecodingKey,
    user_validation: Validation,
    /// This service's own key, when it calls another's internal routes.
    internal_signer: Option<EncodingKey>,
    /// The keys of the services that may call this one's internal routes.
    internal_callers: BTreeMap<ServiceName, DecodingKey>,
    internal_validation: Validation,
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
    /// A service token naming a service that has no key for this one's internal routes.
    #[error("the token names no service that may call this one")]
    NotACaller,
}

impl TokenKeys {
    /// The keys of `service`: the users' public key, and of `internal` the keys it calls
    /// others with and those its callers use; other keys are not kept.
    pub fn for_service(
        service: ServiceName,
        users: &VerifyingKey,
        internal: &BTreeMap<ServiceName, InternalKey>,
    ) -> Self {
        let mut user_validation = Validation::new(Algorithm::EdDSA);
        user_validation.set_issuer(&[ISSUER]);
        user_validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        user_validation.leeway = CLOCK_LEEWAY.as_secs();
        let mut internal_validation = Validation::new(Algorithm::HS256);
        internal_validation.set_issuer(&[ISSUER]);
        internal_validation.set_audience(&[service.as_str()]);
        internal_validation.set_required_spec_claims(&["exp", "iss", "sub", "aud"]);
        internal_validation.leeway = CLOCK_LEEWAY.as_secs();
        let internal_signer = (!internal_routes::callees_of(service).is_empty())
            .then(|| internal.get(&service))
            .flatten()
            .map(|key| EncodingKey::from_secret(key.expose()));
        let internal_callers = internal_routes::callers_of(service)
            .into_iter()
            .filter_map(|caller| {
                internal
                    .get(&caller)
                    .map(|key| (caller, DecodingKey::from_secret(key.expose())))
            })
            .collect();
        TokenKeys {
            service,
            users: DecodingKey::from_ed_der(users.as_bytes()),
            user_validation,
            internal_signer,
            internal_callers,
            internal_validation,
        }
    }

    /// The service these keys are for.
    pub fn service(&self) -> ServiceName {
        self.service
    }

    /// A token for one call from this service to `callee`'s internal routes; `None` when
    /// this service has no key to call any (configuration makes sure the callers have).
    pub fn internal_token(&self, callee: ServiceName) -> Option<String> {
        let encoding = self.internal_signer.as_ref()?;
        let claims = claims(
            self.service.as_str(),
            "",
            Role::Service,
            Some(callee.as_str()),
            SERVICE_TOKEN_LIFETIME,
        );
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(self.service.as_str().to_owned());
        // HS256 signing of a serializable struct cannot fail.
        Some(jsonwebtoken::encode(&header, &claims, encoding).expect("signing a token with HS256"))
    }

    /// A user's token, checked with the users service's public key.
    pub fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        jsonwebtoken::decode::<Claims>(token, &self.users, &self.user_validation)
            .map(|data| data.claims)
            .map_err(refusal)
    }

    /// A service's token for this service's internal routes: the calling service, when
    /// its own key signed it for this service.
    pub fn verify_internal(&self, token: &str) -> Result<ServiceName, TokenError> {
        let header = jsonwebtoken::decode_header(token).map_err(refusal)?;
        let caller: ServiceName = header
            .kid
            .as_deref()
            .and_then(|kid| kid.parse().ok())
            .ok_or(TokenError::NotACaller)?;
        let key = self
            .internal_callers
            .get(&caller)
            .ok_or(TokenError::NotACaller)?;
        let claims = jsonwebtoken::decode::<Claims>(token, key, &self.internal_validation)
            .map(|data| data.claims)
            .map_err(refusal)?;
        if claims.sub != caller.as_str() || claims.role != Role::Service {
            return Err(TokenError::NotACaller);
        }
        Ok(caller)
    }
}

fn claims(sub: &str, email: &str, role: Role, aud: Option<&str>, lifetime: Duration) -> Claims {
    let iat = (now_millis() / 1000) as u64;
    Claims {
        sub: sub.to_owned(),
        email: email.to_owned(),
        role,
        iss: ISSUER.to_owned(),
        aud: aud.map(str::to_owned),
        iat,
        exp: iat + lifetime.as_secs(),
    }
}

fn refusal(error: jsonwebtoken::errors::Error) -> TokenError {
    use jsonwebtoken::errors::ErrorKind;
    match error.kind() {
        ErrorKind::ExpiredSignature => TokenError::Expired,
        ErrorKind::InvalidSignature => TokenError::BadSignature,
        ErrorKind::InvalidIssuer
        | ErrorKind::InvalidAudience
        | ErrorKind::InvalidAlgorithm
        | ErrorKind::InvalidAlgorithmName => TokenError::Foreign,
        ErrorKind::ImmatureSignature => TokenError::NotYetValid,
        _ => TokenError::Malformed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn internal_keys() -> BTreeMap<ServiceName, InternalKey> {
        internal_routes::callers()
            .into_iter()
            .map(|caller| (caller, InternalKey::random()))
            .collect()
    }

    #[test]
    fn user_tokens_round_trip_and_other_keys_are_refused() {
        let signing = SigningKey::random();
        let signer = TokenSigner::new(&signing);
        let keys = TokenKeys::for_service(
            ServiceName::Movies,
            signing.verifying_key(),
            &BTreeMap::new(),
        );
        let token = signer.issue("u1", "a@example.org", Role::Admin);
        let claims = keys.verify(&token).unwrap();
        assert_eq!((claims.sub.as_str(), claims.role), ("u1", Role::Admin));
        assert!(claims.exp > claims.iat);

        let stranger = TokenKeys::for_service(
            ServiceName::Movies,
            SigningKey::random().verifying_key(),
            &BTreeMap::new(),
        );
        assert_eq!(stranger.verify(&token), Err(TokenError::BadSignature));
        assert_eq!(keys.verify("not.a.token"), Err(TokenError::Malformed));
    }

    #[test]
    fn what_a_service_holds_cannot_make_a_user_token() {
        // Review M9: a service other than users holds the public key and, for a caller, its
        // internal key. HS256 tokens made with either (the classic algorithm confusion) and
        // a service's own internal token are all refused as user tokens.
        let signing = SigningKey::random();
        let internal = internal_keys();
        let keys =
            TokenKeys::for_service(ServiceName::Screenings, signing.verifying_key(), &internal);
        let admin = claims("u1", "", Role::Admin, None, TOKEN_LIFETIME);
        for secret in [
            &signing.verifying_key().as_bytes()[..],
            internal[&ServiceName::Screenings].expose(),
        ] {
            let forged = jsonwebtoken::encode(
                &Header::new(Algorithm::HS256),
                &admin,
                &EncodingKey::from_secret(secret),
            )
            .unwrap();
            assert_eq!(keys.verify(&forged), Err(TokenError::Foreign));
        }
        let own = keys.internal_token(ServiceName::Reservations).unwrap();
        assert_eq!(keys.verify(&own), Err(TokenError::Foreign));
    }

    #[test]
    fn internal_tokens_pass_only_from_a_caller_to_its_callee() {
        let users = SigningKey::random();
        let internal = internal_keys();
        let keys = |service| TokenKeys::for_service(service, users.verifying_key(), &internal);
        let reservations = keys(ServiceName::Reservations);
        let payments = keys(ServiceName::Payments);
        let screenings = keys(ServiceName::Screenings);
        let token = payments.internal_token(ServiceName::Reservations).unwrap();
        assert_eq!(
            reservations.verify_internal(&token),
            Ok(ServiceName::Payments)
        );
        let token = screenings
            .internal_token(ServiceName::Reservations)
            .unwrap();
        assert_eq!(
            reservations.verify_internal(&token),
            Ok(ServiceName::Screenings)
        );
        // Not for another callee; none from a service that calls no one.
        assert_eq!(
            screenings.verify_internal(&token),
            Err(TokenError::NotACaller)
        );
        let for_payments = payments.internal_token(ServiceName::Payments).unwrap();
        assert_eq!(
            reservations.verify_internal(&for_payments),
            Err(TokenError::Foreign)
        );
        assert!(keys(ServiceName::Movies)
            .internal_token(ServiceName::Reservations)
            .is_none());
        // Screenings' key cannot speak for payments.
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some("payments".into());
        let mut as_payments = claims(
            "payments",
            "",
            Role::Service,
            Some("reservations"),
            SERVICE_TOKEN_LIFETIME,
        );
        let forged = jsonwebtoken::encode(
            &header,
            &as_payments,
            &EncodingKey::from_secret(internal[&ServiceName::Screenings].expose()),
        )
        .unwrap();
        assert_eq!(
            reservations.verify_internal(&forged),
            Err(TokenError::BadSignature)
        );
        // Nor a token whose subject is not the key's owner.
        header.kid = Some("screenings".into());
        as_payments.sub = "payments".into();
        let mislabelled = jsonwebtoken::encode(
            &header,
            &as_payments,
            &EncodingKey::from_secret(internal[&ServiceName::Screenings].expose()),
        )
        .unwrap();
        assert_eq!(
            reservations.verify_internal(&mislabelled),
            Err(TokenError::NotACaller)
        );
    }

    /// A service token minted by a clock `offset` seconds away from the checker's.
    fn minted_off_by(key: &InternalKey, offset: i64) -> String {
        let iat = (now_millis() / 1000 + offset) as u64;
        let claims = Claims {
            sub: "payments".into(),
            email: String::new(),
            role: Role::Service,
            iss: ISSUER.into(),
            aud: Some("reservations".into()),
            iat,
            exp: iat + SERVICE_TOKEN_LIFETIME.as_secs(),
        };
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some("payments".into());
        jsonwebtoken::encode(&header, &claims, &EncodingKey::from_secret(key.expose())).unwrap()
    }

    #[test]
    fn service_tokens_pass_between_clocks_minutes_apart_but_not_more() {
        let internal = internal_keys();
        let keys = TokenKeys::for_service(
            ServiceName::Reservations,
            SigningKey::random().verifying_key(),
            &internal,
        );
        let key = &internal[&ServiceName::Payments];
        // The minting service 3 minutes behind: exp passed 2 minutes ago here, at the edge.
        for offset in [-170, -90, 0, 90, 600] {
            assert!(
                keys.verify_internal(&minted_off_by(key, offset)).is_ok(),
                "{offset} s"
            );
        }
        assert_eq!(
            keys.verify_internal(&minted_off_by(key, -200)),
            Err(TokenError::Expired)
        );
    }
}
