//! What a driver may reach on the network: the backend's allow-list of
//! endpoints (`allowed_outbound`), its CA for TLS, and the per-operation
//! limits on connections and bytes.
//!
//! A driver has no network unless its backend lists endpoints. HTTP(S) goes
//! through `wasi:http/outgoing-handler`, where the host makes the connection
//! (and the TLS session, verified against the backend's CA) only to a listed
//! `http://` or `https://` endpoint. Raw TCP goes through `wasi:sockets`,
//! only to a listed `tcp://` endpoint. UDP and name lookups are refused.
//! Every wait on the network ends at the operation's time limit, and what a
//! driver makes the host hold for the network (sockets, connections, bytes)
//! counts against the operation's limits (`meter.rs`).

use crate::error::{Error, Result};
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

/// How a listed endpoint is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// Plain HTTP, through `wasi:http`: only where the list says so.
    Http,
    /// HTTPS through `wasi:http`, verified against the backend's CA.
    Https,
    /// A TCP connection through `wasi:sockets` (an SSH port, say).
    Tcp,
}

impl Scheme {
    fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
            Scheme::Tcp => "tcp",
        }
    }
}

/// One allowed endpoint: a scheme, a host and a port, nothing else.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// How it is reached.
    pub scheme: Scheme,
    /// An IP address, or (for HTTP and HTTPS only) a DNS name the host
    /// resolves.
    pub host: String,
    /// The port; HTTP and HTTPS default to 80 and 443.
    pub port: u16,
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.host.parse::<IpAddr>() {
            Ok(IpAddr::V6(ip)) => write!(f, "{}://[{ip}]:{}", self.scheme.as_str(), self.port),
            _ => write!(f, "{}://{}:{}", self.scheme.as_str(), self.host, self.port),
        }
    }
}

impl Endpoint {
    /// Parse `scheme://host:port` as written in `allowed_outbound`.
    pub fn parse(text: &str) -> std::result::Result<Endpoint, String> {
        let usage = "write it as scheme://host:port, e.g. \"https://10.0.0.5:8443\" or \
                     \"tcp://10.0.0.6:22\" (schemes http, https, tcp; no paths, no wildcards)";
        let (scheme, rest) = text
            .split_once("://")
            .ok_or_else(|| format!("{text:?} has no scheme; {usage}"))?;
        let scheme = match scheme {
            "http" => Scheme::Http,
            "https" => Scheme::Https,
            "tcp" => Scheme::Tcp,
            other => return Err(format!("{text:?}: unknown scheme {other:?}; {usage}")),
        };
        if rest.contains(['/', '?', '#', '@', '*']) || rest.is_empty() {
            return Err(format!(
                "{text:?}: only a host and a port may follow the scheme; {usage}"
            ));
        }
        let (host, port) = match rest.rsplit_once(':') {
            Some((host, port)) if !port.contains(']') => {
                let port: u16 = port
                    .parse()
                    .ok()
                    .filter(|p| *p != 0)
                    .ok_or_else(|| format!("{text:?}: port {port:?} is not 1 to 65535; {usage}"))?;
                (host, Some(port))
            }
            _ => (rest, None),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let ip = host.parse::<IpAddr>().ok();
        if ip.is_none()
            && (host.is_empty()
                || !host
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.'))
        {
            return Err(format!(
                "{text:?}: {host:?} is neither an IP address nor a host name; {usage}"
            ));
        }
        let port = match (scheme, port) {
            (_, Some(port)) => port,
            (Scheme::Http, None) => 80,
            (Scheme::Https, None) => 443,
            (Scheme::Tcp, None) => return Err(format!("{text:?}: a tcp endpoint needs its port; {usage}")),
        };
        if scheme == Scheme::Tcp && ip.is_none() {
            return Err(format!(
                "{text:?}: a tcp endpoint needs an IP address: drivers cannot look names up"
            ));
        }
        let host = ip.map_or_else(|| host.to_ascii_lowercase(), |ip| ip.to_string());
        Ok(Endpoint { scheme, host, port })
    }
}

/// Per-operation limits on the network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NetworkLimits {
    /// Connections and sockets one operation may open: each HTTP request,
    /// and each TCP socket it creates, bound, connected or neither.
    pub max_connections: u32,
    /// Bytes one operation may move: what it hands the host to send (HTTP
    /// header fields and request lines when it makes them, HTTP bodies and
    /// TCP writes when it writes them, sent or not) and what it receives
    /// (HTTP heads and bodies as they arrive, TCP reads).
    pub max_bytes: u64,
}

impl Default for NetworkLimits {
    fn default() -> Self {
        NetworkLimits {
            max_connections: 64,
            max_bytes: 16 << 20,
        }
    }
}

/// What one backend's driver may reach: none of it by default.
#[derive(Clone, Default)]
pub struct Network {
    allowed: Vec<Endpoint>,
    tls: Option<Arc<rustls::ClientConfig>>,
    /// Per-operation limits.
    pub limits: NetworkLimits,
}

impl fmt::Debug for Network {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Network")
            .field("allowed", &self.allowed)
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl PartialEq for Network {
    fn eq(&self, other: &Self) -> bool {
        self.allowed == other.allowed
            && self.limits == other.limits
            && self.tls.is_some() == other.tls.is_some()
    }
}

impl Network {
    /// No network at all.
    pub fn none() -> Network {
        Network::default()
    }

