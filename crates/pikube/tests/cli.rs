//! The offline commands: init, check, usage errors and exit codes.

use std::process::{Command, Stdio};

fn pikube(dir: &std::path::Path, args: &[&str]) -> (i32, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_pikube"))
        .args(args)
        .current_dir(dir)
        .env_remove("PIKUBE_FILE")
        .stdin(Stdio::null())
        .output()
        .expect("run pikube");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn init_writes_a_file_that_check_accepts_and_refuses_to_overwrite_it() {
    let dir = tempfile::tempdir().unwrap();
    let (code, out, _) = pikube(dir.path(), &["init", "--name", "lab"]);
    assert_eq!(code, 0, "{out}");
    let text = std::fs::read_to_string(dir.path().join("cluster.toml")).unwrap();
    assert!(text.contains("name = \"lab\""), "{text}");
    assert!(
        text.lines()
            .filter(|l| l.trim_start().starts_with('#'))
            .count()
            > 10,
        "commented"
    );
    // The cluster's tokens will live in .pikube/: ignored by git from the start.
    let ignore = std::fs::read_to_string(dir.path().join(".pikube/.gitignore")).unwrap();
    assert!(ignore.lines().any(|l| l == "*"), "{ignore}");

    let (code, out, err) = pikube(dir.path(), &["check"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("cluster \"lab\" is valid: 1 server, 1 agent"),
        "{out}"
    );

    std::fs::write(dir.path().join("cluster.toml"), "edited").unwrap();
    let (code, _, err) = pikube(dir.path(), &["init"]);
    assert_eq!(code, 1);
    assert!(err.contains("already exists"), "{err}");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("cluster.toml")).unwrap(),
        "edited"
    );

    let (code, _, _) = pikube(dir.path(), &["init", "--force", "-f", "sub/other.toml"]);
    assert_eq!(code, 0);
    assert!(dir.path().join("sub/other.toml").exists());
}

#[test]
fn check_names_file_line_column_and_field() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("lab.toml"),
        "[cluster]\nname = \"lab\"\n\n[k3s]\nversion = \"v1.31.4+k3s1\"\n\n[[nodes]]\nname = \"a\"\naddress = \"192.168.1.300\"\nrole = \"server\"\n\n[[nodes]]\nname = \"a\"\naddress = \"10.0.0.2\"\nrole = \"agent\"\n",
    )
    .unwrap();
    let (code, _, err) = pikube(dir.path(), &["check", "-f", "lab.toml"]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains(
            "lab.toml:9:11: nodes[0].address: \"192.168.1.300\" is not a valid IPv4 address"
        ),
        "{err}"
    );
    assert!(
        err.contains("lab.toml:13:8: nodes[1].name: duplicate node name \"a\""),
        "{err}"
    );
}

#[test]
fn a_missing_file_points_at_init() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, err) = pikube(dir.path(), &["plan"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("cluster.toml") && err.contains("pikube init"),
        "{err}"
    );
}

#[test]
fn usage_errors_exit_1_never_the_plan_code_2() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, err) = pikube(dir.path(), &["plan", "--no-such-flag"]);
    assert_eq!(code, 1, "{err}");
    let (code, out, _) = pikube(dir.path(), &["plan", "--help"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("Exit status: 0 no changes, 2 changes pending, 1 error"),
        "{out}"
    );
}

#[test]
fn a_backup_name_that_could_escape_its_file_is_refused_before_any_node_is_contacted() {
    let dir = tempfile::tempdir().unwrap();
    for bad in ["../x", "a/b", ".hidden", "-x", "with space", ""] {
        let (code, _, err) = pikube(dir.path(), &["backup", &format!("--name={bad}")]);
        assert_eq!(code, 1, "{bad:?} accepted");
        assert!(err.contains("--name"), "{bad:?}: {err}");
    }
}

/// No clause of an error line is said twice (an error that names its cause and also returns
/// it as its source used to print it again, and again down the chain).
fn assert_each_cause_once(line: &str) {
    let clauses: Vec<&str> = line.split(": ").map(str::trim).collect();
    for (i, clause) in clauses.iter().enumerate() {
        assert!(
            !clauses[i + 1..].contains(clause),
            "{clause:?} is said twice in: {line}"
        );
    }
}

