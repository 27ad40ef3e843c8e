//! Raw WASI calls that try to make the host hold more than a backend's
//! limits allow: sockets, connections, bytes, header fields, request bodies
//! and table entries. Each attack reports what it got before it was
//! stopped (a refusal) or is stopped by a trap, which the tests read.

use std::net::SocketAddrV4;
use wasip2::http::outgoing_handler;
use wasip2::http::types::{Fields, Method, OutgoingBody, OutgoingRequest, Scheme};
use wasip2::sockets::instance_network::instance_network;
use wasip2::sockets::network::{IpAddressFamily, IpSocketAddress, Ipv4SocketAddress};
use wasip2::sockets::tcp::TcpSocket;
use wasip2::sockets::tcp_create_socket::create_tcp_socket;

/// A TCP connection made with raw `wasi:sockets` calls.
pub struct Connection {
    pub input: wasip2::io::streams::InputStream,
    pub output: wasip2::io::streams::OutputStream,
    _socket: TcpSocket,
}

fn ipv4(addr: SocketAddrV4) -> IpSocketAddress {
    let [a, b, c, d] = addr.ip().octets();
    IpSocketAddress::Ipv4(Ipv4SocketAddress {
        port: addr.port(),
        address: (a, b, c, d),
    })
}

/// Connect to `addr` (an `IP:PORT`), or say why not.
pub fn connect(addr: &str) -> Result<Connection, String> {
    let addr: SocketAddrV4 = addr.parse().map_err(|e| format!("{addr:?}: {e}"))?;
    let socket = create_tcp_socket(IpAddressFamily::Ipv4).map_err(|e| format!("create: {e:?}"))?;
    socket
        .start_connect(&instance_network(), ipv4(addr))
        .map_err(|e| format!("connect: {e:?}"))?;
    loop {
        match socket.finish_connect() {
            Ok((input, output)) => {
                return Ok(Connection {
                    input,
                    output,
                    _socket: socket,
                });
            }
            Err(wasip2::sockets::network::ErrorCode::WouldBlock) => socket.subscribe().block(),
            Err(e) => return Err(format!("connect: {e:?}")),
        }
    }
}

/// A socket bound to `0.0.0.0:0`, or why not.
pub fn bind_any() -> Result<TcpSocket, String> {
    let socket = create_tcp_socket(IpAddressFamily::Ipv4).map_err(|e| format!("create: {e:?}"))?;
    let any = ipv4(SocketAddrV4::new([0, 0, 0, 0].into(), 0));
    socket
        .start_bind(&instance_network(), any)
        .map_err(|e| format!("bind: {e:?}"))?;
    socket.subscribe().block();
    socket.finish_bind().map_err(|e| format!("bind: {e:?}"))?;
    Ok(socket)
}

/// Write `n` bytes, as the stream takes them; how many it took.
pub fn send(output: &wasip2::io::streams::OutputStream, n: usize) -> usize {
    let chunk = vec![7u8; 4096];
    let mut sent = 0;
    while sent < n {
        let len = chunk.len().min(n - sent);
        if output.blocking_write_and_flush(&chunk[..len]).is_err() {
            break;
        }
        sent += len;
    }
    sent
}

/// Read until `n` bytes came or the stream ends; how many came.
pub fn receive(input: &wasip2::io::streams::InputStream, n: usize) -> usize {
    let mut got = 0;
    while got < n {
        match input.blocking_read((n - got).min(65536) as u64) {
            Ok(bytes) => got += bytes.len(),
            Err(_) => break,
        }
    }
    got
}

/// `check-write`, one byte, then zeroes without end on a connection to
/// `addr`.
pub fn zeroes(addr: &str) -> String {
    let c = match connect(addr) {
        Ok(c) => c,
        Err(e) => return e,
    };
    let permit = c.output.check_write();
    let one = c.output.write(&[1]);
    let zeroes = c.output.write_zeroes(u64::MAX);
    format!("permit {permit:?}; one byte {one:?}; zeroes {zeroes:?}")
}

