use crate::digest::Sha256;
use crate::plan::{FileChange, SecretFileChange};
use crate::ssh::{shell_quote, Connection, SshError};

/// What goes where, and how it is put in place.
struct Placement<'a> {
    path: &'a str,
    mode: u32,
    /// Enforce `mode` (and root ownership) even on an existing file, keep no original.
    owned: bool,
    content: &'a [u8],
}

/// Replaces a file atomically: the new content goes to a temporary file in the same
/// directory, its size and SHA-256 are checked against what was sent, and only then is it
/// renamed over the old one, so a run killed (or an SSH link lost) at any moment leaves
/// either the old file or the new one, never half of either. The first time pikube changes
/// a file it does not own, it keeps the original beside it as `<file>.pikube-orig`, put in
/// place the same way.
pub async fn write_file(connection: &Connection, file: &FileChange) -> Result<(), SshError> {
    let placement = Placement {
        path: &file.path,
        mode: file.mode,
        owned: file.owned,
        content: file.after.as_bytes(),
    };
    put(connection, &placement).await
}

/// As [`write_file`] for a secret: mode 0600 from the first byte (the temporary file is
/// created under umask 077), content (and its size and SHA-256) only ever on the SSH
/// channel's stdin, never in the script, which the node's process list shows.
pub async fn write_secret_file(
    connection: &Connection,
    file: &SecretFileChange,
) -> Result<(), SshError> {
    let placement = Placement {
        path: &file.path,
        mode: 0o600,
        owned: true,
        content: file.content.as_bytes(),
    };
    put(connection, &placement).await
}

async fn put(connection: &Connection, file: &Placement<'_>) -> Result<(), SshError> {
    connection
        .run_privileged(
            &format!("writing {}", file.path),
            &file.script(),
            &file.input(),
        )
        .await?;
    Ok(())
}

impl Placement<'_> {
    /// What the script reads: a first line with the content's size and SHA-256 (on stdin,
    /// not in the script: the hash of a secret file must not show in the process list),
    /// then the content.
    fn input(&self) -> Vec<u8> {
        let mut input =
            format!("{} {}\n", self.content.len(), Sha256::of(self.content)).into_bytes();
        input.extend_from_slice(self.content);
        input
    }

    /// The script run as root on the node, with [`Self::input`] on its standard input. Kept
    /// apart from the SSH call so that tests can run it under a local `sh`.
    fn script(&self) -> String {
        let path = shell_quote(self.path);
        let keep = if self.owned {
            format!("chown 0:0 \"$tmp\"; chmod {:o} \"$tmp\"", self.mode)
        } else {
            format!(
                r#"if [ -e "$p" ]; then
  if [ ! -e "$p.pikube-orig" ]; then
    # The original is kept once and never made again (and reset puts it back), so it must
    # never be half a file: copied under a temporary name, checked, flushed, then renamed.
    orig=$(mktemp "$dir/.$base.pikube-orig-XXXXXX")
    cp -p "$p" "$orig"
    if [ "$(sha256sum < "$orig")" != "$(sha256sum < "$p")" ]; then
      echo "checksum mismatch copying $p to $p.pikube-orig; $p left unchanged" >&2
      exit 1
    fi
    sync "$orig" 2>/dev/null || sync
    mv -f "$orig" "$p.pikube-orig"
    orig=
    sync "$dir" 2>/dev/null || sync
  fi
  # Numbers from stat, not GNU's --reference: BusyBox has stat -c but no --reference.
  owner=$(stat -c '%u:%g' "$p" 2>/dev/null) && chown "$owner" "$tmp" 2>/dev/null || true
  mode=$(stat -c '%a' "$p" 2>/dev/null) && chmod "$mode" "$tmp" 2>/dev/null || true
else
  chmod {:o} "$tmp" 2>/dev/null || true
fi"#,
                self.mode
            )
        };
        format!(
            r#"set -e
umask 077
p={path}
dir=$(dirname "$p")
base=$(basename "$p")
(umask 022; mkdir -p "$dir")
# Leftovers of a run that was killed between writing and renaming.
rm -f "$dir/.$base.pikube-"?????? "$dir/.$base.pikube-orig-"??????
orig=
tmp=$(mktemp "$dir/.$base.pikube-XXXXXX")
trap 'rm -f "$tmp" ${{orig:+"$orig"}}' EXIT
# A lost connection closes stdout and stderr too: without this, the first message after
# it (SIGPIPE) would end the shell without its EXIT trap, leaving the temporary files.
trap 'exit 1' HUP INT TERM PIPE
want_size= want_sum=
read -r want_size want_sum || true
case "$want_size" in
  ''|*[!0-9]*) echo "no size and checksum before the content (transfer cut short?); $p left unchanged" >&2; exit 1 ;;
esac
cat > "$tmp"
# cat ends normally on a short input too: when pikube is killed or the SSH link drops,
# the node sees end-of-file, not an error. Only the whole content may replace the file.
size=$(wc -c < "$tmp")
if [ "$size" -ne "$want_size" ]; then
  echo "size mismatch: received $size of $want_size bytes (transfer cut short?); $p left unchanged" >&2
  exit 1
fi
sum=$(sha256sum < "$tmp" | cut -d' ' -f1)
if [ "$sum" != "$want_sum" ]; then
  echo "checksum mismatch: received sha256 $sum, sent $want_sum; $p left unchanged" >&2
  exit 1
fi
{keep}
sync "$tmp" 2>/dev/null || sync
mv -f "$tmp" "$p"
trap - EXIT
sync "$dir" 2>/dev/null || sync
"#
        )
    }
}

