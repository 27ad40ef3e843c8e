//! A driver cannot make the host hold more than its backend's limits: the
//! hostile driver's raw WASI calls (`tests/drivers/hostile/src/resources.rs`)
//! try endless zeroes, request bodies never sent, a reused table slot,
//! oversized request heads, hoarded sockets and a full resource table, and
//! random sequences of all of them; each is refused or stopped at its limit,
//! the host's memory and descriptors stay bounded, and the other backends
//! are served.

use conformance::*;
use privdata_host::{Error, NetworkLimits, SandboxLimits};
use proptest::prelude::*;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

/// A loopback server that reads all it is sent (counting it) and sends
/// `reply` to each connection: at once, or (an HTTP server) once the
/// request's head has come.
struct Sink {
    addr: SocketAddr,
    received: Arc<AtomicU64>,
}

impl Sink {
    /// A TCP server that sends `reply` to each connection at once.
    fn tcp(reply: Vec<u8>) -> Sink {
        Sink::start(reply, false)
    }

    /// An HTTP server that answers a connection's first request 204, with
    /// no body, and says it closes the connection (it reads on).
    fn http() -> Sink {
        Sink::start(
            b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n".to_vec(),
            true,
        )
    }

    fn start(reply: Vec<u8>, after_head: bool) -> Sink {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let received = Arc::new(AtomicU64::new(0));
        let counted = received.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let counted = counted.clone();
                let mut writer = stream.try_clone().unwrap();
                let reply = reply.clone();
                if !after_head {
                    let (mut writer, reply) = (stream.try_clone().unwrap(), reply.clone());
                    std::thread::spawn(move || {
                        let _ = writer.write_all(&reply);
                    });
                }
                std::thread::spawn(move || {
                    let mut stream = stream;
                    let mut buf = [0u8; 65536];
                    let mut head = Vec::new();
                    while let Ok(n @ 1..) = stream.read(&mut buf) {
                        counted.fetch_add(n as u64, Ordering::SeqCst);
                        if after_head && head.len() < 1 << 20 {
                            head.extend_from_slice(&buf[..n]);
                            if head.windows(4).any(|w| w == b"\r\n\r\n") {
                                let _ = writer.write_all(&reply);
                                head = vec![0; 1 << 20]; // answered
                            }
                        }
                    }
                });
            }
        });
        Sink { addr, received }
    }

    fn received(&self) -> u64 {
        self.received.load(Ordering::SeqCst)
    }
}

fn limits(max_connections: u32, max_bytes: u64) -> NetworkLimits {
    NetworkLimits {
        max_connections,
        max_bytes,
    }
}

/// A hostile backend in `mode`, and a generic neighbour.
fn with_neighbour(hostile: BackendSpec) -> Fixture {
    Fixture::new([hostile, BackendSpec::new("good", drivers::GENERIC)])
}

fn hostile(mode: &str) -> BackendSpec {
    BackendSpec::new("hostile", drivers::HOSTILE).option("mode", mode)
}

/// Run the hostile driver with `args` as the share's name.
fn attack(f: &Fixture, args: &str) -> Result<String, Error> {
    let mut s = share(ID1);
    s.name = args.into();
    f.backend("hostile")
        .create_share(&s)
        .map(|u| u.exports()[0].path.clone())
}

fn trap(result: Result<String, Error>) -> String {
    match result {
        Err(Error::DriverTrap { message, .. }) => message,
        other => panic!("expected a trap, got {other:?}"),
    }
}

/// The neighbour serves a lifecycle after the attack.
fn neighbour_served(f: &Fixture) {
    let good = f.backend("good");
    good.create_share(&share(ID2)).unwrap().export_locations.unwrap();
    good.delete_share(&share(ID2)).unwrap();
}

const OVER_BYTES: &str = "bytes on the network (limits.max_network_bytes)";

#[test]
fn endless_zeroes_on_a_connection_are_refused_and_the_host_serves_on() {
    let sink = Sink::tcp(Vec::new());
    let f = with_neighbour(hostile("zeroes").network(
        &[&format!("tcp://{}", sink.addr)],
        None,
        limits(8, 1 << 20),
    ));
    let message = trap(attack(&f, &sink.addr.to_string()));
    assert!(
        message.contains("cannot write more zeroes than `check_write` allows"),
        "{message}"
    );
    assert!(
        sink.received() <= 1,
        "{} bytes reached the server",
        sink.received()
    );
    neighbour_served(&f);
}

