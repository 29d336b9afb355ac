//! When each of K3s' certificates on the host ends
//! (`pi_k3s_certificate_expiry_timestamp_seconds{file}`): the certificate alert's series.
//! K3s renews its leaf certificates only when it starts, so a node up for most of a year
//! runs into their end; its CAs are never renewed. Only `*.crt` files are read, never keys.

use std::path::Path;

use x509_parser::pem::Pem;

use crate::host::Host;
use crate::render::Scrape;

/// Where K3s keeps them (as `pikube status` reads them over SSH): the server's serving,
/// client and CA certificates (with etcd's in a directory below), and the agent's.
const SERVER_TLS: &str = "/var/lib/rancher/k3s/server/tls";
const AGENT: &str = "/var/lib/rancher/k3s/agent";

/// A certificate file is a few KiB; reading no more keeps a scrape small whatever is there.
const MAX_FILE_BYTES: u64 = 256 * 1024;

pub fn certificates(host: &Host, scrape: &mut Scrape) {
    let mut files = Vec::new();
    for dir in [SERVER_TLS, AGENT] {
        let names = listing(host, scrape, dir);
        if dir == SERVER_TLS {
            for sub in &names {
                let sub = format!("{dir}/{sub}");
                if host.path(&sub).is_dir() {
                    files.extend(crt_files(&sub, listing(host, scrape, &sub)));
                }
            }
        }
        files.extend(crt_files(dir, names));
    }
    files.sort();
    let mut samples = Vec::new();
    for file in files {
        match first_end(&host.path(&file)) {
            Ok(not_after) => samples.push((format!("{{file=\"{file}\"}}"), not_after as f64)),
            Err(why) => scrape.problems.push(format!("{file}: {why}")),
        }
    }
    scrape.family(
        "pi_k3s_certificate_expiry_timestamp_seconds",
        "gauge",
        "When the first certificate in each of K3s' certificate files ends (seconds since the epoch).",
        &samples,
    );
}

/// The names in a directory; a directory the host does not have is quietly empty, one the
/// exporter may not read (it needs root for K3s' server directory) is a problem.
fn listing(host: &Host, scrape: &mut Scrape, dir: &str) -> Vec<String> {
    match std::fs::read_dir(host.path(dir)) {
        Ok(entries) => entries
            .filter_map(Result::ok)
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => {
            scrape.problems.push(format!("{dir}: {e}"));
            Vec::new()
        }
    }
}

fn crt_files(dir: &str, names: Vec<String>) -> impl Iterator<Item = String> + '_ {
    names
        .into_iter()
        .filter(|name| name.ends_with(".crt"))
        .map(move |name| format!("{dir}/{name}"))
}

/// Why a certificate file gives no end (the scrape names the file).
#[derive(Debug, thiserror::Error)]
enum CertificateFileError {
    #[error("{0}")]
    Read(std::io::Error),
    #[error("no X.509 certificate in it")]
    NoCertificate,
}

/// The earliest end among the file's certificates (a leaf with its CA is no good once
/// either ends), in seconds since the epoch.
fn first_end(path: &Path) -> Result<i64, CertificateFileError> {
    use std::io::Read as _;
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|file| file.take(MAX_FILE_BYTES).read_to_end(&mut bytes))
        .map_err(CertificateFileError::Read)?;
    Pem::iter_from_buffer(&bytes)
        .filter_map(Result::ok)
        .filter(|pem| pem.label == "CERTIFICATE")
        .filter_map(|pem| {
            pem.parse_x509()
                .ok()
                .map(|cert| cert.validity().not_after.timestamp())
        })
        .min()
        .ok_or(CertificateFileError::NoCertificate)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_without_a_certificate_or_not_there_says_which() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("client.crt");
        std::fs::write(
            &key,
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
        )
        .unwrap();
        let err = first_end(&key).unwrap_err();
        assert!(
            matches!(err, CertificateFileError::NoCertificate),
            "{err:?}"
        );
        assert_eq!(err.to_string(), "no X.509 certificate in it");
        let err = first_end(&dir.path().join("gone.crt")).unwrap_err();
        assert!(
            matches!(&err, CertificateFileError::Read(e) if e.kind() == std::io::ErrorKind::NotFound),
            "{err:?}"
        );
    }
}
