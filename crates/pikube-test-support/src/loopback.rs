//! Plain networking on 127.0.0.1 for tests that start servers as processes: a free port to
//! give one, and an HTTP/1.1 GET to ask it, with no client library between the test and
//! the bytes the server wrote.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

/// A port on 127.0.0.1 that was free a moment ago (the kernel's pick). Another process may
/// take it before the caller's server binds it; callers that start many servers retry.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// What a server answered to [`get`].
#[derive(Debug)]
pub struct Reply {
    /// The status code (`200`).
    pub status: u16,
    /// The header lines, lower-cased (`content-type: text/html`), one a line.
    pub headers: String,
    /// The body as sent.
    pub body: Vec<u8>,
}

impl Reply {
    /// The body as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// A plain HTTP/1.1 `GET path` to 127.0.0.1:`port` (`Connection: close`, read to the end,
/// 20 s at most): `None` while nothing answers there or the answer is not HTTP.
pub fn get(port: u16, path: &str) -> Option<Reply> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).ok()?;
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&raw[..split]);
    let (status_line, headers) = head.split_once("\r\n").unwrap_or((&head, ""));
    let status = status_line.split(' ').nth(1)?.parse().ok()?;
    Some(Reply {
        status,
        headers: headers.to_lowercase(),
        body: raw[split + 4..].to_vec(),
    })
}
