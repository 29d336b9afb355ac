//! One service's database: a pool on PostgreSQL or SQLite, migrated at start-up.
//!
//! The SQL is written once for both: `$1` placeholders, BIGINT milliseconds for time, TEXT
//! ids, `INSERT … ON CONFLICT`, partial unique indexes and `RETURNING` mean the same thing in
//! each. Correctness rests on constraints and transactions, never on timing.

use std::time::Duration;

use sqlx::any::AnyPoolOptions;
use sqlx::migrate::Migrator;
use sqlx::AnyPool;
use sqlx::Executor;

use crate::config::DatabaseUrl;

#[derive(Debug, thiserror::Error)]
pub enum DatabaseError {
    #[error("cannot connect to {url}: {source}")]
    Connect {
        url: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("cannot create the directory of {url}: {source}")]
    Directory {
        url: String,
        #[source]
        source: std::io::Error,
    },
    #[error("migrating {url}: {source}")]
    Migrate {
        url: String,
        #[source]
        source: sqlx::migrate::MigrateError,
    },
}

/// A migrated connection pool. Cloning shares the pool.
#[derive(Clone, Debug)]
pub struct Database {
    pool: AnyPool,
}

impl Database {
    /// Connects to `url` and runs `migrations`. SQLite gets its file's directory created,
    /// WAL mode, foreign keys and a busy timeout, and a single connection: SQLite has one
    /// writer anyway, and a single connection keeps write transactions from failing with
    /// "database is locked" instead of waiting.
    pub async fn open(
        url: &DatabaseUrl,
        max_connections: u32,
        migrations: &Migrator,
    ) -> Result<Database, DatabaseError> {
        sqlx::any::install_default_drivers();
        let sqlite = url.is_sqlite();
        if sqlite {
            if let Some(dir) = sqlite_path(url.expose())
                .and_then(|path| std::path::Path::new(path).parent().map(|p| p.to_owned()))
            {
                if !dir.as_os_str().is_empty() {
                    std::fs::create_dir_all(&dir).map_err(|source| DatabaseError::Directory {
                        url: url.to_string(),
                        source,
                    })?;
                }
            }
        }
        let options = AnyPoolOptions::new()
            .max_connections(if sqlite { 1 } else { max_connections })
            .acquire_timeout(Duration::from_secs(10));
        let options = if sqlite {
            options.after_connect(|connection, _| {
                Box::pin(async move {
                    connection
                        .execute(
                            "PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON; \
                             PRAGMA busy_timeout = 5000; PRAGMA synchronous = NORMAL;",
                        )
                        .await?;
                    Ok(())
                })
            })
        } else {
            options
        };
        let pool =
            options
                .connect(url.expose())
                .await
                .map_err(|source| DatabaseError::Connect {
                    url: url.to_string(),
                    source,
                })?;
        migrations
            .run(&pool)
            .await
            .map_err(|source| DatabaseError::Migrate {
                url: url.to_string(),
                source,
            })?;
        Ok(Database { pool })
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// The file path of a `sqlite:` URL (`sqlite://path?query`, `sqlite:path`).
fn sqlite_path(url: &str) -> Option<&str> {
    let rest = url.strip_prefix("sqlite:")?;
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let path = rest.split('?').next().unwrap_or(rest);
    (!path.is_empty() && path != ":memory:").then_some(path)
}

/// Whether `error` is a unique-constraint violation, the database's way of saying "someone
/// else got there first".
pub fn is_unique_violation(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Database(db) => db.is_unique_violation(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::sqlite_path;

    #[test]
    fn sqlite_paths_are_found_in_both_url_forms() {
        assert_eq!(
            sqlite_path("sqlite:///var/lib/m/users.db?mode=rwc"),
            Some("/var/lib/m/users.db")
        );
        assert_eq!(sqlite_path("sqlite:data/users.db"), Some("data/users.db"));
        assert_eq!(sqlite_path("sqlite::memory:"), None);
        assert_eq!(sqlite_path("postgres://db/x"), None);
    }
}
