//! Where a service's database is: a PostgreSQL URL, or a SQLite file.

use std::fmt;
use std::path::Path;

use crate::ServiceName;

const PLACEHOLDER: &str = "{service}";

/// A `DATABASE_URL` as configured, possibly holding a `{service}` placeholder that each
/// service replaces with its own name (so one variable serves all six in `all` mode).
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrlTemplate(String);

/// One service's database URL. `Display` and `Debug` hide the password.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl(String);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DatabaseUrlError {
    #[error("DATABASE_URL must start with postgres://, postgresql:// or sqlite: (got `{0}`)")]
    Scheme(String),
    #[error(
        "DATABASE_URL has no `{{service}}` placeholder, so all six services would share one \
         database; put `{{service}}` where each service's own database name goes, e.g. \
         postgres://movies@db/{{service}}"
    )]
    Shared,
}

impl DatabaseUrlTemplate {
    /// A PostgreSQL or SQLite URL; any other scheme is refused (the URL redacted).
    pub fn parse(url: &str) -> Result<Self, DatabaseUrlError> {
        let url = url.trim();
        let known = ["postgres://", "postgresql://", "sqlite:"];
        if !known.iter().any(|scheme| url.starts_with(scheme)) {
            return Err(DatabaseUrlError::Scheme(redact(url)));
        }
        Ok(DatabaseUrlTemplate(url.to_owned()))
    }

    /// SQLite files `<dir>/<service>.db`, created when missing.
    pub fn sqlite_in(dir: &Path) -> Self {
        DatabaseUrlTemplate(format!(
            "sqlite://{}/{PLACEHOLDER}.db?mode=rwc",
            dir.display()
        ))
    }

    /// Whether it names each service's own database (holds the placeholder).
    pub fn has_placeholder(&self) -> bool {
        self.0.contains(PLACEHOLDER)
    }

    /// Several services in one process need one database each: refuse a template that would
    /// hand them all the same one.
    pub fn require_placeholder(&self) -> Result<(), DatabaseUrlError> {
        if self.has_placeholder() {
            Ok(())
        } else {
            Err(DatabaseUrlError::Shared)
        }
    }

    /// `service`'s database: the placeholder replaced with its name.
    pub fn for_service(&self, service: ServiceName) -> DatabaseUrl {
        DatabaseUrl(self.0.replace(PLACEHOLDER, service.as_str()))
    }
}

impl DatabaseUrl {
    /// The URL with its password, for the one place that connects.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_sqlite(&self) -> bool {
        self.0.starts_with("sqlite:")
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&redact(&self.0))
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({self})")
    }
}

impl fmt::Debug for DatabaseUrlTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrlTemplate({})", redact(&self.0))
    }
}

/// `scheme://user:secret@host/db` → `scheme://user:***@host/db`; a `password=` query
/// parameter is hidden too. The credentials end at the last `@` before the query, not at
/// the first `/`: a password with an unencoded `/` (or `@`) is hidden whole (review L9),
/// even if that hides a little more than the password in an odd URL.
fn redact(url: &str) -> String {
    let mut shown = url.to_owned();
    if let Some(scheme_end) = shown.find("://") {
        let rest_start = scheme_end + 3;
        let authority_end = shown[rest_start..]
            .find('?')
            .map_or(shown.len(), |i| rest_start + i);
        if let Some(at) = shown[rest_start..authority_end].rfind('@') {
            let userinfo = &shown[rest_start..rest_start + at];
            if let Some(colon) = userinfo.find(':') {
                let start = rest_start + colon + 1;
                shown.replace_range(start..rest_start + at, "***");
            }
        }
    }
    if let Some(start) = shown.find("password=") {
        let value_start = start + "password=".len();
        let end = shown[value_start..]
            .find('&')
            .map_or(shown.len(), |i| value_start + i);
        shown.replace_range(value_start..end, "***");
    }
    shown
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_placeholder_names_each_service_database() {
        let template =
            DatabaseUrlTemplate::parse("postgres://movies:s3cret@db:5432/{service}").unwrap();
        let url = template.for_service(ServiceName::Payments);
        assert_eq!(url.expose(), "postgres://movies:s3cret@db:5432/payments");
        assert_eq!(url.to_string(), "postgres://movies:***@db:5432/payments");
        assert!(!format!("{url:?} {template:?}").contains("s3cret"));
    }

    #[test]
    fn passwords_in_query_parameters_are_hidden_too() {
        assert_eq!(
            redact("postgres://db/x?user=a&password=hunter2&sslmode=disable"),
            "postgres://db/x?user=a&password=***&sslmode=disable"
        );
        assert_eq!(redact("postgres://alice@db/x"), "postgres://alice@db/x");
        // A password with an unencoded `/` or `@` is hidden whole.
        assert_eq!(
            redact("postgres://movies:pa/ss@db:5432/movies"),
            "postgres://movies:***@db:5432/movies"
        );
        assert_eq!(
            redact("postgres://movies:p@ss/w@db/movies?sslmode=require"),
            "postgres://movies:***@db/movies?sslmode=require"
        );
        assert_eq!(redact("postgres://db/x@y"), "postgres://db/x@y");
    }

    #[test]
    fn unknown_schemes_and_shared_databases_are_refused() {
        assert_eq!(
            DatabaseUrlTemplate::parse("mysql://root:pw@db/x").unwrap_err(),
            DatabaseUrlError::Scheme("mysql://root:***@db/x".into())
        );
        let shared = DatabaseUrlTemplate::parse("postgres://db/movies").unwrap();
        assert_eq!(
            shared.require_placeholder().unwrap_err(),
            DatabaseUrlError::Shared
        );
    }

    #[test]
    fn the_default_is_one_sqlite_file_per_service() {
        let template = DatabaseUrlTemplate::sqlite_in(Path::new("/var/lib/movies"));
        let url = template.for_service(ServiceName::Users);
        assert_eq!(url.expose(), "sqlite:///var/lib/movies/users.db?mode=rwc");
        assert!(url.is_sqlite());
    }
}
