//! sd_notify(3) in a few lines: `READY=1` to `$NOTIFY_SOCKET` (a path, or an
//! abstract socket when it starts with `@`), for `Type=notify` units.

use std::os::unix::net::UnixDatagram;

pub fn notify(state: &str) {
    let Some(socket) = std::env::var_os("NOTIFY_SOCKET") else {
        return;
    };
    let socket = socket.to_string_lossy().into_owned();
    if let Err(e) = send(&socket, state) {
        crate::log::warn(&format!("failed to notify systemd at {socket}: {e}"));
    }
}

fn send(socket: &str, state: &str) -> std::io::Result<()> {
    let sock = UnixDatagram::unbound()?;
    match socket.strip_prefix('@') {
        Some(name) => {
            use std::os::linux::net::SocketAddrExt;
            let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes())?;
            sock.send_to_addr(state.as_bytes(), &addr)?;
        }
        None => {
            sock.send_to(state.as_bytes(), socket)?;
        }
    }
    Ok(())
}

pub fn ready() {
    notify("READY=1");
}

#[cfg(test)]
mod tests {
    #[test]
    fn sends_to_a_path_socket() {
        let path = std::env::temp_dir().join(format!("k3sd-notify-{}", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let listener = std::os::unix::net::UnixDatagram::bind(&path).unwrap();
        super::send(path.to_str().unwrap(), "READY=1").unwrap();
        let mut buf = [0u8; 32];
        let n = listener.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"READY=1");
        let _ = std::fs::remove_file(&path);
    }
}
