//! Logging in to a registry as containerd does: no credentials unless cluster.toml gives
//! the registry's host a login (`[k3s.registries.configs."host"]`, its password from
//! secrets.age); a `Basic` challenge answered with that login, a `Bearer` one with a token
//! from the challenge's realm (asked anonymously, or with the login when the realm is
//! https or on the registry's own host, so a password never crosses a network in clear to
//! a host the registry named).

use std::fmt;

use super::registry::RegistryError;
use crate::config::{Registries, RegistryConfig};
use crate::secrets::SecretKey;

/// A registry's user and password, from cluster.toml and secrets.age.
#[derive(Clone)]
pub struct Login {
    /// The user.
    pub username: String,
    /// The password.
    pub password: String,
}

impl fmt::Debug for Login {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Login")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// The settings cluster.toml gives `host` (`registry.lan:5000`), and its login with the
/// password read through `secret`; a named secret that is missing is an error naming it.
pub fn settings_for<'a>(
    host: &str,
    registries: &'a Registries,
    secret: &dyn Fn(&SecretKey) -> Option<String>,
) -> Result<(Option<&'a RegistryConfig>, Option<Login>), RegistryError> {
    let Some(config) = registries.configs.get(host) else {
        return Ok((None, None));
    };
    let login = match &config.auth {
        Some(auth) => {
            let password =
                secret(&auth.password_secret).ok_or_else(|| RegistryError::MissingSecret {
                    host: host.to_owned(),
                    secret: auth.password_secret.to_string(),
                })?;
            Some(Login {
                username: auth.username.clone(),
                password,
            })
        }
        None => None,
    };
    Ok((Some(config), login))
}

/// What a registry's `401` asks for.
#[derive(Debug, PartialEq, Eq)]
pub enum Challenge {
    /// A token from `realm`.
    Bearer {
        /// Where tokens are handed out (http or https).
        realm: String,
        /// The `service` to ask the token for.
        service: Option<String>,
        /// The `scope` to ask the token for (`repository:x/y:pull`).
        scope: Option<String>,
    },
    /// A user and password on every request.
    Basic,
}

impl Challenge {
    /// A `WWW-Authenticate` header's challenge; `None` for any other scheme or a bearer
    /// challenge without a web realm.
    pub fn parse(header: &str) -> Option<Challenge> {
        let header = header.trim();
        let (scheme, params) = header.split_once(' ').unwrap_or((header, ""));
        if scheme.eq_ignore_ascii_case("basic") {
            return Some(Challenge::Basic);
        }
        if !scheme.eq_ignore_ascii_case("bearer") {
            return None;
        }
        let mut realm = None;
        let mut service = None;
        let mut scope = None;
        let mut rest = params.trim();
        while !rest.is_empty() {
            let (key, after) = rest.split_once('=')?;
            let after = after.trim_start();
            let (value, after) = match after.strip_prefix('"') {
                Some(quoted) => {
                    let end = quoted.find('"')?;
                    (&quoted[..end], &quoted[end + 1..])
                }
                None => after.split_once(',').unwrap_or((after, "")),
            };
            match key.trim().to_ascii_lowercase().as_str() {
                "realm" => realm = Some(value.to_owned()),
                "service" => service = Some(value.to_owned()),
                "scope" => scope = Some(value.to_owned()),
                _ => {}
            }
            rest = after.trim_start().trim_start_matches(',').trim_start();
        }
        let realm = realm?;
        if !(realm.starts_with("https://") || realm.starts_with("http://")) {
            return None;
        }
        Some(Challenge::Bearer {
            realm,
            service,
            scope,
        })
    }
}

/// Whether a login for the registry at `endpoint_host` may go to `realm`: over https, or to
/// the registry's own host.
pub fn login_may_go_to(realm: &str, endpoint_host: &str) -> bool {
    realm.starts_with("https://") || host_of(realm) == endpoint_host
}

/// The `host[:port]` of a URL.
pub fn host_of(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    rest.split(['/', '?', '#']).next().unwrap_or(rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_are_read_as_registries_write_them() {
        let challenge = Challenge::parse(
            r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:grafana/grafana:pull""#,
        )
        .unwrap();
        assert_eq!(
            challenge,
            Challenge::Bearer {
                realm: "https://auth.docker.io/token".into(),
                service: Some("registry.docker.io".into()),
                scope: Some("repository:grafana/grafana:pull".into()),
            }
        );
        assert_eq!(
            Challenge::parse(r#"Basic realm="Registry Realm""#),
            Some(Challenge::Basic)
        );
        assert_eq!(Challenge::parse("Negotiate"), None);
        assert_eq!(Challenge::parse("Bearer service=\"x\""), None, "no realm");
        assert_eq!(
            Challenge::parse("Bearer realm=\"file:///etc/passwd\""),
            None
        );
    }

    #[test]
    fn a_login_goes_to_a_realm_over_https_or_on_the_registrys_own_host() {
        assert!(login_may_go_to(
            "https://auth.lan/token",
            "registry.lan:5000"
        ));
        assert!(login_may_go_to(
            "http://registry.lan:5000/token",
            "registry.lan:5000"
        ));
        assert!(!login_may_go_to(
            "http://auth.lan/token",
            "registry.lan:5000"
        ));
        assert_eq!(host_of("https://reg.lan:5000/v2/x?y"), "reg.lan:5000");
    }

    #[test]
    fn a_missing_password_names_the_host_and_secret_and_debug_hides_the_password() {
        let mut registries = Registries::default();
        registries.configs.insert(
            "reg.lan:5000".into(),
            RegistryConfig {
                auth: Some(crate::config::RegistryAuth {
                    username: "pi".into(),
                    password_secret: SecretKey::parse("registry.password").unwrap(),
                }),
                ..RegistryConfig::default()
            },
        );
        let err = settings_for("reg.lan:5000", &registries, &|_| None).unwrap_err();
        assert!(
            err.to_string().contains("reg.lan:5000")
                && err.to_string().contains("registry.password"),
            "{err}"
        );
        let (_, login) =
            settings_for("reg.lan:5000", &registries, &|_| Some("hunter2".into())).unwrap();
        let login = login.unwrap();
        assert_eq!(login.password, "hunter2");
        assert!(!format!("{login:?}").contains("hunter2"));
        assert_eq!(
            settings_for("other:1", &registries, &|_| None).unwrap().0,
            None
        );
    }
}
