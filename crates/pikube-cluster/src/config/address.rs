//! Where a node is reached: an IP address or a name for DNS / ssh_config.

use std::fmt;
use std::net::{IpAddr, Ipv6Addr};
use std::str::FromStr;

/// A node's SSH target.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Address {
    /// An IPv4 or IPv6 address.
    Ip(IpAddr),
    /// A DNS name or an ssh_config `Host` alias, as written.
    Host(String),
}

/// Why an address was rejected; `kind` says what it looked like it meant to be.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{input:?} is not a valid {kind} ({detail})")]
pub struct AddressError {
    /// What was written.
    pub input: String,
    /// What it looked meant to be (`IPv4 address`, `host name`).
    pub kind: &'static str,
    /// What is wrong with it.
    pub detail: AddressProblem,
}

/// What is wrong with an address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressProblem {
    /// Nothing, or only white space.
    #[error("it is empty")]
    Empty,
    /// White space inside it.
    #[error("it contains whitespace")]
    Whitespace,
    /// `user@host`: the user has a field of its own.
    #[error("put the user in `user`, not in the address")]
    UserInAddress,
    /// `host:22`: the port has a field of its own.
    #[error("put the port in `port`, not in the address")]
    PortInAddress,
    /// A URL where a server name goes.
    #[error("no scheme: {}; pikube adds https:// and the port", alone(.host.as_deref()))]
    Scheme {
        /// The valid host inside it, if there is one.
        host: Option<String>,
    },
    /// `user@host` where a server name goes.
    #[error("no user name: {}", alone(.host.as_deref()))]
    User {
        /// The valid host inside it, if there is one.
        host: Option<String>,
    },
    /// `host:port` where a server name goes.
    #[error("no port: {}; K3s serves the API on port 6443", alone(.host.as_deref()))]
    Port {
        /// The valid host inside it, if there is one.
        host: Option<String>,
    },
    /// Digits and dots that are not an IPv4 address.
    #[error("{0}")]
    Ipv4(Ipv4Problem),
    /// Colons (or brackets) that are not an IPv6 address.
    #[error("{0}")]
    Ipv6(Ipv6Problem),
    /// Not a host name.
    #[error("{0}")]
    HostName(HostNameProblem),
    /// A static address's `/prefix` after a host name.
    #[error("a prefix goes with an IP address, not a host name")]
    PrefixOnHostName,
    /// A static address's prefix out of range.
    #[error("the prefix must be 1 to {max} bits")]
    PrefixLength {
        /// The longest prefix that leaves room for hosts (31 or 127).
        max: u8,
    },
    /// A static address that is its subnet's own, which no host can have.
    #[error("{ip} is the {role} address of {network}/{prefix}, which no host can have")]
    Reserved {
        /// The address.
        ip: IpAddr,
        /// Which one: `network`, `broadcast`, `subnet-router anycast`.
        role: &'static str,
        /// The subnet's first address.
        network: IpAddr,
        /// The subnet's prefix length.
        prefix: u8,
    },
}

/// Why text that can only be meant as an IPv4 address is not one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Ipv4Problem {
    /// Not four dot-separated parts; how many.
    #[error("it has {0} parts; IPv4 has 4, like 192.168.1.10")]
    Parts(usize),
    /// Two dots in a row, or one at an end.
    #[error("an octet is empty")]
    EmptyOctet,
    /// An octet with a leading zero, which inet_aton (and so ssh) reads as octal.
    #[error("octet {0} has a leading zero")]
    LeadingZero(String),
    /// An octet over 255.
    #[error("octet {0} is over 255")]
    OctetOver255(String),
    /// Anything else the standard library refuses.
    #[error("not IPv4 syntax")]
    Syntax,
}

/// Why text that can only be meant as an IPv6 address is not one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Ipv6Problem {
    /// `fe80::1%eth0`: the zone names an interface of this machine only.
    #[error("zone indices like %eth0 are not supported; use a routable address or a host name")]
    Zone,
    /// Not IPv6 syntax.
    #[error("not IPv6 syntax, e.g. fd00::10")]
    Syntax,
}

