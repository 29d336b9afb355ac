//! A lab of fake Raspberry Pi nodes for integration tests, driven through
//! `tests/fleet/fleet.sh` (see `tests/fleet/README.md`).
//!
//! Each node runs the real systemd and sshd in its own namespaces on this host, with its own
//! address on a private bridge, so tests drive pikube over real SSH. Needs root.
//!
//! ```ignore
//! let fleet = Fleet::up(&["pi1", "pi2:os=bullseye", "pi3:jump-only"]);
//! // ssh -F fleet.ssh_config() pi@pi1 ...
//! ```
//!
//! The lab is torn down (`fleet.sh down --purge`) and its directory removed when the `Fleet`
//! is dropped, including when a test panics. Each lab takes the first free lab id (which
//! names its network and addresses), held by a file lock for as long as the `Fleet` lives,
//! so tests in any number of processes never share one.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};

use pikube_test_support::real_programs::real_kube_bin;

/// One node of a [`Fleet`], as listed in the lab's `nodes.tsv`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetNode {
    pub name: String,
    pub ip: String,
    /// The host cannot reach this node directly, only through another node as a jump host.
    pub jump_only: bool,
}

/// A running lab of fake Pi nodes. Dropping it powers everything off and cleans the host.
pub struct Fleet {
    lab: PathBuf,
    id: LabId,
    nodes: Vec<FleetNode>,
}

/// The lab ids tests take; the benchmarks' scripts use 201 to 203.
const TEST_IDS: std::ops::RangeInclusive<u8> = 1..=199;
/// Where fleet.sh records which lab dir owns each id (`$HOSTSTATE/labs/<id>`).
const OWNERS: &str = "/run/pikube-fleet/labs";

/// A lab id, this process's while the value lives: an exclusive lock on
/// `<tmp>/pikube-fleet-ids/<id>.lock`, which the kernel releases when the process ends, so
/// a test killed mid-run leaves nothing taken.
struct LabId {
    id: u8,
    _lock: File,
}

/// The first lab id no other process holds and no other live lab owns (a lab made by hand
/// with fleet.sh, say).
fn claim_id() -> LabId {
    let dir = std::env::temp_dir().join("pikube-fleet-ids");
    std::fs::create_dir_all(&dir)
        .unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
    for id in TEST_IDS {
        let path = dir.join(format!("{id}.lock"));
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .unwrap_or_else(|e| panic!("cannot open {}: {e}", path.display()));
        match lock.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => continue,
            Err(TryLockError::Error(e)) => panic!("cannot lock {}: {e}", path.display()),
        }
        let owner =
            std::fs::read_to_string(Path::new(OWNERS).join(id.to_string())).unwrap_or_default();
        let owner = owner.trim();
        if !owner.is_empty() && Path::new(owner).join("nodes").is_dir() {
            // A live lab not made by a test: leave it alone.
            continue;
        }
        return LabId { id, _lock: lock };
    }
    panic!("every fleet lab id from 1 to 199 is taken");
}

/// `tests/fleet/fleet.sh` of this workspace.
pub fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fleet/fleet.sh")
}

