//! The cluster's real X.509 PKI, in k3s' layout under `<data-dir>/server/tls`: the CAs
//! (server, client, request-header, etcd server and peer), the service-account key, and
//! the leaf certificates the control-plane programs are started with. ECDSA P-256 keys
//! (PKCS#8) throughout: every Go program here reads them.
//!
//! The CAs and the service-account key are the cluster's identity: the first server
//! creates them, joining servers receive them (`Bootstrap`), as k3s' bootstrap data does.

use crate::files::write_mode;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType,
};
use serde::{Deserialize, Serialize};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The CA files every server of a cluster shares (relative to the tls directory).
const SHARED: &[&str] = &[
    "server-ca.crt",
    "server-ca.key",
    "client-ca.crt",
    "client-ca.key",
    "request-header-ca.crt",
    "request-header-ca.key",
    "etcd/server-ca.crt",
    "etcd/server-ca.key",
    "etcd/peer-ca.crt",
    "etcd/peer-ca.key",
    "service.key",
    "service.pub",
];

const CAS: &[(&str, &str)] = &[
    ("server-ca", "k3s-server-ca"),
    ("client-ca", "k3s-client-ca"),
    ("request-header-ca", "k3s-request-header-ca"),
    ("etcd/server-ca", "etcd-server-ca"),
    ("etcd/peer-ca", "etcd-peer-ca"),
];

const CA_LIFETIME: Duration = Duration::from_secs(10 * 365 * 86_400);
const LEAF_LIFETIME: Duration = Duration::from_secs(365 * 86_400);

pub fn dir(data_dir: &Path) -> PathBuf {
    data_dir.join("server/tls")
}

/// The cluster CA agents pin through the token hash (`/cacerts`).
pub fn server_ca_path(data_dir: &Path) -> PathBuf {
    dir(data_dir).join("server-ca.crt")
}

/// The shared CA material, as a joining server receives it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Bootstrap {
    pub files: Vec<(String, String)>,
}

/// Creates the CAs and the service-account key unless they exist.
pub fn ensure_cas(data_dir: &Path) -> Result<(), String> {
    let tls = dir(data_dir);
    for (base, common_name) in CAS {
        let crt = tls.join(format!("{base}.crt"));
        if crt.exists() {
            continue;
        }
        let key = KeyPair::generate().map_err(|e| e.to_string())?;
        let mut params = params(common_name, CA_LIFETIME);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
        ];
        let cert = params.self_signed(&key).map_err(|e| e.to_string())?;
        write(
            &tls.join(format!("{base}.key")),
            &key.serialize_pem(),
            0o600,
        )?;
        write(&crt, &cert.pem(), 0o644)?;
    }
    let service = tls.join("service.key");
    if !service.exists() {
        let key = KeyPair::generate().map_err(|e| e.to_string())?;
        write(&tls.join("service.pub"), &key.public_key_pem(), 0o644)?;
        write(&service, &key.serialize_pem(), 0o600)?;
    }
    Ok(())
}

pub fn bootstrap(data_dir: &Path) -> Result<Bootstrap, String> {
    let tls = dir(data_dir);
    let files = SHARED
        .iter()
        .map(|rel| {
            std::fs::read_to_string(tls.join(rel))
                .map(|text| (rel.to_string(), text))
                .map_err(|e| format!("read {}: {e}", tls.join(rel).display()))
        })
        .collect::<Result<_, _>>()?;
    Ok(Bootstrap { files })
}

/// Writes the CA material received from the server this one joins.
fn install_bootstrap(data_dir: &Path, bootstrap: &Bootstrap) -> Result<(), String> {
    let tls = dir(data_dir);
    for (rel, text) in &bootstrap.files {
        if !SHARED.contains(&rel.as_str()) {
            return Err(format!("unexpected bootstrap file {rel:?}"));
        }
        let mode = if rel.ends_with(".key") { 0o600 } else { 0o644 };
        write(&tls.join(rel), text, mode)?;
    }
    Ok(())
}

/// Puts back the CA material a restored datastore holds. When it differs from what is on
/// disk (a restore onto new hardware), the leaf certificates issued from the old CAs are
/// removed too, so that the next start issues them from the restored ones.
pub fn replace_cas(data_dir: &Path, bootstrap: &Bootstrap) -> Result<(), String> {
    let tls = dir(data_dir);
    let same = bootstrap
        .files
        .iter()
        .all(|(rel, text)| std::fs::read_to_string(tls.join(rel)).is_ok_and(|t| t == *text));
    if same {
        return Ok(());
    }
    install_bootstrap(data_dir, bootstrap)?;
    for sub in [tls.clone(), tls.join("etcd")] {
        let Ok(entries) = std::fs::read_dir(&sub) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let rel = path
                .strip_prefix(&tls)
                .map(|p| p.display().to_string())
                .unwrap_or_default();
            let leaf =
                (rel.ends_with(".crt") || rel.ends_with(".key")) && !SHARED.contains(&rel.as_str());
            if leaf && path.is_file() {
                std::fs::remove_file(&path)
                    .map_err(|e| format!("remove {}: {e}", path.display()))?;
            }
        }
    }
    Ok(())
}