/// A request never sent, its body left open: what the host holds for it.
pub struct Pending {
    _stream: wasip2::http::types::OutputStream,
    _body: OutgoingBody,
    _request: OutgoingRequest,
}

/// A request that is never sent, whose body takes up to `bytes`; what the
/// body took.
pub fn unsent_body(bytes: usize) -> (Pending, usize) {
    let request = OutgoingRequest::new(Fields::new());
    let body = request.body().expect("a new request's body");
    let stream = body.write().expect("a new body's stream");
    let chunk = vec![7u8; 1 << 20];
    let mut written = 0;
    while written < bytes {
        let len = match stream.check_write() {
            Ok(0) => break, // the body's buffer is full: nothing reads it
            Ok(n) => (n as usize).min(chunk.len()).min(bytes - written),
            Err(_) => break,
        };
        if stream.write(&chunk[..len]).is_err() {
            break;
        }
        written += len;
    }
    (
        Pending {
            _stream: stream,
            _body: body,
            _request: request,
        },
        written,
    )
}

/// `count` requests never sent, each with a body of up to `bytes`, all
/// kept: how many bytes the bodies took.
pub fn bodies(count: usize, bytes: usize) -> String {
    let mut kept = Vec::new();
    let mut total = 0;
    for _ in 0..count {
        let (pending, written) = unsent_body(bytes);
        total += written;
        kept.push(pending);
    }
    format!("{} bodies took {total} bytes", kept.len())
}

/// Two connections to `addr`, then both dropped; `fields` header fields,
/// which take freed table slots; one more connection, which then sends
/// (`send`) or receives 1 MiB. What it moved.
pub fn reuse(addr: &str, fields: usize, send_it: bool) -> String {
    let both = (connect(addr), connect(addr));
    if let (Err(e), _) | (_, Err(e)) = both {
        return e;
    }
    drop(both);
    let _fields: Vec<Fields> = (0..fields).map(|_| Fields::new()).collect();
    let c = match connect(addr) {
        Ok(c) => c,
        Err(e) => return e,
    };
    if send_it {
        format!("sent {}", send(&c.output, 1 << 20))
    } else {
        format!("received {}", receive(&c.input, 1 << 20))
    }
}

/// A request to `authority` (plain HTTP) with a method of `method_bytes`,
/// one header of `header_bytes` and a body of `body_bytes`; what came of
/// it.
pub fn heads(authority: &str, method_bytes: usize, header_bytes: usize, body_bytes: usize) -> String {
    let fields = match Fields::from_list(&[("x-big".to_string(), vec![b'a'; header_bytes])]) {
        Ok(f) => f,
        Err(e) => return format!("fields: {e:?}"),
    };
    let request = OutgoingRequest::new(fields);
    let method = Method::Other("X".repeat(method_bytes));
    let set = (
        request.set_method(&method),
        request.set_scheme(Some(&Scheme::Http)),
        request.set_authority(Some(authority)),
        request.set_path_with_query(Some("/")),
    );
    if set != (Ok(()), Ok(()), Ok(()), Ok(())) {
        return format!("request refused: {set:?}");
    }
    let body = request.body().expect("a new request's body");
    let future = match outgoing_handler::handle(request, None) {
        Ok(future) => future,
        Err(e) => return format!("refused: {e:?}"),
    };
    {
        let stream = body.write().expect("a new body's stream");
        let chunk = vec![7u8; 4096];
        let mut written = 0;
        while written < body_bytes {
            let len = chunk.len().min(body_bytes - written);
            if stream.blocking_write_and_flush(&chunk[..len]).is_err() {
                break;
            }
            written += len;
        }
    }
    if OutgoingBody::finish(body, None).is_err() {
        return "the body could not be finished".into();
    }
    future.subscribe().block();
    match future.get() {
        Some(Ok(Ok(response))) => format!("answered {}", response.status()),
        Some(Ok(Err(e))) => format!("failed: {e:?}"),
        other => format!("no answer: {other:?}"),
    }
}