/// Why a host name is not one (RFC 1123, with `_` for ssh_config aliases).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HostNameProblem {
    /// Longer than 253 bytes (without a final dot); its length.
    #[error("it is {0} characters long; the limit is 253")]
    TooLong(usize),
    /// A leading dot, or two dots in a row.
    #[error("it has an empty label (a leading dot or two dots in a row)")]
    EmptyLabel,
    /// The first character outside `[A-Za-z0-9_-]` in a label.
    #[error("{0:?} is not allowed")]
    Character(char),
    /// A label over 63 bytes.
    #[error("label {0:?} is over 63 characters")]
    LabelTooLong(String),
    /// A label that starts or ends with `-`.
    #[error("label {0:?} starts or ends with '-'")]
    LabelHyphen(String),
}

/// The advice to write the host alone, naming it when there is a valid one.
fn alone(host: Option<&str>) -> String {
    match host {
        Some(host) => format!("write {host:?} alone"),
        None => "write the host name or IP alone".to_owned(),
    }
}

impl Address {
    /// A form in which two spellings of one target compare equal (host names
    /// are case-insensitive, a trailing dot is the same name, IPv6 has many
    /// spellings), for finding nodes listed twice.
    pub(crate) fn identity(&self) -> String {
        match self {
            Address::Ip(ip) => ip.to_string(),
            Address::Host(h) => h.trim_end_matches('.').to_ascii_lowercase(),
        }
    }
}

impl Address {
    /// An address others use to reach the K3s API (`api_endpoint`,
    /// `tls_san`): it goes into the server certificate and into
    /// `https://<it>:6443`, so a scheme or port written here would end up
    /// doubled; `what` names the setting in the error.
    pub(crate) fn parse_server_name(s: &str, what: &'static str) -> Result<Address, AddressError> {
        let fail = |detail| AddressError {
            input: s.to_owned(),
            kind: what,
            detail,
        };
        let owned = |host: Option<&str>| host.map(str::to_owned);
        if let Some((_, rest)) = s.split_once("://") {
            return Err(fail(AddressProblem::Scheme {
                host: owned(bare_host(rest)),
            }));
        }
        if s.contains('@') {
            return Err(fail(AddressProblem::User {
                host: owned(bare_host(s)),
            }));
        }
        if let Some((host, _)) = split_port(s) {
            let host = host.parse::<Address>().is_ok().then_some(host);
            return Err(fail(AddressProblem::Port { host: owned(host) }));
        }
        s.parse()
    }
}

/// The host in `[user@]host[:port][/path]`, if it is a valid address.
fn bare_host(s: &str) -> Option<&str> {
    let authority = s.split(['/', '?', '#']).next().unwrap_or(s);
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = split_port(host_port).map_or(host_port, |(host, _)| host);
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    host.parse::<Address>().is_ok().then_some(host)
}

/// `host:123` or `[v6]:123` split into host and port; `None` for anything
/// else, including a bare IPv6 address, whose colons are not a port.
fn split_port(s: &str) -> Option<(&str, &str)> {
    let (host, port) = match s.strip_prefix('[') {
        Some(inner) => {
            let (host, tail) = inner.split_once(']')?;
            (host, tail.strip_prefix(':')?)
        }
        None => s.split_once(':')?,
    };
    let numeric = !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit());
    numeric.then_some((host, port))
}

impl FromStr for Address {
    type Err = AddressError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let fail = |kind, detail| AddressError {
            input: s.to_owned(),
            kind,
            detail,
        };
        if s.trim().is_empty() {
            return Err(fail("address", AddressProblem::Empty));
        }
        if s.chars().any(char::is_whitespace) {
            return Err(fail("address", AddressProblem::Whitespace));
        }
        if s.contains('@') {
            return Err(fail("address", AddressProblem::UserInAddress));
        }
        let ipv6 = |problem| fail("IPv6 address", AddressProblem::Ipv6(problem));
        if let Some(inner) = s.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
            return parse_ipv6(inner).map_err(ipv6);
        }
        if let Some((host, port)) = s.split_once(':') {
            if !host.contains(':') && !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) {
                return Err(fail("address", AddressProblem::PortInAddress));
            }
            return parse_ipv6(s).map_err(ipv6);
        }
        // A dotted string of digits can only be meant as IPv4; as a host name
        // it would slip through and fail much later, at connect time.
        if s.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
            return parse_ipv4(s)
                .map_err(|problem| fail("IPv4 address", AddressProblem::Ipv4(problem)));
        }
        check_host(s).map_err(|problem| fail("host name", AddressProblem::HostName(problem)))?;
        Ok(Address::Host(s.to_owned()))
    }
}