fn describe(what: &str, out: &Output) -> String {
    format!(
        "{what}: {}\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

impl Fleet {
    /// Boots the nodes (specs as for `fleet.sh up`, e.g. `"pi2:os=bullseye,storage=emmc"`)
    /// in a new lab with the first free lab id, and waits until sshd answers on every node.
    /// Panics with the harness output on failure.
    pub fn up(specs: &[&str]) -> Fleet {
        let id = claim_id();
        let stamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let lab = std::env::temp_dir().join(format!(
            "pikube-fleet-{}-{}-{stamp}",
            id.id,
            std::process::id()
        ));
        if let Err(e) = std::fs::create_dir(&lab) {
            panic!("cannot create lab dir {}: {e}", lab.display());
        }
        // From here on, Drop cleans up, whatever happens.
        let mut fleet = Fleet {
            lab,
            id,
            nodes: Vec::new(),
        };
        let out = fleet.run(&[&["up"], specs].concat());
        assert!(
            out.status.success(),
            "{}",
            describe(&format!("fleet.sh up {}", specs.join(" ")), &out)
        );
        fleet.nodes = fleet.read_nodes();
        fleet
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("/bin/bash");
        cmd.arg(script())
            .args(args)
            .env("FLEET_LAB", &self.lab)
            .env("FLEET_ID", self.id.id.to_string())
            .env("FLEET_K3S_DOUBLE_BIN", real_kube_bin())
            .stdin(Stdio::null());
        cmd
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", script().display()))
    }

    fn run_ok(&self, args: &[&str]) -> Output {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "{}",
            describe(&format!("fleet.sh {}", args.join(" ")), &out)
        );
        out
    }

    fn read_nodes(&self) -> Vec<FleetNode> {
        let path = self.lab.join("nodes.tsv");
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|line| {
                let f: Vec<&str> = line.split('\t').collect();
                assert!(f.len() >= 3, "bad line in {}: {line:?}", path.display());
                FleetNode {
                    name: f[0].to_string(),
                    ip: f[1].to_string(),
                    jump_only: f[2] == "1",
                }
            })
            .collect()
    }

    /// The lab's nodes, in the order they were created.
    pub fn nodes(&self) -> &[FleetNode] {
        &self.nodes
    }

    /// The node called `name`; panics if there is none.
    pub fn node(&self, name: &str) -> &FleetNode {
        self.nodes
            .iter()
            .find(|n| n.name == name)
            .unwrap_or_else(|| panic!("no node {name:?} in the fleet (have: {:?})", self.names()))
    }

    fn names(&self) -> Vec<&str> {
        self.nodes.iter().map(|n| n.name.as_str()).collect()
    }

    /// The lab id (the nodes are 10.99.<id>.x).
    pub fn id(&self) -> u8 {
        self.id.id
    }

    /// The lab directory (removed on drop).
    pub fn lab(&self) -> &Path {
        &self.lab
    }

    /// An OpenSSH client config with a `Host` block per node (no host-key pinning).
    pub fn ssh_config(&self) -> PathBuf {
        self.lab.join("ssh_config")
    }

    /// The private key accepted for root, pi and pwsudo on every node.
    pub fn identity_file(&self) -> PathBuf {
        self.lab.join("keys/id_ed25519")
    }

    /// Runs a shell script as root inside the node (nsenter, no ssh) and returns its stdout.
    /// Panics if it fails.
    pub fn exec(&self, node: &str, script: &str) -> String {
        let out = self.try_exec(node, script);
        assert!(
            out.status.success(),
            "{}",
            describe(&format!("exec on {node}: {script}"), &out)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Like [`Fleet::exec`] but returns the output whatever the exit status.
    pub fn try_exec(&self, node: &str, script: &str) -> Output {
        self.run(&["exec", node, "/bin/sh", "-c", script])
    }

    /// Powers the node off through its own systemd; returns once it is off.
    pub fn poweroff(&self, node: &str) {
        self.run_ok(&["poweroff", node]);
    }

    /// Cuts the node's power: everything in it killed at once, no shutdown; it stays off
    /// until [`Fleet::start`].
    pub fn powercut(&self, node: &str) {
        self.run_ok(&["powercut", node]);
    }

    /// Boots a powered-off node and waits for its sshd.
    pub fn start(&self, node: &str) {
        self.run_ok(&["start", node]);
    }

    /// Reboots the node; returns once it is back (new boot id) and sshd answers.
    pub fn reboot(&self, node: &str) {
        self.run_ok(&["reboot", node]);
    }

    /// Gives the node new SSH host keys (a reinstalled host, or an impostor).
    pub fn rekey(&self, node: &str) {
        self.run_ok(&["rekey", node]);
    }

    /// Silently drops all of the node's traffic (a partition).
    pub fn cut(&self, node: &str) {
        self.run_ok(&["cut", node]);
    }

    /// Undoes [`Fleet::cut`].
    pub fn heal(&self, node: &str) {
        self.run_ok(&["heal", node]);
    }

    /// Makes `ip` (an address of the lab) one the host cannot reach: connections to it are
    /// refused at once, as to an address on a subnet the controller has no route to.
    pub fn unroutable(&self, ip: &str) {
        self.run_ok(&["unroutable", ip]);
    }

    /// `fleet.sh status` output, for failure messages.
    pub fn status(&self) -> String {
        String::from_utf8_lossy(&self.run(&["status"]).stdout).into_owned()
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        // Never panic here: this also runs while a failed test unwinds.
        match self.command(&["down", "--purge"]).output() {
            Ok(out) if !out.status.success() => {
                eprintln!("{}", describe("fleet.sh down --purge", &out));
            }
            Err(e) => eprintln!("cannot run fleet.sh down --purge: {e}"),
            Ok(_) => {}
        }
        let _ = std::fs::remove_dir_all(&self.lab);
        // The id's lock goes with the value, after the lab is down.
    }
}
