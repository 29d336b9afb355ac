//! A small blocking client of the real kube-apiserver: HTTPS with the cluster CA and a
//! client certificate, JSON in and out. Enough for what a kubelet and k3s' supervisor do
//! at the API (register a node, renew its lease, label it, keep node passwords).

use crate::http::{self, Reply};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use std::sync::Arc;

#[derive(Clone)]
pub struct KubeClient {
    /// `host:port` of the API server.
    authority: String,
    host: String,
    tls: Arc<rustls::ClientConfig>,
}

impl KubeClient {
    /// A client of `https://host:port` trusting `ca_pem`, authenticated by `cert_pem`/`key_pem`.
    pub fn new(url: &str, ca_pem: &str, cert_pem: &str, key_pem: &str) -> Result<Self, String> {
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
            roots
                .add(cert.map_err(|e| format!("CA: {e}"))?)
                .map_err(|e| format!("CA: {e}"))?;
        }
        let chain: Vec<CertificateDer<'static>> =
            CertificateDer::pem_slice_iter(cert_pem.as_bytes())
                .collect::<Result<_, _>>()
                .map_err(|e| format!("client certificate: {e}"))?;
        let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes())
            .map_err(|e| format!("client key: {e}"))?;
        let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)
        .map_err(|e| format!("client certificate: {e}"))?;
        let authority = http::host_port(url);
        let host = match authority.rsplit_once(':') {
            Some((host, _)) => host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_string(),
            None => authority.clone(),
        };
        Ok(KubeClient {
            authority,
            host,
            tls: Arc::new(tls),
        })
    }

    /// A client from PEM files.
    pub fn from_files(
        url: &str,
        ca: &std::path::Path,
        cert: &std::path::Path,
        key: &std::path::Path,
    ) -> Result<Self, String> {
        let read = |p: &std::path::Path| {
            std::fs::read_to_string(p).map_err(|e| format!("read {}: {e}", p.display()))
        };
        KubeClient::new(url, &read(ca)?, &read(cert)?, &read(key)?)
    }

    pub fn url(&self) -> String {
        format!("https://{}", self.authority)
    }

    /// One request; `Err` only when the server could not be talked to.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        content_type: &str,
        body: &[u8],
    ) -> std::io::Result<Reply> {
        let name = ServerName::try_from(self.host.clone()).map_err(std::io::Error::other)?;
        let conn =
            rustls::ClientConnection::new(self.tls.clone(), name).map_err(std::io::Error::other)?;
        let tcp = http::connect(&self.authority)?;
        let stream = rustls::StreamOwned::new(conn, tcp);
        let headers = [
            ("Content-Type", content_type),
            ("Accept", "application/json"),
            ("User-Agent", "k3s-double"),
        ];
        http::exchange(stream, &self.authority, method, path, &headers, body)
    }

    pub fn get(&self, path: &str) -> std::io::Result<Reply> {
        self.request("GET", path, "application/json", &[])
    }

    pub fn post(&self, path: &str, body: &serde_json::Value) -> std::io::Result<Reply> {
        self.request(
            "POST",
            path,
            "application/json",
            body.to_string().as_bytes(),
        )
    }

    /// A JSON merge patch (RFC 7386).
    pub fn merge_patch(&self, path: &str, body: &serde_json::Value) -> std::io::Result<Reply> {
        self.request(
            "PATCH",
            path,
            "application/merge-patch+json",
            body.to_string().as_bytes(),
        )
    }

    pub fn delete(&self, path: &str) -> std::io::Result<Reply> {
        self.request("DELETE", path, "application/json", &[])
    }
}

/// The reply as JSON when it succeeded, else a message with its status and text.
pub fn json(reply: std::io::Result<Reply>) -> Result<serde_json::Value, String> {
    let reply = reply.map_err(|e| e.to_string())?;
    if (200..300).contains(&reply.status) {
        serde_json::from_slice(&reply.body).map_err(|e| format!("malformed reply: {e}"))
    } else {
        Err(describe(&reply))
    }
}

/// `409 Conflict: nodes "pi1" already exists` from a failed reply's Status.
pub fn describe(reply: &Reply) -> String {
    let message = serde_json::from_slice::<serde_json::Value>(&reply.body)
        .ok()
        .and_then(|v| v["message"].as_str().map(str::to_string))
        .unwrap_or_else(|| String::from_utf8_lossy(&reply.body).trim().to_string());
    format!("{} {}: {message}", reply.status, http::reason(reply.status))
}
