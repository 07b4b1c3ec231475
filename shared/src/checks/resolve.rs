//! Host pinning for the http checks: `RESOLVE`, like curl's `--resolve`
//! and `--connect-to`.
//!
//! `RESOLVE` is a comma-separated list of `host:port:address[:port]`:
//! - `host:port:address` sends requests for `host:port` to `address:port`
//!   (curl `--resolve host:port:address`);
//! - `host:port:address:connect-port` sends them to `address:connect-port`
//!   (curl `--connect-to host:port:address:connect-port`), which reaches a
//!   local stand-in listening on another port.
//!
//! Either way the request keeps its URL: the `Host` header, TLS server name
//! and certificate checks are those of `host`. IPv6 addresses go in
//! brackets (`api.example.com:443:[::1]`). A host name is pinned to one
//! address: the pin applies to every request for that host, whatever its
//! port (curl would use DNS for the other ports).

use std::fmt;
use std::net::{IpAddr, SocketAddr};

/// One `host:port:address[:port]` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pin {
    /// The host name requests are addressed to (lower case).
    pub host: String,
    /// The port requests are addressed to.
    pub port: u16,
    /// Where to connect instead.
    pub address: IpAddr,
    /// The port to connect to instead, when it differs (`--connect-to`).
    pub connect_port: Option<u16>,
}

impl Pin {
    /// The socket address requests for this host are sent to.
    pub fn target(&self) -> SocketAddr {
        SocketAddr::new(self.address, self.connect_port.unwrap_or(self.port))
    }
}

impl fmt::Display for Pin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let address = match self.address {
            IpAddr::V6(v6) => format!("[{v6}]"),
            IpAddr::V4(v4) => v4.to_string(),
        };
        write!(f, "{}:{}:{address}", self.host, self.port)?;
        if let Some(port) = self.connect_port {
            write!(f, ":{port}")?;
        }
        Ok(())
    }
}

/// An entry of `RESOLVE` that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("entry {index} ({entry:?}): {reason}")]
pub struct PinError {
    /// The entry's position, from 0.
    pub index: usize,
    /// The entry as written.
    pub entry: String,
    /// What is wrong with it.
    pub reason: String,
}

/// The parsed `RESOLVE` list.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Pins(Vec<Pin>);

impl Pins {
    /// No pins: normal DNS.
    pub fn none() -> Pins {
        Pins(Vec::new())
    }

    /// Parses a comma-separated list (blank entries ignored).
    pub fn parse(text: &str) -> Result<Pins, PinError> {
        let mut pins: Vec<Pin> = Vec::new();
        for (index, entry) in text
            .split(',')
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .enumerate()
        {
            let error = |reason: &str| PinError {
                index,
                entry: entry.to_owned(),
                reason: reason.to_owned(),
            };
            let pin = parse_pin(entry).map_err(|reason| error(&reason))?;
            if pins.iter().any(|p| p.host == pin.host) {
                return Err(error(
                    "the host is already pinned (one address per host name)",
                ));
            }
            pins.push(pin);
        }
        Ok(Pins(pins))
    }

    /// The pins.
    pub fn iter(&self) -> impl Iterator<Item = &Pin> {
        self.0.iter()
    }

