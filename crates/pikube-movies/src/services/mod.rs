//! The six services. Each owns its routes, its store and its migrations, and starts from a
//! [`Context`] into a [`Started`] service.

pub mod cinemas;
pub mod movies;
pub mod payments;
pub mod reservations;
pub mod screenings;
pub mod users;

use axum::Router;
use tokio::task::JoinHandle;

use crate::auth::{TokenKeys, TokenSigner};
use crate::config::MoviesConfig;
use crate::database::{Database, DatabaseError};
use crate::peers::Peers;
use crate::ServiceName;

/// What a service needs to start.
pub struct Context<'a> {
    pub config: &'a MoviesConfig,
    /// This service's keys: the users' public key, and its internal-route keys.
    pub keys: TokenKeys,
    /// Signs users' tokens: the users service's only.
    pub signer: Option<TokenSigner>,
    pub peers: Peers,
    pub metrics: &'a pikube_http::Metrics,
}

/// A running service: its routes, its database (for readiness and shutdown) and its
/// background work (expiry, retries), stopped when the process drains.
pub struct Started {
    pub service: ServiceName,
    pub router: Router,
    pub database: Database,
    pub background: Vec<JoinHandle<()>>,
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("the {service} service: {cause}")]
    Database {
        service: ServiceName,
        cause: DatabaseError,
    },
    /// The users service signs users' tokens, and was given no key to sign them with.
    #[error("the {service} service: no key to sign users' tokens with (MOVIES_TOKEN_SIGNING_KEY)")]
    NoSigningKey { service: ServiceName },
    #[error("the {service} service: {cause}")]
    Administrator {
        service: ServiceName,
        cause: users::AdminError,
    },
    /// The hash an unknown account's sign-in is checked against, so that it takes as long
    /// as a known one's.
    #[error("the {service} service: the decoy hash for unknown accounts: {cause}")]
    DecoyHash {
        service: ServiceName,
        cause: crate::auth::HashError,
    },
}

impl Context<'_> {
    /// Opens and migrates `service`'s own database.
    pub async fn database(
        &self,
        service: ServiceName,
        migrations: &sqlx::migrate::Migrator,
    ) -> Result<Database, StartError> {
        let url = self.config.database.for_service(service);
        Database::open(&url, self.config.max_connections, migrations)
            .await
            .map_err(|cause| StartError::Database { service, cause })
    }
}

pub async fn start(service: ServiceName, context: &Context<'_>) -> Result<Started, StartError> {
    match service {
        ServiceName::Users => users::start(context).await,
        ServiceName::Movies => movies::start(context).await,
        ServiceName::Cinemas => cinemas::start(context).await,
        ServiceName::Screenings => screenings::start(context).await,
        ServiceName::Reservations => reservations::start(context).await,
        ServiceName::Payments => payments::start(context).await,
    }
}
