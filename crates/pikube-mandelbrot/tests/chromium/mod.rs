//! Headless Chromium driven over the DevTools protocol (a WebSocket), so that a test can send
//! real mouse events, evaluate JavaScript in the page and take screenshots.
//!
//! Needs `/usr/bin/chromium` (Debian package `chromium`); no driver program in between.

// Each browser test binary uses a different part of this client.
#![allow(dead_code)]

use std::{
    io::{BufRead, BufReader},
    net::TcpStream,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::mpsc,
    time::{Duration, Instant},
};

use base64::Engine as _;
use serde_json::{json, Value};
use tungstenite::{Message, WebSocket};

pub const CHROMIUM: &str = "/usr/bin/chromium";

/// Whether the browser tests can run. Without Chromium they are skipped (with a note), unless
/// `PIKUBE_REQUIRE_BROWSER` is set: then a missing browser fails the test, so CI cannot pass
/// by skipping them.
pub fn available() -> bool {
    if Path::new(CHROMIUM).exists() {
        return true;
    }
    assert!(
        std::env::var_os("PIKUBE_REQUIRE_BROWSER").is_none(),
        "{CHROMIUM} missing and PIKUBE_REQUIRE_BROWSER is set"
    );
    eprintln!("skipped: {CHROMIUM} is not installed");
    false
}

/// One headless Chromium with one page, killed on drop.
pub struct Browser {
    child: Child,
    socket: WebSocket<TcpStream>,
    session: String,
    next_id: u64,
    profile: PathBuf,
}

/// How long one protocol call may take before the test fails instead of hanging.
const CALL_TIMEOUT: Duration = Duration::from_secs(60);

