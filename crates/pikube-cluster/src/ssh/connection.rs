use std::num::NonZeroUsize;
use std::path::Path;
use std::process::ExitStatus;
use std::sync::Arc;
use std::time::Duration;

use openssh::{ControlPersist, KnownHosts, Session, SessionBuilder, Stdio};
use tokio::io::AsyncWriteExt;
use zeroize::Zeroizing;

use super::{masters, ClientConfig, Privilege, SshError, SshTarget, SudoPassword};
use crate::config::NodeName;
use crate::digest::{Sha256, Sha256Hasher};

/// The result of a remote command that ran to completion (whatever its exit code).
#[derive(Clone)]
pub struct CommandOutput {
    /// Its exit code.
    pub code: i32,
    /// Its standard output.
    pub stdout: String,
    /// Its standard error.
    pub stderr: String,
}

/// Sizes only: the state script's stdout holds the cluster tokens, and a `{:?}` in an
/// error or a log line must never print them (security review L9).
impl std::fmt::Debug for CommandOutput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CommandOutput")
            .field("code", &self.code)
            .field("stdout", &format_args!("<{} bytes>", self.stdout.len()))
            .field("stderr", &format_args!("<{} bytes>", self.stderr.len()))
            .finish()
    }
}

impl CommandOutput {
    /// It exited 0.
    pub fn success(&self) -> bool {
        self.code == 0
    }

    /// The last line the command wrote to stderr: where tools say what went wrong.
    pub fn last_stderr_line(&self) -> String {
        last_line(&self.stderr)
    }

    /// The last line of standard output that says something, for commands that report
    /// there (`2>&1`).
    pub fn last_stdout_line(&self) -> String {
        last_line(&self.stdout)
    }
}

/// The last line of `text` with something on it (for an error message).
pub(crate) fn last_line(text: &str) -> String {
    text.lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("no output")
        .trim()
        .to_owned()
}

/// One multiplexed SSH connection to a node, reused for every command sent to it.
pub struct Connection {
    target: SshTarget,
    session: Arc<Session>,
    /// A remote `cat` waiting on its input for as long as this connection is held: the
    /// master's `ControlPersist` idle time counts only while no session is open on it, so
    /// without this a connection left idle for a minute inside one run (an agent while the
    /// servers join, a node waiting its turn in a rollout) would lose its master.
    hold: Option<openssh::Child<Arc<Session>>>,
    login_user: String,
    privilege: Option<Privilege>,
    /// How long one command may run (`[ssh] command_timeout`), unless a step allows more.
    command_timeout: Duration,
    /// Its master is kept for the next run: `close` leaves it running (see `masters`).
    kept: bool,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("target", &self.target)
            .field("login_user", &self.login_user)
            .finish_non_exhaustive()
    }
}

/// ControlMaster processes outlive their last use (and a killed pikube) this long; while a
/// `Connection` holds one, its `hold` session keeps it from counting as idle.
const MASTER_IDLE_SECS: usize = 60;

/// Why a kept master was not resumed.
enum Resume {
    /// Its socket does not answer: the master has ended.
    Gone,
    /// It runs, but the node did not answer the probe in time.
    NoAnswer,
}

/// How long a kept master has to show that it still reaches its node.
const RESUMED_PROBE_TIMEOUT: Duration = Duration::from_secs(5);

