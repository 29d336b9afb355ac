//! `[backup.s3]`'s keys for the servers' env files: each from the secret cluster.toml names
//! (secrets.age), else from the environment pikube runs in, never from cluster.toml.

use super::render::S3Credentials;
use crate::config::S3Target;
use crate::secrets::SecretKey;

/// The environment variables K3s itself reads the keys from, and pikube falls back to.
pub const ACCESS_KEY_ENV: &str = "AWS_ACCESS_KEY_ID";
pub const SECRET_KEY_ENV: &str = "AWS_SECRET_ACCESS_KEY";

/// A key `[backup.s3]` needs that neither secrets.age nor the environment holds.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "[backup.s3] needs its {what}: set it with `pikube secrets set {secret}`, or export {env} \
     where pikube runs"
)]
pub struct MissingS3Key {
    what: &'static str,
    secret: SecretKey,
    env: &'static str,
}

/// The keys for `s3`; `secret` looks a secret up by name, `env` reads an environment
/// variable (empty counts as unset).
pub fn s3_credentials(
    s3: &S3Target,
    secret: &dyn Fn(&SecretKey) -> Option<String>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<S3Credentials, MissingS3Key> {
    let find = |what, key: &SecretKey, var| {
        secret(key)
            .or_else(|| env(var))
            .filter(|value| !value.is_empty())
            .ok_or_else(|| MissingS3Key {
                what,
                secret: key.clone(),
                env: var,
            })
    };
    Ok(S3Credentials {
        access_key: find("access key", &s3.access_key_secret, ACCESS_KEY_ENV)?,
        secret_key: find("secret key", &s3.secret_key_secret, SECRET_KEY_ENV)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target() -> S3Target {
        S3Target {
            endpoint: None,
            bucket: "snaps".into(),
            region: None,
            folder: None,
            insecure: false,
            access_key_secret: SecretKey::parse("backup.s3.access_key").unwrap(),
            secret_key_secret: SecretKey::parse("backup.s3.secret_key").unwrap(),
        }
    }

    #[test]
    fn the_secrets_file_wins_then_the_environment_then_a_clear_error() {
        let from_file = |key: &SecretKey| {
            (key.as_str() == "backup.s3.access_key").then(|| "file-access".to_owned())
        };
        let environment = |var: &str| match var {
            ACCESS_KEY_ENV => Some("env-access".to_owned()),
            SECRET_KEY_ENV => Some("env-secret".to_owned()),
            _ => None,
        };
        let keys = s3_credentials(&target(), &from_file, &environment).unwrap();
        assert_eq!(
            (keys.access_key.as_str(), keys.secret_key.as_str()),
            ("file-access", "env-secret")
        );

        let nothing = |_: &SecretKey| None;
        let empty = |_: &str| Some(String::new());
        let err = s3_credentials(&target(), &nothing, &empty)
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "[backup.s3] needs its access key: set it with `pikube secrets set \
             backup.s3.access_key`, or export AWS_ACCESS_KEY_ID where pikube runs"
        );
    }
}
