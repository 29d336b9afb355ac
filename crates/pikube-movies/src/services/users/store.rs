//! The users table.

use serde::Serialize;
use sqlx::Row;

use crate::auth::Role;
use crate::clock::now_millis;
use crate::database::{is_unique_violation, Database};

/// A user as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct User {
    #[schema(value_type = crate::api::Id)]
    pub id: String,
    #[schema(value_type = super::Email)]
    pub email: String,
    pub name: String,
    /// A user's role: never `service`, which only other services' tokens have.
    #[schema(schema_with = user_role)]
    pub role: Role,
    #[serde(skip)]
    pub password_hash: String,
}

fn user_role() -> utoipa::openapi::schema::Object {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some([Role::User.as_str(), Role::Admin.as_str()]))
        .build()
}

pub enum Inserted {
    Created(User),
    EmailTaken,
}

fn role_of(text: &str) -> Role {
    if text == "admin" {
        Role::Admin
    } else {
        Role::User
    }
}

fn user_of(row: &sqlx::any::AnyRow) -> Result<User, sqlx::Error> {
    Ok(User {
        id: row.try_get("id")?,
        email: row.try_get("email")?,
        name: row.try_get("name")?,
        role: role_of(&row.try_get::<String, _>("role")?),
        password_hash: row.try_get("password_hash")?,
    })
}

pub async fn insert(
    db: &Database,
    email: &str,
    name: &str,
    password_hash: &str,
    role: Role,
) -> Result<Inserted, sqlx::Error> {
    let id = uuid::Uuid::new_v4().to_string();
    let result = sqlx::query(
        "INSERT INTO users (id, email, name, password_hash, role, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&id)
    .bind(email)
    .bind(name)
    .bind(password_hash)
    .bind(role.as_str())
    .bind(now_millis())
    .execute(db.pool())
    .await;
    match result {
        Ok(_) => Ok(Inserted::Created(User {
            id,
            email: email.to_owned(),
            name: name.to_owned(),
            role,
            password_hash: password_hash.to_owned(),
        })),
        Err(error) if is_unique_violation(&error) => Ok(Inserted::EmailTaken),
        Err(error) => Err(error),
    }
}

pub async fn by_email(db: &Database, email: &str) -> Result<Option<User>, sqlx::Error> {
    let row =
        sqlx::query("SELECT id, email, name, role, password_hash FROM users WHERE email = $1")
            .bind(email)
            .fetch_optional(db.pool())
            .await?;
    row.as_ref().map(user_of).transpose()
}

pub async fn by_id(db: &Database, id: &str) -> Result<Option<User>, sqlx::Error> {
    let row = sqlx::query("SELECT id, email, name, role, password_hash FROM users WHERE id = $1")
        .bind(id)
        .fetch_optional(db.pool())
        .await?;
    row.as_ref().map(user_of).transpose()
}

/// Makes `email` an administrator with `password_hash`, creating the account if needed.
pub async fn upsert_admin(
    db: &Database,
    email: &str,
    password_hash: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO users (id, email, name, password_hash, role, created_at) \
         VALUES ($1, $2, 'Administrator', $3, 'admin', $4) \
         ON CONFLICT (email) DO UPDATE SET password_hash = excluded.password_hash, role = 'admin'",
    )
    .bind(uuid::Uuid::new_v4().to_string())
    .bind(email)
    .bind(password_hash)
    .bind(now_millis())
    .execute(db.pool())
    .await?;
    Ok(())
}
