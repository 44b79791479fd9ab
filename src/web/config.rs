//! The `[web]` section: where the live view listens and the limits it keeps.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use serde::{Deserialize, Serialize};

use crate::settings::{check_count, check_seconds, InvalidSetting};

/// The `[web]` section of the config.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebConfig {
    /// Serve the live view at all (`genred run --web` turns it on).
    pub enabled: bool,
    /// The address and port to listen on; port 0 picks a free one (logged).
    /// An address other than loopback shows what genred hears to anyone who
    /// can reach it, and is logged as a warning at start.
    pub listen: SocketAddr,
    /// The most event streams (open pages) at once; more are refused with 503.
    pub max_clients: usize,
    /// Records kept in memory for `/api/recent` and for a page that opens.
    pub recent: usize,
    /// Host names the view answers to besides the listen address and
    /// `localhost` (a name of this machine, a reverse proxy's): a request
    /// naming any other host is refused, so a web page cannot read the view
    /// through a name it rebinds to this machine (DNS rebinding).
    pub allowed_hosts: Vec<String>,
    /// The most HTTP connections open at once, event streams included; kept
    /// well below the descriptor limit. When all are taken, a new connection
    /// closes the oldest one that is between requests.
    pub max_connections: usize,
    /// Seconds a connection gets to send a request's headers (its first, or
    /// its next one on a kept-alive connection) before it is closed.
    pub header_timeout_s: f64,
}

/// The port of the default address: unassigned by IANA, free on most machines.
pub const DEFAULT_PORT: u16 = 8750;

/// The most event streams `max_clients` allows: each holds a connection and
/// a few dozen records in flight.
pub const MAX_CLIENTS: usize = 256;

/// The most records `recent` keeps: hours of microphone records at the
/// default 5 s hop, a few megabytes at most.
pub const MAX_RECENT: usize = 10_000;

/// The most connections `max_connections` allows: each holds a descriptor and
/// a few KB of buffers, and genred's own descriptors (model, folders, results)
/// need room under the usual limit of 1024 (systemd's units raise it).
pub const MAX_CONNECTIONS: usize = 4096;

/// The most names `allowed_hosts` takes: a list to read, not a pattern.
pub const MAX_ALLOWED_HOSTS: usize = 64;

/// The longest `header_timeout_s`: hyper's default is 30 s; more only helps
/// a client that holds connections open without asking anything.
pub const MAX_HEADER_TIMEOUT_S: f64 = 300.0;

impl Default for WebConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            listen: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), DEFAULT_PORT),
            max_clients: 8,
            recent: 500,
            allowed_hosts: Vec::new(),
            // Room for every event stream `max_clients` allows and as many again,
            // under a descriptor limit of 1024.
            max_connections: 2 * MAX_CLIENTS,
            // A browser sends its headers at once; a slow link still has ample time.
            header_timeout_s: 10.0,
        }
    }
}

impl WebConfig {
    /// Checks the values serde cannot; the error names the offending key.
    pub fn validate(&self) -> Result<(), InvalidSetting> {
        check_count(
            "web.max_clients",
            self.max_clients,
            1..=MAX_CLIENTS,
            "event streams",
        )?;
        check_count("web.recent", self.recent, 1..=MAX_RECENT, "records")?;
        check_count(
            "web.max_connections",
            self.max_connections,
            2..=MAX_CONNECTIONS,
            "connections",
        )?;
        // A stream beyond max_clients must still find a connection to be told 503 on,
        // and /healthz one to answer on.
        if self.max_connections <= self.max_clients {
            return Err(InvalidSetting::new(
                "web.max_connections",
                format!(
                    "must exceed web.max_clients ({}), got {}",
                    self.max_clients, self.max_connections
                ),
            ));
        }
        check_seconds(
            "web.header_timeout_s",
            self.header_timeout_s,
            0.1..=MAX_HEADER_TIMEOUT_S,
        )?;
        if self.allowed_hosts.len() > MAX_ALLOWED_HOSTS {
            return Err(InvalidSetting::new(
                "web.allowed_hosts",
                format!(
                    "at most {MAX_ALLOWED_HOSTS} names, got {}",
                    self.allowed_hosts.len()
                ),
            ));
        }
        for name in &self.allowed_hosts {
            super::hosts::check_name(name)
                .map_err(|problem| InvalidSetting::new("web.allowed_hosts", problem))?;
        }
        Ok(())
    }

