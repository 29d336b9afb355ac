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
    #[error("cannot connect to {url}: {cause}")]
    Connect { url: String, cause: sqlx::Error },
    #[error("cannot prepare the SQLite file of {url}: {cause}")]
    Directory { url: String, cause: std::io::Error },
    #[error("migrating {url}: {cause}")]
    Migrate {
        url: String,
        cause: sqlx::migrate::MigrateError,
    },
}

/// A migrated connection pool. Cloning shares the pool.
#[derive(Clone, Debug)]
pub struct Database {
    pool: AnyPool,
    sqlite: bool,
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
        if let Some(path) = sqlite_path(url.expose()).filter(|_| sqlite) {
            private_sqlite_file(std::path::Path::new(path)).map_err(|cause| {
                DatabaseError::Directory {
                    url: url.to_string(),
                    cause,
                }
            })?;
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
        let pool = options
            .connect(url.expose())
            .await
            .map_err(|cause| DatabaseError::Connect {
                url: url.to_string(),
                cause,
            })?;
        migrations
            .run(&pool)
            .await
            .map_err(|cause| DatabaseError::Migrate {
                url: url.to_string(),
                cause,
            })?;
        Ok(Database { pool, sqlite })
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// The database's own clock, in milliseconds since the Unix epoch. Replicas of a service
    /// on different Pis share the database but not a clock (a Pi has no battery-backed
    /// clock and can start hours off until NTP answers): what must be judged the same by
    /// every replica, such as whether a hold has expired, is judged on this one.
    pub async fn now_millis(&self) -> Result<i64, sqlx::Error> {
        let query = if self.sqlite {
            "SELECT CAST(ROUND((julianday('now') - 2440587.5) * 86400000.0) AS INTEGER)"
        } else {
            "SELECT CAST(FLOOR(EXTRACT(EPOCH FROM clock_timestamp()) * 1000) AS BIGINT)"
        };
        sqlx::query_scalar::<_, i64>(query)
            .fetch_one(&self.pool)
            .await
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// The SQLite file, its write-ahead log and the directory made for them, readable by this
/// user only: users.db holds the password hashes (review L9). SQLite gives the `-wal` and
/// `-shm` files the database file's mode, so creating that one 0600 is enough for new
/// files; older ones, made before, are tightened.
fn private_sqlite_file(path: &std::path::Path) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
    }
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)?;
    let name = path.as_os_str().to_owned();
    for suffix in ["", "-wal", "-shm"] {
        let mut file = name.clone();
        file.push(suffix);
        match std::fs::metadata(&file) {
            Ok(meta) if meta.permissions().mode() & 0o077 != 0 => {
                std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600))?
            }
            _ => {}
        }
    }
    Ok(())
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
    use super::{private_sqlite_file, sqlite_path};
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn the_sqlite_file_and_its_new_directory_are_private_and_old_ones_are_tightened() {
        let root = tempfile::tempdir().unwrap();
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        let db = root.path().join("movies/users.db");
        private_sqlite_file(&db).unwrap();
        assert_eq!((mode(db.parent().unwrap()), mode(&db)), (0o700, 0o600));

        let old = root.path().join("old.db");
        let wal = root.path().join("old.db-wal");
        for file in [&old, &wal] {
            std::fs::write(file, b"").unwrap();
            std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o644)).unwrap();
        }
        private_sqlite_file(&old).unwrap();
        assert_eq!((mode(&old), mode(&wal)), (0o600, 0o600));
    }

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
