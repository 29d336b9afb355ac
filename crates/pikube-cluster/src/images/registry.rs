//! Asking a registry what an image is, over the OCI distribution API, as a node's
//! containerd would find it: through the mirrors of `[k3s.registries]` first, then the
//! registry itself; with the login, CA and TLS setting cluster.toml gives an endpoint's
//! host, else anonymously, following a registry's challenge (Docker Hub, ghcr.io and
//! quay.io answer a first request for a public image with one: see auth.rs).

use std::time::Duration;

use serde::Deserialize;

use super::auth::{host_of, login_may_go_to, settings_for, Challenge, Login};
use super::platform::Platform;
use super::reference::{ImageRef, DOCKER_HUB};
use crate::config::{Registries, RegistryConfig};
use crate::digest::Sha256;
use crate::error_chain::describe_request;
use crate::secrets::SecretKey;

/// What a registry serves under an image's tag or digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The digest of what the tag names (an index for a multi-platform image).
    pub digest: String,
    /// The platforms it has an image for (attestations left out).
    pub platforms: Vec<Platform>,
    /// Whether it is an index (or Docker manifest list) rather than a single image.
    pub index: bool,
    /// The endpoint that answered (a mirror, or the registry).
    pub endpoint: String,
}

/// Why an image could not be resolved at one endpoint.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistryError {
    /// No HTTP client (its TLS setup failed).
    #[error("cannot set up an HTTP client: {detail}")]
    Client {
        /// Why.
        detail: String,
    },
    /// No answer, or not HTTP.
    #[error("no answer from {url}: {detail}")]
    Unreachable {
        /// What was asked.
        url: String,
        /// Why there was no answer.
        detail: String,
    },
    /// An HTTP status other than success.
    #[error("{url} answered {status}{hint}")]
    Status {
        /// What was asked.
        url: String,
        /// The HTTP status.
        status: u16,
        /// What the status likely means, with its separator, or nothing.
        hint: &'static str,
    },
    /// The registry wants credentials that were not given, or refused those given.
    #[error("{url} answered 401: {why}")]
    Unauthorized {
        /// What was asked.
        url: String,
        /// With or without a login, and what to do.
        why: String,
    },
    /// cluster.toml names a password secret that secrets.age does not hold.
    #[error(
        "k3s.registries.configs.\"{host}\".password_secret names {secret}, which the secrets \
         beside cluster.toml do not hold"
    )]
    MissingSecret {
        /// The registry host.
        host: String,
        /// The secret's name.
        secret: String,
    },
    /// cluster.toml's CA for the host is not a certificate.
    #[error("k3s.registries.configs.\"{host}\".ca_file ({source_file}) is not a PEM certificate: {detail}")]
    BadCa {
        /// The registry host.
        host: String,
        /// Where the CA was read from.
        source_file: String,
        /// Why it was refused.
        detail: String,
    },
    /// A body that is not the manifest or config asked for.
    #[error("{url} sent something that is not an image manifest: {detail}")]
    BadManifest {
        /// What was asked.
        url: String,
        /// What is wrong with the answer.
        detail: String,
    },
    /// The digest an image is pinned to is not what the registry serves under it.
    #[error("the image is pinned to {pinned}, but {url} serves content whose digest is {served}")]
    DigestMismatch {
        /// What was asked.
        url: String,
        /// The digest the reference pins.
        pinned: String,
        /// The digest of what was served.
        served: String,
    },
}

/// Manifests and configs are a few KiB; anything this big is not one.
const MAX_DOCUMENT_BYTES: usize = 4 << 20;

/// What an index, a Docker manifest list or a single image's manifest may come as.
const ACCEPT: &str = "application/vnd.oci.image.index.v1+json, \
     application/vnd.docker.distribution.manifest.list.v2+json, \
     application/vnd.oci.image.manifest.v1+json, \
     application/vnd.docker.distribution.manifest.v2+json";

/// An HTTP client for registries.
pub struct RegistryClient {
    http: reqwest::Client,
}

#[derive(Deserialize)]
struct Manifest {
    #[serde(default)]
    manifests: Option<Vec<Entry>>,
    #[serde(default)]
    config: Option<Descriptor>,
}

