//! STUN and TURN server URLs (RFC 7064, RFC 7065) as clients get them: `stun:host[:port]`,
//! `turn:host[:port][?transport=udp|tcp]`, `turns:host[:port][?transport=tcp]`.

use std::net::{Ipv4Addr, Ipv6Addr};

/// The kind of server a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// A STUN server: no credentials.
    Stun,
    /// A TURN server over UDP or TCP.
    Turn,
    /// A TURN server over TLS.
    Turns,
}

impl Scheme {
    /// Whether clients need TURN credentials for it.
    pub fn is_turn(self) -> bool {
        self != Scheme::Stun
    }
}

/// A checked STUN or TURN URL, kept as it was written (it is handed to clients as is).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IceUrl {
    text: String,
    scheme: Scheme,
}

impl IceUrl {
    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl std::fmt::Display for IceUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

/// Why a URL is not a usable STUN or TURN URL (the text says what to write instead).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid --turn-url '{url}': {why}")]
pub struct IceUrlError {
    pub url: String,
    pub why: &'static str,
}

impl std::str::FromStr for IceUrl {
    type Err = IceUrlError;

    fn from_str(text: &str) -> Result<Self, IceUrlError> {
        let text = text.trim();
        let fail = |why| IceUrlError {
            url: text.to_owned(),
            why,
        };
        let (scheme, rest) = match text.split_once(':') {
            Some(("turn", rest)) => (Scheme::Turn, rest),
            Some(("turns", rest)) => (Scheme::Turns, rest),
            Some(("stun", rest)) => (Scheme::Stun, rest),
            Some(("stuns", _)) => {
                return Err(fail(
                    "browsers do not support stuns: URLs; use stun: or turns:",
                ));
            }
            _ => {
                return Err(fail(
                    "it must start with turn:, turns: or stun: (e.g. turn:turn.example.com:3478?transport=udp)",
                ));
            }
        };
        if rest.starts_with("//") {
            return Err(fail(
                "write turn:host:port, without '//' (RFC 7065 URLs have no authority part)",
            ));
        }
        let (address, query) = match rest.split_once('?') {
            Some((a, q)) => (a, Some(q)),
            None => (rest, None),
        };
        if address.contains(['@', '/', '#']) {
            return Err(fail(
                "it must be only a host and a port (no user name, path or fragment)",
            ));
        }
        let port = check_host_port(address).map_err(fail)?;
        if port == Some(0) {
            return Err(fail("the port must be 1 to 65535"));
        }
        match (scheme, query) {
            (_, None) => {}
            (Scheme::Stun, Some(_)) => {
                return Err(fail("a stun: URL takes no ?transport= (STUN is over UDP)"));
            }
            (Scheme::Turn, Some("transport=udp" | "transport=tcp")) => {}
            (Scheme::Turns, Some("transport=tcp")) => {}
            (Scheme::Turns, Some("transport=udp")) => {
                return Err(fail(
                    "browsers do not support TURN over DTLS: a turns: URL takes ?transport=tcp",
                ));
            }
            (_, Some(_)) => {
                return Err(fail(
                    "the only query it may have is ?transport=udp or ?transport=tcp",
                ));
            }
        }
        Ok(IceUrl {
            text: text.to_owned(),
            scheme,
        })
    }
}

/// Checks `host[:port]` (the host a name, an IPv4 address or a bracketed IPv6 address);
/// returns the port if one is given.
fn check_host_port(address: &str) -> Result<Option<u16>, &'static str> {
    const BAD_PORT: &str = "the port must be 1 to 65535";
    let (host_ok, port) = if let Some(v6) = address.strip_prefix('[') {
        let (ip, after) = v6
            .split_once(']')
            .ok_or("an IPv6 address needs its closing ']'")?;
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':').ok_or(BAD_PORT)?),
        };
        (ip.parse::<Ipv6Addr>().is_ok(), port)
    } else {
        let (host, port) = match address.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (address, None),
        };
        if host.is_empty() {
            return Err("it names no host (e.g. turn:turn.example.com:3478)");
        }
        (host.parse::<Ipv4Addr>().is_ok() || is_host_name(host), port)
    };
    if !host_ok {
        return Err("the host must be a DNS name, an IPv4 address or an IPv6 address in [ ]");
    }
    match port {
        None => Ok(None),
        Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => {
            p.parse::<u16>().map(Some).map_err(|_| BAD_PORT)
        }
        Some(_) => Err(BAD_PORT),
    }
}

/// A DNS name: dot-separated labels of letters, digits and inner hyphens.
fn is_host_name(host: &str) -> bool {
    host.len() <= 253
        && host.trim_end_matches('.').split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn turn_turns_and_stun_urls() {
        for (url, scheme) in [
            ("turn:turn.example.com:3478?transport=udp", Scheme::Turn),
            ("turn:turn.example.com:3478?transport=tcp", Scheme::Turn),
            ("turn:192.0.2.7", Scheme::Turn),
            ("turns:turn.example.com:5349?transport=tcp", Scheme::Turns),
            ("turns:turn.example.com:443", Scheme::Turns),
            ("turn:[2001:db8::7]:3478?transport=udp", Scheme::Turn),
            ("stun:stun.example.com:3478", Scheme::Stun),
            ("stun:[::1]", Scheme::Stun),
        ] {
            let u: IceUrl = url.parse().unwrap_or_else(|e| panic!("{url}: {e}"));
            assert_eq!((u.as_str(), u.scheme()), (url, scheme));
        }
    }

    #[test]
    fn bad_urls_say_what_is_wrong() {
        for (url, why) in [
            (
                "http://turn.example.com",
                "must start with turn:, turns: or stun:",
            ),
            ("turn.example.com:3478", "must start with turn:"),
            ("stuns:stun.example.com", "do not support stuns:"),
            ("turn://turn.example.com:3478", "without '//'"),
            ("turn:", "names no host"),
            ("turn::3478", "names no host"),
            ("turn:user@turn.example.com", "no user name"),
            ("turn:turn.example.com/path", "no user name, path"),
            ("turn:turn.example.com:0", "port must be 1 to 65535"),
            ("turn:turn.example.com:65536", "port must be 1 to 65535"),
            ("turn:turn.example.com:34x", "port must be 1 to 65535"),
            ("turn:turn.example.com:", "port must be 1 to 65535"),
            ("turn:[2001:db8::7", "closing ']'"),
            ("turn:[not-v6]:3478", "the host must be"),
            ("turn:bad_host:3478", "the host must be"),
            ("turn:-bad.example.com", "the host must be"),
            ("turn:2001:db8::7", "port must be"),
            (
                "turn:t.example.com?transport=sctp",
                "?transport=udp or ?transport=tcp",
            ),
            (
                "turn:t.example.com?foo=bar",
                "?transport=udp or ?transport=tcp",
            ),
            ("turns:t.example.com?transport=udp", "over DTLS"),
            ("stun:s.example.com?transport=udp", "takes no ?transport="),
        ] {
            let e = url.parse::<IceUrl>().unwrap_err();
            assert!(e.to_string().contains(why), "{url}: {e}");
            assert!(e.to_string().contains(&format!("'{}'", url.trim())), "{e}");
        }
    }
}
