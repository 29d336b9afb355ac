//! `pi_k3s_certificate_expiry_timestamp_seconds`: when each of K3s' certificates on the
//! host ends, read from its files (certificates only, never keys), so the certificate
//! alert has a series to fire on.

use std::path::Path;

use pikube_exporter::render;
use time::OffsetDateTime;

use crate::exporter::{lines, pi, put};

/// A PEM certificate ending at `not_after` (seconds since the epoch).
fn certificate(not_after: i64) -> String {
    let mut params = rcgen::CertificateParams::new(vec!["k3s".to_owned()]).unwrap();
    params.not_after = OffsetDateTime::from_unix_timestamp(not_after).unwrap();
    params.not_before = params.not_after - time::Duration::days(365);
    let key = rcgen::KeyPair::generate().unwrap();
    params.self_signed(&key).unwrap().pem()
}

fn expiry_lines(root: &Path) -> (Vec<String>, Vec<String>) {
    let scrape = render(root);
    let found = lines(&scrape.text)
        .into_iter()
        .filter(|l| l.starts_with("pi_k3s_certificate_expiry_timestamp_seconds"))
        .map(str::to_owned)
        .collect();
    (found, scrape.problems)
}

#[test]
fn each_certificate_file_says_when_it_ends_the_soonest_of_a_bundle() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    pi(root, "0\n", "48312\n");
    put(
        root,
        "/var/lib/rancher/k3s/server/tls/serving-kube-apiserver.crt",
        &certificate(1_900_000_000),
    );
    put(
        root,
        "/var/lib/rancher/k3s/server/tls/etcd/server-client.crt",
        &certificate(1_900_000_100),
    );
    // A leaf and its CA in one file: the file is no good once the first ends.
    put(
        root,
        "/var/lib/rancher/k3s/agent/client-kubelet.crt",
        &format!(
            "{}{}",
            certificate(2_200_000_000),
            certificate(1_800_000_000)
        ),
    );
    // Keys are never read.
    put(
        root,
        "/var/lib/rancher/k3s/server/tls/serving-kube-apiserver.key",
        "-----BEGIN EC PRIVATE KEY-----\nnot for us\n-----END EC PRIVATE KEY-----\n",
    );
    let (found, problems) = expiry_lines(root);
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(
        found,
        [
            "pi_k3s_certificate_expiry_timestamp_seconds{file=\"/var/lib/rancher/k3s/agent/client-kubelet.crt\"} 1800000000",
            "pi_k3s_certificate_expiry_timestamp_seconds{file=\"/var/lib/rancher/k3s/server/tls/etcd/server-client.crt\"} 1900000100",
            "pi_k3s_certificate_expiry_timestamp_seconds{file=\"/var/lib/rancher/k3s/server/tls/serving-kube-apiserver.crt\"} 1900000000",
        ]
    );
}

#[test]
fn a_file_without_a_certificate_is_left_out_and_said_and_no_k3s_is_no_series() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    pi(root, "0\n", "48312\n");
    put(
        root,
        "/var/lib/rancher/k3s/agent/client-kubelet.crt",
        &certificate(1_800_000_000),
    );
    put(
        root,
        "/var/lib/rancher/k3s/agent/server-ca.crt",
        "garbage\n",
    );
    let (found, problems) = expiry_lines(root);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].contains("/var/lib/rancher/k3s/agent/server-ca.crt"),
        "{problems:?}"
    );

    // A host without K3s (or one the exporter may not read): nothing, quietly.
    let bare = tempfile::tempdir().unwrap();
    pi(bare.path(), "0\n", "48312\n");
    let (found, problems) = expiry_lines(bare.path());
    assert!(
        found.is_empty() && problems.is_empty(),
        "{found:?} {problems:?}"
    );
}
