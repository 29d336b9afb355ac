//! The services' configuration, parsed from the environment once at start-up.

mod admin;
mod auth_limits;
mod database_url;
mod token_keys;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::auth::internal_routes;
use crate::auth::Rate;

pub use admin::AdminAccount;
pub use auth_limits::{AuthLimits, ACCOUNT_WINDOW};
pub use database_url::{DatabaseUrl, DatabaseUrlError, DatabaseUrlTemplate};
pub use token_keys::{new_key_set, InternalKey, KeyError, SigningKey, VerifyingKey};

use crate::ServiceName;

/// Which services one process serves: one (as in Kubernetes), all six on one port (the
/// demo, the tests), or any other set.
/// The services one process runs: all six (the demo), or some (one per pod).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection(BTreeSet<ServiceName>);

impl Selection {
    /// All six.
    pub fn all() -> Self {
        Selection(ServiceName::ALL.into_iter().collect())
    }

    /// `service` alone.
    pub fn one(service: ServiceName) -> Self {
        Selection(BTreeSet::from([service]))
    }

    /// `None` for an empty set.
    pub fn of(services: impl IntoIterator<Item = ServiceName>) -> Option<Self> {
        let set: BTreeSet<ServiceName> = services.into_iter().collect();
        (!set.is_empty()).then_some(Selection(set))
    }

    /// The services, dependencies first.
    pub fn services(&self) -> Vec<ServiceName> {
        self.0.iter().copied().collect()
    }

    /// Whether this process runs `service`.
    pub fn contains(&self, service: ServiceName) -> bool {
        self.0.contains(&service)
    }

    /// Whether this process runs all six.
    pub fn is_all(&self) -> bool {
        self.0.len() == ServiceName::ALL.len()
    }
}

/// What the environment configures, read and checked once at start.
#[derive(Debug, Clone)]
pub struct MoviesConfig {
    /// Each service's database: `DATABASE_URL` or SQLite files in the data directory.
    pub database: DatabaseUrlTemplate,
    /// Signs users' tokens: the users service's (`MOVIES_TOKEN_SIGNING_KEY`; random when
    /// all six share this process and it is not set).
    pub signing_key: Option<SigningKey>,
    /// Checks users' tokens, in every service (`MOVIES_TOKEN_VERIFYING_KEY`, or the public
    /// half of the signing key).
    pub verifying_key: VerifyingKey,
    /// Each calling service's key for another's internal routes
    /// (`MOVIES_INTERNAL_KEY_<CALLER>`), where this process needs it.
    pub internal_keys: BTreeMap<ServiceName, InternalKey>,
    /// The administrator the users service creates (or updates) at start-up.
    pub admin: Option<AdminAccount>,
    /// How long a reservation holds its seats before they are released unpaid.
    pub hold_ttl: Duration,
    /// How often expired holds are released and unfinished payments are retried.
    pub sweep_interval: Duration,
    /// Where to reach other services, where not the default (`http://movies-<name>:8080`
    /// for a single service, this very process in `all` mode).
    pub peer_urls: BTreeMap<ServiceName, String>,
    /// Database pool size per service (PostgreSQL; SQLite uses one writer connection).
    pub max_connections: u32,
    /// How long `/readyz` answers 503 before the listener closes on SIGTERM.
    pub drain_grace: Duration,
    /// How often sign-in and registration may be tried.
    pub auth_limits: AuthLimits,
    /// Live (unpaid) reservations per buyer (`MOVIES_MAX_HOLDS_PER_USER`, default 4).
    pub max_holds_per_user: u32,
    /// Seats one buyer may hold in one screening (`MOVIES_MAX_HELD_SEATS_PER_SCREENING`,
    /// default 10, one reservation's worth).
    pub max_held_seats_per_screening: u32,
}