/// A fresh set of Movies token keys, from `pikube serve movies --new-keys`.
fn movies_keys() -> Vec<(String, String)> {
    let output = Command::new(env!("CARGO_BIN_EXE_pikube"))
        .args(["serve", "movies", "--new-keys"])
        .stdin(Stdio::null())
        .output()
        .expect("run pikube");
    assert!(output.status.success());
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

fn error_line(stderr: &str) -> &str {
    stderr
        .lines()
        .find(|l| l.starts_with("error: "))
        .map(|l| l.trim_start_matches("error: "))
        .unwrap_or_else(|| panic!("no error line in: {stderr:?}"))
}

#[test]
fn errors_print_each_cause_once() {
    let dir = tempfile::tempdir().unwrap();
    let keys = movies_keys();
    let movies = |url: &str| {
        Command::new(env!("CARGO_BIN_EXE_pikube"))
            .args(["serve", "movies", "users"])
            .env("DATABASE_URL", url)
            .env("PIKUBE_LISTEN", "127.0.0.1:0")
            .envs(keys.iter().map(|(k, v)| (k, v)))
            .env("MOVIES_ADMIN_EMAIL", "admin@example.org")
            .env("MOVIES_ADMIN_PASSWORD", "correct horse")
            .stdin(Stdio::null())
            .output()
            .expect("run pikube")
    };
    // An unreachable PostgreSQL (nothing listens on port 1), and a SQLite file whose
    // directory cannot be made.
    for url in [
        "postgres://movies:pw@127.0.0.1:1/users",
        "sqlite:///proc/no-such-dir/users.db",
    ] {
        let out = movies(url);
        assert!(
            !out.status.success(),
            "{url}: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("error: "),
            "{url}: {:?}: {stderr:?}",
            out.status
        );
        let line = error_line(&stderr);
        assert!(line.contains("the users service"), "{line}");
        assert!(!line.contains(":pw@"), "the password is shown: {line}");
        assert_each_cause_once(line);
    }
    // SSH refused (nothing listens on port 1 of this machine), and a node that is not in
    // the file.
    std::fs::write(
        dir.path().join("cluster.toml"),
        "[cluster]\nname = \"t\"\n[ssh]\nuser = \"pi\"\nport = 1\nconnect_timeout = 3\n\
         [k3s]\nversion = \"v1.34.4+k3s1\"\n[[nodes]]\nname = \"one\"\naddress = \"127.0.0.1\"\n\
         role = \"server\"\n",
    )
    .unwrap();
    let (code, out, err) = pikube(dir.path(), &["status"]);
    assert_eq!(code, 1);
    let both = format!("{out}{err}");
    let line = error_line(&both);
    assert!(line.contains("Connection refused"), "{line}");
    assert_each_cause_once(line);
    let (code, _, err) = pikube(dir.path(), &["reset", "two", "--yes"]);
    assert_eq!(code, 1);
    let line = error_line(&err);
    assert!(line.contains("no node two"), "{line}");
    assert_each_cause_once(line);
}

/// A cluster whose one node refuses SSH at once (nothing listens on port 1 here).
fn unreachable_cluster(dir: &std::path::Path) {
    std::fs::write(
        dir.join("cluster.toml"),
        "[cluster]\nname = \"t\"\n[ssh]\nuser = \"pi\"\nport = 1\nconnect_timeout = 3\n\
         [k3s]\nversion = \"v1.34.4+k3s1\"\n[[nodes]]\nname = \"one\"\naddress = \"127.0.0.1\"\n\
         role = \"server\"\n",
    )
    .unwrap();
}

#[test]
fn status_help_says_what_its_json_holds_and_when_it_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let (code, help, _) = pikube(dir.path(), &["status", "--help"]);
    assert_eq!(code, 0);
    assert!(
        help.contains(
            "Exit status: 0 every node answered and the cluster is healthy, 1 a node did not \
             answer or\nthe cluster is not healthy"
        ),
        "{help}"
    );
    // The paths its jq examples read are in the JSON, even with no node answering.
    for path in [
        ".nodes[] | {node, model: .facts.model.raw}",
        ".cluster.nodes[] | {node, ready}",
        ".cluster.problems[]",
    ] {
        assert!(help.contains(path), "{path}: {help}");
    }
    unreachable_cluster(dir.path());
    let (code, out, _) = pikube(dir.path(), &["status", "--output", "json"]);
    assert_eq!(code, 1);
    let json: serde_json::Value = serde_json::from_str(&out).expect("status json");
    assert_eq!(json["nodes"][0]["node"], "one", "{json}");
    assert_eq!(json["nodes"][0]["reachable"], false, "{json}");
    assert_eq!(json["cluster"]["nodes"][0]["node"], "one", "{json}");
    assert!(json["cluster"]["nodes"][0].get("ready").is_some(), "{json}");
    assert!(json["cluster"]["problems"].is_array(), "{json}");
}

fn write_lock(dir: &std::path::Path, host: &str, pid: u32) {
    let state = dir.join(".pikube/t");
    std::fs::create_dir_all(&state).unwrap();
    let holder = format!(
        r#"{{"user":"alice","host":"{host}","pid":{pid},"command":"apply","since":1764900000}}"#
    );
    std::fs::write(state.join("lock"), holder).unwrap();
}