    /// The endpoints in `allowed`, with TLS verified against the CA
    /// certificates in `ca_file` (PEM) or, without one, the public web CAs.
    pub fn new(allowed: Vec<Endpoint>, ca_file: Option<&Path>, limits: NetworkLimits) -> Result<Network> {
        let needs_tls = allowed.iter().any(|e| e.scheme == Scheme::Https);
        let tls = if needs_tls {
            Some(Arc::new(tls_config(ca_file)?))
        } else {
            None
        };
        Ok(Network { allowed, tls, limits })
    }

    /// The allowed endpoints.
    pub fn allowed(&self) -> &[Endpoint] {
        &self.allowed
    }

    /// Whether any raw TCP endpoint is listed.
    pub(crate) fn has_tcp(&self) -> bool {
        self.allowed.iter().any(|e| e.scheme == Scheme::Tcp)
    }

    /// The allow-list as the configuration writes it, for messages.
    pub fn describe(&self) -> String {
        if self.allowed.is_empty() {
            "allowed_outbound is empty: this backend has no network".into()
        } else {
            let list: Vec<String> = self.allowed.iter().map(|e| format!("\"{e}\"")).collect();
            format!("allowed_outbound = [{}]", list.join(", "))
        }
    }

    fn allows(&self, scheme: Scheme, host: &str, port: u16) -> bool {
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let host = host
            .parse::<IpAddr>()
            .map_or_else(|_| host.to_ascii_lowercase(), |ip| ip.to_string());
        self.allowed
            .iter()
            .any(|e| e.scheme == scheme && e.port == port && e.host == host)
    }