/// A variable of the environment that cannot be used, named.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A variable's value is not what it must be.
    #[error("{variable}: {message}")]
    Invalid {
        /// The variable.
        variable: &'static str,
        /// What is wrong with its value.
        message: String,
    },
    /// `MOVIES_ADMIN_EMAIL` is not an email address.
    #[error("MOVIES_ADMIN_EMAIL: {0}")]
    AdminEmail(crate::credentials::InvalidEmail),
    /// `MOVIES_ADMIN_PASSWORD` is too short or too long.
    #[error("MOVIES_ADMIN_PASSWORD: {0}")]
    AdminPassword(crate::credentials::PasswordLength),
    /// `DATABASE_URL` is not a database URL this service can use.
    #[error("DATABASE_URL: {0}")]
    DatabaseUrl(DatabaseUrlError),
    /// A key variable does not hold a key of its kind.
    #[error("{variable}: {cause}")]
    InvalidKey {
        /// The variable.
        variable: String,
        /// What is wrong with the key.
        cause: KeyError,
    },
    #[error(
        "{variable} is not set: {why} (`pikube serve movies --new-keys` prints a set of \
         keys){retired}"
    )]
    /// A key this process needs is not set.
    MissingKey {
        /// The variable.
        variable: String,
        /// What needs it.
        why: String,
        /// Said when the one shared key of old is set: it is not read any more.
        retired: &'static str,
    },
    #[error("{variable}: `{value}` is not an http:// or https:// URL")]
    /// A peer service's URL is not an HTTP one.
    PeerUrl {
        /// The variable.
        variable: String,
        /// Its value.
        value: String,
    },
}

// Shown in the message, so not also returned as its source: each cause is read once.
impl From<DatabaseUrlError> for ConfigError {
    fn from(err: DatabaseUrlError) -> Self {
        ConfigError::DatabaseUrl(err)
    }
}

impl MoviesConfig {
    /// Embedded defaults: SQLite files in `data_dir`, a random token key, no administrator,
    /// ten-minute holds.
    pub fn embedded(data_dir: &Path) -> Self {
        let signing = SigningKey::random();
        MoviesConfig {
            database: DatabaseUrlTemplate::sqlite_in(data_dir),
            signing_key: Some(signing.clone()),
            verifying_key: signing.verifying_key().clone(),
            internal_keys: internal_routes::callers()
                .into_iter()
                .map(|caller| (caller, InternalKey::random()))
                .collect(),
            admin: None,
            hold_ttl: Duration::from_secs(600),
            sweep_interval: Duration::from_secs(5),
            peer_urls: BTreeMap::new(),
            max_connections: 8,
            drain_grace: Duration::from_secs(5),
            auth_limits: AuthLimits::default(),
            max_holds_per_user: 4,
            max_held_seats_per_screening: 10,
        }
    }

