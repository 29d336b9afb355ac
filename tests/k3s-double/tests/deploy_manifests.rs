//! The workloads' manifests under deploy/ against a real kube-apiserver:
//! `kubectl apply --dry-run=server` runs every object through the API server's own
//! validation, defaulting and admission, so a field Kubernetes would reject fails here.

use crate::support;

use std::path::{Path, PathBuf};
use support::{address, scratch, Node};

fn deploy_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy")
}

/// The lines `pikube serve movies --new-keys` appends (pikube-movies' `tests/manifests.rs`
/// holds them to the Deployments; their values are not read here, where no pod runs).
const TOKEN_KEYS: &str = "MOVIES_TOKEN_SIGNING_KEY=c2lnbmluZw==\n\
                          MOVIES_TOKEN_VERIFYING_KEY=dmVyaWZ5aW5n\n\
                          MOVIES_INTERNAL_KEY_PAYMENTS=0123456789abcdef0123456789abcdef\n\
                          MOVIES_INTERNAL_KEY_SCREENINGS=0123456789abcdef0123456789abcdef\n";

/// A copy of deploy/movies with a secrets.env made from the example, every empty value
/// filled and the token keys added, as the example tells an operator to.
fn movies_with_secrets(base: &Path) -> PathBuf {
    let dir = base.join("movies");
    copy_tree(&deploy_dir().join("movies"), &dir);
    let example = std::fs::read_to_string(dir.join("secrets.env.example")).unwrap();
    let filled: String = example
        .lines()
        .map(|line| {
            if !line.starts_with('#') && line.ends_with('=') {
                format!("{line}{}\n", "0123456789abcdef".repeat(4))
            } else {
                format!("{line}\n")
            }
        })
        .collect();
    std::fs::write(dir.join("secrets.env"), filled + TOKEN_KEYS).unwrap();
    dir
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// `kubectl apply --dry-run=server -k DIR`: every object it names, and that each passed.
fn dry_run(server: &Node, dir: &Path) -> Vec<String> {
    let out = server.kubectl(&[
        "apply",
        "--dry-run=server",
        "-k",
        dir.to_str().unwrap(),
        "-o",
        "name",
    ]);
    assert!(
        out.status.success(),
        "the API server rejected {}:\n{}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn every_manifest_passes_the_real_api_servers_validation() {
    let base = scratch("manifests");
    let ip = address(1, 1);
    let mut server = Node::start(
        &base,
        "s1",
        &[
            "server",
            "--bind-address",
            &ip,
            "--node-ip",
            &ip,
            "--node-name",
            "s1",
        ],
        &[],
    );
    server.wait_ready();

    let mandelbrot = dry_run(&server, &deploy_dir().join("mandelbrot"));
    for kind in [
        "deployment.apps/",
        "service/",
        "ingress.networking.k8s.io/",
        "horizontalpodautoscaler.autoscaling/",
        "poddisruptionbudget.policy/",
        "networkpolicy.networking.k8s.io/",
    ] {
        assert!(
            mandelbrot.iter().any(|o| o.starts_with(kind)),
            "{kind} missing: {mandelbrot:?}"
        );
    }

    // A dry run creates nothing, so the namespace the Movies objects live in must exist.
    server.kubectl_ok(&["create", "namespace", "movies"]);
    let movies = dry_run(&server, &movies_with_secrets(&base));
    for kind in [
        "namespace/movies",
        "secret/movies-secrets-",
        "configmap/movies-postgres-init-",
        "configmap/movies-grafana-dashboard",
        "statefulset.apps/movies-postgres",
        "deployment.apps/movies-payments",
        "ingress.networking.k8s.io/",
        "poddisruptionbudget.policy/",
    ] {
        assert!(
            movies.iter().any(|o| o.starts_with(kind)),
            "{kind} missing: {movies:?}"
        );
    }
    assert_eq!(
        movies
            .iter()
            .filter(|o| o.starts_with("deployment.apps/"))
            .count(),
        6
    );
    assert_eq!(
        movies
            .iter()
            .filter(|o| o.starts_with("networkpolicy.networking.k8s.io/"))
            .count(),
        6,
        "{movies:?}"
    );

    // With the tls component, the Ingress names the Secret movies-tls for HTTPS (the
    // operator's own certificate instead of Traefik's), and still passes the API server.
    let with_tls = movies_with_secrets(&base.join("tls"));
    let kustomization = with_tls.join("kustomization.yaml");
    let text = std::fs::read_to_string(&kustomization).unwrap();
    std::fs::write(&kustomization, text + "components:\n  - tls\n").unwrap();
    let built = server.kubectl_ok(&["kustomize", with_tls.to_str().unwrap()]);
    let ingress = built
        .split("\n---\n")
        .find(|doc| doc.contains("kind: Ingress"))
        .expect("an Ingress");
    for line in [
        "traefik.ingress.kubernetes.io/router.entrypoints: websecure",
        "traefik.ingress.kubernetes.io/router.tls: \"true\"",
        "- secretName: movies-tls",
    ] {
        assert!(ingress.contains(line), "{line} not in:\n{ingress}");
    }
    assert!(dry_run(&server, &with_tls)
        .iter()
        .any(|o| o == "ingress.networking.k8s.io/movies"));

    // Applied for real: the namespace enforces the "restricted" Pod Security Standard, and
    // the real controller-manager creates every pod of the Deployments and the StatefulSet
    // through that admission (review M11). No pod runs (no kubelet here), but a pod the
    // standard refuses would never be created.
    let movies_dir = movies_with_secrets(&base.join("real"));
    server.kubectl_ok(&["apply", "-k", movies_dir.to_str().unwrap()]);
    let labels = server.kubectl_ok(&[
        "get",
        "namespace",
        "movies",
        "-o",
        "jsonpath={.metadata.labels.pod-security\\.kubernetes\\.io/enforce}",
    ]);
    assert_eq!(labels.trim(), "restricted");
    let wanted: u64 = {
        let json = server.kubectl_ok(&[
            "get",
            "deployments,statefulsets",
            "-n",
            "movies",
            "-o",
            "json",
        ]);
        let list: serde_json::Value = serde_json::from_str(&json).unwrap();
        list["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["spec"]["replicas"].as_u64().unwrap_or(1))
            .sum()
    };
    let mut pods = 0;
    for _ in 0..120 {
        let names = server.kubectl_ok(&["get", "pods", "-n", "movies", "-o", "name"]);
        pods = names.lines().count() as u64;
        if pods >= wanted {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    let refused = server.kubectl_ok(&[
        "get",
        "events",
        "-n",
        "movies",
        "--field-selector",
        "reason=FailedCreate",
        "-o",
        "jsonpath={range .items[*]}{.message}{\"\\n\"}{end}",
    ]);
    assert!(refused.trim().is_empty(), "pods refused: {refused}");
    assert_eq!(pods, wanted, "pods created of the {wanted} wanted");
    // The admission has teeth: a pod that may run as root is refused in this namespace.
    let out = server.kubectl(&[
        "run",
        "intruder",
        "-n",
        "movies",
        "--image=busybox",
        "--dry-run=server",
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("violates PodSecurity \"restricted"), "{err}");

    // The check has teeth: a field Kubernetes does not know is refused.
    let broken = base.join("broken");
    copy_tree(&deploy_dir().join("mandelbrot"), &broken);
    let deployment = std::fs::read_to_string(broken.join("deployment.yaml")).unwrap();
    let deployment = deployment.replacen("replicas:", "replicaz:", 1);
    std::fs::write(broken.join("deployment.yaml"), deployment).unwrap();
    let out = server.kubectl(&["apply", "--dry-run=server", "-k", broken.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("replicaz"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
