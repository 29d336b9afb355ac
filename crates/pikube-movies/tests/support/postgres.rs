//! Fresh PostgreSQL databases for one test: one per service, dropped afterwards.
//!
//! The server is the one `tests/postgres/up.sh` starts (scripts/test runs it); its admin URL
//! comes from `MOVIES_TEST_POSTGRES`, or the script's default.
//!
//! The six are created and dropped at once, over six connections: each `CREATE DATABASE`
//! and `DROP DATABASE` waits for a checkpoint, and concurrent requests share one.

use futures::future::join_all;
use sqlx::{Connection, Executor, PgConnection};

use pikube_movies::ServiceName;

const DEFAULT_ADMIN_URL: &str = "postgres://pikube_test:pikube_test@127.0.0.1:5432/postgres";

pub struct PostgresDatabases {
    admin_url: String,
    prefix: String,
}

pub fn admin_url() -> String {
    std::env::var("MOVIES_TEST_POSTGRES").unwrap_or_else(|_| DEFAULT_ADMIN_URL.to_owned())
}

/// Runs `statement(service)` for all six services at once, each on its own connection.
async fn for_each_service(
    admin_url: &str,
    statement: impl Fn(ServiceName) -> String,
) -> Vec<Result<(), String>> {
    join_all(ServiceName::ALL.map(|service| {
        let sql = statement(service);
        async move {
            let mut admin = PgConnection::connect(admin_url).await.map_err(|e| {
                format!(
                    "cannot reach the test PostgreSQL at {admin_url}: {e}\n\
                     start it with `tests/postgres/up.sh` (as root), or set MOVIES_TEST_POSTGRES"
                )
            })?;
            let done = admin
                .execute(sql.as_str())
                .await
                .map(drop)
                .map_err(|e| format!("{sql}: {e}"));
            let _ = admin.close().await;
            done
        }
    }))
    .await
}

impl PostgresDatabases {
    pub async fn create() -> PostgresDatabases {
        let admin_url = admin_url();
        let prefix = format!("movies_{}", super::uuid_like());
        let databases = PostgresDatabases { admin_url, prefix };
        let created = for_each_service(&databases.admin_url, |service| {
            format!("CREATE DATABASE \"{}_{service}\"", databases.prefix)
        })
        .await;
        for result in created {
            result.unwrap_or_else(|e| panic!("{e}"));
        }
        databases
    }

    /// `DATABASE_URL` with the `{service}` placeholder.
    pub fn template(&self) -> pikube_movies::DatabaseUrlTemplate {
        let base = self
            .admin_url
            .rsplit_once('/')
            .map_or(self.admin_url.as_str(), |(base, _)| base);
        pikube_movies::DatabaseUrlTemplate::parse(&format!("{base}/{}_{{service}}", self.prefix))
            .expect("a valid template")
    }
}

impl Drop for PostgresDatabases {
    fn drop(&mut self) {
        let admin_url = self.admin_url.clone();
        let prefix = self.prefix.clone();
        // Drop runs inside the test's runtime: use a thread with its own.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            runtime.block_on(for_each_service(&admin_url, |service| {
                format!("DROP DATABASE IF EXISTS \"{prefix}_{service}\" WITH (FORCE)")
            }));
            Some(())
        })
        .join();
    }
}
