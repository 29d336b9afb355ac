//! HTTP for release assets: small texts read whole, binaries streamed to a file.

use std::path::Path;
use std::time::Duration;

use tokio::io::AsyncWriteExt;

use super::url::redact;
use super::ReleaseError;
use crate::digest::{Sha256, Sha256Hasher};
use crate::error_chain::describe_request;

/// What a streamed download wrote.
pub(super) struct Downloaded {
    pub bytes: u64,
    /// Lowercase hex.
    pub sha256: Sha256,
}

pub(super) struct Fetcher {
    client: reqwest::Client,
}

impl Fetcher {
    pub(super) fn new() -> Result<Fetcher, ReleaseError> {
        // No overall timeout: a 70 MB binary on a slow uplink may take minutes. A stalled
        // connection is caught by the read timeout instead. Redirects are followed, which
        // GitHub needs (its assets are served from another host), but never from https
        // down to http, where anyone on the path could swap the binary (review L7).
        let redirects = reqwest::redirect::Policy::custom(|attempt| {
            let downgrade = attempt.url().scheme() == "http"
                && attempt.previous().iter().any(|u| u.scheme() == "https");
            if downgrade {
                attempt.error("refused a redirect from https to plain http")
            } else if attempt.previous().len() > 10 {
                attempt.error("more than 10 redirects")
            } else {
                attempt.follow()
            }
        });
        let client = reqwest::Client::builder()
            .redirect(redirects)
            .user_agent(concat!("pikube/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(30))
            .read_timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| ReleaseError::Client {
                detail: describe_request(e),
            })?;
        Ok(Fetcher { client })
    }

    /// The body of `url` as text, refusing more than `limit` bytes.
    pub(super) async fn text(&self, url: &str, limit: usize) -> Result<String, ReleaseError> {
        let mut response = self.get(url).await?;
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| request_error(url, e))? {
            if body.len() + chunk.len() > limit {
                return Err(ReleaseError::ChecksumFileTooLarge {
                    url: redact(url),
                    limit,
                });
            }
            body.extend_from_slice(&chunk);
        }
        // Invalid UTF-8 cannot hold a matching line anyway; the lookup then says so.
        Ok(String::from_utf8_lossy(&body).into_owned())
    }

    /// Streams `url` into `file` (at `path`, for errors), hashing as it goes, so the binary
    /// is never held in memory whole.
    pub(super) async fn to_file(
        &self,
        url: &str,
        file: &mut tokio::fs::File,
        path: &Path,
    ) -> Result<Downloaded, ReleaseError> {
        let io_error = |cause| ReleaseError::Io {
            path: path.to_owned(),
            cause,
        };
        let mut response = self.get(url).await?;
        let mut hasher = Sha256Hasher::new();
        let mut bytes = 0u64;
        while let Some(chunk) = response.chunk().await.map_err(|e| request_error(url, e))? {
            hasher.update(&chunk);
            file.write_all(&chunk).await.map_err(io_error)?;
            bytes += chunk.len() as u64;
        }
        file.flush().await.map_err(io_error)?;
        file.sync_all().await.map_err(io_error)?;
        Ok(Downloaded {
            bytes,
            sha256: hasher.finish(),
        })
    }

    async fn get(&self, url: &str) -> Result<reqwest::Response, ReleaseError> {
        check_transport(
            url,
            std::env::var_os(ALLOW_HTTP_ENV).is_some_and(|v| v == "1"),
        )?;
        let response = self
            .client
            .get(url)
            .send()
            .await
            .map_err(|e| request_error(url, e))?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let hint = if status == reqwest::StatusCode::NOT_FOUND {
            ": no such release asset: is the version right?"
        } else {
            ""
        };
        Err(ReleaseError::Status {
            url: redact(url),
            status: status.as_u16(),
            hint,
        })
    }
}

/// Set to `1` to download from a plain-http mirror on the LAN (the binary then runs as root
/// on every node on the word of whoever controls that network).
pub const ALLOW_HTTP_ENV: &str = "PIKUBE_K3S_RELEASE_ALLOW_HTTP";

/// https, or plain http only to this machine (a local mirror or a test server) or when
/// explicitly allowed: the checksum comes from the same place as the binary, so the
/// transport is all that stands between a network attacker and root on the nodes.
fn check_transport(url: &str, allow_http: bool) -> Result<(), ReleaseError> {
    // Unparsable URLs are left to the request, whose error names them.
    let Ok(parsed) = reqwest::Url::parse(url) else {
        return Ok(());
    };
    if parsed.scheme() != "http" {
        return Ok(());
    }
    // host_str keeps an IPv6 address in brackets.
    let host = parsed.host_str().unwrap_or("");
    let loopback = host == "localhost"
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    if loopback || allow_http {
        return Ok(());
    }
    Err(ReleaseError::InsecureUrl {
        url: redact(url),
        variable: ALLOW_HTTP_ENV,
    })
}

fn request_error(url: &str, error: reqwest::Error) -> ReleaseError {
    ReleaseError::Request {
        url: redact(url),
        detail: describe_request(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_only_to_this_machine_or_when_allowed() {
        for ok in [
            "https://github.com/k3s-io/k3s/releases/download/v1/k3s",
            "http://127.0.0.1:8080/releases",
            "http://localhost/k3s",
            "http://[::1]:9000/k3s",
            "http://me:pw@127.0.0.1/k3s",
        ] {
            assert!(check_transport(ok, false).is_ok(), "{ok}");
        }
        for bad in [
            "http://mirror.lan/k3s",
            "http://10.0.0.5:8080/k3s",
            "http://me:pw@mirror.lan/",
        ] {
            let err = check_transport(bad, false).unwrap_err().to_string();
            assert!(err.contains(ALLOW_HTTP_ENV), "{err}");
            assert!(!err.contains("pw@"), "the password is shown: {err}");
            assert!(check_transport(bad, true).is_ok(), "{bad}");
        }
    }
}
