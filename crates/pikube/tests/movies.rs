//! `pikube demo` and `pikube serve movies` through the real binary: the README's booking
//! walkthrough, run as written against the demo; data kept across restarts; and the errors
//! of a bad command line or environment.

use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use pikube_test_support::loopback::{free_port, get};

struct Demo {
    child: Child,
    movies: u16,
}

impl Demo {
    /// Starts the demo on free ports with its data in `data`, and waits for the seeded
    /// screenings.
    fn start(data: &Path) -> Demo {
        let movies = free_port();
        let mut child = Command::new(env!("CARGO_BIN_EXE_pikube"))
            .args(["demo", "--listen", &format!("127.0.0.1:{}", free_port())])
            .args(["--movies-listen", &format!("127.0.0.1:{movies}")])
            .arg("--data-dir")
            .arg(data)
            .env_remove("MOVIES_TOKEN_SIGNING_KEY")
            .env_remove("MOVIES_TOKEN_VERIFYING_KEY")
            .env_remove("DATABASE_URL")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if get(movies, "/api/screenings")
                .is_some_and(|reply| reply.status == 200 && reply.text().contains("\"starts_at\""))
            {
                break;
            }
            assert!(child.try_wait().unwrap().is_none(), "the demo exited early");
            assert!(
                Instant::now() < deadline,
                "no seeded screenings within 60 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Demo { child, movies }
    }

    /// SIGTERM, then the exit code and everything it printed.
    fn stop(mut self) -> (i32, String) {
        let status = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(status.success());
        let deadline = Instant::now() + Duration::from_secs(15);
        let code = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status.code().unwrap_or(-1);
            }
            assert!(Instant::now() < deadline, "no exit within 15 s of SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        };
        let mut stdout = String::new();
        self.child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut stdout)
            .unwrap();
        (code, stdout)
    }
}

/// The README's "Book a seat in the demo" shell block, exactly as a reader copies it.
fn readme_booking_block() -> String {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md"))
            .unwrap();
    let section = readme
        .split_once("### Book a seat in the demo")
        .expect("the README section")
        .1;
    let block = section.split_once("```bash\n").expect("its bash block").1;
    block
        .split_once("```")
        .expect("the end of the block")
        .0
        .to_owned()
}

#[test]
fn the_readme_books_a_seat_in_the_demo_and_the_sale_survives_a_restart() {
    let data = tempfile::tempdir().unwrap();
    let demo = Demo::start(data.path());
    let output = Command::new("bash")
        .args(["-euo", "pipefail", "-c", &readme_booking_block()])
        .env("M", format!("http://127.0.0.1:{}", demo.movies))
        .stdin(Stdio::null())
        .output()
        .expect("bash");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("\"status\": \"held\""), "{stdout}");
    assert!(stdout.contains("\"status\": \"succeeded\""), "{stdout}");
    assert!(
        stdout.contains(r#"{"seat":"C5","state":"sold"}"#),
        "{stdout}"
    );
    assert!(
        stdout.contains(r#"{"seat":"C6","state":"sold"}"#),
        "{stdout}"
    );
    let (code, printed) = demo.stop();
    assert_eq!(code, 0);
    assert!(printed.contains("added 4 movies, 2 cinemas"), "{printed}");

    // Again on the same files: nothing seeded twice, the sale still there.
    let demo = Demo::start(data.path());
    let screenings = get(demo.movies, "/api/screenings?city=Berlin")
        .unwrap()
        .text();
    let first = screenings
        .split("\"id\":\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    let seats = get(demo.movies, &format!("/api/screenings/{first}/seats")).unwrap();
    assert_eq!(seats.status, 200);
    let seats = seats.text();
    assert!(seats.contains(r#"{"seat":"C5","state":"sold"}"#), "{seats}");
    let (code, printed) = demo.stop();
    assert_eq!(code, 0);
    assert!(
        printed.contains("added 0 movies, 0 cinemas, 0 screenings"),
        "{printed}"
    );
}

fn serve_movies(args: &[&str], env: &[(&str, &str)]) -> (i32, String) {
    let data = tempfile::tempdir().unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_pikube"));
    command
        .args(["serve", "movies"])
        .args(args)
        .args(["--listen", &format!("127.0.0.1:{}", free_port())])
        .arg("--data-dir")
        .arg(data.path())
        .env_remove("MOVIES_TOKEN_SIGNING_KEY")
        .env_remove("MOVIES_TOKEN_VERIFYING_KEY")
        .env_remove("DATABASE_URL")
        .stdin(Stdio::null());
    for (name, value) in env {
        command.env(name, value);
    }
    let output = command.output().unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn a_bad_command_line_or_environment_is_named() {
    let (code, stderr) = serve_movies(&["tickets"], &[]);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("unknown Movies service `tickets`") && stderr.contains("reservations"),
        "{stderr}"
    );

    let (code, stderr) = serve_movies(&["all", "users"], &[]);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("`all` already means every service"),
        "{stderr}"
    );

    let (code, stderr) = serve_movies(&["payments"], &[]);
    assert_eq!(code, 1);
    assert!(
        stderr.contains(
            "MOVIES_TOKEN_VERIFYING_KEY is not set: every service checks users' tokens with it"
        ),
        "{stderr}"
    );

    let (code, stderr) = serve_movies(
        &["all"],
        &[("DATABASE_URL", "postgres://u:hunter2@db/movies")],
    );
    assert_eq!(code, 1);
    assert!(stderr.contains("{service}"), "{stderr}");
    assert!(!stderr.contains("hunter2"), "the password leaked: {stderr}");

    // A key made by the real OpenSSL is read as it is (PKCS#8 v1 DER, base64).
    let signing_key = openssl_ed25519_key();
    let (code, stderr) = serve_movies(
        &["users"],
        &[
            ("MOVIES_TOKEN_SIGNING_KEY", &signing_key),
            ("MOVIES_ADMIN_EMAIL", "root@example.org"),
        ],
    );
    assert_eq!(code, 1);
    assert!(
        stderr.contains("MOVIES_ADMIN_PASSWORD") && !stderr.contains("MOVIES_TOKEN"),
        "{stderr}"
    );
    let (code, stderr) = serve_movies(&["users"], &[("MOVIES_TOKEN_SIGNING_KEY", "bm90IGEga2V5")]);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("MOVIES_TOKEN_SIGNING_KEY: not an Ed25519 private key")
            && !stderr.contains("bm90IGEga2V5"),
        "{stderr}"
    );
}

/// An Ed25519 private key from `openssl genpkey`, as base64 of its DER.
fn openssl_ed25519_key() -> String {
    let output = Command::new("sh")
        .args([
            "-c",
            "openssl genpkey -algorithm ed25519 -outform DER | base64 -w0",
        ])
        .output()
        .expect("run openssl");
    assert!(output.status.success(), "{output:?}");
    String::from_utf8(output.stdout).unwrap()
}