impl Connection {
    /// Opens the master connection and learns who we are logged in as and whether sudo
    /// needs a password.
    pub async fn open(target: &SshTarget, client: &ClientConfig) -> Result<Connection, SshError> {
        let kept_dir = client
            .masters()
            .and_then(|masters| masters.for_target(target, client.known_hosts()));
        if let Some(dir) = &kept_dir {
            for (socket, log) in masters::earlier_masters(dir) {
                match Self::resume(target, client, &socket, &log).await {
                    Ok(connection) => return Ok(connection),
                    // Only a master that no longer answers on its socket is cleared away:
                    // one whose probe was slow may still serve connections that resumed
                    // it, and new commands reach it through that socket.
                    Err(Resume::Gone) => {
                        if let Some(master_dir) = socket.parent() {
                            masters::forget(master_dir);
                        }
                    }
                    Err(Resume::NoAnswer) => {}
                }
            }
        }
        let mut builder = SessionBuilder::default();
        builder
            .config_file(client.ssh_config())
            .control_directory(kept_dir.as_deref().unwrap_or(client.control_dir()))
            .known_hosts_check(KnownHosts::Add)
            .user_known_hosts_file(client.known_hosts())
            .control_persist(ControlPersist::IdleFor(
                NonZeroUsize::new(MASTER_IDLE_SECS).expect("non-zero"),
            ));
        if let Some(user) = &target.user {
            builder.user(user.clone());
        }
        if let Some(port) = target.port {
            builder.port(port);
        }
        if let Some(key) = &target.identity_file {
            builder.keyfile(key);
        }
        if let Some(jump) = target.proxy_jump.as_deref().filter(|j| !j.is_empty()) {
            builder.jump_hosts(jump.split(','));
        }
        let known_hosts = client.known_hosts().display().to_string();
        let session = builder
            .connect_mux(&target.address)
            .await
            .map_err(|err| connect_error(target, &known_hosts, err))?;

        // A kept master is held as a resumed one: dropping this connection (on any path)
        // must not end a master that other connections may have resumed meanwhile.
        let session = match kept_dir {
            Some(_) => {
                let (socket, log) = session.detach();
                Session::resume_mux(socket, log)
            }
            None => session,
        };
        let mut connection = Connection {
            target: target.clone(),
            session: Arc::new(session),
            hold: None,
            login_user: String::new(),
            privilege: None,
            command_timeout: client.command_timeout(),
            kept: kept_dir.is_some(),
        };
        connection.probe().await?;
        connection.hold_master().await;
        Ok(connection)
    }

    /// The master an earlier run (or connection) left at `socket`, if it still reaches the
    /// node: the probe must answer within seconds (a master whose node rebooted or lost
    /// power may not have noticed yet), or a new master is made beside it.
    async fn resume(
        target: &SshTarget,
        client: &ClientConfig,
        socket: &Path,
        log: &Path,
    ) -> Result<Connection, Resume> {
        let session = Session::resume_mux(socket.into(), Some(log.into()));
        if session.check().await.is_err() {
            let _ = session.detach();
            return Err(Resume::Gone);
        }
        let mut connection = Connection {
            target: target.clone(),
            session: Arc::new(session),
            hold: None,
            login_user: String::new(),
            privilege: None,
            command_timeout: RESUMED_PROBE_TIMEOUT,
            kept: true,
        };
        match connection.probe().await {
            Ok(()) => {
                connection.command_timeout = client.command_timeout();
                connection.hold_master().await;
                Ok(connection)
            }
            // Left alone, not ended (a resumed session never ends its master when
            // dropped): another connection may still be using it, and a master whose
            // node is gone ends by itself (ServerAlive).
            Err(_) => Err(Resume::NoAnswer),
        }
    }

    /// Opens the session that keeps the master from idling out while this connection is
    /// held. Without it the connection works as before, only with the idle limit.
    async fn hold_master(&mut self) {
        let hold = Session::to_command(Arc::clone(&self.session), "cat")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .await;
        self.hold = hold.ok();
    }

    /// Who we are logged in as and whether sudo needs a password.
    async fn probe(&mut self) -> Result<(), SshError> {
        let probe = self
            .run(
                "the login probe",
                "id -un; id -u; if sudo -n true 2>/dev/null; then echo sudo-ok; else echo sudo-password; fi",
            )
            .await?;
        let mut lines = probe.stdout.lines();
        self.login_user = lines.next().unwrap_or_default().to_owned();
        let uid = lines.next().unwrap_or_default();
        let sudo = lines.next().unwrap_or_default();
        self.privilege = if uid == "0" {
            Some(Privilege::Root)
        } else if sudo == "sudo-ok" {
            Some(Privilege::Passwordless)
        } else {
            None
        };
        Ok(())
    }

    /// The node's cluster.toml name.
    pub fn node(&self) -> &NodeName {
        &self.target.node
    }

