//! When K3s' certificates expire: read as PEM from a node (certificates only, never keys)
//! and parsed here, so the node needs no openssl.

use serde::Serialize;
use time::OffsetDateTime;
use x509_parser::pem::Pem;

use crate::ssh::{Connection, SshError};

/// Where K3s keeps the certificates that run out: the server's (serving, client, CA) and
/// the agent's (kubelet, kube-proxy, its clients).
const SCRIPT: &str = "for f in /var/lib/rancher/k3s/server/tls/*.crt \
/var/lib/rancher/k3s/server/tls/*/*.crt /var/lib/rancher/k3s/agent/*.crt; do \
[ -f \"$f\" ] || continue; echo \"@@file $f\"; cat \"$f\"; done";

/// When one of K3s' certificates on a node ends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CertExpiry {
    /// The certificate file, under K3s' tls directories.
    pub file: String,
    /// RFC 3339.
    pub not_after: String,
    /// Whole days until then (negative: expired).
    pub days_left: i64,
}

/// Every certificate on the node and when it expires, soonest first.
pub async fn read_expiries(node: &Connection) -> Result<Vec<CertExpiry>, SshError> {
    let output = node
        .run_privileged("reading K3s' certificates", SCRIPT, b"")
        .await?;
    Ok(expiries(&output.stdout, OffsetDateTime::now_utc()))
}

/// Parses the script's output: `@@file PATH` then the file's PEM blocks.
pub fn expiries(text: &str, now: OffsetDateTime) -> Vec<CertExpiry> {
    let mut found = Vec::new();
    for chunk in text.split("@@file ").filter(|c| !c.trim().is_empty()) {
        let (file, pem) = chunk.split_once('\n').unwrap_or((chunk, ""));
        for block in Pem::iter_from_buffer(pem.as_bytes()).flatten() {
            let Ok(cert) = block.parse_x509() else {
                continue;
            };
            let not_after = cert.validity().not_after.to_datetime();
            found.push(CertExpiry {
                file: file.trim().to_owned(),
                not_after: not_after
                    .format(&time::format_description::well_known::Rfc3339)
                    .unwrap_or_else(|_| not_after.to_string()),
                days_left: (not_after - now).whole_days(),
            });
        }
    }
    found.sort_by_key(|c| c.days_left);
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pem_valid_until(not_after: OffsetDateTime) -> String {
        let mut params = rcgen::CertificateParams::new(vec!["k3s".to_owned()]).unwrap();
        params.not_before = not_after - time::Duration::days(365);
        params.not_after = not_after;
        let key = rcgen::KeyPair::generate().unwrap();
        params.self_signed(&key).unwrap().pem()
    }

    #[test]
    fn each_certificate_is_read_with_its_file_and_days_left_soonest_first() {
        let now = OffsetDateTime::now_utc();
        let text = format!(
            "@@file /var/lib/rancher/k3s/server/tls/serving-kube-apiserver.crt\n{}{}\
             @@file /var/lib/rancher/k3s/agent/client-kubelet.crt\n{}",
            pem_valid_until(now + time::Duration::days(300)),
            pem_valid_until(now + time::Duration::days(200)),
            pem_valid_until(now + time::Duration::days(10) + time::Duration::hours(1)),
        );
        let found = expiries(&text, now);
        assert_eq!(found.len(), 3);
        assert_eq!(
            found[0].file,
            "/var/lib/rancher/k3s/agent/client-kubelet.crt"
        );
        assert_eq!(found[0].days_left, 10);
        assert_eq!(found[1].days_left, 199);
        assert!(found[2].file.ends_with("serving-kube-apiserver.crt"));
        assert!(expiries("@@file /x.crt\nnot a certificate\n", now).is_empty());
    }
}
