//! A minimal HTTP/1.1 over plain TCP, one request per connection. The double
//! speaks plain HTTP on the port real k3s serves HTTPS on; an `https://` URL
//! only names the host and port.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

const MAX_BODY: usize = 16 << 20;

#[derive(Debug)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn bearer(&self) -> Option<&str> {
        self.header("authorization")?.strip_prefix("Bearer ")
    }
}

#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub body: Vec<u8>,
}

impl Response {
    pub fn json(status: u16, value: &impl serde::Serialize) -> Response {
        Response {
            status,
            body: serde_json::to_vec(value).expect("serializable"),
        }
    }

    pub fn text(status: u16, text: impl Into<String>) -> Response {
        Response {
            status,
            body: text.into().into_bytes(),
        }
    }
}

pub fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        _ => "Internal Server Error",
    }
}

pub type Handler = Arc<dyn Fn(Request) -> Response + Send + Sync>;

/// Accepts forever, one thread per connection.
pub fn serve(listener: TcpListener, handler: Handler) {
    for stream in listener.incoming().flatten() {
        let handler = handler.clone();
        std::thread::spawn(move || {
            let _ = handle(stream, &handler);
        });
    }
}

fn handle(stream: TcpStream, handler: &Handler) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let (Some(method), Some(path)) = (parts.next(), parts.next()) else {
        return Ok(());
    };
    let (method, path) = (method.to_string(), path.to_string());
    let headers = read_headers(&mut reader)?;
    let body = read_body(&mut reader, &headers)?;
    let response = handler(Request {
        method,
        path,
        headers,
        body,
    });
    write_message(
        &mut &stream,
        &format!("HTTP/1.1 {} {}", response.status, reason(response.status)),
        &[],
        &response.body,
    )
}

fn read_headers(reader: &mut impl BufRead) -> std::io::Result<Vec<(String, String)>> {
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            break;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    Ok(headers)
}

fn read_body(reader: &mut impl Read, headers: &[(String, String)]) -> std::io::Result<Vec<u8>> {
    let length = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse::<usize>().ok())
        .unwrap_or(0);
    if length > MAX_BODY {
        return Err(std::io::Error::other("body too large"));
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    Ok(body)
}

fn write_message(
    mut stream: impl Write,
    first_line: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<()> {
    let mut head = format!("{first_line}\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    ));
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)?;
    stream.flush()
}

/// `https://host:port/anything` → `host:port` (port 6443 when absent).
pub fn host_port(url: &str) -> String {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .unwrap_or(url);
    let authority = rest.split('/').next().unwrap_or(rest);
    let has_port = match authority.rfind(']') {
        Some(bracket) => authority[bracket..].contains(':'),
        None => authority.contains(':'),
    };
    if has_port {
        authority.to_string()
    } else {
        format!("{authority}:6443")
    }
}

/// The answer of a call; `Err` only when the server could not be talked to.
pub struct Reply {
    pub status: u16,
    pub body: Vec<u8>,
}

pub fn call(
    base_url: &str,
    method: &str,
    path: &str,
    bearer: Option<&str>,
    body: Option<&[u8]>,
) -> std::io::Result<Reply> {
    let authority = host_port(base_url);
    let stream = connect(&authority)?;
    let auth = bearer.map(|b| format!("Bearer {b}"));
    let mut headers = vec![("Content-Type", "application/json")];
    if let Some(auth) = &auth {
        headers.push(("Authorization", auth));
    }
    exchange(
        stream,
        &authority,
        method,
        path,
        &headers,
        body.unwrap_or_default(),
    )
}

/// A TCP connection with the double's timeouts.
pub fn connect(authority: &str) -> std::io::Result<TcpStream> {
    let addr = authority
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| std::io::Error::other(format!("no address for {authority}")))?;
    let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(3))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    stream.set_write_timeout(Some(Duration::from_secs(10)))?;
    Ok(stream)
}

/// One request and its response over `stream` (plain or TLS), then the connection closes.
pub fn exchange<S: Read + Write>(
    mut stream: S,
    authority: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<Reply> {
    let mut all = vec![("Host", authority)];
    all.extend_from_slice(headers);
    write_message(
        &mut stream,
        &format!("{method} {path} HTTP/1.1"),
        &all,
        body,
    )?;
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let status = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("malformed response {line:?}")))?;
    let headers = read_headers(&mut reader)?;
    let body = read_response_body(&mut reader, &headers)?;
    Ok(Reply { status, body })
}

/// A response body: by Content-Length, chunked, or up to the end of the connection.
fn read_response_body(
    reader: &mut impl BufRead,
    headers: &[(String, String)],
) -> std::io::Result<Vec<u8>> {
    let header = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    };
    if header("content-length").is_some() {
        return read_body(reader, headers);
    }
    let mut body = Vec::new();
    if header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        loop {
            let mut size = String::new();
            reader.read_line(&mut size)?;
            let size = usize::from_str_radix(size.trim().split(';').next().unwrap_or(""), 16)
                .map_err(|_| std::io::Error::other("malformed chunk size"))?;
            if body.len() + size > MAX_BODY {
                return Err(std::io::Error::other("body too large"));
            }
            let start = body.len();
            body.resize(start + size, 0);
            reader.read_exact(&mut body[start..])?;
            let mut crlf = String::new();
            reader.read_line(&mut crlf)?;
            if size == 0 {
                return Ok(body);
            }
        }
    }
    reader.take(MAX_BODY as u64).read_to_end(&mut body)?;
    Ok(body)
}

#[cfg(test)]
mod tests {
    #[test]
    fn host_ports() {
        assert_eq!(super::host_port("https://10.0.0.1:6443"), "10.0.0.1:6443");
        assert_eq!(super::host_port("https://pi1"), "pi1:6443");
        assert_eq!(super::host_port("https://pi1:7443/x/y"), "pi1:7443");
        assert_eq!(super::host_port("https://[::1]:7443"), "[::1]:7443");
        assert_eq!(super::host_port("https://[::1]"), "[::1]:6443");
    }
}
