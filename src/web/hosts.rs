//! Which hosts the live view answers to: the defence against DNS rebinding.
//!
//! A web page may rebind a name of its own (`evil.example`) to 127.0.0.1 and
//! then read the view as if it were its own origin; the only trace of that in
//! the request is the name in `Host`. So a request is served only when it
//! names this server: its listen address (any IP address when it listens on
//! all of them), `localhost`, or a name in `web.allowed_hosts`. The port is
//! not checked: a name nobody else can point here is what matters, and a
//! forwarded port (`ssh -L`) arrives under another one. A request without
//! `Host` (HTTP/1.0 tools) is served: every browser sends one. `Origin`, when
//! present (a cross-origin fetch, a form), must name an allowed host too.

use std::fmt;
use std::net::IpAddr;

use axum::http::header::{HOST, ORIGIN};
use axum::http::{HeaderMap, Uri};

/// The hosts one live view answers to.
#[derive(Debug, Clone, PartialEq)]
pub struct AllowedHosts {
    /// The listen address; unspecified (`0.0.0.0`, `::`) allows every address.
    listen: IpAddr,
    /// From `web.allowed_hosts`: names lowercased without a trailing dot,
    /// and addresses.
    names: Vec<String>,
    addresses: Vec<IpAddr>,
}

/// Why a request was refused, for the response and the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// `Host` (or the request target's authority) names another server.
    Host(String),
    /// `Origin` is another site's (or `null`, or not a web origin).
    Origin(String),
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::Host(host) => write!(
                f,
                "this live view does not answer to host {host:?}; add the name to web.allowed_hosts if it is this machine's"
            ),
            Refusal::Origin(origin) => write!(
                f,
                "requests from origin {origin:?} are refused: the live view is read by its own page only"
            ),
        }
    }
}

/// Checks a `web.allowed_hosts` entry: a bare name or address, no port or scheme.
pub fn check_name(name: &str) -> Result<(), String> {
    match configured(name) {
        Some(_) => Ok(()),
        None => Err(format!(
            "{name:?} is not a host name or address (no scheme, port or path)"
        )),
    }
}

/// A `web.allowed_hosts` entry: an address (IPv6 bracketed or not) or a name.
fn configured(name: &str) -> Option<Name> {
    if let Ok(address) = name.parse::<IpAddr>() {
        return Some(Name::Address(address));
    }
    match Host::parse(name)? {
        Host { name, port: None } => Some(name),
        Host { port: Some(_), .. } => None,
    }
}

impl AllowedHosts {
    /// The hosts a server listening on `listen` answers to, with the extra
    /// names of `web.allowed_hosts` (validated by [`check_name`]).
    pub fn new(listen: IpAddr, extra: &[String]) -> Self {
        let mut names = Vec::new();
        let mut addresses = Vec::new();
        for name in extra.iter().filter_map(|name| configured(name)) {
            match name {
                Name::Address(address) => addresses.push(address),
                Name::Domain(name) => names.push(name),
            }
        }
        Self {
            listen,
            names,
            addresses,
        }
    }

    /// Whether the request names this server, in `Host` (every one sent) and
    /// in the request target when it is absolute, and comes from no foreign
    /// `Origin`.
    pub fn check(&self, uri: &Uri, headers: &HeaderMap) -> Result<(), Refusal> {
        if let Some(authority) = uri.authority() {
            if !self.allows_host(authority.as_str()) {
                return Err(Refusal::Host(authority.to_string()));
            }
        }
        for value in headers.get_all(HOST) {
            let host = String::from_utf8_lossy(value.as_bytes());
            if !self.allows_host(&host) {
                return Err(Refusal::Host(host.into_owned()));
            }
        }
        for value in headers.get_all(ORIGIN) {
            let origin = String::from_utf8_lossy(value.as_bytes());
            if !self.allows_origin(&origin) {
                return Err(Refusal::Origin(origin.into_owned()));
            }
        }
        Ok(())
    }

    /// `name[:port]`, as `Host` gives it.
    fn allows_host(&self, value: &str) -> bool {
        let Some(host) = Host::parse(value) else {
            return false;
        };
        match host.name {
            Name::Address(address) => {
                self.listen.is_unspecified()
                    || address == self.listen
                    || self.addresses.contains(&address)
            }
            Name::Domain(name) => name == "localhost" || self.names.contains(&name),
        }
    }

    /// `scheme://host[:port]`, as `Origin` gives it; `null` (a sandboxed
    /// frame, a local file) is nobody's and refused.
    fn allows_origin(&self, value: &str) -> bool {
        let Some((scheme, authority)) = value.split_once("://") else {
            return false;
        };
        matches!(scheme.to_ascii_lowercase().as_str(), "http" | "https")
            && self.allows_host(authority)
    }
}

/// A `Host` value taken apart.
#[derive(Debug, Clone, PartialEq)]
struct Host {
    name: Name,
    port: Option<u16>,
}

#[derive(Debug, Clone, PartialEq)]
enum Name {
    Address(IpAddr),
    /// Lowercased, without the trailing dot of a fully qualified name.
    Domain(String),
}

