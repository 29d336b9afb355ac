//! The users service: registration, sign-in (bearer tokens), and who am I.

mod admin;
mod input;
mod store;

use std::sync::Arc;

use axum::extract::{FromRef, State};
use axum::http::StatusCode;
use axum::{Json, Router};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use self::admin::AdminError;
use self::input::{RegistrationRequest, TokenRequest};
use self::store::{Inserted, User};
use super::{Context, StartError, Started};
use crate::api::{method_not_allowed, ApiError, JsonBody};
use crate::auth::{
    hash_password, verify_password, Busy, Caller, ClientAddress, HashError, Role, Throttle,
    TokenKeys, TokenSigner, TOKEN_LIFETIME,
};
use crate::config::AuthLimits;
use crate::credentials::{Email, MAX_PASSWORD_CHARS};
use crate::database::Database;
use crate::openapi::{
    self as answers, BodyRejections, Conflict, NotFound, TokenRejections, TooManyRequests,
    Unauthorized,
};
use crate::ServiceName;

static MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/users");

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabel {
    outcome: &'static str,
}

#[derive(Clone)]
struct UsersState {
    db: Database,
    keys: TokenKeys,
    signer: TokenSigner,
    registered: Counter,
    sign_ins: Family<OutcomeLabel, Counter>,
    /// Hashed once at start, verified against when the email is unknown, so a wrong email
    /// takes as long as a wrong password.
    decoy_hash: String,
    limits: Arc<Limits>,
}

/// The throttles of [`AuthLimits`].
struct Limits {
    trust_forwarded_for: bool,
    per_client: Option<Throttle>,
    failures_per_account: Option<Throttle>,
}

impl Limits {
    fn new(limits: &AuthLimits) -> Limits {
        Limits {
            trust_forwarded_for: limits.trust_forwarded_for,
            per_client: limits.per_client.map(Throttle::new),
            failures_per_account: limits.failures_per_account.map(Throttle::new),
        }
    }

    /// One more try from `client` (sign-in or registration), or 429.
    fn client_try(&self, client: &ClientAddress) -> Result<(), ApiError> {
        let Some(throttle) = &self.per_client else {
            return Ok(());
        };
        throttle
            .take(&client.key(self.trust_forwarded_for))
            .map_err(|wait| {
                ApiError::too_many_requests(
                    "too many sign-in or registration attempts from this address; wait and try again",
                    wait,
                )
            })
    }

    /// 429 while `account` has used up its failed sign-ins.
    fn account_may_try(&self, account: &str) -> Result<(), ApiError> {
        let Some(throttle) = &self.failures_per_account else {
            return Ok(());
        };
        throttle.check(account).map_err(|wait| {
            ApiError::too_many_requests(
                "too many failed sign-ins for this account; wait and try again",
                wait,
            )
        })
    }

    fn account_failed(&self, account: &str) {
        if let Some(throttle) = &self.failures_per_account {
            // Already refused if it had no try left; nothing more to count.
            let _ = throttle.take(account);
        }
    }
}

fn busy(_: Busy) -> ApiError {
    ApiError::busy("too many passwords are being checked at once; try again in a moment")
}

fn hash_failed(error: HashError) -> ApiError {
    match error {
        HashError::Busy(b) => busy(b),
        failed @ (HashError::Argon2(_) | HashError::Task(_)) => ApiError::internal(failed),
    }
}

/// A bearer token.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct Token {
    /// A JWT: send it as `Authorization: Bearer <token>`.
    access_token: String,
    #[schema(schema_with = bearer)]
    token_type: &'static str,
    /// Seconds.
    #[schema(minimum = 1)]
    expires_in: u64,
}

fn bearer() -> utoipa::openapi::schema::Object {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(["Bearer"]))
        .build()
}

/// The routes, each with its document entry.
fn routes() -> OpenApiRouter<UsersState> {
    OpenApiRouter::new()
        .routes(routes!(register))
        .routes(routes!(me))
        .routes(routes!(token))
}

/// This service's part of the OpenAPI document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    routes().split_for_parts().1
}

impl FromRef<UsersState> for TokenKeys {
    fn from_ref(state: &UsersState) -> TokenKeys {
        state.keys.clone()
    }
}

pub async fn start(context: &Context<'_>) -> Result<Started, StartError> {
    let service = ServiceName::Users;
    let db = context.database(service, &MIGRATIONS).await?;
    let signer = context
        .signer
        .clone()
        .ok_or(StartError::NoSigningKey { service })?;
    if let Some(admin) = &context.config.admin {
        admin::bootstrap_admin(&db, &admin.email, admin.password())
            .await
            .map_err(|cause| StartError::Administrator { service, cause })?;
    }
    let registered = Counter::default();
    context.metrics.register(
        "movies_users_registered",
        "Users who registered",
        registered.clone(),
    );
    let sign_ins = Family::<OutcomeLabel, Counter>::default();
    context.metrics.register(
        "movies_sign_ins",
        "Token requests, by outcome (issued, refused, throttled)",
        sign_ins.clone(),
    );
    let state = UsersState {
        db: db.clone(),
        keys: context.keys.clone(),
        signer,
        registered,
        sign_ins,
        decoy_hash: hash_password("decoy password".into())
            .await
            .map_err(|cause| StartError::DecoyHash { service, cause })?,
        limits: Arc::new(Limits::new(&context.config.auth_limits)),
    };
    let (router, _): (Router, _) = routes().with_state(state).split_for_parts();
    let router = router.method_not_allowed_fallback(method_not_allowed);
    Ok(Started {
        service,
        router,
        database: db,
        background: Vec::new(),
    })
}

