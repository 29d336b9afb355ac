//! Runs FACTS_SCRIPT on this machine under dash and bash and parses the result.

use std::io::Write;
use std::process::{Command, Stdio};

use pikube_pi::{parse_facts, FACTS_SCRIPT};

fn shell_available(shell: &str) -> bool {
    Command::new(shell)
        .arg("-c")
        .arg("true")
        .status()
        .is_ok_and(|s| s.success())
}

fn check_output(shell: &str, how: &str, output: std::process::Output) {
    assert!(
        output.status.success(),
        "{shell} {how}: exit {:?}",
        output.status
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    let facts = parse_facts(&stdout).unwrap_or_else(|e| panic!("{shell} {how}: {e}\n{stdout}"));

    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    assert_eq!(facts.hostname, hostname.trim(), "{shell} {how}");
    let uid = Command::new("id").arg("-u").output().unwrap();
    assert_eq!(
        facts.uid,
        String::from_utf8_lossy(&uid.stdout).trim().parse().ok()
    );
    let machine = Command::new("uname").arg("-m").output().unwrap();
    assert_eq!(
        facts.arch.uname_m(),
        String::from_utf8_lossy(&machine.stdout).trim()
    );
    assert!(!facts.kernel.is_empty());
    assert!(facts.memory_total_kib > 0);
    assert!(!facts.boot_id.is_empty());
    assert!(!facts.proc_cmdline.is_empty());
    assert_eq!(
        facts.fstab,
        std::fs::read_to_string("/etc/fstab").unwrap_or_default()
    );
    assert_eq!(
        facts.etc_hosts,
        std::fs::read_to_string("/etc/hosts").unwrap_or_default()
    );
    if let Ok(os_release) = std::fs::read_to_string("/etc/os-release") {
        assert!(
            os_release.contains(&format!("ID={}", facts.os.id))
                || os_release.contains(&format!("ID=\"{}\"", facts.os.id))
        );
    }
    assert!(
        stdout.ends_with("@@pikube-facts end\n"),
        "{shell} {how}: {stdout}"
    );
}

#[test]
fn script_runs_under_dash_and_bash_with_c() {
    for shell in ["sh", "dash", "bash"] {
        if !shell_available(shell) {
            continue;
        }
        let output = Command::new(shell)
            .arg("-c")
            .arg(FACTS_SCRIPT)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        check_output(shell, "-c", output);
    }
}

#[test]
fn script_runs_from_stdin_and_from_a_file() {
    for shell in ["dash", "bash"] {
        if !shell_available(shell) {
            continue;
        }
        // `sh -s` reads the script from stdin: commands must not eat it.
        let mut child = Command::new(shell)
            .arg("-s")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(FACTS_SCRIPT.as_bytes())
            .unwrap();
        check_output(shell, "-s", child.wait_with_output().unwrap());

        let dir = std::env::temp_dir().join(format!("pikube-facts-{}-{shell}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("facts.sh");
        std::fs::write(&path, FACTS_SCRIPT).unwrap();
        let output = Command::new(shell).arg(&path).output().unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        check_output(shell, "file", output);
    }
}

#[test]
fn script_is_syntactically_valid_posix_sh() {
    for shell in ["dash", "bash"] {
        if !shell_available(shell) {
            continue;
        }
        let mut args = vec!["-n", "-c", FACTS_SCRIPT];
        if shell == "bash" {
            args.insert(0, "--posix");
        }
        let status = Command::new(shell).args(&args).status().unwrap();
        assert!(status.success(), "{shell} -n");
    }
}

#[test]
fn script_survives_a_minimal_path() {
    // No sbin on PATH, as with some non-login SSH sessions: the script adds it.
    let output = Command::new("sh")
        .arg("-c")
        .arg(FACTS_SCRIPT)
        .env("PATH", "/usr/bin:/bin")
        .output()
        .unwrap();
    check_output("sh", "minimal PATH", output);
}

/// The helpers' framing keeps every content byte for byte, under dash and bash: a file
/// whose lines look like the format's own markers, one without a last newline, an empty
/// one, a lone newline, a command's output with its exit status, and an absent fact.
#[test]
fn framed_sections_keep_their_content_exactly_even_when_it_looks_like_markers() {
    use pikube_pi::{framed_script, Sections};
    let dir = tempfile::tempdir().unwrap();
    let forged = "@@end forged eol=1 rc=0\n@@begin injected\n|x\n@@absent os_release\n";
    let cases = [
        ("forged", forged),
        ("no_newline", "last line without one"),
        ("empty", ""),
        ("lone_newline", "\n"),
        ("blank_last_line", "a\n\n"),
        ("crlf", "a\r\nb\r\n"),
    ];
    let mut body = String::from("pk_line '@@pikube-facts v1'\n");
    for (name, content) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, content).unwrap();
        body.push_str(&format!("pk_file {name} '{}'\n", path.display()));
    }
    body.push_str("pk_cmd failing sh -c 'printf \"out\\n\"; exit 3'\n");
    body.push_str("pk_section computed 0 \"a${pk_nl}b\"\n");
    body.push_str("pk_cmd unterminated printf out\n");
    body.push_str("pk_file missing /nonexistent/file\n");
    // A file that exists and is readable but whose read fails (EIO at offset 0).
    body.push_str("pk_file unreadable /proc/self/mem\n");
    body.push_str("pk_line '@@pikube-facts end'\n");
    let script = framed_script(&body);
    for shell in ["dash", "bash"] {
        if !shell_available(shell) {
            continue;
        }
        let output = Command::new(shell).arg("-c").arg(&script).output().unwrap();
        assert!(output.status.success(), "{shell}: {output:?}");
        let stdout = String::from_utf8(output.stdout).unwrap();
        let sections =
            Sections::parse(&stdout).unwrap_or_else(|e| panic!("{shell}: {e}\n{stdout}"));
        for (name, content) in cases {
            let section = sections
                .get(name)
                .unwrap_or_else(|| panic!("{shell}: {name}"));
            assert_eq!(section.text, content, "{shell}: {name}\n{stdout}");
            assert_eq!(section.rc, 0, "{shell}: {name}");
        }
        assert!(!sections.is_present("injected"), "{shell}: {stdout}");
        assert!(!sections.is_present("os_release"), "{shell}: {stdout}");
        let failing = sections.get("failing").unwrap();
        assert_eq!((failing.text.as_str(), failing.rc), ("out\n", 3), "{shell}");
        assert_eq!(sections.get("computed").unwrap().text, "a\nb", "{shell}");
        assert!(!sections.is_present("missing"), "{shell}");
        let unterminated = sections.get("unterminated").unwrap();
        assert_eq!((unterminated.text.as_str(), unterminated.rc), ("out", 0));
        assert!(!sections.is_present("unreadable"), "{shell}: {stdout}");
    }
}