/// What a leaf certificate is for.
pub enum Usage<'a> {
    /// A TLS server answering for these names and addresses.
    Server { names: &'a [String] },
    /// A client identified as `common_name` in `organization` (a Kubernetes group).
    Client { organization: Option<&'a str> },
    /// Both (etcd members are each other's servers and clients).
    Peer { names: &'a [String] },
}

/// A leaf certificate signed by `<ca>.crt`/`<ca>.key` (relative to the tls directory),
/// written to `<name>.crt`/`<name>.key`.
pub fn issue(
    data_dir: &Path,
    ca: &str,
    name: &str,
    common_name: &str,
    usage: Usage<'_>,
) -> Result<(), String> {
    let (cert, key) = sign(data_dir, ca, common_name, usage)?;
    let tls = dir(data_dir);
    write(&tls.join(format!("{name}.key")), &key, 0o600)?;
    write(&tls.join(format!("{name}.crt")), &cert, 0o644)
}

/// Like `issue`, but only when the certificate does not exist yet.
pub fn issue_once(
    data_dir: &Path,
    ca: &str,
    name: &str,
    common_name: &str,
    usage: Usage<'_>,
) -> Result<(), String> {
    if dir(data_dir).join(format!("{name}.crt")).exists() {
        return Ok(());
    }
    issue(data_dir, ca, name, common_name, usage)
}

/// A new key and a certificate for it, as PEM (certificate, key).
pub fn sign(
    data_dir: &Path,
    ca: &str,
    common_name: &str,
    usage: Usage<'_>,
) -> Result<(String, String), String> {
    let tls = dir(data_dir);
    let ca_cert = read(&tls.join(format!("{ca}.crt")))?;
    let ca_key = KeyPair::from_pem(&read(&tls.join(format!("{ca}.key")))?)
        .map_err(|e| format!("{ca}.key: {e}"))?;
    let issuer =
        Issuer::from_ca_cert_pem(&ca_cert, ca_key).map_err(|e| format!("{ca}.crt: {e}"))?;
    let mut params = params(common_name, LEAF_LIFETIME);
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.use_authority_key_identifier_extension = true;
    match usage {
        Usage::Server { names } => {
            params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
            params.subject_alt_names = alt_names(names)?;
        }
        Usage::Client { organization } => {
            params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
            if let Some(org) = organization {
                params
                    .distinguished_name
                    .push(DnType::OrganizationName, org);
            }
        }
        Usage::Peer { names } => {
            params.extended_key_usages = vec![
                ExtendedKeyUsagePurpose::ServerAuth,
                ExtendedKeyUsagePurpose::ClientAuth,
            ];
            params.subject_alt_names = alt_names(names)?;
        }
    }
    let key = KeyPair::generate().map_err(|e| e.to_string())?;
    let cert = params
        .signed_by(&key, &issuer)
        .map_err(|e| format!("signing {common_name}: {e}"))?;
    Ok((cert.pem(), key.serialize_pem()))
}

fn params(common_name: &str, lifetime: Duration) -> CertificateParams {
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, common_name);
    params.distinguished_name = dn;
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::hours(1);
    params.not_after = now + lifetime;
    params
}

fn alt_names(names: &[String]) -> Result<Vec<SanType>, String> {
    let mut sans = Vec::new();
    for name in names {
        let san = match name.parse::<IpAddr>() {
            Ok(ip) => SanType::IpAddress(ip),
            Err(_) => SanType::DnsName(
                name.clone()
                    .try_into()
                    .map_err(|e| format!("SAN {name:?}: {e}"))?,
            ),
        };
        if !sans.contains(&san) {
            sans.push(san);
        }
    }
    Ok(sans)
}

fn read(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("read {}: {e}", path.display()))
}

fn write(path: &Path, text: &str, mode: u32) -> Result<(), String> {
    write_mode(path, text.as_bytes(), mode).map_err(|e| format!("write {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_leaf_chains_to_its_ca_and_carries_its_names() {
        let dir = std::env::temp_dir().join(format!("k3sd-tls-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        ensure_cas(&dir).unwrap();
        let names = vec!["10.0.0.1".to_string(), "pi1".to_string()];
        issue(
            &dir,
            "server-ca",
            "serving",
            "kube-apiserver",
            Usage::Server { names: &names },
        )
        .unwrap();
        let ca = std::fs::read_to_string(server_ca_path(&dir)).unwrap();
        let leaf = std::fs::read_to_string(dir.join("server/tls/serving.crt")).unwrap();
        let ca_der = rustls_pki_types::CertificateDer::from(pem_body(&ca));
        let leaf_der = rustls_pki_types::CertificateDer::from(pem_body(&leaf));
        let mut roots = rustls::RootCertStore::empty();
        roots.add(ca_der).unwrap();
        let verifier = rustls::client::WebPkiServerVerifier::builder_with_provider(
            roots.into(),
            rustls::crypto::ring::default_provider().into(),
        )
        .build()
        .unwrap();
        use rustls::client::danger::ServerCertVerifier;
        for name in ["pi1", "10.0.0.1"] {
            let server_name = rustls_pki_types::ServerName::try_from(name).unwrap();
            verifier
                .verify_server_cert(
                    &leaf_der,
                    &[],
                    &server_name,
                    &[],
                    rustls_pki_types::UnixTime::now(),
                )
                .unwrap_or_else(|e| panic!("{name}: {e}"));
        }
        let other = rustls_pki_types::ServerName::try_from("pi2").unwrap();
        assert!(verifier
            .verify_server_cert(
                &leaf_der,
                &[],
                &other,
                &[],
                rustls_pki_types::UnixTime::now()
            )
            .is_err());
        // Joining servers get exactly the shared files.
        let bootstrap = bootstrap(&dir).unwrap();
        assert_eq!(bootstrap.files.len(), SHARED.len());
        let _ = std::fs::remove_dir_all(&dir);
    }

    fn pem_body(text: &str) -> Vec<u8> {
        use rustls_pki_types::pem::PemObject;
        rustls_pki_types::CertificateDer::from_pem_slice(text.as_bytes())
            .unwrap()
            .to_vec()
    }
}