/// Register a user
///
/// The email must not be registered yet (409, field `email`, in any letter case).
#[utoipa::path(
    post,
    path = "/api/users",
    operation_id = "register",
    request_body(content = RegistrationRequest, description = "An email, a name and a password of at least 8 characters"),
    responses(
        (status = 201, description = "Registered", body = User),
        (status = 409, response = Conflict),
        (status = 429, response = TooManyRequests),
        (status = 503, response = answers::Busy),
        BodyRejections
    )
)]
async fn register(
    State(state): State<UsersState>,
    client: ClientAddress,
    JsonBody(request): JsonBody<RegistrationRequest>,
) -> Result<(StatusCode, Json<User>), ApiError> {
    let registration = request.parse()?;
    state.limits.client_try(&client)?;
    let hash = hash_password(registration.password)
        .await
        .map_err(hash_failed)?;
    match store::insert(
        &state.db,
        registration.email.as_str(),
        &registration.name,
        &hash,
        Role::User,
    )
    .await?
    {
        Inserted::Created(user) => {
            state.registered.inc();
            Ok((StatusCode::CREATED, Json(user)))
        }
        Inserted::EmailTaken => Err(ApiError::conflict(format!(
            "{} is already registered; sign in with POST /api/auth/token",
            registration.email.as_str()
        ))
        .field("email")),
    }
}

/// Sign in: get a bearer token
///
/// A wrong password and an unknown email get the same 401.
#[utoipa::path(
    post,
    path = "/api/auth/token",
    operation_id = "signIn",
    request_body(content = TokenRequest, description = "The email and password of a user"),
    responses(
        (status = 200, description = "Signed in", body = Token),
        (status = 401, response = Unauthorized),
        (status = 429, response = TooManyRequests),
        (status = 503, response = answers::Busy),
        BodyRejections
    )
)]
async fn token(
    State(state): State<UsersState>,
    client: ClientAddress,
    JsonBody(request): JsonBody<TokenRequest>,
) -> Result<Json<Token>, ApiError> {
    let refused = || ApiError::unauthorized("wrong email or password");
    // The account as typed, normalised, so that `Ada@X` and `ada@x` share their tries;
    // unknown accounts are counted too, so that a 429 says nothing about which exist.
    let account = Email::parse(&request.email).map_or_else(
        |_| request.email.trim().to_lowercase(),
        |e| e.as_str().to_owned(),
    );
    let limited = state
        .limits
        .account_may_try(&account)
        .and_then(|()| state.limits.client_try(&client));
    if let Err(error) = limited {
        state
            .sign_ins
            .get_or_create(&OutcomeLabel {
                outcome: "throttled",
            })
            .inc();
        return Err(error);
    }
    let user = match Email::parse(&request.email) {
        Ok(email) => store::by_email(&state.db, email.as_str()).await?,
        Err(_) => None,
    };
    let (hash, user) = match user {
        Some(user) => (user.password_hash.clone(), Some(user)),
        None => (state.decoy_hash.clone(), None),
    };
    // No password is longer than registration allows: refused without an Argon2 run.
    let matches = request.password.chars().count() <= MAX_PASSWORD_CHARS
        && verify_password(request.password, hash)
            .await
            .map_err(busy)?;
    let user = match user {
        Some(user) if matches => user,
        _ => {
            state.limits.account_failed(&account);
            state
                .sign_ins
                .get_or_create(&OutcomeLabel { outcome: "refused" })
                .inc();
            return Err(refused());
        }
    };
    state
        .sign_ins
        .get_or_create(&OutcomeLabel { outcome: "issued" })
        .inc();
    Ok(Json(Token {
        access_token: state.signer.issue(&user.id, &user.email, user.role),
        token_type: "Bearer",
        expires_in: TOKEN_LIFETIME.as_secs(),
    }))
}

/// The signed-in user
#[utoipa::path(
    get,
    path = "/api/users/me",
    operation_id = "me",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "You", body = User),
        (status = 404, response = NotFound),
        TokenRejections
    )
)]
async fn me(State(state): State<UsersState>, caller: Caller) -> Result<Json<User>, ApiError> {
    match store::by_id(&state.db, &caller.user_id).await? {
        Some(user) => Ok(Json(user)),
        None => Err(ApiError::not_found("this account no longer exists")),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::config::MoviesConfig;
    use crate::peers::Peers;

    #[tokio::test]
    async fn without_a_signing_key_the_service_does_not_start_and_says_which_key() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = MoviesConfig::embedded(dir.path());
        config.signing_key = None;
        let keys = TokenKeys::for_service(
            ServiceName::Users,
            &config.verifying_key,
            &config.internal_keys,
        );
        let metrics = pikube_http::Metrics::new();
        let context = Context {
            config: &config,
            keys: keys.clone(),
            signer: None,
            peers: Peers::new(BTreeMap::new(), keys),
            metrics: &metrics,
        };
        let Err(err) = start(&context).await else {
            panic!("the users service started without a key to sign tokens with");
        };
        assert!(
            matches!(
                err,
                StartError::NoSigningKey {
                    service: ServiceName::Users
                }
            ),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            "the users service: no key to sign users' tokens with (MOVIES_TOKEN_SIGNING_KEY)"
        );
    }
}
