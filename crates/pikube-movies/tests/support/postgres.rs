//! Fresh PostgreSQL databases for one test: one per service, dropped afterwards.
//!
//! The server is the one `tests/postgres/up.sh` starts (scripts/test runs it); its admin URL
//! comes from `MOVIES_TEST_POSTGRES`, or the script's default.

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

impl PostgresDatabases {
    pub async fn create() -> PostgresDatabases {
        let admin_url = admin_url();
        let mut admin = PgConnection::connect(&admin_url).await.unwrap_or_else(|e| {
            panic!(
                "cannot reach the test PostgreSQL at {admin_url}: {e}\n\
                 start it with `tests/postgres/up.sh` (as root), or set MOVIES_TEST_POSTGRES"
            )
        });
        let prefix = format!("movies_{}", super::uuid_like());
        for service in ServiceName::ALL {
            admin
                .execute(format!("CREATE DATABASE \"{prefix}_{service}\"").as_str())
                .await
                .unwrap_or_else(|e| panic!("creating database {prefix}_{service}: {e}"));
        }
        let _ = admin.close().await;
        PostgresDatabases { admin_url, prefix }
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
            runtime.block_on(async {
                let mut admin = PgConnection::connect(&admin_url).await.ok()?;
                for service in ServiceName::ALL {
                    let _ = admin
                        .execute(
                            format!("DROP DATABASE IF EXISTS \"{prefix}_{service}\" WITH (FORCE)")
                                .as_str(),
                        )
                        .await;
                }
                Some(())
            })
        })
        .join();
    }
}