    /// The socket its ControlMaster listens on (`ssh -S <socket> -O check` names the
    /// master's process): how a test cuts this connection for real, mid-command.
    pub fn control_socket(&self) -> &Path {
        self.session.control_socket()
    }

    /// How it was reached.
    pub fn target(&self) -> &SshTarget {
        &self.target
    }

    /// The user it logged in as.
    pub fn login_user(&self) -> &str {
        &self.login_user
    }

    /// The sudo password this connection's root commands use, if its sudo wants one: to
    /// open another connection like it.
    pub fn sudo_password(&self) -> Option<&SudoPassword> {
        match &self.privilege {
            Some(Privilege::Password(password)) => Some(password),
            _ => None,
        }
    }

    /// True when privileged commands need a sudo password we do not have yet.
    pub fn needs_sudo_password(&self) -> bool {
        self.privilege.is_none()
    }

    /// Checks the password once with `sudo -k -S` before any real work uses it, so a wrong
    /// password never swallows a command's input.
    pub async fn use_sudo_password(&mut self, password: &SudoPassword) -> Result<(), SshError> {
        if self.privilege.is_some() {
            return Ok(());
        }
        let check = self
            .exec(
                "sudo -k -S -p '' true",
                Some(Input::Owned(password.line_then(b""))),
                "the sudo password check",
                self.command_timeout,
            )
            .await?;
        if !check.success() {
            return Err(SshError::SudoPasswordRejected {
                node: self.target.node.clone(),
                user: self.login_user.clone(),
            });
        }
        self.privilege = Some(Privilege::Password(password.clone()));
        Ok(())
    }