#[cfg(test)]
mod tests {
    //! The script run under a local `sh`, in a directory standing in for the node's. A short
    //! standard input is exactly what the node's side sees when pikube is killed or the SSH
    //! link drops mid-write: `cat` ends normally, with part of the content or none.

    use std::io::Write;
    use std::os::unix::fs::PermissionsExt;
    use std::path::{Path, PathBuf};
    use std::process::{Command, Output, Stdio};
    use std::time::{Duration, Instant, SystemTime};

    use super::Placement;
    use crate::digest::Sha256;
    use crate::ssh::shell_quote;

    const OLD: &str = "console=serial0,115200 root=PARTUUID=0123abcd-02 rootfstype=ext4 rootwait\n";
    const NEW: &str = "console=serial0,115200 root=PARTUUID=0123abcd-02 rootfstype=ext4 rootwait \
                       cgroup_enable=memory cgroup_memory=1\n";

    /// A node's `/boot/firmware` holding `cmdline.txt` with [`OLD`], mode 0640.
    struct Boot {
        dir: tempfile::TempDir,
    }

    impl Boot {
        fn new() -> Boot {
            let boot = Boot {
                dir: tempfile::tempdir().unwrap(),
            };
            std::fs::write(boot.file(), OLD).unwrap();
            std::fs::set_permissions(boot.file(), std::fs::Permissions::from_mode(0o640)).unwrap();
            std::fs::File::options()
                .write(true)
                .open(boot.file())
                .unwrap()
                .set_modified(SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000))
                .unwrap();
            boot
        }

        fn file(&self) -> PathBuf {
            self.dir.path().join("cmdline.txt")
        }

        fn read(&self, name: &str) -> Option<String> {
            std::fs::read_to_string(self.dir.path().join(name)).ok()
        }

        fn mode(&self, name: &str) -> u32 {
            let path = self.dir.path().join(name);
            std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
        }

        fn modified(&self, name: &str) -> SystemTime {
            let path = self.dir.path().join(name);
            std::fs::metadata(path).unwrap().modified().unwrap()
        }

        /// Everything in the directory, temporary files included, sorted.
        fn names(&self) -> Vec<String> {
            let mut names: Vec<String> = std::fs::read_dir(self.dir.path())
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            names.sort();
            names
        }

        /// The node's script for writing `content` here, fed as pikube feeds it: the
        /// size-and-checksum line first, then whatever the test sends.
        fn script(&self, content: &str) -> String {
            framed(&self.inner(content), content.as_bytes())
        }