#[test]
fn one_pikube_at_a_time_on_a_cluster() {
    let dir = tempfile::tempdir().unwrap();
    unreachable_cluster(dir.path());
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let lock = dir.path().join(".pikube/t/lock");

    // Another pikube, alive: waited for, then named.
    let mut other = Command::new("sleep").arg("60").spawn().unwrap();
    write_lock(dir.path(), host.trim(), other.id());
    let started = std::time::Instant::now();
    let (code, _, err) = pikube(dir.path(), &["apply"]);
    assert_eq!(code, 1);
    assert!(
        started.elapsed() >= std::time::Duration::from_secs(10),
        "it did not wait"
    );
    assert!(
        err.contains(&format!(
            "alice@{} (pid {}, pikube apply",
            host.trim(),
            other.id()
        )) && err.contains("another pikube is working on this cluster"),
        "{err}"
    );
    // --force-unlock never breaks a live holder's lock.
    let (code, _, err) = pikube(dir.path(), &["reset", "--yes", "--force-unlock"]);
    assert_eq!(code, 1);
    assert!(err.contains("still running here"), "{err}");

    // Gone: taken over, said so, and released at the end.
    other.kill().unwrap();
    other.wait().unwrap();
    let (_, _, err) = pikube(dir.path(), &["apply"]);
    assert!(err.contains("which is no longer running"), "{err}");
    assert!(!lock.exists(), "the lock is released when apply ends");

    // Another machine's lock cannot be checked from here: refused, then broken on request.
    write_lock(dir.path(), "another-laptop", 1);
    let (code, _, err) = pikube(dir.path(), &["reset", "--yes"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("alice@another-laptop") && err.contains("--force-unlock"),
        "{err}"
    );
    let (_, _, err) = pikube(dir.path(), &["reset", "--yes", "--force-unlock"]);
    assert!(!err.contains("another pikube"), "{err}");
    assert!(!lock.exists());
}

/// The rule that keeps every error's text complete and each cause said once: an error shows
/// its cause in its message and returns none from `source()` (or is `transparent`). Read
/// from the sources: a `#[source]`, a `#[from]` or a field named `source` in a variant with
/// a message of its own is what would break it.
#[test]
fn no_error_both_shows_and_returns_its_cause() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut dirs: Vec<std::path::PathBuf> = std::fs::read_dir(root.join("crates"))
        .unwrap()
        .map(|e| e.unwrap().path().join("src"))
        .collect();
    dirs.push(root.join("tests/k3s-double/src"));
    let mut files = Vec::new();
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for path in entries.map(|e| e.unwrap().path()) {
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    assert!(files.len() > 100, "found only {} source files", files.len());
    let mut broken = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        // A variant: from its #[error(...)] to the next one or the end of its enum.
        for (at, _) in text.match_indices("#[error(") {
            let rest = &text[at + "#[error(".len()..];
            if rest.starts_with("transparent)") {
                continue;
            }
            let end = [rest.find("#[error("), rest.find("\n}\n")]
                .into_iter()
                .flatten()
                .min()
                .unwrap_or(rest.len());
            let variant = &rest[..end];
            let returns = variant.contains("#[source]")
                || variant.contains("#[from]")
                || variant.lines().any(|l| {
                    let l = l.trim_start();
                    l.starts_with("source:") || l.starts_with("pub source:")
                });
            // This test's own text, and tests that build such an error on purpose.
            let in_test = text[..at].contains("#[cfg(test)]");
            if returns && !in_test {
                let line = text[..at].lines().count() + 1;
                broken.push(format!("{}:{line}", file.display()));
            }
        }
    }
    assert!(
        broken.is_empty(),
        "errors that return a cause besides their message: {broken:?}"
    );
}

/// Every `: `-separated clause of `message` once: a cause printed by its error and again by
/// the chain that wraps it reads as noise and hides the one that matters.
fn assert_each_clause_once(message: &str) {
    for line in message.lines().filter(|l| !l.trim().is_empty()) {
        let clauses: Vec<String> = line
            .split(": ")
            .map(|c| c.trim().to_lowercase())
            .filter(|c| c.len() > 3)
            .collect();
        for (i, clause) in clauses.iter().enumerate() {
            assert!(
                !clauses[i + 1..].iter().any(|later| later == clause),
                "{clause:?} is said twice in: {line}"
            );
        }
    }
}

