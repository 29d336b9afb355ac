use std::path::PathBuf;

/// Why the k3s binary could not be had. URLs in here have any password removed.
#[derive(Debug, thiserror::Error)]
pub enum ReleaseError {
    #[error("`{version}` is not a k3s version (expected something like v1.31.4+k3s1)")]
    InvalidVersion { version: String },
    #[error(
        "{url} is plain http: anyone on the network path could swap the k3s binary and its \
         checksum; use an https mirror, or set {variable}=1 for a mirror on a network you trust"
    )]
    InsecureUrl { url: String, variable: &'static str },
    #[error("could not set up the HTTP client: {detail}")]
    Client { detail: String },
    #[error("{url}: {detail}")]
    Request { url: String, detail: String },
    #[error("{url}: HTTP {status}{hint}")]
    Status {
        url: String,
        status: u16,
        hint: &'static str,
    },
    #[error("{url} is over {limit} bytes: not a checksum file")]
    ChecksumFileTooLarge { url: String, limit: usize },
    #[error("{url} has no checksum line for `{asset}`")]
    NoChecksum { url: String, asset: String },
    #[error("{url}, line {line}: the checksum of `{asset}` is not 64 hex digits")]
    BadChecksum {
        url: String,
        asset: String,
        line: usize,
    },
    #[error(
        "{asset} downloaded from {url} does not match its published checksum: expected sha256 \
         {expected}, got {actual}; nothing was cached"
    )]
    Mismatch {
        url: String,
        asset: String,
        expected: String,
        actual: String,
    },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}