    /// The same commands, each allowed up to `limit` (or `[ssh] command_timeout`, if that
    /// is longer): for a step that legitimately runs long, such as an OS upgrade or a drain
    /// with its own deadline.
    pub fn allowing(&self, limit: Duration) -> Allowing<'_> {
        Allowing {
            connection: self,
            limit: limit.max(self.command_timeout),
        }
    }

    /// Runs a shell script as the login user; a non-zero exit is an error.
    pub async fn run(&self, what: &str, script: &str) -> Result<CommandOutput, SshError> {
        self.allowing(self.command_timeout).run(what, script).await
    }

    /// Runs a shell script as root (directly, or through sudo), feeding `input` to it.
    /// A non-zero exit is an error.
    pub async fn run_privileged(
        &self,
        what: &str,
        script: &str,
        input: &[u8],
    ) -> Result<CommandOutput, SshError> {
        self.allowing(self.command_timeout)
            .run_privileged(what, script, input)
            .await
    }

    /// As [`Connection::run_privileged`], but returns the exit code instead of failing.
    pub async fn run_privileged_unchecked(
        &self,
        what: &str,
        script: &str,
        input: &[u8],
    ) -> Result<CommandOutput, SshError> {
        self.allowing(self.command_timeout)
            .run_privileged_unchecked(what, script, input)
            .await
    }

    /// Runs a script as root with a local file streamed to its standard input (a k3s
    /// binary is ~70 MB: it is never held in memory). A non-zero exit is an error. The
    /// limit grows with the file: at least [`UPLOAD_FLOOR_RATE`] bytes a second, for a Pi
    /// on weak Wi-Fi.
    pub async fn run_privileged_with_file(
        &self,
        what: &str,
        script: &str,
        file: &std::path::Path,
    ) -> Result<CommandOutput, SshError> {
        let size = tokio::fs::metadata(file)
            .await
            .map(|m| m.len())
            .unwrap_or(0);
        let limit = transfer_limit(size).max(self.command_timeout);
        let output = self
            .privileged(what, script, Input::File(file), limit)
            .await?;
        self.checked(what, output)
    }

    async fn privileged(
        &self,
        what: &str,
        script: &str,
        input: Input<'_>,
        limit: Duration,
    ) -> Result<CommandOutput, SshError> {
        let (command, input) = self.as_root(script, input)?;
        self.exec(&command, Some(input), what, limit).await
    }

    /// Runs a shell script as root, its standard output streamed into `file` (hashed on
    /// the way) rather than brought into memory: for files as big as an etcd snapshot. A
    /// non-zero exit is an error.
    pub async fn run_privileged_to_file(
        &self,
        what: &str,
        script: &str,
        file: &mut tokio::fs::File,
    ) -> Result<Streamed, SshError> {
        self.allowing(self.command_timeout)
            .run_privileged_to_file(what, script, file)
            .await
    }

    /// `script` as the command that runs it as root here, and the input it then reads (the
    /// sudo password line first, when sudo wants one).
    fn as_root<'a>(&self, script: &str, input: Input<'a>) -> Result<(String, Input<'a>), SshError> {
        let quoted = shell_quote(script);
        match &self.privilege {
            Some(Privilege::Root) => Ok((script.to_owned(), input)),
            Some(Privilege::Passwordless) => Ok((format!("sudo -n -- sh -c {quoted}"), input)),
            Some(Privilege::Password(password)) => {
                // -k: always ask, so the first input line is always taken as the password.
                let command = format!("sudo -k -S -p '' -- sh -c {quoted}");
                let input = match input {
                    Input::Bytes(bytes) => Input::Owned(password.line_then(bytes)),
                    Input::Owned(bytes) => Input::Owned(password.line_then(&bytes)),
                    Input::File(file) => Input::PrefixedFile(password.line_then(b""), file),
                    prefixed @ Input::PrefixedFile(..) => prefixed,
                };
                Ok((command, input))
            }
            None => Err(SshError::SudoPasswordNeeded {
                node: self.target.node.clone(),
                user: self.login_user.clone(),
            }),
        }
    }

    /// Runs a user's command (as root with `privileged`), handing each line of its output to
    /// `on_line` as it comes (`true` for standard error), and returns it all at the end with
    /// the exit code; a non-zero exit is not an error here, running past `limit` is. For
    /// `pikube exec`.
    pub async fn run_streaming(
        &self,
        script: &str,
        privileged: bool,
        on_line: &(dyn Fn(bool, &str) + Sync),
        limit: Duration,
    ) -> Result<CommandOutput, SshError> {
        let what = "running the command";
        let (command, stdin) = if privileged {
            match self.as_root(script, Input::Bytes(b""))? {
                // The sudo password line, when sudo wants one.
                (command, Input::Owned(line)) => (command, line),
                (command, _) => (command, Zeroizing::new(Vec::new())),
            }
        } else {
            (script.to_owned(), Zeroizing::new(Vec::new()))
        };
        let lost = |cause| SshError::Disconnected {
            node: self.target.node.clone(),
            what: what.to_owned(),
            cause: Some(cause),
        };
        let run = async {
            let mut child = self
                .session
                .command("sh")
                .arg("-c")
                .arg(&command)
                .stdin(if stdin.is_empty() {
                    Stdio::null()
                } else {
                    Stdio::piped()
                })
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .await
                .map_err(lost)?;
            if let Some(mut input) = child.stdin().take() {
                let _ = input.write_all(&stdin).await;
                let _ = input.shutdown().await;
            }
            let (Some(out), Some(err)) = (child.stdout().take(), child.stderr().take()) else {
                return Err(SshError::Disconnected {
                    node: self.target.node.clone(),
                    what: what.to_owned(),
                    cause: None,
                });
            };
            let (stdout, stderr) = tokio::join!(
                read_lines(out, false, on_line),
                read_lines(err, true, on_line)
            );
            let status = child.wait().await.map_err(lost)?;
            Ok(CommandOutput {
                code: exit_code(status),
                stdout,
                stderr,
            })
        };
        self.within(limit, what, run).await
    }

    /// `run`, or [`SshError::TimedOut`] once `limit` has passed. The command's future is
    /// dropped then, which closes its SSH channel; a command that ignores that may still
    /// run on the node, which is why the message says pikube stopped waiting, no more.
    async fn within<T>(
        &self,
        limit: Duration,
        what: &str,
        run: impl std::future::Future<Output = Result<T, SshError>>,
    ) -> Result<T, SshError> {
        tokio::time::timeout(limit, run).await.unwrap_or_else(|_| {
            Err(SshError::TimedOut {
                node: self.target.node.clone(),
                what: what.to_owned(),
                limit,
            })
        })
    }

    /// Done with this connection. A kept master stays for the next run (and for any other
    /// connection to the node that resumed it: ending it would cut theirs), until
    /// `ControlPersist` ends it, or ServerAlive when its node rebooted or went away; any
    /// other master is ended now.
    pub async fn close(mut self) {
        if let Some(hold) = self.hold.take() {
            // Its input closed, the remote cat ends and so does its session.
            let _ = tokio::time::timeout(Duration::from_secs(5), hold.wait()).await;
        }
        let Ok(session) = Arc::try_unwrap(self.session) else {
            return;
        };
        if self.kept {
            let _ = session.detach();
        } else {
            let _ = session.close().await;
        }
    }

    fn checked(&self, what: &str, output: CommandOutput) -> Result<CommandOutput, SshError> {
        if output.success() {
            Ok(output)
        } else {
            Err(SshError::CommandFailed {
                node: self.target.node.clone(),
                what: what.to_owned(),
                code: output.code,
                stderr: last_lines(&output.stderr, 5),
            })
        }
    }

    async fn exec(
        &self,
        script: &str,
        input: Option<Input<'_>>,
        what: &str,
        limit: Duration,
    ) -> Result<CommandOutput, SshError> {
        self.exec_into(script, input, what, None, limit)
            .await
            .map(|(output, _)| output)
    }

    /// [`Connection::exec`], with standard output streamed into `file` (and hashed) when
    /// one is given instead of collected. Collected output is capped: a broken or hostile
    /// node streaming gigabytes must not exhaust the controller's memory (security review
    /// L3).
    async fn exec_into(
        &self,
        script: &str,
        input: Option<Input<'_>>,
        what: &str,
        file: Option<&mut tokio::fs::File>,
        limit: Duration,
    ) -> Result<(CommandOutput, Option<Streamed>), SshError> {
        self.within(limit, what, self.exec_unlimited(script, input, what, file))
            .await
    }

    async fn exec_unlimited(
        &self,
        script: &str,
        input: Option<Input<'_>>,
        what: &str,
        file: Option<&mut tokio::fs::File>,
    ) -> Result<(CommandOutput, Option<Streamed>), SshError> {
        let mut command = self.session.command("sh");
        command
            .arg("-c")
            .arg(script)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .stdin(if input.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            });
        let lost = |cause| SshError::Disconnected {
            node: self.target.node.clone(),
            what: what.to_owned(),
            cause: Some(cause),
        };
        let mut child = command.spawn().await.map_err(lost)?;
        let (Some(out), Some(err)) = (child.stdout().take(), child.stderr().take()) else {
            return Err(SshError::Disconnected {
                node: self.target.node.clone(),
                what: what.to_owned(),
                cause: None,
            });
        };
        let stdin = child.stdin().take();
        // Fed while the output is read: a large input would otherwise fill the pipes both
        // ways. A command may exit without reading its input; that is its business, so
        // write errors are not ours to report.
        let feed = async move {
            if let (Some(input), Some(mut stdin)) = (input, stdin) {
                let _ = input.write_to(&mut stdin).await;
                let _ = stdin.shutdown().await;
            }
            Ok::<(), ReadError>(())
        };
        let read = async {
            match file {
                Some(file) => stream_to(out, file)
                    .await
                    .map(|s| (Vec::new(), Some(s)))
                    .map_err(ReadError::Io),
                None => read_capped(out, "stdout", STDOUT_LIMIT)
                    .await
                    .map(|b| (b, None)),
            }
        };
        let result = tokio::try_join!(read, read_capped(err, "stderr", STDERR_LIMIT), feed);
        let ((stdout, streamed), stderr, ()) = match result {
            Ok(read) => read,
            // The rest of the output is not read: dropping the child ends the command.
            Err(ReadError::TooLarge { stream, limit }) => {
                return Err(SshError::OutputTooLarge {
                    node: self.target.node.clone(),
                    what: what.to_owned(),
                    stream,
                    limit,
                })
            }
            Err(ReadError::Io(source)) => {
                return Err(SshError::Transfer {
                    node: self.target.node.clone(),
                    what: what.to_owned(),
                    cause: source,
                })
            }
        };
        let status = child.wait().await.map_err(lost)?;
        Ok((
            CommandOutput {
                code: exit_code(status),
                stdout: String::from_utf8_lossy(&stdout).into_owned(),
                stderr: String::from_utf8_lossy(&stderr).into_owned(),
            },
            streamed,
        ))
    }
}

