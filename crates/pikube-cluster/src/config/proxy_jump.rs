//! `proxy_jump` in OpenSSH `-J` syntax: `[user@]host[:port]`, comma-separated,
//! or `ssh://[user@]host[:port]`. Checked here so a typo is not reported by
//! ssh as an unhelpful connection failure on every node behind the gateway.

/// Why a `proxy_jump` value is malformed; each names the value as written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ProxyJumpError {
    #[error("{spec:?} contains whitespace; separate hops with ','")]
    Whitespace { spec: String },
    #[error(
        "{spec:?} contains {bad:?}; a jump host is [user@]host[:port] made of letters, digits \
         and . _ - : @ [ ] / , (the shell would read anything else)"
    )]
    Character { spec: String, bad: char },
    #[error("{spec:?} is not a valid jump host list: {problem}")]
    Hop { spec: String, problem: HopProblem },
}

/// What is wrong with one hop of a jump host list.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum HopProblem {
    #[error("a hop is empty")]
    Empty,
    #[error("hop {hop:?} has an empty user")]
    EmptyUser { hop: String },
    #[error("hop {hop:?} has no host")]
    NoHost { hop: String },
    #[error("hop {hop:?} has port {port:?}; use 1..=65535")]
    Port { hop: String, port: String },
}

/// Checks a `proxy_jump` value.
///
/// OpenSSH turns `-J` into a ProxyCommand run by the local shell, so a hop such as
/// `u$(touch${IFS}x)@gw` would run a command on this machine when any pikube command
/// connects (security review L1). Hops are therefore limited to the characters user names,
/// host names and addresses are made of.
pub(crate) fn check(spec: &str) -> Result<(), ProxyJumpError> {
    if spec.chars().any(char::is_whitespace) {
        return Err(ProxyJumpError::Whitespace {
            spec: spec.to_owned(),
        });
    }
    if let Some(bad) = spec.chars().find(|c| !allowed(*c)) {
        return Err(ProxyJumpError::Character {
            spec: spec.to_owned(),
            bad,
        });
    }
    for hop in spec.split(',') {
        check_hop(hop).map_err(|problem| ProxyJumpError::Hop {
            spec: spec.to_owned(),
            problem,
        })?;
    }
    Ok(())
}

fn allowed(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | ':' | '@' | '[' | ']' | '/' | ',')
}

fn check_hop(hop: &str) -> Result<(), HopProblem> {
    let target = hop.strip_prefix("ssh://").unwrap_or(hop);
    let host_port = match target.rsplit_once('@') {
        Some(("", _)) => {
            return Err(HopProblem::EmptyUser {
                hop: hop.to_owned(),
            })
        }
        Some((_, host_port)) => host_port,
        None => target,
    };
    let (host, port) = split_port(host_port);
    if host.is_empty() {
        return Err(if hop.is_empty() {
            HopProblem::Empty
        } else {
            HopProblem::NoHost {
                hop: hop.to_owned(),
            }
        });
    }
    if let Some(port) = port {
        match port.parse::<u16>() {
            Ok(p) if p > 0 => {}
            _ => {
                return Err(HopProblem::Port {
                    hop: hop.to_owned(),
                    port: port.to_owned(),
                })
            }
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
        let problem = |spec: &str| match check(spec) {
            Err(ProxyJumpError::Hop { problem, .. }) => problem,
            other => panic!("{spec}: {other:?}"),
        };
        assert_eq!(problem("a,,b"), HopProblem::Empty);
        assert_eq!(problem("gw,@b"), HopProblem::EmptyUser { hop: "@b".into() });
        assert_eq!(problem("pi@"), HopProblem::NoHost { hop: "pi@".into() });
        assert_eq!(
            problem("gw:70000"),
            HopProblem::Port {
                hop: "gw:70000".into(),
                port: "70000".into()
            }
        );
        assert_eq!(
            check("a,gw:0").unwrap_err().to_string(),
            "\"a,gw:0\" is not a valid jump host list: hop \"gw:0\" has port \"0\"; use 1..=65535"
        );
        assert_eq!(
            check("a, b"),
            Err(ProxyJumpError::Whitespace {
                spec: "a, b".into()
            })
        );
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
            assert!(
                matches!(
                    err,
                    ProxyJumpError::Character { .. } | ProxyJumpError::Whitespace { .. }
                ),
                "{bad}: {err}"
            );
            assert!(err.to_string().contains("contains"), "{bad}: {err}");
        }
    }
}