    /// `MOVIES_TOKEN_SIGNING_KEY` (the users service's), `MOVIES_TOKEN_VERIFYING_KEY` (every
    /// service's; the signing key's public half when only that is set) and
    /// `MOVIES_INTERNAL_KEY_<CALLER>` (the caller's and its callee's). Each is required
    /// where one of `selection` needs it, unless all six share this process (then the
    /// random keys of [`MoviesConfig::embedded`] stay); keys no service here needs are not
    /// kept.
    fn read_token_keys(
        &mut self,
        selection: &Selection,
        set: &impl Fn(&str) -> Option<String>,
    ) -> Result<(), ConfigError> {
        let retired = if set("MOVIES_JWT_SECRET").is_some() {
            "; MOVIES_JWT_SECRET is no longer read (one key shared by every service let any \
             of them sign for all)"
        } else {
            ""
        };
        let missing = |variable: &str, why: String| ConfigError::MissingKey {
            variable: variable.to_owned(),
            why,
            retired,
        };
        let invalid = |variable: &str| {
            let variable = variable.to_owned();
            move |cause| ConfigError::InvalidKey { variable, cause }
        };
        let signing = set("MOVIES_TOKEN_SIGNING_KEY")
            .map(|text| SigningKey::parse(&text).map_err(invalid("MOVIES_TOKEN_SIGNING_KEY")))
            .transpose()?;
        let verifying = set("MOVIES_TOKEN_VERIFYING_KEY")
            .map(|text| VerifyingKey::parse(&text).map_err(invalid("MOVIES_TOKEN_VERIFYING_KEY")))
            .transpose()?;
        match (signing, verifying) {
            (Some(signing), Some(verifying)) if signing.verifying_key() != &verifying => {
                return Err(ConfigError::Invalid {
                    variable: "MOVIES_TOKEN_VERIFYING_KEY",
                    message: "is not the public half of MOVIES_TOKEN_SIGNING_KEY: tokens the \
                              users service signs would be refused"
                        .to_owned(),
                });
            }
            (Some(signing), _) => {
                self.verifying_key = signing.verifying_key().clone();
                self.signing_key = Some(signing);
            }
            (None, Some(verifying)) => {
                self.verifying_key = verifying;
                self.signing_key = None;
            }
            (None, None) if selection.is_all() => {}
            (None, None) => {
                return Err(missing(
                    "MOVIES_TOKEN_VERIFYING_KEY",
                    "every service checks users' tokens with it".to_owned(),
                ))
            }
        }
        if selection.contains(ServiceName::Users) && self.signing_key.is_none() {
            return Err(missing(
                "MOVIES_TOKEN_SIGNING_KEY",
                "the users service signs users' tokens with it".to_owned(),
            ));
        }
        if !selection.contains(ServiceName::Users) {
            // Only the users service signs; no other keeps the means to.
            self.signing_key = None;
        }
        for caller in internal_routes::callers() {
            let variable = internal_routes::key_variable(caller);
            let callees = internal_routes::callees_of(caller);
            let needed =
                selection.contains(caller) || callees.iter().any(|c| selection.contains(*c));
            match set(&variable) {
                Some(text) if needed => {
                    let key = InternalKey::new(&text).map_err(invalid(&variable))?;
                    self.internal_keys.insert(caller, key);
                }
                None if needed && !selection.is_all() => {
                    let callees: Vec<&str> = callees.iter().map(|c| c.as_str()).collect();
                    return Err(missing(
                        &variable,
                        format!(
                            "the {caller} service calls the internal routes of {} with it",
                            callees.join(", ")
                        ),
                    ));
                }
                None if needed => {}
                _ => {
                    self.internal_keys.remove(&caller);
                }
            }
        }
        Ok(())
    }

    /// The configuration from the process environment (see [`MoviesConfig::from_lookup`]).
    pub fn from_env(selection: &Selection, data_dir: &Path) -> Result<Self, ConfigError> {
        Self::from_lookup(selection, data_dir, |name| std::env::var(name).ok())
    }