/// The slowest transfer a limit is sized for (128 KiB/s): a Pi on weak Wi-Fi still gets a
/// 200 MB image archive through before its upload is given up.
pub const UPLOAD_FLOOR_RATE: u64 = 128 << 10;

/// How long moving `bytes` to or from a node may take, at [`UPLOAD_FLOOR_RATE`].
pub fn transfer_limit(bytes: u64) -> Duration {
    Duration::from_secs(bytes / UPLOAD_FLOOR_RATE)
}

/// The most a command's standard output may bring back into memory: a node's state or the
/// cluster's node list is far below it; files come through
/// [`Connection::run_privileged_to_file`].
const STDOUT_LIMIT: usize = 64 << 20;
/// Standard error is for messages.
const STDERR_LIMIT: usize = 4 << 20;

/// What a command's standard output brought into a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Streamed {
    pub bytes: u64,
    pub sha256: Sha256,
}

enum ReadError {
    TooLarge { stream: &'static str, limit: usize },
    Io(std::io::Error),
}

/// All of `reader` up to `limit` bytes; more is an error, and the rest is left unread.
async fn read_capped(
    reader: impl tokio::io::AsyncRead + Unpin,
    stream: &'static str,
    limit: usize,
) -> Result<Vec<u8>, ReadError> {
    use tokio::io::AsyncReadExt;
    let mut bytes = Vec::new();
    reader
        .take(limit as u64 + 1)
        .read_to_end(&mut bytes)
        .await
        .map_err(ReadError::Io)?;
    if bytes.len() > limit {
        return Err(ReadError::TooLarge { stream, limit });
    }
    Ok(bytes)
}

/// Copies `reader` into `file`, hashing it on the way.
async fn stream_to(
    mut reader: impl tokio::io::AsyncRead + Unpin,
    file: &mut tokio::fs::File,
) -> std::io::Result<Streamed> {
    use tokio::io::AsyncReadExt;
    let mut hasher = Sha256Hasher::new();
    let mut buffer = vec![0u8; 1 << 16];
    let mut bytes = 0u64;
    loop {
        let n = reader.read(&mut buffer).await?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
        file.write_all(&buffer[..n]).await?;
        bytes += n as u64;
    }
    file.flush().await?;
    Ok(Streamed {
        bytes,
        sha256: hasher.finish(),
    })
}

/// The longest piece of one line `exec` hands on at a time: a node printing one endless
/// line (a binary file, `yes | tr -d '\\n'`) must not fill the controller's memory.
const LINE_PIECE: usize = 64 << 10;

/// Every line of `reader`, each handed to `on_line` as it arrives (a line longer than
/// [`LINE_PIECE`] in pieces of that size, bytes that are not UTF-8 replaced), and all of
/// them up to the output limit.
async fn read_lines(
    reader: impl tokio::io::AsyncRead + Unpin,
    is_err: bool,
    on_line: &(dyn Fn(bool, &str) + Sync),
) -> String {
    use tokio::io::AsyncBufReadExt;
    let mut reader = tokio::io::BufReader::new(reader);
    let mut piece: Vec<u8> = Vec::new();
    let mut all = String::new();
    let limit = if is_err { STDERR_LIMIT } else { STDOUT_LIMIT };
    let mut kept = true;
    loop {
        let (consumed, complete, end) = match reader.fill_buf().await {
            Ok([]) | Err(_) => (0, !piece.is_empty(), true),
            // A full piece ends the line if a newline comes next, else the line goes on
            // in the next piece.
            Ok(buffer) if piece.len() == LINE_PIECE => {
                (usize::from(buffer[0] == b'\n'), true, false)
            }
            Ok(buffer) => {
                let room = LINE_PIECE - piece.len();
                match buffer.iter().take(room).position(|&b| b == b'\n') {
                    Some(newline) => {
                        piece.extend_from_slice(&buffer[..newline]);
                        (newline + 1, true, false)
                    }
                    None => {
                        let taken = buffer.len().min(room);
                        piece.extend_from_slice(&buffer[..taken]);
                        (taken, false, false)
                    }
                }
            }
        };
        reader.consume(consumed);
        if !complete {
            if end {
                break;
            }
            continue;
        }
        let line = String::from_utf8_lossy(&piece).into_owned();
        piece.clear();
        on_line(is_err, &line);
        // Every line is shown as it comes; only what is kept for the end is bounded.
        if kept && all.len() + line.len() < limit {
            all.push_str(&line);
            all.push('\n');
        } else if kept {
            kept = false;
            all.push_str(&format!(
                "[pikube: output beyond {} MiB not kept]\n",
                limit >> 20
            ));
        }
        if end {
            break;
        }
    }
    all
}

/// A connection's commands with a limit of their own: see [`Connection::allowing`].
pub struct Allowing<'a> {
    connection: &'a Connection,
    limit: Duration,
}

