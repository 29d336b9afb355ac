//! `pikube images --check` against a real registry: CNCF Distribution's `registry`, holding
//! images and multi-platform indexes pushed by go-containerregistry's `crane` (both built by
//! tests/real-registry/build), reached as the nodes would reach it, through the mirror
//! cluster.toml names. The registry serving pikube challenges for a bearer token (its
//! `silly` auth, which Distribution ships for testing clients), so the token round trip
//! Docker Hub, ghcr.io and quay.io make every client do is exercised too. No nodes.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use crate::support::registry::Registry;
use crate::support::secrets::new_age_identity;

/// A one-node cluster.toml with the monitoring add-on and `registries` (TOML tables under
/// `[k3s.registries]`), written into `dir`.
fn write_cluster_toml(dir: &Path, registries: &str) {
    std::fs::write(
        dir.join("cluster.toml"),
        format!(
            "[cluster]\nname = \"lab\"\n\n[ssh]\nuser = \"pi\"\n\n[k3s]\nversion = \"v1.34.4+k3s1\"\n\n\
             {registries}\n[addons.monitoring]\n\n[[nodes]]\nname = \"pi-1\"\naddress = \"192.0.2.10\"\nrole = \"server\"\n"
        ),
    )
    .unwrap();
}

fn pikube(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pikube"))
        .args(args)
        .current_dir(dir)
        .env("HOME", dir)
        .env_remove("PIKUBE_FILE")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

#[test]
fn images_check_finds_the_addon_image_a_pi_cannot_run() {
    let registry = Registry::start();
    let all = ["linux/amd64", "linux/arm64", "linux/arm/v7"];
    let prometheus = registry.publish("prometheus/prometheus", "v3.5.0", &all);
    registry.publish("prometheus/node-exporter", "v1.9.1", &all);
    // No 32-bit ARM build, and a single amd64 image: what a Pi on 32-bit Raspberry Pi OS,
    // and every Pi, would fail to start.
    registry.publish("grafana/grafana", "12.1.1", &["linux/amd64", "linux/arm64"]);
    registry.publish("pikube/pikube", "0.1.0", &["linux/amd64"]);
    registry.publish(
        "kube-state-metrics/kube-state-metrics",
        "v2.16.0",
        &["linux/amd64", "linux/arm64", "linux/arm/v7"],
    );

    let work = tempfile::tempdir().unwrap();
    write_cluster_toml(
        work.path(),
        &format!(
            "[k3s.registries.mirrors]\n\"*\" = [\"{}\"]\n",
            registry.mirror
        ),
    );

    // Without --check: the list, from cluster.toml alone.
    let out = pikube(work.path(), &["images"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listed = String::from_utf8(out.stdout).unwrap();
    assert_eq!(listed.lines().count(), 5, "{listed}");
    assert!(
        listed.contains("monitoring  docker.io/grafana/grafana:12.1.1"),
        "{listed}"
    );

    // Nodes on 64-bit and 32-bit Raspberry Pi OS.
    let out = pikube(work.path(), &["images", "--check", "--arch", "arm64,armhf"]);
    let text = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{text}\n{stderr}");
    assert!(
        text.contains("ok       monitoring  quay.io/prometheus/prometheus:v3.5.0"),
        "{text}"
    );
    assert!(
        text.contains(&format!("index {prometheus} from {}", registry.mirror)),
        "{text}"
    );
    assert!(
        text.contains("MISSING  monitoring  docker.io/grafana/grafana:12.1.1"),
        "{text}"
    );
    assert!(
        text.contains("no image for linux/arm64, linux/arm/v7: it would not start on those nodes"),
        "the single amd64 image: {text}"
    );
    assert!(
        text.contains("Images: 3 ok, 2 missing a node's platform, 0 not resolved."),
        "{text}"
    );

    // The same as JSON, for scripts.
    let out = pikube(
        work.path(),
        &["images", "--check", "--arch", "arm64,armhf", "-o", "json"],
    );
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        report["platforms"],
        serde_json::json!(["linux/arm64", "linux/arm/v7"])
    );
    let image = |name: &str| {
        report["images"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["image"].as_str().unwrap().contains(name))
            .unwrap()
            .clone()
    };
    assert_eq!(image("prometheus:")["digest"], prometheus.as_str());
    assert_eq!(image("prometheus:")["index"], true);
    assert_eq!(image("grafana")["verdict"], "missing");
    assert_eq!(
        image("grafana")["missing"],
        serde_json::json!(["linux/arm/v7"])
    );
    assert_eq!(
        image("pikube/pikube")["platforms"],
        serde_json::json!(["linux/amd64"])
    );
    assert_eq!(image("pikube/pikube")["index"], false);

    // Mini PCs only: every image has amd64.
    let out = pikube(work.path(), &["images", "--check", "--arch", "amd64"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    // Images of the user's own, pinned by digest: the index, and the digest of one
    // platform's image (what `docker inspect` shows on a laptop), which pins every node to
    // amd64 whatever the tag offers.
    let postgres = registry.publish("library/postgres", "17-bookworm", &all);
    let pinned = format!("postgres:17-bookworm@{postgres}");
    let amd64_only = registry.crane(&[
        "digest",
        &format!("{}/library/postgres:17-bookworm-linux-amd64", registry.push),
    ]);
    let laptop = format!("postgres:17-bookworm@{amd64_only}");
    let out = pikube(
        work.path(),
        &[
            "images", "--check", "--arch", "arm64", "--image", &pinned, "--image", &laptop,
        ],
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains(&format!(
            "ok       --image     {pinned}\n         index {postgres}"
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "MISSING  --image     {laptop}\n         single image {amd64_only}"
        )),
        "{text}"
    );
    assert!(
        text.contains("Images: 5 ok, 2 missing a node's platform, 0 not resolved."),
        "{text}"
    );
    let out = pikube(work.path(), &["images", "--check", "--image", "Bad/Name"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("\"Bad/Name\" is not an image reference"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The images of the workloads' own manifests (this repository's deploy/), each read
    // once: the pikube image is the add-on's too; postgres is new.
    let deploy = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy");
    let deploy = deploy.to_str().unwrap();
    let out = pikube(work.path(), &["images", "-m", deploy]);
    let listed = String::from_utf8(out.stdout).unwrap();
    assert_eq!(listed.lines().count(), 6, "{listed}");
    assert!(
        listed.contains("deploy/movies/postgres.yaml  postgres:17-bookworm\n"),
        "{listed}"
    );
    let out = pikube(
        work.path(),
        &["images", "--check", "--arch", "arm64", "-m", deploy],
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("deploy/movies/postgres.yaml  postgres:17-bookworm\n         index"),
        "{text}"
    );
    assert!(
        text.contains("Images: 5 ok, 1 missing a node's platform, 0 not resolved."),
        "{text}"
    );
    // A template is not a manifest: named by file and line.
    std::fs::create_dir_all(work.path().join("chart/templates")).unwrap();
    std::fs::write(
        work.path().join("chart/templates/app.yaml"),
        "containers:\n  - image: \"{{ .Values.image }}\"\n",
    )
    .unwrap();
    let out = pikube(work.path(), &["images", "-m", "chart"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(
            "chart/templates/app.yaml:2: \"{{ .Values.image }}\" is not an image reference"
        ),
        "{err}"
    );

    // Every manifest request was challenged, and the token asked for the image's scope.
    let realm_log = std::fs::read_to_string(registry.dir.path().join("realm.log")).unwrap();
    assert!(
        realm_log
            .contains("GET /token?service=pikube-test&scope=repository%3Agrafana%2Fgrafana%3Apull"),
        "{realm_log}"
    );
}

/// `pikube` with secrets.age opened by the age identity `identity`.
fn pikube_with_identity(dir: &Path, identity: &Path, args: &[&str], stdin: &str) -> Output {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_pikube"))
        .args(args)
        .current_dir(dir)
        .env("HOME", dir)
        .env("PIKUBE_AGE_IDENTITY", identity)
        .env_remove("PIKUBE_FILE")
        .env_remove("PIKUBE_SECRETS_PASSPHRASE")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn a_home_registry_is_asked_with_the_ca_and_login_cluster_toml_gives_it() {
    let mut registry = Registry::start();
    let all = ["linux/amd64", "linux/arm64", "linux/arm/v7"];
    registry.publish_monitoring(&all);
    let app = registry.publish("me/app", "1.2", &["linux/arm64"]);
    let private = registry.start_private("pi", "the registry password");

    let work = tempfile::tempdir().unwrap();
    std::fs::copy(
        registry.dir.path().join("ca.pem"),
        work.path().join("ca.pem"),
    )
    .unwrap();
    // Each public registry mirrored by the home registry; the home registry's own images
    // named by its address.
    write_cluster_toml(
        work.path(),
        &format!(
            "[k3s.registries.mirrors]\n\
             \"docker.io\" = [\"https://{private}\"]\n\
             \"quay.io\" = [\"https://{private}\"]\n\
             \"ghcr.io\" = [\"https://{private}\"]\n\
             \"registry.k8s.io\" = [\"https://{private}\"]\n\n\
             [k3s.registries.configs.\"{private}\"]\n\
             username = \"pi\"\n\
             password_secret = \"registry.password\"\n\
             ca_file = \"ca.pem\"\n"
        ),
    );
    let identity = work.path().join("age.key");
    let public = new_age_identity(&identity);
    let run =
        |args: &[&str], stdin: &str| pikube_with_identity(work.path(), &identity, args, stdin);
    let init = run(&["secrets", "init", "--recipient", &public], "");
    assert!(
        init.status.success(),
        "{}",
        String::from_utf8_lossy(&init.stderr)
    );
    let image = format!("{private}/me/app:1.2");
    let check = [
        "images",
        "--check",
        "--arch",
        "arm64",
        "--image",
        image.as_str(),
    ];

    // The secret the login names is not there yet: said, and no other endpoint tried.
    let out = run(&check, "");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains(&format!(
            "k3s.registries.configs.\"{private}\".password_secret names registry.password, \
             which the secrets beside cluster.toml do not hold"
        )),
        "{text}"
    );
    assert_eq!(
        text.matches("not hold").count(),
        6,
        "once per image: {text}"
    );

    // A wrong password: refused, named by user, never shown. (Only the home registry's own
    // image: a refused mirror would send the add-on's images on to the public registries.)
    let set = run(&["secrets", "set", "registry.password"], "not the password");
    assert!(
        set.status.success(),
        "{}",
        String::from_utf8_lossy(&set.stderr)
    );
    let toml = std::fs::read_to_string(work.path().join("cluster.toml")).unwrap();
    let (head, _) = toml.split_once("[k3s.registries.mirrors]").unwrap();
    let (_, configs) = toml.split_once("[k3s.registries.configs").unwrap();
    std::fs::write(
        work.path().join("app.toml"),
        format!(
            "{head}[k3s.registries.configs{}",
            configs.replace("[addons.monitoring]\n", "")
        ),
    )
    .unwrap();
    let out = run(&[&check[..], &["-f", "app.toml"]].concat(), "");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains(&format!(
            "ERROR    --image  {image}\n         https://{private}/v2/me/app/manifests/1.2 \
             answered 401: it refused the login of user \"pi\" that \
             k3s.registries.configs.\"{private}\" gives"
        )),
        "{text}"
    );
    assert!(!text.contains("not the password"), "{text}");

    // The right one: every image found over TLS checked against cluster.toml's CA.
    let set = run(
        &["secrets", "set", "registry.password"],
        "the registry password",
    );
    assert!(set.status.success());
    let out = run(&check, "");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains(&format!(
            "ok       --image     {image}\n         single image {app} from https://{private}\n"
        )),
        "{text}"
    );
    assert!(
        text.contains(
            "ok       monitoring  docker.io/grafana/grafana:12.1.1\n         index sha256:"
        ) && text.contains(&format!("from https://{private}\n")),
        "{text}"
    );
    assert!(
        text.contains("Images: 6 ok, 0 missing a node's platform, 0 not resolved."),
        "{text}"
    );
}
