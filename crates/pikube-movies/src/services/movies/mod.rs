//! The movies service: the catalogue.

use axum::extract::{FromRef, State};
use axum::http::StatusCode;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use sqlx::Row;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{Context, StartError, Started};
use crate::api::{
    free_text, free_text_schema, method_not_allowed, one_line, one_line_schema, ApiError, Id,
    JsonBody, PathId, QueryParams,
};
use crate::auth::{Admin, TokenKeys};
use crate::clock::now_millis;
use crate::database::Database;
use crate::openapi::{BodyRejections, NotFound, QueryRejections, TokenRejections};
use crate::ServiceName;

static MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/movies");

#[derive(Clone)]
struct MoviesState {
    db: Database,
    keys: TokenKeys,
}

impl FromRef<MoviesState> for TokenKeys {
    fn from_ref(state: &MoviesState) -> TokenKeys {
        state.keys.clone()
    }
}

/// A movie as the API shows it (and as screenings reads it).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Movie {
    #[schema(value_type = Id)]
    pub id: String,
    pub title: String,
    pub description: String,
    #[schema(minimum = 1, maximum = 600)]
    pub duration_minutes: i64,
}

/// The catalogue.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct MovieList {
    /// By title.
    movies: Vec<Movie>,
}

/// A movie to add.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewMovie {
    #[schema(schema_with = one_line_schema::<200>)]
    pub title: String,
    #[serde(default)]
    #[schema(schema_with = free_text_schema::<2000>)]
    pub description: String,
    #[serde(deserialize_with = "crate::api::whole_number")]
    #[schema(minimum = 1, maximum = 600)]
    pub duration_minutes: i64,
}

impl NewMovie {
    fn parse(self) -> Result<NewMovie, ApiError> {
        let title = one_line("title", &self.title, 200)?;
        let description = free_text("description", &self.description, 2000)?;
        if !(1..=600).contains(&self.duration_minutes) {
            return Err(ApiError::invalid(
                "duration_minutes",
                "duration_minutes must be 1 to 600 minutes",
            ));
        }
        Ok(NewMovie {
            title,
            description,
            duration_minutes: self.duration_minutes,
        })
    }
}

/// The catalogue takes no query parameters: one sent anyway (`?page=2`, `?title=`) is a
/// client expecting something this list does not do, better told than ignored.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct NoParameters {}

/// The routes, each with its document entry.
fn routes() -> OpenApiRouter<MoviesState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(one))
}

/// This service's part of the OpenAPI document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    routes().split_for_parts().1
}

pub async fn start(context: &Context<'_>) -> Result<Started, StartError> {
    let service = ServiceName::Movies;
    let db = context.database(service, &MIGRATIONS).await?;
    let state = MoviesState {
        db: db.clone(),
        keys: context.keys.clone(),
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

fn movie_of(row: &sqlx::any::AnyRow) -> Result<Movie, sqlx::Error> {
    Ok(Movie {
        id: row.try_get("id")?,
        title: row.try_get("title")?,
        description: row.try_get("description")?,
        duration_minutes: row.try_get("duration_minutes")?,
    })
}

/// Adds `movie` directly to the store (the demo's seeding uses the same path as the API).
pub async fn insert(db: &Database, movie: NewMovie) -> Result<Movie, ApiError> {
    let movie = movie.parse()?;
    let id = uuid::Uuid::new_v4().to_string();
    sqlx::query("INSERT INTO movies (id, title, description, duration_minutes, created_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(&id)
        .bind(&movie.title)
        .bind(&movie.description)
        .bind(movie.duration_minutes)
        .bind(now_millis())
        .execute(db.pool())
        .await?;
    Ok(Movie {
        id,
        title: movie.title,
        description: movie.description,
        duration_minutes: movie.duration_minutes,
    })
}

/// The catalogue
///
/// Takes no query parameters: one sent anyway is a 400.
#[utoipa::path(
    get,
    path = "/api/movies",
    operation_id = "listMovies",
    responses((status = 200, description = "Every movie, by title", body = MovieList), QueryRejections)
)]
async fn list(
    State(state): State<MoviesState>,
    QueryParams(NoParameters {}): QueryParams<NoParameters>,
) -> Result<Json<MovieList>, ApiError> {
    let rows = sqlx::query(
        "SELECT id, title, description, duration_minutes FROM movies ORDER BY title, id",
    )
    .fetch_all(state.db.pool())
    .await?;
    let movies = rows.iter().map(movie_of).collect::<Result<Vec<_>, _>>()?;
    Ok(Json(MovieList { movies }))
}

/// One movie
#[utoipa::path(
    get,
    path = "/api/movies/{id}",
    operation_id = "getMovie",
    params(PathId),
    responses((status = 200, description = "The movie", body = Movie), (status = 404, response = NotFound))
)]
async fn one(
    State(state): State<MoviesState>,
    PathId(id): PathId,
) -> Result<Json<Movie>, ApiError> {
    let row =
        sqlx::query("SELECT id, title, description, duration_minutes FROM movies WHERE id = $1")
            .bind(id.as_str())
            .fetch_optional(state.db.pool())
            .await?;
    match row {
        Some(row) => Ok(Json(movie_of(&row)?)),
        None => Err(ApiError::not_found(format!("no movie with id `{id}`"))),
    }
}

/// Add a movie (administrators)
#[utoipa::path(
    post,
    path = "/api/movies",
    operation_id = "addMovie",
    security(("bearer" = [])),
    request_body(content = NewMovie, description = "The movie"),
    responses((status = 201, description = "Added", body = Movie), TokenRejections, BodyRejections)
)]
async fn create(
    State(state): State<MoviesState>,
    _admin: Admin,
    JsonBody(movie): JsonBody<NewMovie>,
) -> Result<(StatusCode, Json<Movie>), ApiError> {
    Ok((StatusCode::CREATED, Json(insert(&state.db, movie).await?)))
}
