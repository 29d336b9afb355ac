//! `pikube images --check` against a real registry: CNCF Distribution's `registry`, holding
//! images and multi-platform indexes pushed by go-containerregistry's `crane` (both built by
//! tests/real-registry/build), reached as the nodes would reach it, through the mirror
//! cluster.toml names. The registry serving pikube challenges for a bearer token (its
//! `silly` auth, which Distribution ships for testing clients), so the token round trip
//! Docker Hub, ghcr.io and quay.io make every client do is exercised too. No nodes.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The directory with `registry` and `crane`: `$PIKUBE_REAL_REGISTRY`, else built now.
fn registry_bin() -> PathBuf {
    if let Some(dir) = std::env::var_os("PIKUBE_REAL_REGISTRY").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    let build = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/real-registry/build");
    let out = Command::new(&build)
        .stderr(Stdio::inherit())
        .output()
        .expect("run tests/real-registry/build");
    assert!(out.status.success(), "{} failed", build.display());
    PathBuf::from(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .last()
            .unwrap()
            .trim(),
    )
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A process of the test's, ended with it.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(mut command: Command, port: u16, log: &Path) -> Running {
    let log = std::fs::File::create(log).unwrap();
    let child = command
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("start a server");
    let running = Running(child);
    let address = SocketAddr::from(([127, 0, 0, 1], port));
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_err() {
        assert!(Instant::now() < deadline, "nothing listens on {address}");
        std::thread::sleep(Duration::from_millis(50));
    }
    running
}

struct Registry {
    dir: tempfile::TempDir,
    bin: PathBuf,
    /// Where crane pushes: the same storage, without auth.
    push: String,
    /// What cluster.toml's mirror names: the same storage, challenging for a token.
    mirror: String,
    _servers: Vec<Running>,
}

impl Registry {
    fn start() -> Registry {
        let bin = registry_bin();
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("store");
        let tokens = dir.path().join("tokens");
        std::fs::create_dir_all(&tokens).unwrap();
        std::fs::write(tokens.join("token"), r#"{"token":"anonymous-pull"}"#).unwrap();
        let (push_port, mirror_port, realm_port) = (free_port(), free_port(), free_port());
        let config = |name: &str, port: u16, auth: &str| {
            let path = dir.path().join(name);
            std::fs::write(
                &path,
                format!(
                    "version: 0.1\nlog: {{ level: warn }}\nstorage: {{ filesystem: {{ rootdirectory: {} }} }}\nhttp: {{ addr: 127.0.0.1:{port} }}\n{auth}",
                    store.display()
                ),
            )
            .unwrap();
            path
        };
        let open = config("open.yml", push_port, "");
        let challenging = config(
            "challenging.yml",
            mirror_port,
            &format!(
                "auth:\n  silly:\n    realm: http://127.0.0.1:{realm_port}/token\n    service: pikube-test\n"
            ),
        );
        let mut servers = Vec::new();
        for (config, port, log) in [
            (&open, push_port, "open.log"),
            (&challenging, mirror_port, "challenging.log"),
        ] {
            let mut command = Command::new(bin.join("registry"));
            command.arg("serve").arg(config);
            servers.push(start(command, port, &dir.path().join(log)));
        }
        // The token service: a web server handing out the one token the silly auth takes.
        let mut realm = Command::new("python3");
        realm
            .args([
                "-m",
                "http.server",
                &realm_port.to_string(),
                "--bind",
                "127.0.0.1",
            ])
            .current_dir(&tokens);
        servers.push(start(realm, realm_port, &dir.path().join("realm.log")));
        Registry {
            bin,
            push: format!("127.0.0.1:{push_port}"),
            mirror: format!("http://127.0.0.1:{mirror_port}"),
            dir,
            _servers: servers,
        }
    }

    fn crane(&self, args: &[&str]) -> String {
        let out = Command::new(self.bin.join("crane"))
            .args(args)
            .env("HOME", self.dir.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "crane {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    }

    /// `repository:tag` published for `platforms` (one image each, then an index of them
    /// when there are several); returns the digest the tag names.
    fn publish(&self, repository: &str, tag: &str, platforms: &[&str]) -> String {
        // A layer of its own, so that no two repositories share a digest.
        let layer = self.dir.path().join("layer.tar");
        std::fs::write(self.dir.path().join("content"), repository).unwrap();
        let status = Command::new("tar")
            .arg("-cf")
            .arg(&layer)
            .arg("-C")
            .arg(self.dir.path())
            .arg("content")
            .status()
            .unwrap();
        assert!(status.success());
        let layer = layer.to_str().unwrap();
        let mut images = Vec::new();
        for platform in platforms {
            let image = format!(
                "{}/{repository}:{tag}-{}",
                self.push,
                platform.replace('/', "-")
            );
            self.crane(&["append", "-f", layer, "-t", &image]);
            self.crane(&["mutate", "--set-platform", platform, &image, "-t", &image]);
            images.push(image);
        }
        let target = format!("{}/{repository}:{tag}", self.push);
        if let [single] = images.as_slice() {
            self.crane(&["copy", single, &target]);
        } else {
            let mut args = vec!["index", "append", "-t", target.as_str()];
            for image in &images {
                args.extend(["-m", image.as_str()]);
            }
            self.crane(&args);
        }
        self.crane(&["digest", &target])
    }
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
    std::fs::write(
        work.path().join("cluster.toml"),
        format!(
            r#"[cluster]
name = "lab"

[ssh]
user = "pi"

[k3s]
version = "v1.34.4+k3s1"

[k3s.registries.mirrors]
"*" = ["{}"]

[addons.monitoring]

[[nodes]]
name = "pi-1"
address = "192.0.2.10"
role = "server"
"#,
            registry.mirror
        ),
    )
    .unwrap();

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

    // Every manifest request was challenged, and the token asked for the image's scope.
    let realm_log = std::fs::read_to_string(registry.dir.path().join("realm.log")).unwrap();
    assert!(
        realm_log
            .contains("GET /token?service=pikube-test&scope=repository%3Agrafana%2Fgrafana%3Apull"),
        "{realm_log}"
    );
}
