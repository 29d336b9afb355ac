//! Extractors for the caller of a route: any signed-in user, an administrator, or another
//! Movies service.

use axum::extract::{FromRef, FromRequestParts, MatchedPath};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

use super::{internal_routes, Role, TokenKeys};
use crate::api::ApiError;

/// A signed-in user (or administrator). 401 without a valid bearer token.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user_id: String,
    pub role: Role,
}

/// An administrator: 403 for anyone else.
#[derive(Debug, Clone)]
pub struct Admin;

/// Another Movies service, on one of this service's `/internal` routes that the table of
/// `internal_routes` lets it call: 401 without its valid token, 403 for users and for a
/// service calling a route that is not its.
#[derive(Debug, Clone)]
pub struct ServiceCaller;

fn bearer(parts: &Parts) -> Result<&str, ApiError> {
    let value = parts.headers.get(AUTHORIZATION).ok_or_else(|| {
        ApiError::unauthorized(
            "sign in: send `Authorization: Bearer <token>` (POST /api/auth/token)",
        )
    })?;
    let value = value
        .to_str()
        .map_err(|_| ApiError::unauthorized("the Authorization header is not readable text"))?;
    match value.split_once(' ') {
        Some((scheme, token))
            if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() =>
        {
            Ok(token.trim())
        }
        _ => Err(ApiError::unauthorized(
            "the Authorization header must be `Bearer <token>`",
        )),
    }
}

fn authenticate(parts: &Parts, keys: &TokenKeys) -> Result<Caller, ApiError> {
    let claims = keys
        .verify(bearer(parts)?)
        .map_err(|error| ApiError::unauthorized(error.to_string()))?;
    Ok(Caller {
        user_id: claims.sub,
        role: claims.role,
    })
}

impl<S> FromRequestParts<S> for Caller
where
    TokenKeys: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let caller = authenticate(parts, &TokenKeys::from_ref(state))?;
        if caller.role == Role::Service {
            return Err(ApiError::forbidden("service tokens cannot act as a user"));
        }
        Ok(caller)
    }
}

impl<S> FromRequestParts<S> for Admin
where
    TokenKeys: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let caller = authenticate(parts, &TokenKeys::from_ref(state))?;
        if caller.role != Role::Admin {
            return Err(ApiError::forbidden("only an administrator may do this"));
        }
        Ok(Admin)
    }
}

impl<S> FromRequestParts<S> for ServiceCaller
where
    TokenKeys: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let keys = TokenKeys::from_ref(state);
        let token = bearer(parts)?;
        let caller = keys.verify_internal(token).map_err(|error| {
            if keys.verify(token).is_ok() {
                ApiError::forbidden("internal routes are for the Movies services only")
            } else {
                ApiError::unauthorized(error.to_string())
            }
        })?;
        let path = parts
            .extensions
            .get::<MatchedPath>()
            .map(MatchedPath::as_str)
            .unwrap_or_else(|| parts.uri.path());
        if !internal_routes::allowed(caller, keys.service(), &parts.method, path) {
            return Err(ApiError::forbidden(format!(
                "the {caller} service may not call {} {path}",
                parts.method
            )));
        }
        Ok(ServiceCaller)
    }
}