/// Bind sockets to `0.0.0.0:0` until refused; how many it got.
pub fn hoard() -> String {
    let mut sockets = Vec::new();
    loop {
        match bind_any() {
            Ok(socket) => sockets.push(socket),
            Err(e) => return format!("bound {} sockets; then {e}", sockets.len()),
        }
        if sockets.len() >= 100_000 {
            return format!("bound {} sockets", sockets.len());
        }
    }
}

/// Empty header fields, kept, until the host stops it.
pub fn table() -> String {
    let mut kept = Vec::new();
    loop {
        kept.push(Fields::new());
        if kept.len() >= 10_000_000 {
            return format!("made {} fields", kept.len());
        }
    }
}

/// A sequence of the calls above, one letter each (for the property
/// test): `c` connect to `tcp`, `b` bind a socket, `w` send 4 KiB on the
/// last connection, `z` 64 KiB of zeroes on it (or what it takes), `Z`
/// zeroes without end on it, `r` receive 64 KiB on it,
/// `d` drop the last thing kept, `f` fields with a 1,000-byte header, `q` a
/// request never sent with a 64 KiB body, `h` a request to `http` with a
/// 1,000-byte header and body, `p` ten pollables of the last connection, `m` a
/// request with a 10,000-byte method. Refusals are noted, not fatal.
pub fn script(tcp: &str, http: &str, ops: &str) -> String {
    #[allow(dead_code, reason = "what is kept holds the host's resources")]
    enum Kept {
        Connection(Connection),
        Socket(TcpSocket),
        Fields(Fields),
        Pending(Pending),
        Request(OutgoingRequest),
        Pollables(Vec<wasip2::io::poll::Pollable>),
    }
    let mut kept: Vec<Kept> = Vec::new();
    let mut refused = 0;
    for op in ops.chars() {
        match op {
            'c' => match connect(tcp) {
                Ok(c) => kept.push(Kept::Connection(c)),
                Err(_) => refused += 1,
            },
            'b' => match bind_any() {
                Ok(s) => kept.push(Kept::Socket(s)),
                Err(_) => refused += 1,
            },
            'w' | 'z' | 'Z' | 'r' | 'p' => {
                let Some(Kept::Connection(c)) = kept.iter().rev().find(|k| matches!(k, Kept::Connection(_)))
                else {
                    continue;
                };
                match op {
                    'w' => {
                        send(&c.output, 4096);
                    }
                    'z' => {
                        let n = c.output.check_write().unwrap_or(0).min(65536);
                        let _ = c.output.write_zeroes(n);
                    }
                    'Z' => {
                        let _ = c.output.write_zeroes(u64::MAX);
                    }
                    'r' => {
                        receive(&c.input, 65536);
                    }
                    _ => {
                        let pollables = (0..10).map(|_| c.input.subscribe()).collect();
                        kept.push(Kept::Pollables(pollables));
                    }
                }
            }
            'd' => {
                kept.pop();
            }
            'f' => match Fields::from_list(&[("x-pad".to_string(), vec![b'a'; 1000])]) {
                Ok(f) => kept.push(Kept::Fields(f)),
                Err(_) => refused += 1,
            },
            'q' => kept.push(Kept::Pending(unsent_body(65536).0)),
            'h' => {
                heads(http, 3, 1000, 1000);
            }
            'm' => {
                let request = OutgoingRequest::new(Fields::new());
                if request.set_method(&Method::Other("X".repeat(10_000))).is_err() {
                    refused += 1;
                }
                kept.push(Kept::Request(request));
            }
            _ => {}
        }
    }
    format!("kept {}; refused {refused}", kept.len())
}