    /// `DATABASE_URL` (with a `{service}` placeholder when several services share a process),
    /// the token keys (see [`MoviesConfig::read_token_keys`]),
    /// `MOVIES_ADMIN_EMAIL` and `MOVIES_ADMIN_PASSWORD`, `MOVIES_HOLD_SECONDS`,
    /// `MOVIES_SWEEP_SECONDS`, `MOVIES_DB_MAX_CONNECTIONS`, `MOVIES_<SERVICE>_URL`,
    /// `MOVIES_AUTH_PER_CLIENT_PER_MINUTE`, `MOVIES_SIGN_IN_FAILURES_PER_ACCOUNT` (0 turns
    /// either off), `MOVIES_TRUST_FORWARDED_FOR`, `MOVIES_MAX_HOLDS_PER_USER`,
    /// `MOVIES_MAX_HELD_SEATS_PER_SCREENING`.
    pub fn from_lookup(
        selection: &Selection,
        data_dir: &Path,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let set = |name: &str| lookup(name).filter(|value| !value.trim().is_empty());
        let mut config = MoviesConfig::embedded(data_dir);
        if let Some(url) = set("DATABASE_URL") {
            config.database = DatabaseUrlTemplate::parse(&url)?;
            if selection.services().len() > 1 {
                config.database.require_placeholder()?;
            }
        }
        config.read_token_keys(selection, &set)?;
        config.admin =
            AdminAccount::from_pair(set("MOVIES_ADMIN_EMAIL"), set("MOVIES_ADMIN_PASSWORD"))?;
        if let Some(seconds) = set("MOVIES_HOLD_SECONDS") {
            config.hold_ttl = seconds_in("MOVIES_HOLD_SECONDS", &seconds, 1, 86_400)?;
        }
        if let Some(seconds) = set("MOVIES_SWEEP_SECONDS") {
            config.sweep_interval = seconds_in("MOVIES_SWEEP_SECONDS", &seconds, 1, 3_600)?;
        }
        if let Some(count) = set("MOVIES_DB_MAX_CONNECTIONS") {
            config.max_connections = match count.trim().parse::<u32>() {
                Ok(count @ 1..=200) => count,
                _ => {
                    return Err(ConfigError::Invalid {
                        variable: "MOVIES_DB_MAX_CONNECTIONS",
                        message: format!("`{count}` is not a whole number from 1 to 200"),
                    })
                }
            };
        }
        if let Some(count) = set("MOVIES_AUTH_PER_CLIENT_PER_MINUTE") {
            config.auth_limits.per_client =
                count_in("MOVIES_AUTH_PER_CLIENT_PER_MINUTE", &count, 10_000)?
                    .map(|n| Rate::per(n, Duration::from_secs(60)));
        }
        if let Some(count) = set("MOVIES_SIGN_IN_FAILURES_PER_ACCOUNT") {
            config.auth_limits.failures_per_account =
                count_in("MOVIES_SIGN_IN_FAILURES_PER_ACCOUNT", &count, 10_000)?
                    .map(|n| Rate::per(n, ACCOUNT_WINDOW));
        }
        if let Some(count) = set("MOVIES_MAX_HOLDS_PER_USER") {
            config.max_holds_per_user = count_in("MOVIES_MAX_HOLDS_PER_USER", &count, 1_000)?
                .ok_or_else(|| ConfigError::Invalid {
                    variable: "MOVIES_MAX_HOLDS_PER_USER",
                    message: "must be at least 1".to_owned(),
                })?;
        }
        if let Some(count) = set("MOVIES_MAX_HELD_SEATS_PER_SCREENING") {
            config.max_held_seats_per_screening =
                count_in("MOVIES_MAX_HELD_SEATS_PER_SCREENING", &count, 10_000)?.ok_or_else(
                    || ConfigError::Invalid {
                        variable: "MOVIES_MAX_HELD_SEATS_PER_SCREENING",
                        message: "must be at least 1".to_owned(),
                    },
                )?;
        }
        if let Some(trust) = set("MOVIES_TRUST_FORWARDED_FOR") {
            config.auth_limits.trust_forwarded_for = match trust.trim() {
                "true" | "1" | "yes" => true,
                "false" | "0" | "no" => false,
                other => {
                    return Err(ConfigError::Invalid {
                        variable: "MOVIES_TRUST_FORWARDED_FOR",
                        message: format!("`{other}` is not true or false"),
                    })
                }
            };
        }
        for service in ServiceName::ALL {
            let variable = service.url_variable();
            if let Some(url) = set(&variable) {
                let url = url.trim().trim_end_matches('/').to_owned();
                if !(url.starts_with("http://") || url.starts_with("https://")) {
                    return Err(ConfigError::PeerUrl {
                        variable,
                        value: url,
                    });
                }
                config.peer_urls.insert(service, url);
            }
        }
        Ok(config)
    }
}

/// A count from 0 (`None`: no limit) to `max`.
fn count_in(variable: &'static str, value: &str, max: u32) -> Result<Option<u32>, ConfigError> {
    match value.trim().parse::<u32>() {
        Ok(0) => Ok(None),
        Ok(count) if count <= max => Ok(Some(count)),
        _ => Err(ConfigError::Invalid {
            variable,
            message: format!("`{value}` is not a whole number from 0 (no limit) to {max}"),
        }),
    }
}

