//! Throwaway databases for the stores' unit tests, on SQLite and on PostgreSQL (the server
//! the integration tests use: `MOVIES_TEST_POSTGRES`, or `tests/postgres/up.sh`'s default).

use sqlx::migrate::Migrator;
use sqlx::{Connection, Executor};

use crate::config::DatabaseUrlTemplate;
use crate::database::Database;
use crate::ServiceName;

/// A fresh database for one service, dropped (PostgreSQL) or deleted (SQLite) afterwards.
pub struct Scratch {
    pub db: Database,
    pub url: String,
    _dir: Option<tempfile::TempDir>,
    postgres: Option<(String, String)>,
}

impl Scratch {
    pub async fn sqlite(service: ServiceName, migrations: &Migrator) -> Scratch {
        let dir = tempfile::tempdir().unwrap();
        let url = DatabaseUrlTemplate::sqlite_in(dir.path()).for_service(service);
        let db = Database::open(&url, 1, migrations).await.unwrap();
        Scratch {
            db,
            url: url.expose().to_owned(),
            _dir: Some(dir),
            postgres: None,
        }
    }

    pub async fn postgres(service: ServiceName, migrations: &Migrator) -> Scratch {
        let admin = std::env::var("MOVIES_TEST_POSTGRES").unwrap_or_else(|_| {
            "postgres://pikube_test:pikube_test@127.0.0.1:5432/postgres".to_owned()
        });
        let name = format!("movies_store_{}", uuid::Uuid::new_v4().simple());
        let mut connection = sqlx::PgConnection::connect(&admin)
            .await
            .unwrap_or_else(|e| {
                panic!("cannot reach the test PostgreSQL at {admin}: {e}; run tests/postgres/up.sh")
            });
        connection
            .execute(format!("CREATE DATABASE \"{name}\"").as_str())
            .await
            .unwrap();
        let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
        let url = DatabaseUrlTemplate::parse(&format!("{base}/{name}"))
            .unwrap()
            .for_service(service);
        let db = Database::open(&url, 16, migrations).await.unwrap();
        Scratch {
            db,
            url: url.expose().to_owned(),
            _dir: None,
            postgres: Some((admin, name)),
        }
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if let Some((admin, name)) = self.postgres.take() {
            // Drop runs inside the test's runtime: use a thread with its own.
            let _ = std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .ok()?;
                runtime.block_on(async {
                    let mut connection = sqlx::PgConnection::connect(&admin).await.ok()?;
                    let drop = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
                    connection.execute(drop.as_str()).await.ok()
                })
            })
            .join();
        }
    }
}