impl Browser {
    /// Starts Chromium with a `width` × `height` window and opens a blank page.
    pub fn launch(width: u32, height: u32) -> Browser {
        let profile = std::env::temp_dir().join(format!(
            "pikube-chromium-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        std::fs::create_dir_all(&profile).unwrap();
        let mut child = Command::new(CHROMIUM)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--hide-scrollbars",
                "--no-first-run",
                "--force-device-scale-factor=1",
                // Port 0: Chromium picks a free port and prints the URL on stderr.
                "--remote-debugging-port=0",
                &format!("--user-data-dir={}", profile.display()),
                &format!("--window-size={width},{height}"),
                "about:blank",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start chromium");
        let url = devtools_url(&mut child);
        let socket = connect(&url);
        let mut browser = Browser {
            child,
            socket,
            session: String::new(),
            next_id: 0,
            profile,
        };
        let target = browser.call_browser("Target.createTarget", json!({ "url": "about:blank" }));
        let attached = browser.call_browser(
            "Target.attachToTarget",
            json!({ "targetId": target["targetId"], "flatten": true }),
        );
        browser.session = attached["sessionId"].as_str().unwrap().to_owned();
        browser
    }

    /// Calls `method` on the page and returns its result.
    pub fn call(&mut self, method: &str, params: Value) -> Value {
        let session = self.session.clone();
        self.send(method, params, Some(&session))
            .unwrap_or_else(|error| panic!("{method} failed: {error}"))
    }

    fn call_browser(&mut self, method: &str, params: Value) -> Value {
        self.send(method, params, None)
            .unwrap_or_else(|error| panic!("{method} failed: {error}"))
    }

    /// The result of a call, or the protocol's error.
    fn send(&mut self, method: &str, params: Value, session: Option<&str>) -> Result<Value, Value> {
        self.next_id += 1;
        let id = self.next_id;
        let mut message = json!({ "id": id, "method": method, "params": params });
        if let Some(session) = session {
            message["sessionId"] = json!(session);
        }
        self.socket
            .send(Message::text(message.to_string()))
            .unwrap_or_else(|error| panic!("send {method}: {error}"));
        let deadline = Instant::now() + CALL_TIMEOUT;
        loop {
            assert!(Instant::now() < deadline, "{method}: no answer");
            let reply = match self.socket.read() {
                Ok(Message::Text(text)) => text,
                Ok(_) => continue,
                Err(error) => panic!("{method}: {error}"),
            };
            let reply: Value = serde_json::from_str(reply.as_str()).unwrap();
            // Events (no id) and answers to other calls are not what this call waits for.
            if reply["id"] != json!(id) {
                continue;
            }
            return match reply.get("error") {
                Some(error) => Err(error.clone()),
                None => Ok(reply["result"].clone()),
            };
        }
    }

    /// Loads `url` in the page (without waiting for anything the page does after that).
    pub fn navigate(&mut self, url: &str) {
        self.call("Page.navigate", json!({ "url": url }));
    }

    /// The value of a JavaScript expression in the page (promises awaited).
    pub fn eval(&mut self, expression: &str) -> Value {
        self.try_eval(expression)
            .unwrap_or_else(|error| panic!("{expression}: {error}"))
    }

    /// [`Browser::eval`], with the exception or protocol error (e.g. while the page is
    /// being replaced by a navigation) as an error.
    fn try_eval(&mut self, expression: &str) -> Result<Value, Value> {
        let session = self.session.clone();
        let result = self.send(
            "Runtime.evaluate",
            json!({ "expression": expression, "returnByValue": true, "awaitPromise": true }),
            Some(&session),
        )?;
        match result.get("exceptionDetails") {
            Some(exception) => Err(exception.clone()),
            None => Ok(result["result"]["value"].clone()),
        }
    }

    /// Polls `expression` until it is `true`; panics with `describe`'s value after `timeout`.
    /// Errors count as "not yet": the page may still be loading.
    pub fn wait_for(&mut self, expression: &str, describe: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while self.try_eval(expression).ok() != Some(json!(true)) {
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {expression}: {}",
                self.eval(describe)
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// A mouse event at viewport coordinates (CSS pixels), with the left button.
    pub fn mouse(&mut self, kind: &str, x: f64, y: f64) {
        let buttons = if kind == "mouseReleased" { 0 } else { 1 };
        self.call(
            "Input.dispatchMouseEvent",
            json!({
                "type": kind, "x": x, "y": y, "button": "left", "buttons": buttons,
                "clickCount": if kind == "mouseMoved" { 0 } else { 1 },
            }),
        );
    }

    /// A PNG of the viewport rectangle `[x, x + width) × [y, y + height)` at one device
    /// pixel per CSS pixel.
    pub fn screenshot(&mut self, x: f64, y: f64, width: f64, height: f64) -> Vec<u8> {
        let shot = self.call(
            "Page.captureScreenshot",
            json!({
                "format": "png",
                "clip": { "x": x, "y": y, "width": width, "height": height, "scale": 1 },
            }),
        );
        base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().unwrap())
            .unwrap()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

/// Reads Chromium's stderr up to `DevTools listening on ws://…`, then keeps draining it in a
/// thread so that a full pipe never blocks the browser.
fn devtools_url(child: &mut Child) -> String {
    let stderr = child.stderr.take().unwrap();
    let (found, url) = mpsc::channel();
    std::thread::spawn(move || {
        let mut found = Some(found);
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if let Some(at) = line.find("ws://") {
                if let Some(found) = found.take() {
                    let _ = found.send(line[at..].trim().to_owned());
                }
            }
        }
    });
    url.recv_timeout(Duration::from_secs(30))
        .expect("chromium did not print its DevTools URL")
}

fn connect(url: &str) -> WebSocket<TcpStream> {
    let host = url
        .strip_prefix("ws://")
        .and_then(|rest| rest.split('/').next())
        .unwrap();
    let stream = TcpStream::connect(host).unwrap();
    // A read timeout turns a silent browser into a failed test rather than a hung one.
    stream.set_read_timeout(Some(CALL_TIMEOUT)).unwrap();
    let (socket, _) = tungstenite::client(url, stream).expect("DevTools WebSocket handshake");
    socket
}

/// The Mandelbrot service on a loopback port, on its own runtime, for a browser to load.
pub struct PageServer {
    runtime: tokio::runtime::Runtime,
    stop: tokio::sync::oneshot::Sender<()>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
    /// `http://127.0.0.1:<port>`.
    pub base: String,
}

impl PageServer {
    /// Serves with `X-Served-By: <served_by>`, so a test can see which server drew a part.
    pub fn start(served_by: &str) -> PageServer {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind(std::net::SocketAddr::from((
                [127, 0, 0, 1],
                0,
            ))))
            .unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let config = pikube_mandelbrot::ServiceConfig {
            served_by: served_by.into(),
            ..pikube_mandelbrot::ServiceConfig::default()
        };
        let server = runtime.spawn(pikube_mandelbrot::serve(listener, config, async {
            let _ = stopped.await;
        }));
        PageServer {
            runtime,
            stop,
            server,
            base,
        }
    }

    /// Shuts the server down gracefully; it must end without an error.
    pub fn stop(self) {
        let _ = self.stop.send(());
        self.runtime.block_on(self.server).unwrap().unwrap();
    }
}