    /// The pin of `host` (any case), if any.
    pub fn find(&self, host: &str) -> Option<&Pin> {
        self.0.iter().find(|p| p.host.eq_ignore_ascii_case(host))
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

fn parse_pin(entry: &str) -> Result<Pin, String> {
    let parts = split_outside_brackets(entry);
    if !(3..=4).contains(&parts.len()) {
        return Err(
            "expected host:port:address or host:port:address:port (IPv6 addresses in brackets)"
                .to_owned(),
        );
    }
    let host = parts[0].to_ascii_lowercase();
    let valid_host = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'));
    if !valid_host {
        return Err(format!("invalid host name {:?}", parts[0]));
    }
    let port = parse_port(parts[1])?;
    let address_text = parts[2];
    let address: IpAddr = match address_text
        .strip_prefix('[')
        .and_then(|a| a.strip_suffix(']'))
    {
        Some(v6) => v6
            .parse::<std::net::Ipv6Addr>()
            .map(IpAddr::V6)
            .map_err(|_| format!("invalid IPv6 address {address_text:?}"))?,
        None => address_text
            .parse::<std::net::Ipv4Addr>()
            .map(IpAddr::V4)
            .map_err(|_| format!("invalid IP address {address_text:?}"))?,
    };
    let connect_port = parts.get(3).map(|p| parse_port(p)).transpose()?;
    Ok(Pin {
        host,
        port,
        address,
        connect_port,
    })
}

fn parse_port(text: &str) -> Result<u16, String> {
    match text.parse::<u16>() {
        Ok(port) if port > 0 => Ok(port),
        _ => Err(format!("invalid port {text:?}")),
    }
}

fn split_outside_brackets(entry: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut depth = 0;
    let mut start = 0;
    for (at, c) in entry.char_indices() {
        match c {
            '[' => depth += 1,
            ']' => depth -= 1,
            ':' if depth == 0 => {
                parts.push(&entry[start..at]);
                start = at + 1;
            }
            _ => {}
        }
    }
    parts.push(&entry[start..]);
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pin(host: &str, port: u16, address: &str, connect_port: Option<u16>) -> Pin {
        Pin {
            host: host.into(),
            port,
            address: address.parse().unwrap(),
            connect_port,
        }
    }

    #[test]
    fn parses_resolve_and_connect_to_forms() {
        let cases = [
            ("", vec![]),
            (" , ", vec![]),
            (
                "api.example.com:443:10.0.0.5",
                vec![pin("api.example.com", 443, "10.0.0.5", None)],
            ),
            (
                "alb-1.elb.amazonaws.com:8080:127.0.0.1:41234, Other.Example:80:[::1]",
                vec![
                    pin("alb-1.elb.amazonaws.com", 8080, "127.0.0.1", Some(41234)),
                    pin("other.example", 80, "::1", None),
                ],
            ),
            (
                "h:80:[2001:db8::1]:8080",
                vec![pin("h", 80, "2001:db8::1", Some(8080))],
            ),
        ];
        for (text, expected) in cases {
            let pins = Pins::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(pins.iter().cloned().collect::<Vec<_>>(), expected, "{text}");
        }
    }

    #[test]
    fn errors_name_the_entry() {
        let cases = [
            ("host:80", 0, "expected host:port:address"),
            ("a:80:1.2.3.4,host", 1, "expected host:port:address"),
            ("host:http:1.2.3.4", 0, "invalid port \"http\""),
            ("host:0:1.2.3.4", 0, "invalid port \"0\""),
            ("host:80:1.2.3.4:99999", 0, "invalid port \"99999\""),
            ("host:80:localhost", 0, "invalid IP address \"localhost\""),
            ("host:80:::1", 0, "expected host:port:address"),
            ("host:80:[::g]", 0, "invalid IPv6 address"),
            ("ho st:80:1.2.3.4", 0, "invalid host name"),
            ("a:80:1.2.3.4,A:8080:1.2.3.5", 1, "already pinned"),
        ];
        for (text, index, reason) in cases {
            let error = Pins::parse(text).unwrap_err();
            assert_eq!(error.index, index, "{text}: {error}");
            assert!(error.reason.contains(reason), "{text}: {error}");
        }
    }

    #[test]
    fn targets_and_lookup() {
        let pins = Pins::parse("alb:8080:127.0.0.1:41234,api:443:[::1]").unwrap();
        assert_eq!(
            pins.find("ALB").unwrap().target(),
            "127.0.0.1:41234".parse().unwrap()
        );
        assert_eq!(
            pins.find("api").unwrap().target(),
            "[::1]:443".parse().unwrap()
        );
        assert!(pins.find("other").is_none());
        assert_eq!(
            pins.find("alb").unwrap().to_string(),
            "alb:8080:127.0.0.1:41234"
        );
        assert_eq!(pins.find("api").unwrap().to_string(), "api:443:[::1]");
    }
}