    /// Whether the view is reachable from beyond this machine.
    pub fn is_exposed(&self) -> bool {
        !self.listen.ip().is_loopback()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_off_and_on_loopback() {
        let config = WebConfig::default();
        assert_eq!(config.validate(), Ok(()));
        assert!(!config.enabled);
        assert!(!config.is_exposed());
        assert_eq!(config.listen.to_string(), "127.0.0.1:8750");
        assert!(
            config.max_connections > MAX_CLIENTS,
            "room beyond any max_clients"
        );
    }

    #[test]
    fn extra_host_names_are_read_from_a_list() {
        let config: WebConfig =
            toml::from_str("allowed_hosts = [\"genred.lan\", \"192.168.1.20\"]").unwrap();
        assert_eq!(config.validate(), Ok(()));
        assert_eq!(config.allowed_hosts, ["genred.lan", "192.168.1.20"]);
    }

    #[test]
    fn each_invalid_value_is_named_by_its_key() {
        let cases = [
            (
                WebConfig {
                    max_clients: 0,
                    ..WebConfig::default()
                },
                "web.max_clients",
            ),
            (
                WebConfig {
                    max_clients: MAX_CLIENTS + 1,
                    ..WebConfig::default()
                },
                "web.max_clients",
            ),
            (
                WebConfig {
                    recent: 0,
                    ..WebConfig::default()
                },
                "web.recent",
            ),
            (
                WebConfig {
                    recent: MAX_RECENT + 1,
                    ..WebConfig::default()
                },
                "web.recent",
            ),
            (
                WebConfig {
                    max_connections: MAX_CONNECTIONS + 1,
                    ..WebConfig::default()
                },
                "web.max_connections",
            ),
            (
                WebConfig {
                    max_clients: 16,
                    max_connections: 16,
                    ..WebConfig::default()
                },
                "web.max_connections",
            ),
            (
                WebConfig {
                    header_timeout_s: 0.0,
                    ..WebConfig::default()
                },
                "web.header_timeout_s",
            ),
            (
                WebConfig {
                    header_timeout_s: f64::NAN,
                    ..WebConfig::default()
                },
                "web.header_timeout_s",
            ),
            (
                WebConfig {
                    allowed_hosts: vec!["genred.lan:8750".to_owned()],
                    ..WebConfig::default()
                },
                "web.allowed_hosts",
            ),
            (
                WebConfig {
                    allowed_hosts: vec!["host".to_owned(); MAX_ALLOWED_HOSTS + 1],
                    ..WebConfig::default()
                },
                "web.allowed_hosts",
            ),
        ];
        for (config, key) in cases {
            let error = config.validate().expect_err(key);
            assert_eq!(error.key, key, "{error}");
        }
    }

    #[test]
    fn an_explicit_address_beyond_loopback_is_taken_and_flagged() {
        let config: WebConfig = toml::from_str("listen = \"0.0.0.0:8750\"").unwrap();
        assert_eq!(config.validate(), Ok(()));
        assert!(config.is_exposed());
        let config: WebConfig = toml::from_str("listen = \"[::1]:9000\"").unwrap();
        assert!(!config.is_exposed());
    }

    #[test]
    fn a_listen_value_that_is_not_an_address_and_unknown_keys_are_rejected() {
        let error = toml::from_str::<WebConfig>("listen = \"localhost\"").unwrap_err();
        assert!(error.to_string().contains("socket address"), "{error}");
        let error = toml::from_str::<WebConfig>("port = 80").unwrap_err();
        assert!(error.to_string().contains("port"), "{error}");
    }
}