fn parse_ipv6(s: &str) -> Result<Address, Ipv6Problem> {
    if s.contains('%') {
        // ssh accepts fe80::1%eth0, but the zone is the name of an interface
        // on this machine, which makes the file work on one laptop only.
        return Err(Ipv6Problem::Zone);
    }
    s.parse::<Ipv6Addr>()
        .map(|ip| Address::Ip(IpAddr::V6(ip)))
        .map_err(|_| Ipv6Problem::Syntax)
}

fn parse_ipv4(s: &str) -> Result<Address, Ipv4Problem> {
    let parts: Vec<&str> = s.split('.').collect();
    if parts.len() != 4 {
        return Err(Ipv4Problem::Parts(parts.len()));
    }
    for part in &parts {
        if part.is_empty() {
            return Err(Ipv4Problem::EmptyOctet);
        }
        if part.len() > 1 && part.starts_with('0') {
            // inet_aton (and so ssh) reads a leading zero as octal.
            return Err(Ipv4Problem::LeadingZero((*part).to_owned()));
        }
        if part.len() > 3 || part.parse::<u16>().map_or(true, |n| n > 255) {
            return Err(Ipv4Problem::OctetOver255((*part).to_owned()));
        }
    }
    s.parse().map(Address::Ip).map_err(|_| Ipv4Problem::Syntax)
}

/// RFC 1123 host name, leniently allowing `_`, which ssh_config aliases may use.
fn check_host(s: &str) -> Result<(), HostNameProblem> {
    let name = s.strip_suffix('.').unwrap_or(s);
    if name.len() > 253 {
        return Err(HostNameProblem::TooLong(name.len()));
    }
    for label in name.split('.') {
        if label.is_empty() {
            return Err(HostNameProblem::EmptyLabel);
        }
        if let Some(c) = label
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_')))
        {
            return Err(HostNameProblem::Character(c));
        }
        if label.len() > 63 {
            return Err(HostNameProblem::LabelTooLong(label.to_owned()));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(HostNameProblem::LabelHyphen(label.to_owned()));
        }
    }
    Ok(())
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Address::Ip(ip) => ip.fmt(f),
            Address::Host(h) => f.write_str(h),
        }
    }
}

impl serde::Serialize for Address {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn detail(s: &str) -> String {
        s.parse::<Address>().unwrap_err().to_string()
    }

    #[test]
    fn accepts_ips_and_hosts() {
        assert_eq!(
            "192.168.1.10".parse::<Address>().unwrap(),
            Address::Ip(IpAddr::V4(Ipv4Addr::new(192, 168, 1, 10)))
        );
        assert_eq!(
            "fd00::10".parse::<Address>().unwrap().to_string(),
            "fd00::10"
        );
        assert_eq!(
            "[fd00::10]".parse::<Address>().unwrap().to_string(),
            "fd00::10"
        );
        for host in [
            "pi-01",
            "pi-01.lan.",
            "raspberrypi.local",
            "my_alias",
            "1e100.net",
        ] {
            assert_eq!(host.parse::<Address>().unwrap(), Address::Host(host.into()));
        }
    }

