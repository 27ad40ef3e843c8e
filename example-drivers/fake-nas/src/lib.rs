//! A small NAS with a REST management API, served on 127.0.0.1 on a free
//! port, over HTTP or HTTPS (a certificate from a CA made for it). The REST
//! example driver manages it; the tests and `privdata demo` start one.
//!
//! The API (JSON bodies; every request carries `x-auth-token`):
//!
//! | request | answer |
//! |---|---|
//! | `POST /api/volumes {"name", "size_gib"}` | 201 `{"id", "name", "size_gib"}` (ids are the array's own: `vol-1`, …) |
//! | `GET /api/volumes/ID` | 200 the volume, 404 |
//! | `PATCH /api/volumes/ID {"size_gib"}` | 200 the volume |
//! | `DELETE /api/volumes/ID` | 204 (its snapshots go too), 404 |
//! | `PUT /api/volumes/ID/exports {"clients": ["10.0.0.0/24:rw", …]}` | 200 the volume |
//! | `POST /api/volumes/ID/snapshots {"name"}` | 201 `{"id", "volume"}` |
//! | `DELETE /api/snapshots/ID` | 204, 404 |
//! | `GET /api/capacity` | 200 `{"total_gib", "free_gib"}` |
//!
//! A test can slow every answer down ([`FakeNas::set_delay`]) or make the
//! array vanish in the middle of the next request ([`FakeNas::vanish`]).

use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The token the fake NAS accepts.
pub const TOKEN: &str = "fake-nas-token";

/// One volume on the array.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Volume {
    /// The array's id.
    pub id: String,
    /// The name the driver gave it.
    pub name: String,
    /// Its size.
    pub size_gib: u64,
    /// Who may mount it: `address:rw` or `address:ro`.
    pub clients: Vec<String>,
}

#[derive(Default)]
struct Array {
    next_id: u64,
    volumes: BTreeMap<String, Volume>,
    /// snapshot id -> volume id
    snapshots: BTreeMap<String, String>,
    requests: u64,
}

struct Shared {
    array: Mutex<Array>,
    delay: Mutex<Duration>,
    /// Requests read, answered or not yet.
    received: AtomicU64,
    vanish: AtomicBool,
    stopped: AtomicBool,
    /// TCP connections accepted.
    connections: AtomicU64,
    /// Each of them, to close at once ([`FakeNas::close_connections`]).
    open: Mutex<std::collections::HashMap<u64, TcpStream>>,
    capacity_gib: u64,
}

/// A running fake NAS; dropping it stops it.
pub struct FakeNas {
    addr: SocketAddr,
    tls: Option<String>,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for FakeNas {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeNas")
            .field("url", &self.url())
            .finish_non_exhaustive()
    }
}

impl FakeNas {
    /// Serve plain HTTP on 127.0.0.1.
    pub fn http() -> std::io::Result<FakeNas> {
        FakeNas::start(None)
    }

    /// Serve HTTPS on 127.0.0.1, with a certificate for `127.0.0.1` signed
    /// by a CA made for this NAS alone ([`FakeNas::ca_pem`]).
    pub fn https() -> std::io::Result<FakeNas> {
        let (ca_pem, config) = tls_config().map_err(std::io::Error::other)?;
        FakeNas::start(Some((ca_pem, Arc::new(config))))
    }

