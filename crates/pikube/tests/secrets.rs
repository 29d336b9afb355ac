//! `pikube secrets`: secrets.age beside cluster.toml, checked against the real `age` tool
//! (Debian's age package), with age and SSH keys and a passphrase. No nodes involved.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

struct Lab {
    dir: tempfile::TempDir,
}

impl Lab {
    fn new() -> Lab {
        let lab = Lab {
            dir: tempfile::tempdir().unwrap(),
        };
        std::fs::create_dir_all(lab.home()).unwrap();
        std::fs::create_dir_all(lab.path().join("tmp")).unwrap();
        lab
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn home(&self) -> PathBuf {
        self.path().join("home")
    }

    /// pikube in the lab: its own HOME, no inherited identity or passphrase.
    fn pikube(&self, args: &[&str], stdin: &str, env: &[(&str, &str)]) -> Output {
        let mut command = Command::new(env!("CARGO_BIN_EXE_pikube"));
        command
            .args(args)
            .current_dir(self.path())
            .env("HOME", self.home())
            .env("TMPDIR", self.path().join("tmp"))
            .env_remove("XDG_CONFIG_HOME")
            .env_remove("PIKUBE_AGE_IDENTITY")
            .env_remove("PIKUBE_SECRETS_PASSPHRASE")
            .env_remove("PIKUBE_FILE")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (key, value) in env {
            command.env(key, value);
        }
        let mut child = command.spawn().expect("run pikube");
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    }

    fn ok(&self, args: &[&str], stdin: &str, env: &[(&str, &str)]) -> String {
        let output = self.pikube(args, stdin, env);
        assert!(
            output.status.success(),
            "pikube {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    }

    fn fails(&self, args: &[&str], env: &[(&str, &str)]) -> String {
        let output = self.pikube(args, "", env);
        assert_eq!(output.status.code(), Some(1), "pikube {args:?} should fail");
        String::from_utf8(output.stderr).unwrap()
    }

    /// The real age tool's view of secrets.age.
    fn age_decrypt(&self, identity: &Path) -> String {
        let output = Command::new("age")
            .args(["--decrypt", "-i"])
            .arg(identity)
            .arg(self.path().join("secrets.age"))
            .output()
            .expect("the age tool (Debian package age)");
        assert!(
            output.status.success(),
            "age -d: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    }
}

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn pikubes_own_key_set_get_list_rm_and_the_age_tool_reads_the_file() {
    let lab = Lab::new();
    lab.ok(&["secrets", "init"], "", &[]);
    let identity = lab.home().join(".config/pikube/identity");
    assert_eq!(mode(&identity), 0o600);
    assert_eq!(mode(identity.parent().unwrap()), 0o700);
    let sealed = std::fs::read_to_string(lab.path().join("secrets.age")).unwrap();
    assert!(
        sealed.starts_with("-----BEGIN AGE ENCRYPTED FILE-----"),
        "{sealed}"
    );

    // Values from standard input: never on a command line.
    let tricky = "pa\"ss word\\ with = and # in it";
    lab.ok(
        &["secrets", "set", "sudo_password"],
        &format!("{tricky}\n"),
        &[],
    );
    lab.ok(
        &["secrets", "set", "nodes.pi-1.sudo_password"],
        "other",
        &[],
    );
    assert_eq!(
        lab.ok(&["secrets", "get", "sudo_password"], "", &[]),
        tricky
    );
    assert_eq!(
        lab.ok(&["secrets", "list"], "", &[]),
        "nodes.pi-1.sudo_password\nsudo_password\n"
    );
    let sealed = std::fs::read_to_string(lab.path().join("secrets.age")).unwrap();
    assert!(!sealed.contains("pa\"ss"), "stored in clear");

    // The real age tool opens what pikube wrote.
    let plain = lab.age_decrypt(&identity);
    assert!(
        plain.contains("\"nodes.pi-1.sudo_password\" = \"other\""),
        "{plain}"
    );

    lab.ok(&["secrets", "rm", "nodes.pi-1.sudo_password"], "", &[]);
    assert_eq!(lab.ok(&["secrets", "list"], "", &[]), "sudo_password\n");
    let err = lab.fails(&["secrets", "get", "nodes.pi-1.sudo_password"], &[]);
    assert!(
        err.contains("has no secret named nodes.pi-1.sudo_password"),
        "{err}"
    );
    let err = lab.fails(&["secrets", "set", "nodes.$(id)"], &[]);
    assert!(err.contains("is not a secret name"), "{err}");
    // Nothing decrypted was left in the temporary directory.
    assert_eq!(
        std::fs::read_dir(lab.path().join("tmp")).unwrap().count(),
        0
    );
}

#[test]
fn a_team_of_ssh_and_age_keys_rekey_and_a_file_for_someone_else() {
    let lab = Lab::new();
    let ssh_key = lab.path().join("id_ed25519");
    let keygen = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "ada", "-f"])
        .arg(&ssh_key)
        .status()
        .unwrap();
    assert!(keygen.success());
    let ssh_pub = std::fs::read_to_string(ssh_key.with_extension("pub")).unwrap();
    let bob_key = lab.path().join("bob.key");
    let keygen = Command::new("age-keygen")
        .arg("-o")
        .arg(&bob_key)
        .output()
        .unwrap();
    assert!(keygen.status.success());
    let bob_pub = String::from_utf8(
        Command::new("age-keygen")
            .arg("-y")
            .arg(&bob_key)
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();

    // Encrypted to Ada's SSH key only: Bob cannot open it.
    lab.ok(&["secrets", "init", "--recipient", ssh_pub.trim()], "", &[]);
    let ada = [("PIKUBE_AGE_IDENTITY", ssh_key.to_str().unwrap())];
    let bob = [("PIKUBE_AGE_IDENTITY", bob_key.to_str().unwrap())];
    lab.ok(&["secrets", "set", "bootstrap_password"], "raspberry", &ada);
    assert!(lab.age_decrypt(&ssh_key).contains("raspberry"));
    let err = lab.fails(&["secrets", "get", "bootstrap_password"], &bob);
    assert!(
        err.contains("is encrypted to other keys") && err.contains("bob.key"),
        "{err}"
    );
    // No identity at all.
    let err = lab.fails(&["secrets", "list"], &[]);
    assert!(err.contains("none found"), "{err}");

    // Ada adds Bob to the recipients and re-encrypts: both open it, with the age tool too.
    let recipients = lab.path().join("secrets.recipients");
    let mut text = std::fs::read_to_string(&recipients).unwrap();
    text.push_str(&bob_pub);
    std::fs::write(&recipients, text).unwrap();
    lab.ok(&["secrets", "rekey"], "", &ada);
    assert_eq!(
        lab.ok(&["secrets", "get", "bootstrap_password"], "", &bob),
        "raspberry"
    );
    assert!(lab.age_decrypt(&bob_key).contains("raspberry"));
    assert!(lab.age_decrypt(&ssh_key).contains("raspberry"));

    // A bad recipients line is named with its file and line.
    std::fs::write(&recipients, format!("{bob_pub}not-a-key\n")).unwrap();
    let err = lab.fails(&["secrets", "rekey"], &bob);
    assert!(err.contains("secrets.recipients, line 2"), "{err}");
}

#[test]
fn a_passphrase_and_edit_through_the_editor() {
    let lab = Lab::new();
    let pass = [("PIKUBE_SECRETS_PASSPHRASE", "correct horse battery")];
    lab.ok(&["secrets", "init", "--passphrase"], "", &pass);
    lab.ok(&["secrets", "set", "sudo_password"], "s3cret", &pass);
    assert_eq!(
        lab.ok(&["secrets", "get", "sudo_password"], "", &pass),
        "s3cret"
    );
    let err = lab.fails(
        &["secrets", "get", "sudo_password"],
        &[("PIKUBE_SECRETS_PASSPHRASE", "wrong")],
    );
    assert!(err.contains("wrong passphrase"), "{err}");
    // Without a terminal or the variable it cannot be asked.
    let err = lab.fails(&["secrets", "get", "sudo_password"], &[]);
    assert!(err.contains("PIKUBE_SECRETS_PASSPHRASE"), "{err}");

    // An "editor" that adds a line; the draft must be private while it exists.
    let editor = lab.path().join("editor.sh");
    std::fs::write(
        &editor,
        "#!/bin/sh\nstat -c %a \"$1\" > \"$(dirname \"$0\")/draft-mode\"\n\
         printf '\"backup.s3.secret_key\" = \"abc\"\\n' >> \"$1\"\n",
    )
    .unwrap();
    std::process::Command::new("chmod")
        .arg("+x")
        .arg(&editor)
        .status()
        .unwrap();
    let lab_editor = format!("{}", editor.display());
    let mut env = pass.to_vec();
    env.push(("EDITOR", &lab_editor));
    env.push(("VISUAL", &lab_editor));
    lab.ok(&["secrets", "edit"], "", &env);
    assert_eq!(
        std::fs::read_to_string(lab.path().join("draft-mode"))
            .unwrap()
            .trim(),
        "600"
    );
    assert_eq!(
        lab.ok(&["secrets", "list"], "", &pass),
        "backup.s3.secret_key\nsudo_password\n"
    );
    assert_eq!(
        std::fs::read_dir(lab.path().join("tmp")).unwrap().count(),
        0
    );

    // An edit that breaks the format changes nothing.
    std::fs::write(&editor, "#!/bin/sh\necho 'port = 22' >> \"$1\"\n").unwrap();
    let output = lab.pikube(&["secrets", "edit"], "", &env);
    assert_eq!(output.status.code(), Some(1));
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(
        err.contains("port is a integer") && err.contains("nothing was changed"),
        "{err}"
    );
    assert_eq!(
        lab.ok(&["secrets", "get", "backup.s3.secret_key"], "", &pass),
        "abc"
    );
    assert_eq!(
        std::fs::read_dir(lab.path().join("tmp")).unwrap().count(),
        0
    );
}