        fn inner(&self, content: &str) -> String {
            let path = self.file();
            Placement {
                path: path.to_str().unwrap(),
                mode: 0o644,
                owned: false,
                content: content.as_bytes(),
            }
            .script()
        }
    }

    /// `script` behind a pipe that first sends the line pikube sends before `content`, so a
    /// test's standard input plays the part of the content alone.
    fn framed(script: &str, content: &[u8]) -> String {
        let placement = Placement {
            path: "",
            mode: 0,
            owned: false,
            content,
        };
        let input = placement.input();
        let header = String::from_utf8_lossy(&input[..input.len() - content.len()]);
        format!(
            "{{ printf '%s' {}; cat; }} | sh -c {}",
            shell_quote(&header),
            shell_quote(script)
        )
    }

    /// Runs `script` with `input` as all of its standard input.
    fn run(script: &str, input: &[u8]) -> Output {
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        // The script may stop reading early; that shows in its exit status.
        let _ = stdin.write_all(input);
        drop(stdin);
        child.wait_with_output().unwrap()
    }

    fn stderr(output: &Output) -> String {
        String::from_utf8_lossy(&output.stderr).into_owned()
    }

    fn assert_refused(boot: &Boot, output: &Output, step: &str) {
        let now = boot.read("cmdline.txt").unwrap_or_default();
        assert!(
            now == OLD,
            "cmdline.txt must keep its old content, it now holds {} bytes: {:?}",
            now.len(),
            now.chars().take(80).collect::<String>()
        );
        assert_eq!(boot.mode("cmdline.txt"), 0o640);
        assert_eq!(boot.names(), ["cmdline.txt"], "nothing else is left behind");
        assert!(!output.status.success(), "the write must fail");
        let said = stderr(output);
        assert!(
            said.contains(step),
            "stderr names the step ({step}): {said}"
        );
        assert!(
            said.contains(boot.file().to_str().unwrap()),
            "stderr names the file: {said}"
        );
    }

    #[test]
    fn under_busybox_the_new_file_keeps_the_old_ones_mode_too() {
        // Review L9: GNU's `chmod --reference` is not in BusyBox, whose nodes got a new
        // file with mktemp's 0600 (an /etc/hosts no other user could read). Here every
        // command the script runs is a BusyBox applet.
        let applets = tempfile::tempdir().unwrap();
        let busybox = Command::new("sh")
            .args(["-c", "command -v busybox"])
            .output()
            .unwrap();
        assert!(busybox.status.success(), "busybox is not installed");
        let busybox = String::from_utf8(busybox.stdout).unwrap();
        for applet in [
            "sh",
            "mkdir",
            "dirname",
            "basename",
            "rm",
            "mktemp",
            "cp",
            "sha256sum",
            "sync",
            "mv",
            "chown",
            "chmod",
            "cat",
            "wc",
            "cut",
            "stat",
            "printf",
        ] {
            std::os::unix::fs::symlink(busybox.trim(), applets.path().join(applet)).unwrap();
        }
        let boot = Boot::new();
        let mut child = Command::new(applets.path().join("sh"))
            .arg("-c")
            .arg(boot.script(NEW))
            .env("PATH", applets.path())
            .stdin(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(NEW.as_bytes())
            .unwrap();
        let output = child.wait_with_output().unwrap();
        assert!(output.status.success(), "{}", stderr(&output));
        assert_eq!(boot.read("cmdline.txt").as_deref(), Some(NEW));
        assert_eq!(boot.mode("cmdline.txt"), 0o640);
        assert_eq!(boot.read("cmdline.txt.pikube-orig").as_deref(), Some(OLD));
    }

    #[test]
    fn a_whole_write_replaces_the_file_keeps_its_mode_and_the_original_once() {
        let boot = Boot::new();
        let original_time = boot.modified("cmdline.txt");
        let output = run(&boot.script(NEW), NEW.as_bytes());
        assert!(output.status.success(), "{}", stderr(&output));
        assert_eq!(boot.read("cmdline.txt").as_deref(), Some(NEW));
        assert_eq!(boot.mode("cmdline.txt"), 0o640);
        assert_eq!(boot.read("cmdline.txt.pikube-orig").as_deref(), Some(OLD));
        // cp -p: the original keeps its mode and time too.
        assert_eq!(boot.mode("cmdline.txt.pikube-orig"), 0o640);
        assert_eq!(boot.modified("cmdline.txt.pikube-orig"), original_time);
        assert_eq!(boot.names(), ["cmdline.txt", "cmdline.txt.pikube-orig"]);

        // The original is the first one, whatever later runs write.
        let output = run(&boot.script(OLD), OLD.as_bytes());
        assert!(output.status.success(), "{}", stderr(&output));
        assert_eq!(boot.read("cmdline.txt").as_deref(), Some(OLD));
        assert_eq!(boot.read("cmdline.txt.pikube-orig").as_deref(), Some(OLD));
        assert_eq!(boot.names(), ["cmdline.txt", "cmdline.txt.pikube-orig"]);
    }

    #[test]
    fn a_new_file_gets_the_planned_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("etc/rancher/k3s/config.yaml");
        let content = b"write-kubeconfig-mode: \"0600\"\n";
        let script = framed(
            &Placement {
                path: path.to_str().unwrap(),
                mode: 0o644,
                owned: false,
                content,
            }
            .script(),
            content,
        );
        let output = run(&script, b"write-kubeconfig-mode: \"0600\"\n");
        assert!(output.status.success(), "{}", stderr(&output));
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode, 0o644);
        assert!(!path.with_file_name("config.yaml.pikube-orig").exists());
    }

    #[test]
    fn no_size_line_at_all_leaves_the_old_file() {
        let boot = Boot::new();
        let output = run(&boot.inner(NEW), b"");
        assert_refused(&boot, &output, "no size and checksum");
    }

    #[test]
    fn an_empty_input_leaves_the_old_file() {
        let boot = Boot::new();
        let output = run(&boot.script(NEW), b"");
        assert_refused(&boot, &output, "size mismatch");
    }

    #[test]
    fn a_truncated_input_leaves_the_old_file() {
        let boot = Boot::new();
        let output = run(&boot.script(NEW), &NEW.as_bytes()[..NEW.len() / 2]);
        assert_refused(&boot, &output, "size mismatch");
    }

    #[test]
    fn a_truncated_secret_leaves_the_old_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k3s.service.env");
        std::fs::write(&path, "K3S_TOKEN=\"old\"\n").unwrap();
        let new = "K3S_TOKEN=\"K10ab::server:0123456789abcdef\"\n";
        let placement = Placement {
            path: path.to_str().unwrap(),
            mode: 0o600,
            owned: true,
            content: new.as_bytes(),
        };
        // Neither the secret nor anything derived from it is in the script (the process list).
        let inner = placement.script();
        assert!(!inner.contains("0123456789abcdef"));
        let sha = Sha256::of(new.as_bytes()).to_string();
        assert!(!inner.contains(&sha), "the secret's hash is in the script");
        let output = run(&framed(&inner, new.as_bytes()), &new.as_bytes()[..12]);
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "K3S_TOKEN=\"old\"\n"
        );
        assert!(!output.status.success());
        assert!(
            stderr(&output).contains("size mismatch"),
            "{}",
            stderr(&output)
        );
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn other_bytes_of_the_right_size_leave_the_old_file() {
        let boot = Boot::new();
        let garbled = NEW.replace("memory", "MEMORY");
        assert_eq!(garbled.len(), NEW.len());
        let output = run(&boot.script(NEW), garbled.as_bytes());
        assert_refused(&boot, &output, "checksum mismatch");
    }

    #[test]
    fn a_sender_killed_mid_write_leaves_the_old_file() {
        // Big enough to be mid-stream: more than a pipe buffer on each side of the cut.
        let content = NEW.repeat(4096);
        let sent = content.len() / 2;
        let boot = Boot::new();
        let part = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(part.path(), &content.as_bytes()[..sent]).unwrap();

        // The sending side: writes the first half, then hangs as a stalled pikube would,
        // until it is killed.
        let mut sender = Command::new("sh")
            .arg("-c")
            .arg(r#"cat "$1"; exec sleep 600"#)
            .arg("sh")
            .arg(part.path())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let receiver = Command::new("sh")
            .arg("-c")
            .arg(boot.script(&content))
            .stdin(Stdio::from(sender.stdout.take().unwrap()))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();

        // Kill the sender only once the node's side holds the first half in its temporary
        // file, so the cut really is in the middle of the write.
        let deadline = Instant::now() + Duration::from_secs(20);
        while !temporary_holds(boot.dir.path(), sent as u64) {
            assert!(
                Instant::now() < deadline,
                "the first half never arrived: {:?}",
                boot.names()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        sender.kill().unwrap();
        sender.wait().unwrap();

        let output = receiver.wait_with_output().unwrap();
        assert_refused(&boot, &output, "size mismatch");
    }

    #[test]
    fn a_write_cut_off_with_its_connection_leaves_no_temporary_file() {
        // When the SSH connection itself goes, sshd closes all of the command's pipes, so
        // the report of the short input has nowhere to go (SIGPIPE).
        let boot = Boot::new();
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(boot.script(NEW))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        drop(child.stderr.take());
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(&NEW.as_bytes()[..NEW.len() / 2]).unwrap();
        drop(stdin);
        let status = child.wait().unwrap();
        assert!(!status.success());
        assert_eq!(boot.read("cmdline.txt").as_deref(), Some(OLD));
        assert_eq!(boot.names(), ["cmdline.txt"], "nothing else is left behind");
    }

    /// The script with `cp` replaced by one that copies only the first 10 bytes and then
    /// exits with `status`: a full disk or a power cut (1), or a copy that ends short
    /// without saying so (0).
    fn with_short_copy(script: &str, status: u8) -> String {
        format!("cp() {{ head -c 10 \"$2\" > \"$3\"; return {status}; }}\n{script}")
    }

    #[test]
    fn a_copy_of_the_original_cut_short_is_not_kept() {
        let boot = Boot::new();
        let output = run(
            &framed(&with_short_copy(&boot.inner(NEW), 1), NEW.as_bytes()),
            NEW.as_bytes(),
        );
        assert!(!output.status.success(), "the write must fail");
        assert_eq!(boot.read("cmdline.txt").as_deref(), Some(OLD));
        assert_eq!(boot.names(), ["cmdline.txt"], "no half original is left");

        // So the next run, with room on the disk, keeps the whole original.
        let output = run(&boot.script(NEW), NEW.as_bytes());
        assert!(output.status.success(), "{}", stderr(&output));
        assert_eq!(boot.read("cmdline.txt.pikube-orig").as_deref(), Some(OLD));
        assert_eq!(boot.names(), ["cmdline.txt", "cmdline.txt.pikube-orig"]);
    }

    #[test]
    fn a_copy_of_the_original_that_ends_short_silently_is_not_kept() {
        let boot = Boot::new();
        let output = run(
            &framed(&with_short_copy(&boot.inner(NEW), 0), NEW.as_bytes()),
            NEW.as_bytes(),
        );
        assert_refused(&boot, &output, "checksum mismatch");
    }

    #[test]
    fn a_half_copy_of_the_original_left_by_a_killed_run_is_cleared() {
        let boot = Boot::new();
        let leftover = boot.dir.path().join(".cmdline.txt.pikube-orig-Ab12Cd");
        std::fs::write(&leftover, &OLD[..10]).unwrap();
        let output = run(&boot.script(NEW), NEW.as_bytes());
        assert!(output.status.success(), "{}", stderr(&output));
        assert_eq!(boot.read("cmdline.txt.pikube-orig").as_deref(), Some(OLD));
        assert_eq!(boot.names(), ["cmdline.txt", "cmdline.txt.pikube-orig"]);
    }

    /// A temporary file of the write (not its target) in `dir` has `len` bytes.
    fn temporary_holds(dir: &Path, len: u64) -> bool {
        std::fs::read_dir(dir).unwrap().any(|e| {
            let e = e.unwrap();
            e.file_name()
                .to_string_lossy()
                .starts_with(".cmdline.txt.pikube-")
                && e.metadata().map(|m| m.len()).ok() == Some(len)
        })
    }
}