impl Host {
    /// `name`, `name:port`, `1.2.3.4:port`, `[::1]:port`; anything else
    /// (user info, a path, stray characters) is no host at all.
    fn parse(value: &str) -> Option<Self> {
        let (name, port) = if let Some(bracketed) = value.strip_prefix('[') {
            let (inside, rest) = bracketed.split_once(']')?;
            let address: std::net::Ipv6Addr = inside.parse().ok()?;
            (Name::Address(IpAddr::V6(address)), rest)
        } else {
            let end = value.find(':').unwrap_or(value.len());
            let (name, rest) = value.split_at(end);
            (Name::parse(name)?, rest)
        };
        let port = match port.strip_prefix(':') {
            None if port.is_empty() => None,
            None => return None,
            Some(digits) if digits.bytes().all(|b| b.is_ascii_digit()) => {
                Some(digits.parse().ok()?)
            }
            Some(_) => return None,
        };
        Some(Self { name, port })
    }
}

impl Name {
    fn parse(name: &str) -> Option<Self> {
        if let Ok(address) = name.parse::<IpAddr>() {
            return Some(Name::Address(address));
        }
        let name = name.strip_suffix('.').unwrap_or(name);
        let valid = !name.is_empty()
            && name.len() <= 253
            && name.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && label
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            });
        valid.then(|| Name::Domain(name.to_ascii_lowercase()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn loopback() -> AllowedHosts {
        AllowedHosts::new("127.0.0.1".parse().unwrap(), &["Genred.Lan".to_owned()])
    }

    fn request(host: Option<&str>, origin: Option<&str>) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if let Some(host) = host {
            headers.insert(HOST, HeaderValue::from_str(host).unwrap());
        }
        if let Some(origin) = origin {
            headers.insert(ORIGIN, HeaderValue::from_str(origin).unwrap());
        }
        headers
    }

    fn check(hosts: &AllowedHosts, host: Option<&str>, origin: Option<&str>) -> bool {
        hosts
            .check(&Uri::from_static("/healthz"), &request(host, origin))
            .is_ok()
    }

    #[test]
    fn the_listen_address_localhost_and_the_configured_names_are_served_on_any_port() {
        let hosts = loopback();
        for host in [
            "127.0.0.1:8750",
            "127.0.0.1",
            "localhost:8750",
            "LocalHost",
            "localhost.:9000",
            "genred.lan:8750",
            "GENRED.LAN.",
        ] {
            assert!(check(&hosts, Some(host), None), "{host}");
        }
        assert!(check(&hosts, None, None), "HTTP/1.0 without Host");
    }

    #[test]
    fn every_other_name_and_address_is_refused() {
        let hosts = loopback();
        for host in [
            "evil.example",
            "evil.example:8750",
            "localhost.evil.example",
            "127.0.0.2:8750",
            "[::1]:8750",
            "127.0.0.1@evil.example",
            "evil.example/127.0.0.1",
            "localhost:8750:1",
            "localhost:port",
            "",
            "[::1",
        ] {
            assert_eq!(
                hosts.check(&Uri::from_static("/"), &request(Some(host), None)),
                Err(Refusal::Host(host.to_owned())),
                "{host}"
            );
        }
    }

    #[test]
    fn an_absolute_request_target_is_checked_like_host() {
        let hosts = loopback();
        let headers = request(Some("localhost"), None);
        let foreign = Uri::from_static("http://evil.example/api/recent");
        assert!(hosts.check(&foreign, &headers).is_err());
        let own = Uri::from_static("http://localhost:8750/api/recent");
        assert!(hosts.check(&own, &headers).is_ok());
    }

    #[test]
    fn a_second_host_header_is_checked_too() {
        let hosts = loopback();
        let mut headers = request(Some("localhost"), None);
        headers.append(HOST, HeaderValue::from_static("evil.example"));
        assert!(hosts.check(&Uri::from_static("/"), &headers).is_err());
    }

    #[test]
    fn on_every_address_any_address_is_served_but_names_are_still_checked() {
        let hosts = AllowedHosts::new("0.0.0.0".parse().unwrap(), &[]);
        assert!(check(&hosts, Some("192.168.1.20:8750"), None));
        assert!(check(&hosts, Some("[fe80::1]:8750"), None));
        assert!(!check(&hosts, Some("evil.example:8750"), None));
    }

    #[test]
    fn an_origin_must_name_an_allowed_host() {
        let hosts = loopback();
        let own = Some("127.0.0.1:8750");
        assert!(check(&hosts, own, Some("http://127.0.0.1:8750")));
        assert!(check(&hosts, own, Some("http://localhost:8750")));
        for origin in [
            "http://evil.example",
            "https://evil.example:8750",
            "null",
            "file://",
            "chrome-extension://abcdef",
            "http://localhost:8750/path",
        ] {
            assert_eq!(
                hosts.check(&Uri::from_static("/"), &request(own, Some(origin))),
                Err(Refusal::Origin(origin.to_owned())),
                "{origin}"
            );
        }
    }

    #[test]
    fn configured_names_must_be_bare_hosts() {
        for name in ["genred.lan", "192.168.1.20", "[::1]", "::1", "my_host"] {
            assert_eq!(check_name(name), Ok(()), "{name}");
        }
        for name in [
            "",
            "genred.lan:8750",
            "http://genred.lan",
            "genred.lan/",
            "*.lan",
            "a..b",
        ] {
            assert!(check_name(name).is_err(), "{name}");
        }
        let hosts = AllowedHosts::new("127.0.0.1".parse().unwrap(), &["::1".to_owned()]);
        assert!(check(&hosts, Some("[::1]:8750"), None));
    }
}
