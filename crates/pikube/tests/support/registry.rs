//! A real OCI registry for tests: CNCF Distribution's `registry`, and go-containerregistry's
//! `crane` to push images and multi-platform indexes to it (both built by
//! tests/real-registry/build). Two servers share one storage: one open, for pushes, and one
//! that challenges for a bearer token (Distribution's `silly` auth, made for testing
//! clients), with a plain web server as its token service, as cluster.toml's mirror.

use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use pikube_test_support::loopback::free_port;
use pikube_test_support::real_programs::real_registry_bin;

/// A process of the test's, ended with it.
pub struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn start(mut command: Command, port: u16, log: &Path) -> Running {
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

pub struct Registry {
    pub dir: tempfile::TempDir,
    bin: &'static Path,
    /// Where crane pushes: the same storage, without auth.
    pub push: String,
    /// What cluster.toml's mirror names: the same storage, challenging for a token.
    pub mirror: String,
    _servers: Vec<Running>,
}

impl Registry {
    pub fn start() -> Registry {
        let bin = real_registry_bin();
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

    /// A third server on the same storage, as a home registry is set up: over TLS with a
    /// CA of its own (`ca.pem` in its directory), and a login (`user`, `password`) checked
    /// against an htpasswd file (bcrypt, by Apache's htpasswd). Returns its `host:port`.
    pub fn start_private(&mut self, user: &str, password: &str) -> String {
        let dir = self.dir.path();
        let port = free_port();
        let run = |program: &str, args: &[&str]| {
            let out = Command::new(program)
                .args(args)
                .current_dir(dir)
                .output()
                .unwrap_or_else(|e| panic!("{program}: {e}"));
            assert!(
                out.status.success(),
                "{program} {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            out.stdout
        };
        let ec = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
        ];
        run(
            "openssl",
            &[
                &["req", "-x509"][..],
                &ec[..],
                &[
                    "-keyout",
                    "ca.key",
                    "-out",
                    "ca.pem",
                    "-days",
                    "2",
                    "-subj",
                    "/CN=pikube test registry CA",
                ],
            ]
            .concat(),
        );
        run(
            "openssl",
            &[
                &["req"][..],
                &ec[..],
                &[
                    "-keyout",
                    "tls.key",
                    "-out",
                    "tls.csr",
                    "-subj",
                    "/CN=127.0.0.1",
                ],
            ]
            .concat(),
        );
        std::fs::write(dir.join("san.ext"), "subjectAltName=IP:127.0.0.1\n").unwrap();
        run(
            "openssl",
            &[
                "x509",
                "-req",
                "-in",
                "tls.csr",
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                "tls.crt",
                "-days",
                "2",
                "-extfile",
                "san.ext",
            ],
        );
        let htpasswd = run("htpasswd", &["-Bbn", user, password]);
        std::fs::write(dir.join("htpasswd"), htpasswd).unwrap();
        let config = dir.join("private.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog: {{ level: warn }}\nstorage: {{ filesystem: {{ rootdirectory: {store} }} }}\n\
                 http: {{ addr: 127.0.0.1:{port}, tls: {{ certificate: {dir}/tls.crt, key: {dir}/tls.key }} }}\n\
                 auth: {{ htpasswd: {{ realm: pikube-test, path: {dir}/htpasswd }} }}\n",
                store = dir.join("store").display(),
                dir = dir.display(),
            ),
        )
        .unwrap();
        let mut command = Command::new(self.bin.join("registry"));
        command.arg("serve").arg(&config);
        self._servers
            .push(start(command, port, &dir.join("private.log")));
        format!("127.0.0.1:{port}")
    }

    pub fn crane(&self, args: &[&str]) -> String {
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
    /// The monitoring add-on's five images, each for `platforms`.
    pub fn publish_monitoring(&self, platforms: &[&str]) {
        for (repository, tag) in [
            ("prometheus/prometheus", "v3.5.0"),
            ("grafana/grafana", "12.1.1"),
            ("prometheus/node-exporter", "v1.9.1"),
            ("pikube/pikube", "0.1.0"),
            ("kube-state-metrics/kube-state-metrics", "v2.16.0"),
        ] {
            self.publish(repository, tag, platforms);
        }
    }

    pub fn publish(&self, repository: &str, tag: &str, platforms: &[&str]) -> String {
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
