//! `vcgencmd get_throttled`: the firmware's throttling bits where the kernel has no
//! get_throttled file in sysfs (older kernels; the fake fleet). The host's own vcgencmd is
//! run, so it must work where the exporter runs: on the node itself, or in a pod that can
//! run the host's binaries and open /dev/vcio — otherwise the metric is left out and the
//! failure logged.

use std::io::Read as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use pikube_pi::Throttled;

use crate::host::{Host, Missing, Read};

/// vcgencmd answers in milliseconds; one that has not answered by then is stuck on the
/// firmware mailbox, and a scrape must not wait for it.
const TIMEOUT: Duration = Duration::from_secs(2);
const POLL: Duration = Duration::from_millis(5);

/// Where vcgencmd may be, below the host root: each directory of PATH (with `/` as the
/// root, where a shell finds it), /usr/bin (Raspberry Pi OS) and /opt/vc/bin (before 2020).
/// The host root's copy only: on a fake tree, this machine's own vcgencmd would tell of
/// another host.
fn find(host: &Host) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/bin"), PathBuf::from("/opt/vc/bin")])
        .filter(|dir| dir.is_absolute())
        .map(|dir| host.path(&dir.join("vcgencmd").to_string_lossy()))
        .find(|candidate| candidate.is_file())
}

/// The bits as vcgencmd tells them; `Absent` when the host has no vcgencmd.
pub fn get_throttled(host: &Host) -> Read<u32> {
    let program = find(host).ok_or(Missing::Absent)?;
    let shown = program.display();
    let mut child = Command::new(&program)
        .arg("get_throttled")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| Missing::Garbage(format!("{shown}: could not run vcgencmd: {e}")))?;
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() < TIMEOUT => std::thread::sleep(POLL),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(Missing::Garbage(format!(
                    "{shown}: vcgencmd get_throttled: no answer within {} s",
                    TIMEOUT.as_secs()
                )));
            }
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(Missing::Garbage(format!(
                    "{shown}: vcgencmd get_throttled: {e}"
                )));
            }
        }
    };
    // It has exited: its pipes hold at most a line each (vcgencmd starts no other process
    // that could keep them open). Read a bounded amount all the same.
    let read = |pipe: Option<&mut dyn std::io::Read>| {
        let mut text = String::new();
        if let Some(pipe) = pipe {
            let _ = pipe.take(4096).read_to_string(&mut text);
        }
        text.trim().to_owned()
    };
    let stdout = read(child.stdout.as_mut().map(|p| p as &mut dyn std::io::Read));
    let stderr = read(child.stderr.as_mut().map(|p| p as &mut dyn std::io::Read));
    if !status.success() {
        let said = if stderr.is_empty() { &stdout } else { &stderr };
        return Err(Missing::Garbage(format!(
            "{shown}: vcgencmd get_throttled failed ({status}): {}",
            said.lines().next().unwrap_or("")
        )));
    }
    Throttled::parse(&stdout)
        .map(|throttled| throttled.0)
        .ok_or_else(|| {
            Missing::Garbage(format!(
                "{shown}: vcgencmd get_throttled printed {:?}, not throttled=0x…",
                stdout.chars().take(80).collect::<String>()
            ))
        })
}