#[derive(Deserialize)]
struct Entry {
    #[serde(default)]
    platform: Option<Platform>,
    #[serde(default)]
    annotations: std::collections::BTreeMap<String, String>,
}

#[derive(Deserialize)]
struct Descriptor {
    digest: String,
}

#[derive(Deserialize)]
struct TokenAnswer {
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    access_token: Option<String>,
}

/// One endpoint, as pikube reaches it.
struct Endpoint {
    /// `scheme://host[:port][/prefix]`, without `/v2`.
    base: String,
    /// Its `host[:port]`, as cluster.toml's `configs` are keyed.
    host: String,
    http: reqwest::Client,
    login: Option<Login>,
}

/// What goes with a request.
enum Authorization {
    None,
    Bearer(String),
    Basic,
}

fn client(config: Option<&RegistryConfig>, host: &str) -> Result<reqwest::Client, RegistryError> {
    let mut builder = reqwest::Client::builder()
        .user_agent(concat!("pikube/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(30));
    if let Some(config) = config {
        if let Some(ca) = &config.ca {
            let certificate = reqwest::Certificate::from_pem(ca.pem.as_bytes()).map_err(|err| {
                RegistryError::BadCa {
                    host: host.to_owned(),
                    source_file: ca.source.display().to_string(),
                    detail: crate::error_chain::describe(&err),
                }
            })?;
            builder = builder.add_root_certificate(certificate);
        }
        if config.insecure_skip_verify {
            builder = builder.danger_accept_invalid_certs(true);
        }
    }
    builder.build().map_err(|err| RegistryError::Client {
        detail: describe_request(err),
    })
}

impl RegistryClient {
    /// A client for the registries without settings in cluster.toml: 10 s to connect, 30 s
    /// for a whole request.
    pub fn new() -> Result<RegistryClient, RegistryError> {
        Ok(RegistryClient {
            http: client(None, "")?,
        })
    }

    /// What `image` is, from the first endpoint that answers: its mirrors in order, then
    /// its registry, each with cluster.toml's settings for its host (passwords read through
    /// `secret`). Every endpoint's failure when none does.
    pub async fn resolve(
        &self,
        image: &ImageRef,
        registries: &Registries,
        secret: &dyn Fn(&SecretKey) -> Option<String>,
    ) -> Result<Resolved, Vec<RegistryError>> {
        let mut errors = Vec::new();
        for base in endpoints(image, registries) {
            let host = host_of(&base).to_owned();
            let endpoint = settings_for(&host, registries, secret).and_then(|(config, login)| {
                let http = match config {
                    Some(config) if config.ca.is_some() || config.insecure_skip_verify => {
                        client(Some(config), &host)?
                    }
                    _ => self.http.clone(),
                };
                Ok(Endpoint {
                    base: base.clone(),
                    host,
                    http,
                    login,
                })
            });
            let result = match endpoint {
                Ok(endpoint) => endpoint.resolve(image).await,
                Err(err) => Err(err),
            };
            match result {
                Ok(resolved) => return Ok(resolved),
                // A pinned digest the registry contradicts is the answer, not a miss; a
                // setting of cluster.toml that cannot be used is to be fixed, not passed
                // over for the next endpoint.
                Err(
                    err @ (RegistryError::DigestMismatch { .. }
                    | RegistryError::MissingSecret { .. }
                    | RegistryError::BadCa { .. }),
                ) => {
                    errors.push(err);
                    return Err(errors);
                }
                Err(err) => errors.push(err),
            }
        }
        Err(errors)
    }
}

impl Endpoint {
    async fn resolve(&self, image: &ImageRef) -> Result<Resolved, RegistryError> {
        let mut authorization = Authorization::None;
        let url = format!(
            "{}/v2/{}/manifests/{}",
            self.base,
            image.repository,
            image.reference()
        );
        let body = self.get(&url, ACCEPT, &mut authorization).await?;
        let digest = format!("sha256:{}", Sha256::of(&body));
        if let Some(pinned) = &image.digest {
            if *pinned != digest {
                return Err(RegistryError::DigestMismatch {
                    url,
                    pinned: pinned.clone(),
                    served: digest,
                });
            }
        }
        let manifest: Manifest =
            serde_json::from_slice(&body).map_err(|err| RegistryError::BadManifest {
                url: url.clone(),
                detail: err.to_string(),
            })?;
        let (index, platforms) = match (manifest.manifests, manifest.config) {
            (Some(entries), _) => {
                let mut platforms: Vec<Platform> = entries
                    .into_iter()
                    .filter(|entry| {
                        // BuildKit lists its provenance attestations as unknown/unknown.
                        !entry.annotations.contains_key("vnd.docker.reference.type")
                    })
                    .filter_map(|entry| entry.platform)
                    .filter(|platform| platform.os != "unknown")
                    .collect();
                platforms.sort();
                platforms.dedup();
                (true, platforms)
            }
            (None, Some(config)) => {
                let url = format!(
                    "{}/v2/{}/blobs/{}",
                    self.base, image.repository, config.digest
                );
                let body = self.get(&url, "*/*", &mut authorization).await?;
                let platform: Platform =
                    serde_json::from_slice(&body).map_err(|err| RegistryError::BadManifest {
                        url,
                        detail: format!("its config names no platform: {err}"),
                    })?;
                (false, vec![platform])
            }
            (None, None) => {
                return Err(RegistryError::BadManifest {
                    url,
                    detail: "neither an index nor an image manifest".to_owned(),
                })
            }
        };
        Ok(Resolved {
            digest,
            platforms,
            index,
            endpoint: self.base.clone(),
        })
    }

    /// A GET, once more with what the registry's challenge asks for.
    async fn get(
        &self,
        url: &str,
        accept: &str,
        authorization: &mut Authorization,
    ) -> Result<Vec<u8>, RegistryError> {
        let mut challenged = false;
        loop {
            let mut request = self.http.get(url).header(reqwest::header::ACCEPT, accept);
            request = match (&*authorization, &self.login) {
                (Authorization::Bearer(token), _) => request.bearer_auth(token),
                (Authorization::Basic, Some(login)) => {
                    request.basic_auth(&login.username, Some(&login.password))
                }
                _ => request,
            };
            let response = request.send().await.map_err(|err| unreachable(url, err))?;
            let status = response.status();
            if status == reqwest::StatusCode::UNAUTHORIZED {
                let challenge = response
                    .headers()
                    .get(reqwest::header::WWW_AUTHENTICATE)
                    .and_then(|value| value.to_str().ok())
                    .and_then(Challenge::parse);
                match challenge {
                    Some(challenge) if !challenged => {
                        challenged = true;
                        *authorization = self.answer(url, &challenge).await?;
                        continue;
                    }
                    _ => return Err(self.unauthorized(url)),
                }
            }
            if !status.is_success() {
                let hint = match status.as_u16() {
                    404 => ": no such image or tag there",
                    429 => ": rate-limited, try again later",
                    _ => "",
                };
                return Err(RegistryError::Status {
                    url: url.to_owned(),
                    status: status.as_u16(),
                    hint,
                });
            }
            return read_limited(url, response).await;
        }
    }

    /// What answers `challenge`: the login (Basic), or a token from its realm (Bearer).
    async fn answer(
        &self,
        url: &str,
        challenge: &Challenge,
    ) -> Result<Authorization, RegistryError> {
        let Challenge::Bearer {
            realm,
            service,
            scope,
        } = challenge
        else {
            return match self.login {
                Some(_) => Ok(Authorization::Basic),
                None => Err(self.unauthorized(url)),
            };
        };
        let mut query = Vec::new();
        if let Some(service) = service {
            query.push(("service", service.as_str()));
        }
        if let Some(scope) = scope {
            query.push(("scope", scope.as_str()));
        }
        let mut request = self.http.get(realm).query(&query);
        if let Some(login) = &self.login {
            if login_may_go_to(realm, &self.host) {
                request = request.basic_auth(&login.username, Some(&login.password));
            }
        }
        let response = request
            .send()
            .await
            .map_err(|err| unreachable(realm, err))?;
        if !response.status().is_success() {
            return Err(RegistryError::Status {
                url: realm.clone(),
                status: response.status().as_u16(),
                hint: ": the token service of a registry that wants a token",
            });
        }
        let body = read_limited(realm, response).await?;
        let answer: TokenAnswer =
            serde_json::from_slice(&body).map_err(|err| RegistryError::BadManifest {
                url: realm.clone(),
                detail: format!("not a token answer: {err}"),
            })?;
        answer
            .token
            .or(answer.access_token)
            .map(Authorization::Bearer)
            .ok_or_else(|| self.unauthorized(url))
    }

    fn unauthorized(&self, url: &str) -> RegistryError {
        let why = match &self.login {
            Some(login) => format!(
                "it refused the login of user {:?} that k3s.registries.configs.\"{}\" gives",
                login.username, self.host
            ),
            None => format!(
                "it wants a login; give one in k3s.registries.configs.\"{}\" (username, \
                 password_secret)",
                self.host
            ),
        };
        RegistryError::Unauthorized {
            url: url.to_owned(),
            why,
        }
    }
}

/// Where a node's containerd looks for `image`: its registry's mirrors, then the `*`
/// mirrors, then the registry itself (Docker Hub's API lives at registry-1.docker.io).
fn endpoints(image: &ImageRef, registries: &Registries) -> Vec<String> {
    let mut endpoints: Vec<String> = [image.registry.as_str(), "*"]
        .iter()
        .filter_map(|name| registries.mirrors.get(*name))
        .flatten()
        .map(|endpoint| {
            let endpoint = endpoint.trim_end_matches('/');
            endpoint.strip_suffix("/v2").unwrap_or(endpoint).to_owned()
        })
        .collect();
    let own = if image.registry == DOCKER_HUB {
        "https://registry-1.docker.io".to_owned()
    } else {
        format!("https://{}", image.registry)
    };
    endpoints.push(own);
    let mut seen = std::collections::BTreeSet::new();
    endpoints.retain(|endpoint| seen.insert(endpoint.clone()));
    endpoints
}

async fn read_limited(
    url: &str,
    mut response: reqwest::Response,
) -> Result<Vec<u8>, RegistryError> {
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|err| unreachable(url, err))?
    {
        if body.len() + chunk.len() > MAX_DOCUMENT_BYTES {
            return Err(RegistryError::BadManifest {
                url: url.to_owned(),
                detail: format!("more than {} MiB", MAX_DOCUMENT_BYTES >> 20),
            });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The URL is said once, in the error's own message.
fn unreachable(url: &str, err: reqwest::Error) -> RegistryError {
    RegistryError::Unreachable {
        url: url.to_owned(),
        detail: describe_request(err),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mirrors_come_first_then_the_registry_itself() {
        let image: ImageRef = "grafana/grafana:12.1.1".parse().unwrap();
        let mut registries = Registries::default();
        assert_eq!(
            endpoints(&image, &registries),
            ["https://registry-1.docker.io"]
        );
        registries.mirrors.insert(
            "docker.io".into(),
            vec![
                "https://mirror.lan/v2/".into(),
                "http://10.0.0.5:5000".into(),
            ],
        );
        registries
            .mirrors
            .insert("*".into(), vec!["https://all.lan".into()]);
        registries
            .mirrors
            .insert("quay.io".into(), vec!["https://quay-mirror.lan".into()]);
        assert_eq!(
            endpoints(&image, &registries),
            [
                "https://mirror.lan",
                "http://10.0.0.5:5000",
                "https://all.lan",
                "https://registry-1.docker.io"
            ]
        );
        let quay: ImageRef = "quay.io/prometheus/prometheus:v3.5.0".parse().unwrap();
        assert_eq!(
            endpoints(&quay, &registries),
            [
                "https://quay-mirror.lan",
                "https://all.lan",
                "https://quay.io"
            ]
        );
    }

    #[tokio::test]
    async fn a_registry_that_does_not_answer_is_named_once() {
        // Nothing listens on port 1 of this machine.
        let image: ImageRef = "127.0.0.1:1/x/y:1".parse().unwrap();
        let errors = RegistryClient::new()
            .unwrap()
            .resolve(&image, &Registries::default(), &|_| None)
            .await
            .unwrap_err();
        let text = errors[0].to_string();
        assert!(
            text.starts_with("no answer from https://127.0.0.1:1/v2/x/y/manifests/1: "),
            "{text}"
        );
        assert_eq!(text.matches("127.0.0.1:1").count(), 1, "{text}");
    }
}