impl Allowing<'_> {
    /// [`Connection::run`], within this limit.
    pub async fn run(&self, what: &str, script: &str) -> Result<CommandOutput, SshError> {
        let output = self.connection.exec(script, None, what, self.limit).await?;
        self.connection.checked(what, output)
    }

    /// [`Connection::run_privileged`], within this limit.
    pub async fn run_privileged(
        &self,
        what: &str,
        script: &str,
        input: &[u8],
    ) -> Result<CommandOutput, SshError> {
        let output = self.run_privileged_unchecked(what, script, input).await?;
        self.connection.checked(what, output)
    }

    /// [`Connection::run_privileged_unchecked`], within this limit.
    pub async fn run_privileged_unchecked(
        &self,
        what: &str,
        script: &str,
        input: &[u8],
    ) -> Result<CommandOutput, SshError> {
        self.connection
            .privileged(what, script, Input::Bytes(input), self.limit)
            .await
    }

    /// [`Connection::run_privileged_to_file`], within this limit.
    pub async fn run_privileged_to_file(
        &self,
        what: &str,
        script: &str,
        file: &mut tokio::fs::File,
    ) -> Result<Streamed, SshError> {
        let connection = self.connection;
        let (command, input) = connection.as_root(script, Input::Bytes(b""))?;
        let (output, streamed) = connection
            .exec_into(&command, Some(input), what, Some(file), self.limit)
            .await?;
        connection.checked(what, output)?;
        streamed.ok_or_else(|| SshError::Disconnected {
            node: connection.target.node.clone(),
            what: what.to_owned(),
            cause: None,
        })
    }
}

