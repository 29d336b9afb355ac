//! The users service: registration, sign-in (bearer tokens), and who am I.

mod input;
mod store;

use axum::extract::{FromRef, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use serde_json::{json, Value};

pub use input::{check_password, Email};

use self::input::{RegistrationRequest, TokenRequest};
use self::store::Inserted;
use super::{Context, StartError, Started};
use crate::api::{method_not_allowed, ApiError, JsonBody};
use crate::auth::{hash_password, verify_password, Caller, Role, TokenKeys, TOKEN_LIFETIME};
use crate::database::Database;
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
    registered: Counter,
    sign_ins: Family<OutcomeLabel, Counter>,
    /// Hashed once at start, verified against when the email is unknown, so a wrong email
    /// takes as long as a wrong password.
    decoy_hash: String,
}

impl FromRef<UsersState> for TokenKeys {
    fn from_ref(state: &UsersState) -> TokenKeys {
        state.keys.clone()
    }
}

pub async fn start(context: &Context<'_>) -> Result<Started, StartError> {
    let service = ServiceName::Users;
    let db = context.database(service, &MIGRATIONS).await?;
    let bootstrap = |message: String| StartError::Bootstrap { service, message };
    if let Some(admin) = &context.config.admin {
        bootstrap_admin(&db, &admin.email, admin.password())
            .await
            .map_err(bootstrap)?;
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
        "Token requests, by outcome (issued, refused)",
        sign_ins.clone(),
    );
    let state = UsersState {
        db: db.clone(),
        keys: context.keys.clone(),
        registered,
        sign_ins,
        decoy_hash: hash_password("decoy password".into())
            .await
            .map_err(bootstrap)?,
    };
    let router = Router::new()
        .route("/api/users", post(register))
        .route("/api/users/me", get(me))
        .route("/api/auth/token", post(token))
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state);
    Ok(Started {
        service,
        router,
        database: db,
        background: Vec::new(),
    })
}

/// Creates the administrator, or brings its password and role up to date. The hash is only
/// recomputed when the configured password no longer matches.
async fn bootstrap_admin(db: &Database, email: &str, password: &str) -> Result<(), String> {
    let existing = store::by_email(db, email)
        .await
        .map_err(|e| format!("reading the administrator: {e}"))?;
    if let Some(user) = existing {
        if user.role == Role::Admin
            && verify_password(password.to_owned(), user.password_hash).await
        {
            return Ok(());
        }
    }
    let hash = hash_password(password.to_owned()).await?;
    store::upsert_admin(db, email, &hash)
        .await
        .map_err(|e| format!("creating the administrator {email}: {e}"))?;
    tracing::info!(%email, "administrator account ready");
    Ok(())
}

async fn register(
    State(state): State<UsersState>,
    JsonBody(request): JsonBody<RegistrationRequest>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let registration = request.parse()?;
    let hash = hash_password(registration.password)
        .await
        .map_err(ApiError::internal)?;
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
            Ok((StatusCode::CREATED, Json(json!(user))))
        }
        Inserted::EmailTaken => Err(ApiError::conflict(format!(
            "{} is already registered; sign in with POST /api/auth/token",
            registration.email.as_str()
        ))
        .with("field", "email")),
    }
}

async fn token(
    State(state): State<UsersState>,
    JsonBody(request): JsonBody<TokenRequest>,
) -> Result<Json<Value>, ApiError> {
    let refused = || ApiError::unauthorized("wrong email or password");
    let user = match Email::parse(&request.email) {
        Ok(email) => store::by_email(&state.db, email.as_str()).await?,
        Err(_) => None,
    };
    let (hash, user) = match user {
        Some(user) => (user.password_hash.clone(), Some(user)),
        None => (state.decoy_hash.clone(), None),
    };
    let matches = verify_password(request.password, hash).await;
    let user = match user {
        Some(user) if matches => user,
        _ => {
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
    Ok(Json(json!({
        "access_token": state.keys.issue(&user.id, &user.email, user.role),
        "token_type": "Bearer",
        "expires_in": TOKEN_LIFETIME.as_secs(),
    })))
}

async fn me(State(state): State<UsersState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    match store::by_id(&state.db, &caller.user_id).await? {
        Some(user) => Ok(Json(json!(user))),
        None => Err(ApiError::not_found("this account no longer exists")),
    }
}