#[test]
fn a_reused_table_slot_does_not_hide_a_connection_from_the_byte_count() {
    // Every connection is sent 1 MiB and may send 1 MiB.
    let sink = Sink::tcp(vec![7; 1 << 20]);
    let f = with_neighbour(hostile("reuse").network(
        &[&format!("tcp://{}", sink.addr)],
        None,
        limits(8, 64 << 10),
    ));
    // After two connections are dropped, one header fields resource puts
    // the third connection's input stream, two put its output stream, in
    // a slot an earlier connection's stream had (counting by table slot
    // missed both).
    for args in ["1 receive", "2 send"] {
        let message = trap(attack(&f, &format!("{} {args}", sink.addr)));
        assert!(
            message.contains(&format!("at most {} {OVER_BYTES}", 64 << 10)),
            "{args}: {message}"
        );
    }
    assert!(
        sink.received() <= 64 << 10,
        "{} bytes reached the server past the limit",
        sink.received()
    );
    neighbour_served(&f);
}

#[test]
fn request_heads_count_against_the_network_bytes_before_anything_is_sent() {
    let sink = Sink::http();
    let f = with_neighbour(hostile("heads").network(
        &[&format!("http://{}", sink.addr)],
        None,
        limits(8, 64 << 10),
    ));
    let over = format!("at most {} {OVER_BYTES}", 64 << 10);
    // A 1 MiB method, then a 120,000-byte header: each stops the driver
    // when it hands it over, and nothing is sent.
    for args in ["1048576 10 0", "3 120000 0"] {
        let message = trap(attack(&f, &format!("{} {args}", sink.addr)));
        assert!(message.contains(&over), "{args}: {message}");
    }
    assert_eq!(sink.received(), 0, "nothing reached the server");
    // A 40,000-byte header goes out, and so does a 30,000-byte body, but
    // not both: the head counts with the body.
    assert_eq!(
        attack(&f, &format!("{} 3 40000 0", sink.addr)).unwrap(),
        "answered 204"
    );
    assert!(sink.received() > 40_000);
    assert_eq!(
        attack(&f, &format!("{} 3 10 30000", sink.addr)).unwrap(),
        "answered 204"
    );
    let message = trap(attack(&f, &format!("{} 3 40000 30000", sink.addr)));
    assert!(message.contains(&over), "{message}");
    neighbour_served(&f);
}

#[test]
fn sockets_count_against_max_connections_bound_or_not() {
    let sink = Sink::tcp(Vec::new());
    let f = with_neighbour(hostile("hoard").network(
        &[&format!("tcp://{}", sink.addr)],
        None,
        limits(3, 1 << 20),
    ));
    let report = attack(&f, "").unwrap();
    assert!(
        report.starts_with("bound 3 sockets; then create:") && report.contains("new-socket-limit"),
        "{report}"
    );
    // Without a tcp endpoint, no socket at all.
    let f = with_neighbour(hostile("hoard"));
    let report = attack(&f, "").unwrap();
    assert!(
        report.starts_with("bound 0 sockets; then create:") && report.contains("access-denied"),
        "{report}"
    );
    neighbour_served(&f);
}

#[test]
fn the_resource_table_is_bounded_and_says_by_what() {
    let mut spec = hostile("table");
    spec.sandbox_limits = SandboxLimits {
        max_resources: 500,
        ..SandboxLimits::default()
    };
    let f = with_neighbour(spec);
    let message = trap(attack(&f, ""));
    assert!(
        message.contains("than its limit of 500 (limits.max_resources)"),
        "{message}"
    );
    neighbour_served(&f);
}

/// The tests that measure the process's peak memory run one at a time.
fn alone() -> MutexGuard<'static, ()> {
    static ALONE: Mutex<()> = Mutex::new(());
    ALONE.lock().unwrap_or_else(|e| e.into_inner())
}

/// Bytes of the process's peak resident memory since the last reset.
fn peak_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    kib << 10
}