fn seconds_in(
    variable: &'static str,
    value: &str,
    min: u64,
    max: u64,
) -> Result<Duration, ConfigError> {
    match value.trim().parse::<u64>() {
        Ok(seconds) if (min..=max).contains(&seconds) => Ok(Duration::from_secs(seconds)),
        _ => Err(ConfigError::Invalid {
            variable,
            message: format!("`{value}` is not a number of seconds from {min} to {max}"),
        }),
    }
}

/// Where the SQLite files go by default: `$XDG_DATA_HOME/pikube/movies`, else
/// `~/.local/share/pikube/movies`, else `./movies-data`.
pub fn default_data_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("XDG_DATA_HOME").filter(|dir| !dir.is_empty()) {
        return PathBuf::from(dir).join("pikube/movies");
    }
    match std::env::var_os("HOME").filter(|home| !home.is_empty()) {
        Some(home) => PathBuf::from(home).join(".local/share/pikube/movies"),
        None => PathBuf::from("movies-data"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(selection: Selection, vars: &[(&str, &str)]) -> Result<MoviesConfig, ConfigError> {
        let vars: BTreeMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        MoviesConfig::from_lookup(&selection, Path::new("/data"), |name| {
            vars.get(name).cloned()
        })
    }

    const INTERNAL: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn each_service_needs_its_own_token_keys_and_keeps_no_other() {
        let signing = SigningKey::random();
        let private = signing.to_base64();
        let public = signing.verifying_key().to_base64();
        let one = |service| Selection::one(service);
        let said =
            |selection, vars: &[(&str, &str)]| parse(selection, vars).unwrap_err().to_string();

        // Every service checks users' tokens; only the users service signs them.
        let error = said(one(ServiceName::Movies), &[]);
        assert!(
            error.starts_with("MOVIES_TOKEN_VERIFYING_KEY is not set: every service checks")
                && error.contains("--new-keys"),
            "{error}"
        );
        let movies = parse(
            one(ServiceName::Movies),
            &[("MOVIES_TOKEN_VERIFYING_KEY", &public)],
        )
        .unwrap();
        assert!(movies.signing_key.is_none() && movies.internal_keys.is_empty());
        let error = said(
            one(ServiceName::Users),
            &[("MOVIES_TOKEN_VERIFYING_KEY", &public)],
        );
        assert!(
            error.starts_with("MOVIES_TOKEN_SIGNING_KEY is not set"),
            "{error}"
        );
        let users = parse(
            one(ServiceName::Users),
            &[("MOVIES_TOKEN_SIGNING_KEY", &private)],
        )
        .unwrap();
        assert_eq!(&users.verifying_key, signing.verifying_key());
        // A signing key given to another service is not kept.
        let cinemas = parse(
            one(ServiceName::Cinemas),
            &[("MOVIES_TOKEN_SIGNING_KEY", &private)],
        )
        .unwrap();
        assert!(cinemas.signing_key.is_none());
        let other = SigningKey::random().verifying_key().to_base64();
        let error = said(
            one(ServiceName::Users),
            &[
                ("MOVIES_TOKEN_SIGNING_KEY", &private),
                ("MOVIES_TOKEN_VERIFYING_KEY", &other),
            ],
        );
        assert!(
            error.contains("is not the public half of MOVIES_TOKEN_SIGNING_KEY"),
            "{error}"
        );
        let error = said(
            one(ServiceName::Users),
            &[("MOVIES_TOKEN_SIGNING_KEY", "c2VjcmV0")],
        );
        assert!(
            error.starts_with("MOVIES_TOKEN_SIGNING_KEY: not an Ed25519 private key")
                && !error.contains("c2VjcmV0"),
            "{error}"
        );

        // A caller and its callee hold the caller's internal key; no one else does.
        let error = said(
            one(ServiceName::Payments),
            &[("MOVIES_TOKEN_VERIFYING_KEY", &public)],
        );
        assert!(
            error.starts_with("MOVIES_INTERNAL_KEY_PAYMENTS is not set: the payments service calls the internal routes of reservations"),
            "{error}"
        );
        let all_keys = [
            ("MOVIES_TOKEN_VERIFYING_KEY", public.as_str()),
            ("MOVIES_INTERNAL_KEY_PAYMENTS", INTERNAL),
            ("MOVIES_INTERNAL_KEY_SCREENINGS", INTERNAL),
        ];
        let reservations = parse(one(ServiceName::Reservations), &all_keys).unwrap();
        assert_eq!(
            reservations
                .internal_keys
                .keys()
                .copied()
                .collect::<Vec<_>>(),
            vec![ServiceName::Screenings, ServiceName::Payments]
        );
        let payments = parse(one(ServiceName::Payments), &all_keys).unwrap();
        assert_eq!(
            payments.internal_keys.keys().copied().collect::<Vec<_>>(),
            vec![ServiceName::Payments]
        );
        let error = said(
            one(ServiceName::Screenings),
            &[
                ("MOVIES_TOKEN_VERIFYING_KEY", &public),
                ("MOVIES_INTERNAL_KEY_SCREENINGS", "short"),
            ],
        );
        assert!(
            error.starts_with("MOVIES_INTERNAL_KEY_SCREENINGS: 5 bytes long"),
            "{error}"
        );

        // The one shared key of old is named, not silently ignored.
        let error = said(one(ServiceName::Movies), &[("MOVIES_JWT_SECRET", INTERNAL)]);
        assert!(
            error.contains("MOVIES_JWT_SECRET is no longer read"),
            "{error}"
        );
        // All six in one process: random keys where none are given.
        let all = parse(Selection::all(), &[]).unwrap();
        assert!(all.signing_key.is_some() && all.internal_keys.len() == 2);
    }

    #[test]
    fn all_in_one_process_needs_one_database_per_service() {
        let error = parse(
            Selection::all(),
            &[("DATABASE_URL", "postgres://db/movies")],
        )
        .unwrap_err();
        assert!(error.to_string().contains("{service}"), "{error}");
        let config = parse(
            Selection::all(),
            &[("DATABASE_URL", "postgres://db/m_{service}")],
        )
        .unwrap();
        assert_eq!(
            config.database.for_service(ServiceName::Cinemas).expose(),
            "postgres://db/m_cinemas"
        );
    }

    #[test]
    fn numbers_and_urls_are_checked_and_named() {
        let error = parse(Selection::all(), &[("MOVIES_HOLD_SECONDS", "ten")])
            .unwrap_err()
            .to_string();
        assert_eq!(
            error,
            "MOVIES_HOLD_SECONDS: `ten` is not a number of seconds from 1 to 86400"
        );
        let error = parse(
            Selection::all(),
            &[("MOVIES_PAYMENTS_URL", "payments:8080")],
        )
        .unwrap_err()
        .to_string();
        assert!(
            error.starts_with("MOVIES_PAYMENTS_URL: `payments:8080`"),
            "{error}"
        );
        let config = parse(
            Selection::all(),
            &[
                ("MOVIES_HOLD_SECONDS", "2"),
                ("MOVIES_SCREENINGS_URL", "http://s:1/"),
            ],
        )
        .unwrap();
        assert_eq!(config.hold_ttl, Duration::from_secs(2));
        assert_eq!(config.peer_urls[&ServiceName::Screenings], "http://s:1");
    }

    #[test]
    fn the_default_database_is_sqlite_in_the_data_directory() {
        let config = parse(Selection::all(), &[]).unwrap();
        assert_eq!(
            config.database.for_service(ServiceName::Users).expose(),
            "sqlite:///data/users.db?mode=rwc"
        );
    }
}
