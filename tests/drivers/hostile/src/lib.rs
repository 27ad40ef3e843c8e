//! A test driver that misbehaves on purpose. Its `mode` option picks how;
//! every misbehaviour happens in `create-share`.
//!
//! - `probe`: runs the private-data call named by the share's name and
//!   returns what it got as export locations, so tests can drive every
//!   call of the contract through a real guest. The name is
//!   `OP␟ENTITY␟ARG…` (fields split by U+001F): `get-all`, `get` (args are
//!   keys; none means `some([])`), `update`/`replace` (args alternate key and
//!   value), `delete-all`, `delete` (args are keys), `list` (ENTITY is the
//!   cursor, empty for none; the arg is the limit).
//! - `leaky`: a plausible driver that forgets to delete its private data
//!   when a share is deleted, for the conformance kit to catch.
//! - `escape`: tries to read and write outside its root; reports each try.
//! - `flood`: writes one entry per entity until the host refuses; reports how
//!   many it wrote and the refusal.
//! - `loop`, `panic`, `alloc`, `recurse`: spin (once `/spinning` is written),
//!   panic, allocate without end, recurse without end.
//! - `deep`: recurse as deep as the share's name says, then return.
//! - `reach`: says so on stdout, then tries the network (TCP to the address
//!   in the share's name, twice; UDP; a name lookup) and the environment;
//!   reports each try.
//! - `pull`: reads everything the address in the share's name sends.
//! - `hang`: connects to the address in the share's name and waits to read
//!   a byte that never comes.
//! - `per-share`: each create does what the share's name says, `MODE:NAME`
//!   (`panic:`, `probe:OP␟…`, `reach:127.0.0.1:9`), as that mode would
//!   with NAME as the share's name: one backend's scripted lifecycle.
//! - `zeroes`, `bodies`, `reuse`, `heads`, `hoard`, `table`, `script`: try
//!   to make the host hold more than the backend's limits allow, with raw
//!   WASI calls (`resources.rs`); the share's name holds the arguments.

mod resources;

use manila_driver_sdk::bindings::manila::driver::private_data as raw;
use manila_driver_sdk::{Driver, DriverError, ExportLocation, Options, PrivateStorage, Share, ShareUpdate};

struct Hostile {
    mode: String,
}

const SEP: char = '\u{1f}';

fn location(path: String) -> ExportLocation {
    ExportLocation::new(path)
}

fn probe(script: &str) -> Result<Vec<ExportLocation>, DriverError> {
    let mut fields = script.split(SEP);
    let op = fields.next().unwrap_or_default();
    let entity = fields.next().unwrap_or_default();
    let args: Vec<String> = fields.map(str::to_string).collect();
    let pairs = || -> Vec<(String, String)> {
        args.chunks(2)
            .map(|c| (c[0].clone(), c.get(1).cloned().unwrap_or_default()))
            .collect()
    };
    let got = match op {
        "get-all" => raw::details_get(entity, None),
        "get" => raw::details_get(entity, Some(&args)),
        "update" => raw::details_update(entity, &pairs(), false).map(|()| Vec::new()),
        "replace" => raw::details_update(entity, &pairs(), true).map(|()| Vec::new()),
        "delete-all" => raw::details_delete(entity, None).map(|()| Vec::new()),
        "delete" => raw::details_delete(entity, Some(&args)).map(|()| Vec::new()),
        "list" => {
            let cursor = (!entity.is_empty()).then_some(entity);
            let limit = args.first().and_then(|l| l.parse().ok()).unwrap_or(10);
            raw::entities_list(cursor, limit).map(|(ids, next)| {
                let mut out: Vec<(String, String)> = ids.into_iter().map(|id| ("id".into(), id)).collect();
                out.extend(next.map(|n| ("next".into(), n)));
                out
            })
        }
        other => return Err(DriverError::Invalid(format!("unknown probe op {other:?}"))),
    };
    Ok(got?
        .into_iter()
        .map(|(k, v)| location(format!("{k}{SEP}{v}")))
        .collect())
}

/// Each try to leave the root, and what happened.
fn escape() -> Vec<ExportLocation> {
    let reads = [
        "/../etc/passwd",
        "../etc/passwd",
        "/etc/passwd",
        "/link-to-etc/passwd",
        "/../../../../etc/hostname",
    ];
    let writes = ["/../escaped", "../escaped", "/link-to-tmp/escaped"];
    let mut report = Vec::new();
    for path in reads {
        let outcome = match std::fs::read(path) {
            Ok(bytes) => format!("read {} bytes", bytes.len()),
            Err(e) => format!("denied: {e}"),
        };
        report.push(location(format!("read {path}\t{outcome}")));
    }
    for path in writes {
        let outcome = match std::fs::write(path, b"escaped") {
            Ok(()) => "wrote".to_string(),
            Err(e) => format!("denied: {e}"),
        };
        report.push(location(format!("write {path}\t{outcome}")));
    }
    report
}

#[allow(unconditional_recursion)]
fn recurse(depth: u64) -> u64 {
    let buffer = [depth; 64];
    recurse(depth + 1) + std::hint::black_box(buffer)[0]
}

fn deep(depth: u64, to: u64) -> u64 {
    if depth >= to {
        return depth;
    }
    let buffer = [depth; 8];
    deep(depth + 1, to).max(std::hint::black_box(buffer)[0])
}

