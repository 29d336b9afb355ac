//! `[k3s] datastore_endpoint_secret`: the external datastore's endpoint read from
//! secrets.age, so that the database password it carries is never in cluster.toml.

use crate::config::{DatastoreEndpoint, ExternalDatastore};
use crate::secrets::SecretKey;

/// Why the endpoint named by `datastore_endpoint_secret` cannot be used. Never shows the
/// secret's value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DatastoreSecretError {
    /// secrets.age (or the lack of one) does not hold the secret.
    #[error(
        "[k3s] datastore_endpoint_secret names {key}, which secrets.age does not hold: set \
         it with `pikube secrets set {key}`"
    )]
    Missing {
        /// The secret's name.
        key: SecretKey,
    },
    /// The secret holds something K3s would not take.
    #[error(
        "the secret {key} (named by [k3s] datastore_endpoint_secret) is not a datastore \
         endpoint: {problem}"
    )]
    Invalid {
        /// The secret's name.
        key: SecretKey,
        /// What is wrong with the value.
        problem: String,
    },
}

/// Puts the endpoint in place of the name of the secret holding it; `secret` looks a
/// secret up by name. An endpoint given in cluster.toml, or none, is left as it is.
pub fn resolve_datastore_secret(
    datastore: &mut Option<ExternalDatastore>,
    secret: &dyn Fn(&SecretKey) -> Option<String>,
) -> Result<(), DatastoreSecretError> {
    let Some(ExternalDatastore::InSecret(key)) = datastore else {
        return Ok(());
    };
    let value = secret(key).ok_or_else(|| DatastoreSecretError::Missing { key: key.clone() })?;
    let endpoint: DatastoreEndpoint =
        value
            .trim()
            .parse()
            .map_err(|e: crate::config::InvalidDatastoreEndpoint| {
                DatastoreSecretError::Invalid {
                    key: key.clone(),
                    problem: e.problem,
                }
            })?;
    *datastore = Some(ExternalDatastore::Endpoint(endpoint));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn in_secret() -> Option<ExternalDatastore> {
        Some(ExternalDatastore::InSecret(
            SecretKey::parse("datastore_endpoint").unwrap(),
        ))
    }

    fn endpoint(datastore: &Option<ExternalDatastore>) -> &str {
        match datastore {
            Some(ExternalDatastore::Endpoint(e)) => e.expose(),
            _ => panic!("not resolved"),
        }
    }

    #[test]
    fn the_endpoint_comes_from_the_named_secret() {
        let mut datastore = in_secret();
        let secrets = |key: &SecretKey| {
            (key.as_str() == "datastore_endpoint")
                .then(|| "postgres://k3s:s3cret@db:5432/k3s\n".to_owned())
        };
        resolve_datastore_secret(&mut datastore, &secrets).unwrap();
        // A value set from a file or a terminal may end in a newline.
        assert_eq!(endpoint(&datastore), "postgres://k3s:s3cret@db:5432/k3s");

        // One written in cluster.toml, or none, is not looked up.
        let mut given = Some(ExternalDatastore::Endpoint("mysql://x".parse().unwrap()));
        resolve_datastore_secret(&mut given, &|_| panic!("looked up")).unwrap();
        assert_eq!(endpoint(&given), "mysql://x");
        let mut none = None;
        resolve_datastore_secret(&mut none, &|_| panic!("looked up")).unwrap();
        assert!(none.is_none());
    }

    #[test]
    fn a_missing_or_bad_secret_is_named_without_its_value() {
        let mut datastore = in_secret();
        let err = resolve_datastore_secret(&mut datastore, &|_| None).unwrap_err();
        assert_eq!(
            err.to_string(),
            "[k3s] datastore_endpoint_secret names datastore_endpoint, which secrets.age does \
             not hold: set it with `pikube secrets set datastore_endpoint`"
        );

        let err = resolve_datastore_secret(&mut datastore, &|_| {
            Some("postgresql://k3s:hunter2@db/k3s".to_owned())
        })
        .unwrap_err()
        .to_string();
        assert_eq!(
            err,
            "the secret datastore_endpoint (named by [k3s] datastore_endpoint_secret) is not a \
             datastore endpoint: K3s takes postgres://, not postgresql://"
        );
        assert!(!err.contains("hunter2"));
    }
}
