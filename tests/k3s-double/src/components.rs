//! The real upstream programs the double supervises (etcd, kube-apiserver,
//! kube-controller-manager, kubectl; built by tests/real-kube/build), and their processes.
//!
//! k3s runs these in its own process, so they end when it ends. The double runs them as
//! children that die with it: each gets `PR_SET_PDEATHSIG`, and a stop of the double (the
//! unit's SIGTERM) ends them first. Their output goes to `<data-dir>/server/logs/<name>.log`,
//! so the journal keeps k3s' own lines; a child that dies takes the double down with the
//! tail of its log, as a crash inside k3s would.

use std::io::{BufRead, BufReader, Seek, SeekFrom};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::Duration;

use rustix::process::{Pid, Signal};

/// Where a node finds the programs: a read-only bind mount in the fake fleet.
pub const DEFAULT_BIN_DIR: &str = "/opt/k3s-double/bin";
pub const BIN_DIR_ENV: &str = "K3S_DOUBLE_BIN_DIR";

pub fn bin_dir() -> PathBuf {
    std::env::var_os(BIN_DIR_ENV)
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_BIN_DIR))
}

/// The program's path, or an error saying where it was looked for.
pub fn program(name: &str) -> Result<PathBuf, String> {
    let path = bin_dir().join(name);
    if path.is_file() {
        Ok(path)
    } else {
        Err(format!(
            "{} not found: the double runs the real {name}; build it with tests/real-kube/build \
             and mount its output at {DEFAULT_BIN_DIR} (or set {BIN_DIR_ENV})",
            path.display()
        ))
    }
}

/// The process ids of the running children, ended on shutdown.
static CHILDREN: Mutex<Vec<u32>> = Mutex::new(Vec::new());

/// Starts `name` with `args`, logging to `log`. Call from the main thread: the death
/// signal follows the thread that spawned the child.
pub fn spawn(name: &str, args: &[String], log: &Path) -> Result<Child, String> {
    let path = program(name)?;
    if let Some(parent) = log.parent() {
        std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
    }
    let out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .map_err(|e| format!("{}: {e}", log.display()))?;
    let err = out.try_clone().map_err(|e| e.to_string())?;
    let mut command = Command::new(&path);
    // Only k3s itself tells systemd it is ready (etcd would, too, if it saw the socket).
    command
        .args(args)
        .env_remove("NOTIFY_SOCKET")
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err);
    // pre_exec is unsafe by nature, and the one way to ask for PDEATHSIG.
    #[allow(unsafe_code)]
    // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        command.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let child = command
        .spawn()
        .map_err(|e| format!("failed to start {}: {e}", path.display()))?;
    lock().push(child.id());
    Ok(child)
}

fn lock() -> std::sync::MutexGuard<'static, Vec<u32>> {
    CHILDREN
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Watches a child: if it exits, the double exits too, with the tail of its log.
pub fn watch(name: &'static str, child: Child, log: PathBuf) {
    watch_then(name, child, log, |_| ());
}

/// [`watch`], with `last_words` run on the child's log before the double exits.
pub fn watch_then(
    name: &'static str,
    mut child: Child,
    log: PathBuf,
    last_words: impl FnOnce(&Path) + Send + 'static,
) {
    std::thread::spawn(move || {
        let status = child.wait();
        let pid = child.id();
        lock().retain(|p| *p != pid);
        if crate::signals::stopping() {
            return;
        }
        crate::log::error(&format!(
            "{name} exited ({status:?}); last lines of {}:",
            log.display()
        ));
        for line in tail(&log, 15) {
            crate::log::error(&format!("{name}: {line}"));
        }
        last_words(&log);
        crate::log::fatal(&format!("{name} exited"));
    });
}

/// Ends a child started for a while, not watched: SIGTERM, SIGKILL after `grace`, reaped
/// and forgotten.
pub fn end(mut child: Child, grace: Duration) {
    let pid = child.id();
    signal(pid, Signal::TERM);
    let deadline = std::time::Instant::now() + grace;
    while std::time::Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    lock().retain(|p| *p != pid);
}

/// Stops the children in the reverse order of their start (the API server before the
/// etcd it needs to shut down cleanly): SIGTERM, then SIGKILL after `grace` each.
pub fn stop_all(grace: Duration) {
    let pids: Vec<u32> = lock().clone();
    for pid in pids.iter().rev() {
        signal(*pid, Signal::TERM);
        let deadline = std::time::Instant::now() + grace;
        while std::time::Instant::now() < deadline && lock().contains(pid) {
            std::thread::sleep(Duration::from_millis(20));
        }
        if lock().contains(pid) {
            signal(*pid, Signal::KILL);
        }
    }
}

/// The last `n` lines of a file (reading at most its last 64 KiB).
pub fn tail(path: &Path, n: usize) -> Vec<String> {
    let Ok(mut file) = std::fs::File::open(path) else {
        return Vec::new();
    };
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let _ = file.seek(SeekFrom::Start(len.saturating_sub(64 * 1024)));
    let lines: Vec<String> = BufReader::new(file).lines().map_while(Result::ok).collect();
    lines[lines.len().saturating_sub(n)..].to_vec()
}

/// Runs a program to completion (etcdctl), returning its stdout or its stderr as the error.
pub fn run(name: &str, args: &[String]) -> Result<String, String> {
    let path = program(name)?;
    let out = Command::new(&path)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("failed to run {}: {e}", path.display()))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "{name} {}: {}",
            args.first().map(String::as_str).unwrap_or(""),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Sends `sig` to our own child `pid` (not yet reaped, so not reused); one already gone is
/// nothing to do.
fn signal(pid: u32, sig: Signal) {
    if let Some(pid) = i32::try_from(pid).ok().and_then(Pid::from_raw) {
        let _ = rustix::process::kill_process(pid, sig);
    }
}
