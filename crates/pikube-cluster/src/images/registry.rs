//! Asking a registry what an image is, over the OCI distribution API, as a node's
//! containerd would find it: through the mirrors of `[k3s.registries]` first, then the
//! registry itself; anonymously, following a registry's bearer-token challenge (Docker Hub,
//! ghcr.io and quay.io answer a first request for a public image with one).

use std::time::Duration;

use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::platform::Platform;
use super::reference::{ImageRef, DOCKER_HUB};
use crate::config::Registries;
use crate::error_chain::describe;

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
    /// The registry wants credentials for it.
    #[error("{url} wants credentials for it (401); pikube asks registries anonymously")]
    Unauthorized {
        /// What was asked.
        url: String,
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

impl RegistryClient {
    /// A client with pikube's timeouts: 10 s to connect, 30 s for a whole request.
    pub fn new() -> Result<RegistryClient, RegistryError> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("pikube/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|err| RegistryError::Client {
                detail: describe(&err),
            })?;
        Ok(RegistryClient { http })
    }

    /// What `image` is, from the first endpoint that answers: its mirrors in order, then
    /// its registry. Every endpoint's failure when none does.
    pub async fn resolve(
        &self,
        image: &ImageRef,
        registries: &Registries,
    ) -> Result<Resolved, Vec<RegistryError>> {
        let mut errors = Vec::new();
        for endpoint in endpoints(image, registries) {
            match self.resolve_at(&endpoint, image).await {
                Ok(resolved) => return Ok(resolved),
                // A pinned digest the registry contradicts is the answer, not a miss.
                Err(err @ RegistryError::DigestMismatch { .. }) => return Err(vec![err]),
                Err(err) => errors.push(err),
            }
        }
        Err(errors)
    }

    async fn resolve_at(
        &self,
        endpoint: &str,
        image: &ImageRef,
    ) -> Result<Resolved, RegistryError> {
        let mut token = None;
        let url = format!(
            "{endpoint}/v2/{}/manifests/{}",
            image.repository,
            image.reference()
        );
        let body = self.get(&url, ACCEPT, &mut token).await?;
        let digest = format!("sha256:{:x}", Sha256::digest(&body));
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
                let url = format!("{endpoint}/v2/{}/blobs/{}", image.repository, config.digest);
                let body = self.get(&url, "*/*", &mut token).await?;
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
            endpoint: endpoint.to_owned(),
        })
    }

    /// A GET, once more with a token when the registry challenges for one.
    async fn get(
        &self,
        url: &str,
        accept: &str,
        token: &mut Option<String>,
    ) -> Result<Vec<u8>, RegistryError> {
        let mut challenged = false;
        loop {
            let mut request = self.http.get(url).header(reqwest::header::ACCEPT, accept);
            if let Some(token) = token.as_deref() {
                request = request.bearer_auth(token);
            }
            let response = request.send().await.map_err(|err| unreachable(url, &err))?;
            let status = response.status();
            if status == reqwest::StatusCode::UNAUTHORIZED && !challenged {
                let challenge = response
                    .headers()
                    .get(reqwest::header::WWW_AUTHENTICATE)
                    .and_then(|value| value.to_str().ok())
                    .and_then(BearerChallenge::parse);
                match challenge {
                    Some(challenge) => {
                        *token = Some(self.token(url, &challenge).await?);
                        challenged = true;
                        continue;
                    }
                    None => {
                        return Err(RegistryError::Unauthorized {
                            url: url.to_owned(),
                        })
                    }
                }
            }
            if status == reqwest::StatusCode::UNAUTHORIZED {
                return Err(RegistryError::Unauthorized {
                    url: url.to_owned(),
                });
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

    /// An anonymous token from the challenge's realm.
    async fn token(&self, url: &str, challenge: &BearerChallenge) -> Result<String, RegistryError> {
        let mut query = Vec::new();
        if let Some(service) = &challenge.service {
            query.push(("service", service.as_str()));
        }
        if let Some(scope) = &challenge.scope {
            query.push(("scope", scope.as_str()));
        }
        let response = self
            .http
            .get(&challenge.realm)
            .query(&query)
            .send()
            .await
            .map_err(|err| unreachable(&challenge.realm, &err))?;
        if !response.status().is_success() {
            return Err(RegistryError::Status {
                url: challenge.realm.clone(),
                status: response.status().as_u16(),
                hint: ": the token service of a registry that wants a token",
            });
        }
        let body = read_limited(&challenge.realm, response).await?;
        let answer: TokenAnswer =
            serde_json::from_slice(&body).map_err(|err| RegistryError::BadManifest {
                url: challenge.realm.clone(),
                detail: format!("not a token answer: {err}"),
            })?;
        answer
            .token
            .or(answer.access_token)
            .ok_or_else(|| RegistryError::Unauthorized {
                url: url.to_owned(),
            })
    }
}

/// Where a node's containerd looks for `image`: its registry's mirrors, then the `*`
/// mirrors, then the registry itself (Docker Hub's API lives at registry-1.docker.io).
pub fn endpoints(image: &ImageRef, registries: &Registries) -> Vec<String> {
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
        .map_err(|err| unreachable(url, &err))?
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

fn unreachable(url: &str, err: &reqwest::Error) -> RegistryError {
    RegistryError::Unreachable {
        url: url.to_owned(),
        detail: describe(err),
    }
}

/// `WWW-Authenticate: Bearer realm="…",service="…",scope="…"`.
#[derive(Debug, PartialEq, Eq)]
struct BearerChallenge {
    realm: String,
    service: Option<String>,
    scope: Option<String>,
}

impl BearerChallenge {
    fn parse(header: &str) -> Option<BearerChallenge> {
        let (scheme, params) = header.trim().split_once(' ')?;
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
                None => after.split_once(',').map_or((after, ""), |(v, a)| (v, a)),
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
        // Only a web address is followed; nothing secret is sent there (pikube asks for an
        // anonymous token), so a LAN registry's realm on plain http is followed too.
        if !(realm.starts_with("https://") || realm.starts_with("http://")) {
            return None;
        }
        Some(BearerChallenge {
            realm,
            service,
            scope,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bearer_challenge_is_read_as_registries_write_it() {
        let challenge = BearerChallenge::parse(
            r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:grafana/grafana:pull""#,
        )
        .unwrap();
        assert_eq!(challenge.realm, "https://auth.docker.io/token");
        assert_eq!(challenge.service.as_deref(), Some("registry.docker.io"));
        assert_eq!(
            challenge.scope.as_deref(),
            Some("repository:grafana/grafana:pull")
        );
        assert_eq!(BearerChallenge::parse(r#"Basic realm="x""#), None);
        assert_eq!(
            BearerChallenge::parse("Bearer service=\"x\""),
            None,
            "no realm"
        );
        assert_eq!(
            BearerChallenge::parse("Bearer realm=\"file:///etc/passwd\""),
            None
        );
    }

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
}