#[test]
fn real_failures_name_each_cause_once() {
    // The check itself sees a repeat.
    let repeated = std::panic::catch_unwind(|| {
        assert_each_clause_once("pi: cannot connect to db: refused: cannot connect to db")
    });
    assert!(repeated.is_err());

    let dir = tempfile::tempdir().unwrap();
    // Nothing listens on port 1 of this machine: SSH is refused at once.
    std::fs::write(
        dir.path().join("cluster.toml"),
        "[cluster]\nname = \"t\"\n[ssh]\nuser = \"pi\"\nport = 1\nconnect_timeout = 2\n\
         known_hosts = \"known_hosts\"\n[k3s]\nversion = \"v1.31.4+k3s1\"\n\
         [[nodes]]\nname = \"one\"\naddress = \"127.0.0.1\"\nrole = \"server\"\n",
    )
    .unwrap();
    let (code, out, err) = pikube(dir.path(), &["plan"]);
    let said = format!("{out}{err}");
    assert!(
        code == 1
            && said.contains("one: cannot connect to pi@127.0.0.1")
            && said.contains("refused"),
        "{code}: {said}"
    );
    assert_each_clause_once(&said);

    let (code, _, err) = pikube(dir.path(), &["exec", "two", "--", "true"]);
    assert!(
        code == 1 && err.contains("no node two in cluster.toml (nodes: one)"),
        "{err}"
    );
    assert_each_clause_once(&err);

    // A name no cluster.toml could hold is refused where it is typed, before any file is
    // read or node reached, as a usage error (exit 1: 2 is plan's "changes pending").
    for args in [
        &["exec", "Pi_1", "--", "true"][..],
        &["reset", "--yes", "pi.local"][..],
    ] {
        let (code, _, err) = pikube(dir.path(), args);
        assert!(
            code == 1 && err.contains("is not a valid node name"),
            "{args:?}: {code}: {err}"
        );
    }

    // A database that refuses connections.
    let keys = movies_keys();
    let output = Command::new(env!("CARGO_BIN_EXE_pikube"))
        .args(["serve", "movies", "users", "--listen", "127.0.0.1:0"])
        .env("DATABASE_URL", "postgres://pikube@127.0.0.1:1/users")
        .envs(keys.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.code() == Some(1)
            && err.contains(
                "the users service: cannot connect to postgres://pikube@127.0.0.1:1/users"
            ),
        "{:?}: {err}",
        output.status
    );
    assert_each_clause_once(&err);
}

/// The README's first command, `cargo run --release -- demo`, runs from the workspace root:
/// cargo must find exactly one binary among the default members, and it must be pikube's.
#[test]
fn the_readmes_cargo_run_finds_pikube_alone() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = std::process::Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(&root)
        .output()
        .expect("cargo metadata");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let metadata: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let defaults: Vec<&str> = metadata["workspace_default_members"]
        .as_array()
        .expect("workspace_default_members")
        .iter()
        .filter_map(|m| m.as_str())
        .collect();
    let binaries: Vec<&str> = metadata["packages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| defaults.contains(&p["id"].as_str().unwrap_or("")))
        .flat_map(|p| p["targets"].as_array().unwrap().iter())
        .filter(|t| t["kind"].as_array().unwrap().iter().any(|k| k == "bin"))
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert_eq!(binaries, ["pikube"]);
}

#[test]
fn doctor_judges_only_the_nodes_named_and_refuses_a_name_not_in_the_file() {
    let dir = tempfile::tempdir().unwrap();
    // Nothing listens on port 1 of this machine: SSH is refused at once, so each node's
    // verdict is "reachable: FAIL" without a fleet.
    std::fs::write(
        dir.path().join("cluster.toml"),
        "[cluster]\nname = \"t\"\n[ssh]\nuser = \"pi\"\nport = 1\nconnect_timeout = 2\n\
         known_hosts = \"known_hosts\"\n[k3s]\nversion = \"v1.31.4+k3s1\"\n\
         [[nodes]]\nname = \"one\"\naddress = \"127.0.0.1\"\nrole = \"server\"\n\
         [[nodes]]\nname = \"two\"\naddress = \"127.0.0.2\"\nrole = \"agent\"\n",
    )
    .unwrap();
    let (code, out, err) = pikube(dir.path(), &["doctor", "two"]);
    assert!(
        code == 1 && out.contains("FAIL  two  reachable: ") && !out.contains(" one "),
        "{code}: {out}{err}"
    );
    let (code, out, _) = pikube(dir.path(), &["doctor", "--output", "json", "two"]);
    let findings: serde_json::Value = serde_json::from_str(&out).unwrap();
    let nodes: Vec<&str> = findings
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["node"].as_str())
        .collect();
    assert!(code == 1 && nodes == ["two"], "{code}: {out}");

    let (code, out, err) = pikube(dir.path(), &["doctor", "three"]);
    assert!(
        code == 1 && err.contains("no node three in cluster.toml (nodes: one, two)"),
        "{code}: {out}{err}"
    );
    assert_each_clause_once(&err);
}