    fn start(tls: Option<(String, Arc<rustls::ServerConfig>)>) -> std::io::Result<FakeNas> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            array: Mutex::default(),
            delay: Mutex::new(Duration::ZERO),
            received: AtomicU64::new(0),
            vanish: AtomicBool::new(false),
            stopped: AtomicBool::new(false),
            connections: AtomicU64::new(0),
            open: Mutex::default(),
            capacity_gib: 1000,
        });
        let (ca_pem, config) = match tls {
            Some((pem, config)) => (Some(pem), Some(config)),
            None => (None, None),
        };
        let serving = Arc::clone(&shared);
        std::thread::Builder::new()
            .name("fake-nas".into())
            .spawn(move || {
                for stream in listener.incoming() {
                    if serving.stopped.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(stream) = stream else { continue };
                    let shared = Arc::clone(&serving);
                    let config = config.clone();
                    std::thread::spawn(move || {
                        let _ = serve(stream, config, &shared);
                    });
                }
            })?;
        Ok(FakeNas {
            addr,
            tls: ca_pem,
            shared,
        })
    }

    /// The API's base URL: `http://127.0.0.1:PORT` or `https://…`.
    pub fn url(&self) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The CA certificate (PEM) that signed an HTTPS NAS's certificate.
    pub fn ca_pem(&self) -> Option<&str> {
        self.tls.as_deref()
    }

    /// Wait `delay` before answering each request from now on.
    pub fn set_delay(&self, delay: Duration) {
        *self.shared.delay.lock().unwrap() = delay;
    }

    /// Make the array vanish: the next request is read, its connection
    /// dropped without an answer, and the NAS stops listening.
    pub fn vanish(&self) {
        self.shared.vanish.store(true, Ordering::SeqCst);
    }

    /// The volumes on the array, by id.
    pub fn volumes(&self) -> Vec<Volume> {
        self.shared
            .array
            .lock()
            .unwrap()
            .volumes
            .values()
            .cloned()
            .collect()
    }

    /// The snapshot ids on the array.
    pub fn snapshots(&self) -> Vec<String> {
        self.shared
            .array
            .lock()
            .unwrap()
            .snapshots
            .keys()
            .cloned()
            .collect()
    }

    /// How many requests it has read, answered or not (a slowed-down one
    /// counts here while it waits).
    pub fn received(&self) -> u64 {
        self.shared.received.load(Ordering::SeqCst)
    }

    /// How many TCP connections it has accepted.
    pub fn connections(&self) -> u64 {
        self.shared.connections.load(Ordering::SeqCst)
    }

    /// Close every connection it holds open between requests, as a server
    /// does after its keep-alive timeout.
    pub fn close_connections(&self) {
        for (_, stream) in self.shared.open.lock().unwrap().drain() {
            let _ = stream.shutdown(std::net::Shutdown::Both);
        }
    }

    /// How many requests it has answered.
    pub fn requests(&self) -> u64 {
        self.shared.array.lock().unwrap().requests
    }

    fn stop(&self) {
        if !self.shared.stopped.swap(true, Ordering::SeqCst) {
            // Wake the accepting thread so it sees the flag.
            let _ = TcpStream::connect(self.addr);
        }
    }
}

impl Drop for FakeNas {
    fn drop(&mut self) {
        self.stop();
    }
}

fn tls_config() -> Result<(String, rustls::ServerConfig), Box<dyn std::error::Error + Send + Sync>> {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate()?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "fake NAS test CA");
    let ca_cert = ca_params.self_signed(&ca_key)?;
    let issuer = Issuer::new(ca_params, ca_key);
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])?;
    params.distinguished_name.push(DnType::CommonName, "fake NAS");
    let cert = params.signed_by(&key, &issuer)?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone()],
            rustls::pki_types::PrivateKeyDer::try_from(key.serialize_der())?,
        )?;
    Ok((ca_cert.pem(), config))
}

fn serve(stream: TcpStream, tls: Option<Arc<rustls::ServerConfig>>, shared: &Shared) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let id = shared.connections.fetch_add(1, Ordering::SeqCst);
    shared.open.lock().unwrap().insert(id, stream.try_clone()?);
    let served = match tls {
        Some(config) => {
            let conn = rustls::ServerConnection::new(config).map_err(std::io::Error::other)?;
            exchanges(BufReader::new(rustls::StreamOwned::new(conn, stream)), shared)
        }
        None => exchanges(BufReader::new(stream), shared),
    };
    // Closed now, not when the last clone goes.
    if let Some(stream) = shared.open.lock().unwrap().remove(&id) {
        let _ = stream.shutdown(std::net::Shutdown::Both);
    }
    served
}

/// Request after request on one connection (HTTP/1.1 keeps it open), until
/// the client closes it.
fn exchanges<S: Read + Write>(mut reader: BufReader<S>, shared: &Shared) -> std::io::Result<()> {
    while exchange(&mut reader, shared)? {}
    Ok(())
}