/// What a remote command reads on its standard input.
enum Input<'a> {
    Bytes(&'a [u8]),
    /// Holds the sudo password when it is built by `as_root`: wiped when dropped.
    Owned(Zeroizing<Vec<u8>>),
    File(&'a std::path::Path),
    /// The sudo password line, then the file.
    PrefixedFile(Zeroizing<Vec<u8>>, &'a std::path::Path),
}

impl Input<'_> {
    async fn write_to(self, stdin: &mut openssh::ChildStdin) -> std::io::Result<()> {
        match self {
            Input::Bytes(bytes) => stdin.write_all(bytes).await,
            Input::Owned(bytes) => stdin.write_all(&bytes).await,
            Input::File(path) => copy_file(path, stdin).await,
            Input::PrefixedFile(prefix, path) => {
                stdin.write_all(&prefix).await?;
                copy_file(path, stdin).await
            }
        }
    }
}

async fn copy_file(path: &std::path::Path, stdin: &mut openssh::ChildStdin) -> std::io::Result<()> {
    let mut file = tokio::fs::File::open(path).await?;
    tokio::io::copy(&mut file, stdin).await.map(drop)
}

fn exit_code(status: ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0))
}

fn connect_error(target: &SshTarget, known_hosts: &str, err: openssh::Error) -> SshError {
    let text = error_text(&err);
    if text.contains("REMOTE HOST IDENTIFICATION HAS CHANGED")
        || text.contains("Host key verification failed")
        || text.contains("has changed and you have requested strict checking")
    {
        return SshError::HostKeyChanged {
            node: target.node.clone(),
            address: target.display(),
            known_hosts: known_hosts.to_owned(),
        };
    }
    SshError::Connect {
        node: target.node.clone(),
        address: target.display(),
        reason: summarise(&text),
    }
}

