//! Whether the API server's certificate names the address the kubeconfig points at: if it
//! does not, every kubectl call fails TLS verification, so `kubeconfig` says so up front and
//! writes nothing (audit F9).

use std::net::IpAddr;

use x509_parser::extensions::GeneralName;
use x509_parser::pem::Pem;

use crate::config::NodeName;

/// Where K3s keeps the API server's serving certificate.
pub const SERVING_CERT: &str = "/var/lib/rancher/k3s/server/tls/serving-kube-apiserver.crt";

/// Why the server's certificate does not vouch for the address a kubeconfig would use.
#[derive(Debug, thiserror::Error)]
pub enum SanError {
    /// The certificate could not be read.
    #[error("{node}: {SERVING_CERT} is not a certificate pikube can read: {reason}")]
    Unreadable {
        /// The server.
        node: NodeName,
        /// Why.
        reason: String,
    },
    #[error(
        "{node}: the API server's certificate does not name {host} (it names: {}), so kubectl \
         could not trust it there; add {host} to [k3s] tls_san (or make it the api_endpoint) \
         and run `pikube apply`, which restarts the servers with it",
        names.join(", ")
    )]
    /// It does not name the address.
    NotCovered {
        /// The server.
        node: NodeName,
        /// The address the kubeconfig would use.
        host: String,
        /// What the certificate names.
        names: Vec<String>,
    },
}

/// The DNS names and IP addresses the certificate (the first in `pem`) is valid for.
pub fn subject_names(node: &NodeName, pem: &str) -> Result<Vec<String>, SanError> {
    let unreadable = |reason: String| SanError::Unreadable {
        node: node.to_owned(),
        reason,
    };
    let block = Pem::iter_from_buffer(pem.as_bytes())
        .next()
        .ok_or_else(|| unreadable("no PEM block".to_owned()))?
        .map_err(|e| unreadable(e.to_string()))?;
    let cert = block.parse_x509().map_err(|e| unreadable(e.to_string()))?;
    let mut names = Vec::new();
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for name in &san.value.general_names {
            match name {
                GeneralName::DNSName(dns) => names.push((*dns).to_owned()),
                GeneralName::IPAddress(bytes) => {
                    let ip = match bytes.len() {
                        4 => <[u8; 4]>::try_from(*bytes).ok().map(IpAddr::from),
                        16 => <[u8; 16]>::try_from(*bytes).ok().map(IpAddr::from),
                        _ => None,
                    };
                    if let Some(ip) = ip {
                        names.push(ip.to_string());
                    }
                }
                _ => {}
            }
        }
    }
    Ok(names)
}

/// Refuses a `host` (an IP or a DNS name) the certificate does not name.
pub fn check_covers(node: &NodeName, pem: &str, host: &str) -> Result<(), SanError> {
    let names = subject_names(node, pem)?;
    let covered = match host.parse::<IpAddr>() {
        Ok(ip) => names.iter().any(|n| n.parse::<IpAddr>().ok() == Some(ip)),
        Err(_) => names.iter().any(|n| dns_matches(n, host)),
    };
    if covered {
        Ok(())
    } else {
        Err(SanError::NotCovered {
            node: node.to_owned(),
            host: host.to_owned(),
            names,
        })
    }
}

/// A DNS SAN matches the host exactly (case-insensitive), or as `*.` one label deep.
fn dns_matches(name: &str, host: &str) -> bool {
    let (name, host) = (name.to_ascii_lowercase(), host.to_ascii_lowercase());
    match name.strip_prefix("*.") {
        Some(parent) => host
            .split_once('.')
            .is_some_and(|(label, rest)| !label.is_empty() && rest == parent),
        None => name == host,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn serving_cert(names: &[&str]) -> String {
        let params = rcgen::CertificateParams::new(
            names.iter().map(ToString::to_string).collect::<Vec<_>>(),
        )
        .unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        params.self_signed(&key).unwrap().pem()
    }

    #[test]
    fn an_address_the_certificate_names_passes_and_another_is_refused_with_the_fix() {
        let pem = serving_cert(&["10.0.0.11", "kubernetes.default", "*.lab.home.arpa"]);
        check_covers(&"s1".parse::<NodeName>().unwrap(), &pem, "10.0.0.11").unwrap();
        check_covers(
            &"s1".parse::<NodeName>().unwrap(),
            &pem,
            "api.lab.home.arpa",
        )
        .unwrap();
        let err =
            check_covers(&"s1".parse::<NodeName>().unwrap(), &pem, "192.168.1.11").unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with("s1: the API server's certificate does not name 192.168.1.11"),
            "{text}"
        );
        assert!(text.contains("10.0.0.11, kubernetes.default"), "{text}");
        assert!(text.contains("[k3s] tls_san"), "{text}");
        assert!(check_covers(&"s1".parse::<NodeName>().unwrap(), &pem, "lab.home.arpa").is_err());
        assert!(matches!(
            check_covers(&"s1".parse::<NodeName>().unwrap(), "garbage", "10.0.0.11"),
            Err(SanError::Unreadable { .. })
        ));
    }
}