    pub(crate) fn allows_tcp(&self, addr: SocketAddr) -> bool {
        self.allows(Scheme::Tcp, &addr.ip().to_string(), addr.port())
    }
}

fn tls_config(ca_file: Option<&Path>) -> Result<rustls::ClientConfig> {
    privdata_store::tls::client_config(ca_file).map_err(|message| Error::Network {
        message: match ca_file {
            Some(path) => format!("ca_file {}: {message}", path.display()),
            None => message,
        },
    })
}

/// The network of one operation: the backend's allow-list, the operation's
/// deadline and what it has used so far.
#[derive(Clone)]
pub(crate) struct Outbound {
    pub(crate) backend: String,
    pub(crate) network: Network,
    pub(crate) deadline: Instant,
    /// The operation's time limit, for messages.
    pub(crate) timeout: std::time::Duration,
    pub(crate) usage: Arc<Usage>,
    /// The backend's counters.
    pub(crate) metrics: crate::metrics::Metrics,
    /// The instance's open HTTP connections.
    pub(crate) keep_alive: keep_alive::KeepAlive,
}

impl Outbound {
    /// The operation's byte budget, for a stream or a hook to count with.
    pub(crate) fn meter(&self) -> Meter {
        Meter {
            backend: self.backend.clone(),
            usage: Arc::clone(&self.usage),
            limits: self.network.limits,
            traffic: None,
        }
    }
}

/// What the network's host calls need of an instance's state: the
/// operation's network and the resource table (and WASI's views, which
/// wasmtime-wasi's own calls take). The sandbox's state is the one.
pub(crate) trait NetworkView:
    wasmtime_wasi::WasiView + wasmtime_wasi_http::WasiHttpView + 'static
{
    /// The operation's network: its allow-list, deadline and usage.
    fn outbound(&self) -> &Outbound;
    /// The host resources the driver holds.
    fn table(&mut self) -> &mut wasmtime::component::ResourceTable;
}

mod handover;
mod http;
mod keep_alive;
mod meter;
pub(crate) mod tcp;
pub(crate) mod wait;

pub(crate) use handover::add_to_linker as add_handover_to_linker;
pub(crate) use meter::{Meter, OverLimit, Usage};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_parse_to_scheme_host_and_port() {
        let e = Endpoint::parse("https://10.0.0.5:8443").unwrap();
        assert_eq!(
            (e.scheme, e.host.as_str(), e.port),
            (Scheme::Https, "10.0.0.5", 8443)
        );
        assert_eq!(
            Endpoint::parse("https://NAS.example").unwrap().to_string(),
            "https://nas.example:443"
        );
        assert_eq!(
            Endpoint::parse("http://[::1]:80").unwrap().to_string(),
            "http://[::1]:80"
        );
        assert_eq!(Endpoint::parse("tcp://10.0.0.6:22").unwrap().port, 22);
    }

    #[test]
    fn endpoints_refuse_what_they_cannot_mean() {
        for (text, says) in [
            ("10.0.0.5:443", "no scheme"),
            ("ftp://10.0.0.5:21", "unknown scheme"),
            ("https://10.0.0.5:8443/api", "only a host and a port"),
            ("https://*.example:443", "only a host and a port"),
            ("https://10.0.0.5:0", "not 1 to 65535"),
            ("https://10.0.0.5:99999", "not 1 to 65535"),
            ("tcp://10.0.0.6", "needs its port"),
            ("tcp://nas.example:22", "needs an IP address"),
            ("https://", "only a host and a port"),
            ("https://bad_name:1", "neither an IP address"),
        ] {
            let err = Endpoint::parse(text).unwrap_err();
            assert!(err.contains(says), "{text}: {err}");
        }
    }

    #[test]
    fn only_the_listed_scheme_host_and_port_are_allowed() {
        let net = Network::new(
            vec![
                Endpoint::parse("http://127.0.0.1:8080").unwrap(),
                Endpoint::parse("tcp://127.0.0.1:2222").unwrap(),
            ],
            None,
            NetworkLimits::default(),
        )
        .unwrap();
        assert!(net.allows(Scheme::Http, "127.0.0.1", 8080));
        assert!(
            !net.allows(Scheme::Https, "127.0.0.1", 8080),
            "https was not listed"
        );
        assert!(!net.allows(Scheme::Http, "127.0.0.1", 8081));
        assert!(!net.allows(Scheme::Http, "127.0.0.2", 8080));
        assert!(net.allows_tcp("127.0.0.1:2222".parse().unwrap()));
        assert!(
            !net.allows_tcp("127.0.0.1:8080".parse().unwrap()),
            "http is not tcp"
        );
        assert!(!Network::none().allows_tcp("127.0.0.1:2222".parse().unwrap()));
    }
}