fn error_text(err: &openssh::Error) -> String {
    let mut text = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(inner) = source {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        source = inner.source();
    }
    text
}

/// ssh's own last words are the useful part ("Connection refused", "Permission denied").
fn summarise(text: &str) -> String {
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('@') && !l.starts_with("Warning: Permanently"))
        .collect();
    match lines.as_slice() {
        [] => "ssh failed without a message".to_owned(),
        lines => lines.join(" / "),
    }
}

fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let start = lines.len().saturating_sub(n);
    let tail = lines[start..].join(" / ");
    if tail.is_empty() {
        "(no error output)".to_owned()
    } else {
        tail
    }
}

/// Single-quotes a string for a POSIX shell.
pub fn shell_quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', "'\\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_shows_sizes_never_the_output() {
        let output = CommandOutput {
            code: 0,
            stdout: "server_token=K10ab::server:s3cret\n".to_owned(),
            stderr: "s3cret".to_owned(),
        };
        let shown = format!("{output:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("<34 bytes>"), "{shown}");
    }

    #[tokio::test]
    async fn exec_output_comes_in_lines_and_an_endless_line_in_bounded_pieces() {
        use std::sync::Mutex;
        let seen = Mutex::new(Vec::<String>::new());
        let record = |_: bool, line: &str| seen.lock().unwrap().push(line.to_owned());
        let mut input = b"first\nsecond \xff\n".to_vec();
        input.extend(std::iter::repeat_n(b'x', 3 * LINE_PIECE + 10));
        let all = read_lines(&input[..], false, &record).await;
        let seen = seen.into_inner().unwrap();
        assert_eq!(&seen[..2], ["first", "second \u{fffd}"]);
        let pieces: Vec<usize> = seen[2..].iter().map(String::len).collect();
        assert_eq!(pieces, [LINE_PIECE, LINE_PIECE, LINE_PIECE, 10]);
        // A line of exactly one piece is one line, not a piece and an empty line.
        let exact = Mutex::new(Vec::<String>::new());
        let mut input = vec![b'y'; LINE_PIECE];
        input.extend_from_slice(b"\n\nlast");
        read_lines(&input[..], true, &|_, line: &str| {
            exact.lock().unwrap().push(line.to_owned())
        })
        .await;
        let exact: Vec<usize> = exact
            .into_inner()
            .unwrap()
            .iter()
            .map(String::len)
            .collect();
        assert_eq!(exact, [LINE_PIECE, 0, 4]);
        assert!(all.starts_with("first\nsecond \u{fffd}\nxxx"));
        assert_eq!(
            all.len(),
            "first\nsecond \u{fffd}\n".len() + 3 * LINE_PIECE + 10 + 4
        );
    }

    #[test]
    fn quotes_single_quotes() {
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
    }

    #[test]
    fn summarises_ssh_noise() {
        let text = "failed to connect to the remote host: ssh: connect to host 10.0.0.1 port 22: Connection refused";
        assert!(summarise(text).ends_with("Connection refused"));
        assert_eq!(last_lines("a\n\nb\nc\n", 2), "b / c");
        let output = CommandOutput {
            code: 1,
            stdout: String::new(),
            stderr: "a\nerror: b\n\n".into(),
        };
        assert_eq!(output.last_stderr_line(), "error: b");
    }
}