    #[test]
    fn rejects_with_reason() {
        assert_eq!(
            detail("192.168.1.300"),
            "\"192.168.1.300\" is not a valid IPv4 address (octet 300 is over 255)"
        );
        assert_eq!(
            detail("10.0.0"),
            "\"10.0.0\" is not a valid IPv4 address (it has 3 parts; IPv4 has 4, like 192.168.1.10)"
        );
        assert_eq!(
            detail("-bad-.host"),
            "\"-bad-.host\" is not a valid host name (label \"-bad-\" starts or ends with '-')"
        );
        assert_eq!(detail(""), "\"\" is not a valid address (it is empty)");
        assert_eq!(
            detail("pi 01"),
            "\"pi 01\" is not a valid address (it contains whitespace)"
        );
        assert!(detail("10.0.0.01").contains("leading zero"));
        assert!(detail("1..2.3").contains("empty"));
        assert!(detail("99999999999999999999.1.1.1").contains("over 255"));
        assert!(detail("pi@10.0.0.1").contains("`user`"));
        assert!(detail("10.0.0.1:22").contains("`port`"));
        assert!(detail("fe80::1%eth0").contains("zone"));
        assert!(detail("fe80:::1").contains("IPv6"));
        assert!(detail("a..b").contains("empty label"));
        assert!(detail("é.lan").contains("not allowed"));
    }

    #[test]
    fn each_refusal_is_typed_by_what_the_text_was_meant_to_be() {
        let problem = |s: &str| s.parse::<Address>().unwrap_err().detail;
        assert_eq!(
            problem("10.0.0.01"),
            AddressProblem::Ipv4(Ipv4Problem::LeadingZero("01".into()))
        );
        assert_eq!(
            problem("1..2.3"),
            AddressProblem::Ipv4(Ipv4Problem::EmptyOctet)
        );
        assert_eq!(
            problem("fe80::1%eth0"),
            AddressProblem::Ipv6(Ipv6Problem::Zone)
        );
        assert_eq!(
            problem("[fe80:::1]"),
            AddressProblem::Ipv6(Ipv6Problem::Syntax)
        );
        assert_eq!(
            problem("a..b"),
            AddressProblem::HostName(HostNameProblem::EmptyLabel)
        );
        assert_eq!(
            problem(&"a".repeat(64)),
            AddressProblem::HostName(HostNameProblem::LabelTooLong("a".repeat(64)))
        );
        assert_eq!(problem("10.0.0.1:22"), AddressProblem::PortInAddress);
        assert_eq!(
            Address::parse_server_name("https://", "API address")
                .unwrap_err()
                .detail,
            AddressProblem::Scheme { host: None }
        );
    }

    #[test]
    fn server_names_have_no_scheme_port_or_user() {
        let err = |s: &str| {
            Address::parse_server_name(s, "API address")
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            Address::parse_server_name("k3s.home.arpa", "API address").unwrap(),
            Address::Host("k3s.home.arpa".into())
        );
        assert_eq!(
            Address::parse_server_name("[fd00::1]", "API address")
                .unwrap()
                .to_string(),
            "fd00::1"
        );
        assert!(Address::parse_server_name("fd00::1", "API address").is_ok());
        assert_eq!(
            err("https://k3s.home.arpa:6443/"),
            "\"https://k3s.home.arpa:6443/\" is not a valid API address (no scheme: \
             write \"k3s.home.arpa\" alone; pikube adds https:// and the port)"
        );
        assert_eq!(
            err("k3s.home.arpa:6443"),
            "\"k3s.home.arpa:6443\" is not a valid API address (no port: \
             write \"k3s.home.arpa\" alone; K3s serves the API on port 6443)"
        );
        assert_eq!(
            err("[fd00::1]:6443"),
            "\"[fd00::1]:6443\" is not a valid API address (no port: \
             write \"fd00::1\" alone; K3s serves the API on port 6443)"
        );
        assert_eq!(
            err("admin@10.0.0.100"),
            "\"admin@10.0.0.100\" is not a valid API address (no user name: \
             write \"10.0.0.100\" alone)"
        );
        assert!(err("https://").contains("write the host name or IP alone"));
        assert!(err("a b:6443").contains("write the host name or IP alone"));
        assert!(err("10.0.0.300").contains("over 255"));
    }

    #[test]
    fn identity_merges_spellings() {
        let a: Address = "PI-01.lan.".parse().unwrap();
        let b: Address = "pi-01.lan".parse().unwrap();
        assert_eq!(a.identity(), b.identity());
        let a: Address = "fd00:0::10".parse().unwrap();
        let b: Address = "fd00::10".parse().unwrap();
        assert_eq!(a.identity(), b.identity());
    }
}