/// One request and its answer; false when the client closed the
/// connection instead.
fn exchange<S: Read + Write>(reader: &mut BufReader<S>, shared: &Shared) -> std::io::Result<bool> {
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Ok(false);
    }
    let mut parts = line.split_whitespace();
    let (method, path) = (
        parts.next().unwrap_or("").to_string(),
        parts.next().unwrap_or("").to_string(),
    );
    let (mut length, mut token) = (0usize, None);
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header)? == 0 || header == "\r\n" || header == "\n" {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            match name.trim().to_ascii_lowercase().as_str() {
                "content-length" => length = value.trim().parse().unwrap_or(0),
                "x-auth-token" => token = Some(value.trim().to_string()),
                _ => {}
            }
        }
    }
    let mut body = vec![0; length.min(1 << 20)];
    reader.read_exact(&mut body)?;
    shared.received.fetch_add(1, Ordering::SeqCst);
    if shared.vanish.load(Ordering::SeqCst) {
        shared.stopped.store(true, Ordering::SeqCst);
        return Ok(false); // dropped: no answer
    }
    let delay = *shared.delay.lock().unwrap();
    std::thread::sleep(delay);
    let (status, answer) = if token.as_deref() != Some(TOKEN) {
        (401, json!({"error": "missing or wrong x-auth-token"}))
    } else {
        let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let mut array = shared.array.lock().unwrap();
        array.requests += 1;
        route(&mut array, shared.capacity_gib, &method, &path, &body)
    };
    let text = if status == 204 {
        String::new()
    } else {
        answer.to_string()
    };
    let reason = match status {
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        409 => "Conflict",
        _ => "Error",
    };
    let stream = reader.get_mut();
    // A 204 has no body and so no length (HTTP clients hold to that).
    let length = if status == 204 {
        String::new()
    } else {
        format!("content-length: {}\r\n", text.len())
    };
    write!(
        stream,
        "HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\n{length}\r\n{text}"
    )?;
    stream.flush()?;
    Ok(true)
}

fn volume_json(v: &Volume) -> Value {
    json!({"id": v.id, "name": v.name, "size_gib": v.size_gib, "clients": v.clients})
}

fn route(array: &mut Array, capacity: u64, method: &str, path: &str, body: &Value) -> (u16, Value) {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let not_found = |what: &str| (404, json!({"error": format!("no such {what}")}));
    let size = body.get("size_gib").and_then(Value::as_u64);
    match (method, segments.as_slice()) {
        ("GET", ["api", "capacity"]) => {
            let used: u64 = array.volumes.values().map(|v| v.size_gib).sum();
            (
                200,
                json!({"total_gib": capacity, "free_gib": capacity.saturating_sub(used)}),
            )
        }
        ("POST", ["api", "volumes"]) => {
            let (Some(name), Some(size)) = (body.get("name").and_then(Value::as_str), size) else {
                return (400, json!({"error": "name and size_gib are required"}));
            };
            if array.volumes.values().any(|v| v.name == name) {
                return (409, json!({"error": format!("a volume named {name} exists")}));
            }
            array.next_id += 1;
            let id = format!("vol-{}", array.next_id);
            let volume = Volume {
                id: id.clone(),
                name: name.to_string(),
                size_gib: size,
                clients: Vec::new(),
            };
            let answer = volume_json(&volume);
            array.volumes.insert(id, volume);
            (201, answer)
        }
        ("GET", ["api", "volumes", id]) => match array.volumes.get(*id) {
            Some(v) => (200, volume_json(v)),
            None => not_found("volume"),
        },
        ("PATCH", ["api", "volumes", id]) => match (array.volumes.get_mut(*id), size) {
            (Some(v), Some(size)) => {
                v.size_gib = size;
                (200, volume_json(v))
            }
            (Some(_), None) => (400, json!({"error": "size_gib is required"})),
            (None, _) => not_found("volume"),
        },
        ("DELETE", ["api", "volumes", id]) => match array.volumes.remove(*id) {
            Some(_) => {
                array.snapshots.retain(|_, volume| volume != id);
                (204, Value::Null)
            }
            None => not_found("volume"),
        },
        ("PUT", ["api", "volumes", id, "exports"]) => {
            let clients: Option<Vec<String>> = body.get("clients").and_then(Value::as_array).map(|list| {
                list.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            });
            match (array.volumes.get_mut(*id), clients) {
                (Some(v), Some(clients)) => {
                    v.clients = clients;
                    (200, volume_json(v))
                }
                (Some(_), None) => (400, json!({"error": "clients is required"})),
                (None, _) => not_found("volume"),
            }
        }
        ("POST", ["api", "volumes", id, "snapshots"]) => {
            if !array.volumes.contains_key(*id) {
                return not_found("volume");
            }
            array.next_id += 1;
            let snap = format!("snap-{}", array.next_id);
            array.snapshots.insert(snap.clone(), id.to_string());
            (201, json!({"id": snap, "volume": id}))
        }
        ("DELETE", ["api", "snapshots", id]) => match array.snapshots.remove(*id) {
            Some(_) => (204, Value::Null),
            None => not_found("snapshot"),
        },
        _ => (404, json!({"error": format!("no route for {method} {path}")})),
    }
}
