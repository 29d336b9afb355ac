//! Running the double as real processes in tests: each "node" on its own loopback
//! address with its own K3S_DOUBLE_ROOT, the real control-plane programs beside it.
#![allow(dead_code)] // each test binary uses a part

use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub use pikube_test_support::real_programs::real_kube_bin;

pub const BIN: &str = env!("CARGO_BIN_EXE_k3s-double");

/// A test's own directory under the temp dir. Its nodes hold etcd data and the real
/// programs' state (over 100 MB for an HA test): it goes when the test passes, and stays,
/// named on stderr, for a look when it fails. Declare it before the nodes that live in it,
/// so they stop first.
pub struct Scratch(PathBuf);

impl std::ops::Deref for Scratch {
    type Target = PathBuf;
    fn deref(&self) -> &PathBuf {
        &self.0
    }
}

impl AsRef<Path> for Scratch {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<std::ffi::OsStr> for Scratch {
    fn as_ref(&self) -> &std::ffi::OsStr {
        self.0.as_os_str()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("kept for a look: {}", self.0.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

pub fn scratch(test: &str) -> Scratch {
    let dir = std::env::temp_dir().join(format!("k3s-double-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    Scratch(dir)
}

/// A loopback address of its own for node `n` of this test process: every program a
/// server runs listens on its fixed port there, as on a real node.
pub fn address(test: u8, n: u8) -> String {
    format!("127.{}.{test}.{n}", 20 + std::process::id() % 200)
}

pub struct Node {
    pub root: PathBuf,
    pub child: Child,
    notify: UnixDatagram,
}

impl Drop for Node {
    fn drop(&mut self) {
        // SIGTERM, so the double ends its etcd and API server before it goes.
        sigterm(&self.child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Node {
    pub fn start(base: &Path, name: &str, args: &[&str], env: &[(&str, &str)]) -> Node {
        let root = base.join(name);
        std::fs::create_dir_all(&root).unwrap();
        let socket = root.join("notify.sock");
        let _ = std::fs::remove_file(&socket);
        let notify = UnixDatagram::bind(&socket).unwrap();
        notify
            .set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let log = std::fs::File::create(root.join("log")).unwrap();
        let child = Command::new(BIN)
            .args(args)
            .env("K3S_DOUBLE_ROOT", &root)
            .env("K3S_DOUBLE_BIN_DIR", real_kube_bin())
            .env("NOTIFY_SOCKET", &socket)
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        Node {
            root,
            child,
            notify,
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.root.join("log")).unwrap_or_default()
    }

    /// Waits for READY=1 on the notify socket.
    pub fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(120);
        let mut buf = [0u8; 64];
        while Instant::now() < deadline {
            if let Ok(n) = self.notify.recv(&mut buf) {
                assert_eq!(&buf[..n], b"READY=1");
                return;
            }
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("exited {status} before READY:\n{}", self.log());
            }
        }
        panic!("no READY=1 within 120 s:\n{}", self.log());
    }

    /// Waits for the process to end by itself.
    pub fn wait_exit(&mut self) -> std::process::ExitStatus {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("still running after 60 s:\n{}", self.log());
    }

    /// Another `k3s ...` command on this node (same root and programs).
    pub fn k3s(&self, args: &[&str]) -> Output {
        Command::new(BIN)
            .args(args)
            .env("K3S_DOUBLE_ROOT", &self.root)
            .env("K3S_DOUBLE_BIN_DIR", real_kube_bin())
            .output()
            .unwrap()
    }

    pub fn kubectl(&self, args: &[&str]) -> Output {
        Command::new(BIN)
            .arg("kubectl")
            .args(args)
            .env("K3S_DOUBLE_ROOT", &self.root)
            .env("K3S_DOUBLE_BIN_DIR", real_kube_bin())
            .env_remove("KUBECONFIG")
            .output()
            .unwrap()
    }

    pub fn kubectl_ok(&self, args: &[&str]) -> String {
        let out = self.kubectl(args);
        assert!(
            out.status.success(),
            "kubectl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    pub fn file(&self, rel: &str) -> String {
        std::fs::read_to_string(self.root.join(rel)).unwrap()
    }

    /// etcdctl against this server's member, with its etcd client certificate.
    pub fn etcdctl(&self, args: &[&str]) -> String {
        let tls = self.root.join("var/lib/rancher/k3s/server/tls/etcd");
        let endpoint = std::fs::read_to_string(self.root.join("endpoint")).unwrap();
        let out = Command::new(real_kube_bin().join("etcdctl"))
            .arg(format!("--endpoints={endpoint}"))
            .arg(format!("--cacert={}", tls.join("server-ca.crt").display()))
            .arg(format!("--cert={}", tls.join("client.crt").display()))
            .arg(format!("--key={}", tls.join("client.key").display()))
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "etcdctl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

pub fn sigterm(child: &Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .stderr(Stdio::null())
        .status();
}
