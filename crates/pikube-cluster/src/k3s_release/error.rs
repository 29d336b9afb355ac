use std::path::PathBuf;

use crate::digest::Sha256;

/// Why the k3s binary could not be had. URLs in here have any password removed.
#[derive(Debug, thiserror::Error)]
pub enum ReleaseError {
    #[error("`{version}` is not a k3s version (expected something like v1.31.4+k3s1)")]
    /// Not a K3s version string.
    InvalidVersion {
        /// What was given.
        version: String,
    },
    #[error(
        "{url} is plain http: anyone on the network path could swap the k3s binary and its \
         checksum; use an https mirror, or set {variable}=1 for a mirror on a network you trust"
    )]
    /// A mirror on plain http, not allowed.
    InsecureUrl {
        /// The URL (password removed).
        url: String,
        /// The variable that allows it.
        variable: &'static str,
    },
    /// The HTTP client could not be built.
    #[error("could not set up the HTTP client: {detail}")]
    Client {
        /// Why.
        detail: String,
    },
    /// The request failed before an answer (DNS, TLS, connection).
    #[error("{url}: {detail}")]
    Request {
        /// The URL (password removed).
        url: String,
        /// Why.
        detail: String,
    },
    #[error("{url}: HTTP {status}{hint}")]
    /// The server answered with an error status.
    Status {
        /// The URL (password removed).
        url: String,
        /// The HTTP status.
        status: u16,
        /// What it likely means (a version that does not exist).
        hint: &'static str,
    },
    #[error("{url} is over {limit} bytes: not a checksum file")]
    /// The checksum file is too large to be one.
    ChecksumFileTooLarge {
        /// The URL (password removed).
        url: String,
        /// The most bytes read.
        limit: usize,
    },
    #[error("{url} has no checksum line for `{asset}`")]
    /// The checksum file does not list the asset.
    NoChecksum {
        /// The URL (password removed).
        url: String,
        /// The release asset (`k3s-arm64`).
        asset: String,
    },
    #[error("{url}, line {line}: the checksum of `{asset}` is not 64 hex digits")]
    /// The asset's checksum line is not a SHA-256.
    BadChecksum {
        /// The URL (password removed).
        url: String,
        /// The release asset (`k3s-arm64`).
        asset: String,
        /// The line, from 1.
        line: usize,
    },
    #[error(
        "{asset} downloaded from {url} does not match its published checksum: expected sha256 \
         {expected}, got {actual}; nothing was cached"
    )]
    /// What was downloaded is not what the release published.
    Mismatch {
        /// The URL (password removed).
        url: String,
        /// The release asset (`k3s-arm64`).
        asset: String,
        /// The published SHA-256.
        expected: Sha256,
        /// The downloaded file's.
        actual: Sha256,
    },
    #[error("{path}: {causes}", causes = crate::error_chain::describe(cause))]
    /// The cache could not be written or read.
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        cause: std::io::Error,
    },
}