/// Start counting the peak anew from the current resident memory.
fn reset_peak_rss() {
    std::fs::write("/proc/self/clear_refs", "5").unwrap();
}

fn open_descriptors() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// What the host may grow by while one instance runs: its linear memory,
/// what it may hand over for the network, and 32 MiB for the instance's
/// host state and wasmtime's own.
fn bound(memory: usize, network: u64) -> u64 {
    memory as u64 + network + (32 << 20)
}

#[test]
fn request_bodies_never_sent_cannot_grow_the_host_past_the_limits() {
    let _alone = alone();
    // No network at all, 16 MiB of memory, the default 16 MiB of bytes:
    // 128 bodies of 2 MiB would be 256 MiB.
    let mut spec = hostile("bodies");
    spec.sandbox_limits.max_memory_bytes = 16 << 20;
    let f = with_neighbour(spec);
    neighbour_served(&f);
    reset_peak_rss();
    let before = peak_rss();
    let message = trap(attack(&f, &format!("128 {}", 2 << 20)));
    let grew = peak_rss().saturating_sub(before);
    assert!(
        message.contains(&format!("at most {} {OVER_BYTES}", 16 << 20)),
        "{message}"
    );
    let most = bound(16 << 20, 16 << 20);
    assert!(grew <= most, "the host grew by {grew} bytes (bound {most})");
    eprintln!(
        "128 bodies of 2 MiB: refused at 16 MiB; the host grew by {} MiB",
        grew >> 20
    );
    neighbour_served(&f);
}

/// `PROPTEST_CASES`, or `default`.
fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// One letter of the hostile driver's `script` mode.
fn op() -> impl Strategy<Value = char> {
    prop::sample::select(vec!['c', 'b', 'w', 'z', 'Z', 'r', 'd', 'f', 'q', 'h', 'p', 'm'])
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(48), failure_persistence: None, ..ProptestConfig::default() })]

    /// Random sequences of WASI network and resource calls against small
    /// limits: the host never panics, its peak memory stays within the
    /// bound, the neighbour is served, and its descriptors come back when
    /// the backend's instances go.
    #[test]
    fn random_sequences_of_calls_stay_within_the_limits(ops in prop::collection::vec(op(), 1..80)) {
        let _alone = alone();
        let tcp = Sink::tcp(vec![7; 256 << 10]);
        let http = Sink::http();
        let mut spec = hostile("script").network(
            &[&format!("tcp://{}", tcp.addr), &format!("http://{}", http.addr)],
            None,
            limits(6, 256 << 10),
        );
        spec.sandbox_limits = SandboxLimits {
            max_memory_bytes: 16 << 20,
            max_resources: 64,
            timeout: std::time::Duration::from_secs(5),
            ..SandboxLimits::default()
        };
        let f = with_neighbour(spec);
        neighbour_served(&f);
        // What the process starts once and keeps (the network's runtime)
        // is started before the count.
        static WARM: std::sync::Once = std::sync::Once::new();
        WARM.call_once(|| {
            let _ = attack(&f, &format!("{} {} ch", tcp.addr, http.addr));
        });
        let descriptors = open_descriptors();
        reset_peak_rss();
        let before = peak_rss();
        let script: String = ops.iter().collect();
        let started = std::time::Instant::now();
        let _ = attack(&f, &format!("{} {} {script}", tcp.addr, http.addr));
        let grew = peak_rss().saturating_sub(before);
        prop_assert!(grew <= bound(16 << 20, 256 << 10), "{script}: the host grew by {grew} bytes");
        prop_assert!(tcp.received() + http.received() <= 256 << 10, "{script}: past the byte limit");
        // A live instance may keep what it opened across operations, up
        // to its resource limit.
        let held = open_descriptors().saturating_sub(descriptors);
        prop_assert!(held <= 64, "{script}: {held} descriptors held by one instance");
        neighbour_served(&f);
        // What the instances opened closes when they go with their backend,
        // or at the latest when the operation's time limit ends (a request
        // body drained in the background); give the machine a few seconds
        // more.
        drop(f);
        let deadline = started + std::time::Duration::from_secs(5 + 5);
        while open_descriptors() > descriptors && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        prop_assert!(open_descriptors() <= descriptors, "{script}: descriptors left open");
    }
}