/// Each try to reach beyond the sandbox, and what happened.
fn reach(target: &str) -> Vec<ExportLocation> {
    use std::net::ToSocketAddrs;
    println!("reach: trying the network at {target}");
    let outcome = |result: std::io::Result<String>| match result {
        Ok(what) => what,
        Err(e) => format!("denied: {e}"),
    };
    let tcp = outcome(std::net::TcpStream::connect(target).map(|_| "connected".into()));
    let tcp_again = outcome(std::net::TcpStream::connect(target).map(|_| "connected".into()));
    let udp = outcome(
        std::net::UdpSocket::bind("0.0.0.0:0")
            .and_then(|socket| socket.send_to(b"x", target))
            .map(|n| format!("sent {n} bytes")),
    );
    let dns = outcome(
        ("localhost", 80)
            .to_socket_addrs()
            .map(|found| format!("resolved {} addresses", found.count())),
    );
    vec![
        location(format!("tcp\t{tcp}")),
        location(format!("tcp again\t{tcp_again}")),
        location(format!("udp\t{udp}")),
        location(format!("dns\t{dns}")),
        location(format!("env\t{} variables", std::env::vars().count())),
    ]
}

impl Hostile {
    /// What the mode does, as the share's export locations.
    fn create(&self, share: &Share) -> Result<Vec<ExportLocation>, DriverError> {
        match self.mode.as_str() {
            "per-share" => {
                let (mode, name) = share.name.split_once(':').unwrap_or((&share.name, ""));
                let this = Hostile {
                    mode: mode.to_string(),
                };
                let mut share = share.clone();
                share.name = name.to_string();
                this.create(&share)
            }
            "probe" => probe(&share.name),
            "escape" => Ok(escape()),
            "leaky" => {
                PrivateStorage.update(&share.id, [("volume_id", "leaky-volume")])?;
                Ok(vec![location("nas:/leaky-volume".into())])
            }
            "flood" => {
                for i in 0u64.. {
                    let entity = format!("00000000-0000-4000-8000-{i:012x}");
                    if let Err(e) = raw::details_update(&entity, &[("k".into(), "v".repeat(10))], false) {
                        return Ok(vec![location(format!("{i}\t{e:?}"))]);
                    }
                }
                unreachable!()
            }
            "loop" => {
                // Tests wait for this file to know the spin is under way.
                std::fs::write("/spinning", b"")?;
                let mut n: u64 = 0;
                loop {
                    n = std::hint::black_box(n.wrapping_add(1));
                }
            }
            "panic" => panic!("hostile driver panics on purpose"),
            "alloc" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(vec![1; 1 << 20]);
                    std::hint::black_box(&hoard);
                }
            }
            "recurse" => Ok(vec![location(recurse(0).to_string())]),
            "deep" => {
                let to = share.name.parse().unwrap_or(1000);
                Ok(vec![location(deep(0, to).to_string())])
            }
            "reach" => Ok(reach(&share.name)),
            "pull" => {
                // Read all the address in the share's name sends.
                use std::io::Read;
                let mut bytes = Vec::new();
                std::net::TcpStream::connect(&share.name)?.read_to_end(&mut bytes)?;
                Ok(vec![location(format!("read {} bytes", bytes.len()))])
            }
            "hang" => {
                // Connect, then wait for bytes that never come.
                use std::io::Read;
                let mut stream = std::net::TcpStream::connect(&share.name)?;
                let mut byte = [0u8; 1];
                let n = stream.read(&mut byte)?;
                Ok(vec![location(format!("read {n} bytes"))])
            }
            // Host resources (resources.rs); the share's name holds the
            // arguments, split by spaces.
            "zeroes" => Ok(vec![location(resources::zeroes(&share.name))]),
            "hoard" => Ok(vec![location(resources::hoard())]),
            "table" => Ok(vec![location(resources::table())]),
            "bodies" | "heads" | "reuse" | "script" => {
                let args: Vec<&str> = share.name.split(' ').collect();
                let number = |i: usize| args.get(i).and_then(|a| a.parse().ok()).unwrap_or(0);
                let arg = |i: usize| args.get(i).copied().unwrap_or_default();
                Ok(vec![location(match self.mode.as_str() {
                    "bodies" => resources::bodies(number(0), number(1)),
                    "heads" => resources::heads(arg(0), number(1), number(2), number(3)),
                    "reuse" => resources::reuse(arg(0), number(1), arg(2) == "send"),
                    _ => resources::script(arg(0), arg(1), arg(2)),
                })])
            }
            other => Err(DriverError::Invalid(format!("unknown mode {other:?}"))),
        }
    }
}

impl Driver for Hostile {
    fn setup(options: Options) -> Result<Self, DriverError> {
        Ok(Hostile {
            mode: options.get("mode").unwrap_or("probe").to_string(),
        })
    }

    fn create_share(&self, share: &Share) -> Result<ShareUpdate, DriverError> {
        self.create(share).map(ShareUpdate::exported)
    }

    fn ensure_share(&self, share: &Share) -> Result<ShareUpdate, DriverError> {
        match PrivateStorage.get(&share.id, "volume_id")? {
            Some(volume) => Ok(ShareUpdate::exported(vec![location(format!("nas:/{volume}"))])),
            None => Err(DriverError::NotFound(share.id.clone())),
        }
    }

    /// Deletes nothing: in `leaky` mode that is the bug.
    fn delete_share(&self, _share: &Share) -> Result<(), DriverError> {
        Ok(())
    }
}

manila_driver_sdk::export_driver!(Hostile);
