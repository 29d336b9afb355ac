//! `proxy_jump` in OpenSSH `-J` syntax: `[user@]host[:port]`, comma-separated,
//! or `ssh://[user@]host[:port]`. Checked here so a typo is not reported by
//! ssh as an unhelpful connection failure on every node behind the gateway.

/// Why a `proxy_jump` value is malformed.
///
/// OpenSSH turns `-J` into a ProxyCommand run by the local shell, so a hop such as
/// `u$(touch${IFS}x)@gw` would run a command on this machine when any pikube command
/// connects (security review L1). Hops are therefore limited to the characters user names,
/// host names and addresses are made of.
pub(crate) fn check(spec: &str) -> Result<(), String> {
    if spec.chars().any(char::is_whitespace) {
        return Err(format!(
            "{spec:?} contains whitespace; separate hops with ','"
        ));
    }
    if let Some(bad) = spec.chars().find(|c| !allowed(*c)) {
        return Err(format!(
            "{spec:?} contains {bad:?}; a jump host is [user@]host[:port] made of letters, \
             digits and . _ - : @ [ ] / , (the shell would read anything else)"
        ));
    }
    for hop in spec.split(',') {
        check_hop(hop).map_err(|why| format!("{spec:?} is not a valid jump host list: {why}"))?;
    }
    Ok(())
}

fn allowed(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | ':' | '@' | '[' | ']' | '/' | ',')
}

fn check_hop(hop: &str) -> Result<(), String> {
    let target = hop.strip_prefix("ssh://").unwrap_or(hop);
    let host_port = match target.rsplit_once('@') {
        Some(("", _)) => return Err(format!("hop {hop:?} has an empty user")),
        Some((_, host_port)) => host_port,
        None => target,
    };
    let (host, port) = split_port(host_port);
    if host.is_empty() {
        return Err(if hop.is_empty() {
            "a hop is empty".to_owned()
        } else {
            format!("hop {hop:?} has no host")
        });
    }
    if let Some(port) = port {
        match port.parse::<u16>() {
            Ok(p) if p > 0 => {}
            _ => return Err(format!("hop {hop:?} has port {port:?}; use 1..=65535")),
        }
    }
    Ok(())
}

/// `host:22`, `[fd00::1]:22`, or a bare host (a bare IPv6 has no port).
fn split_port(s: &str) -> (&str, Option<&str>) {
    if let Some(rest) = s.strip_prefix('[') {
        return match rest.split_once(']') {
            Some((host, tail)) => (host, tail.strip_prefix(':')),
            None => (s, None),
        };
    }
    match s.split_once(':') {
        Some((host, port)) if !port.contains(':') => (host, Some(port)),
        _ => (s, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_openssh_forms() {
        for ok in [
            "gateway",
            "pi@gateway",
            "pi@gateway:2222",
            "a,b@c:22",
            "ssh://pi@gw:22",
            "[fd00::1]:22",
            "fd00::1",
        ] {
            assert_eq!(check(ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn rejects() {
        for bad in ["", "a,,b", "pi@", "@gw", "gw:0", "gw:x", "gw:70000", "a, b"] {
            assert!(check(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn refuses_what_the_local_shell_would_run() {
        // The review's proof of concept, and its relatives.
        for bad in [
            "u$(touch${IFS}pjtest1)@127.0.0.1:1",
            "u`id`@gw",
            "gw;id",
            "gw|id",
            "pi@gw&id",
            "'pi'@gw",
            "pi@gw\\n",
        ] {
            let err = check(bad).unwrap_err();
            assert!(err.contains("contains"), "{bad}: {err}");
        }
    }
}
