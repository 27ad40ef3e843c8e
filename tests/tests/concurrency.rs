//! Threads and processes on one store at once, on the same host and on
//! different hosts: every call succeeds (no busy, locked or deadlock error
//! reaches a caller), nothing is lost, and the result equals a serial run.

use conformance::{Scratch, dump, hammer};
use privdata_host::{Admin, DataLimits, PrivateData};
use std::process::Command;
use std::sync::Arc;

const OPS: u64 = 400;

/// (host, worker) for every worker: two hosts, several workers each.
const WORKERS: [(&str, u64); 6] = [
    ("node@a", 0),
    ("node@a", 1),
    ("node@a", 2),
    ("node@b", 3),
    ("node@b", 4),
    ("node@b", 5),
];

fn open(url: &str) -> Arc<dyn Admin> {
    privdata_host::store::open(url).unwrap()
}

#[test]
fn threads_and_processes_together_equal_a_serial_run() {
    let store = Scratch::new();
    let db = store.url();
    let worker_bin = env!("CARGO_BIN_EXE_privdata-worker");

    // Workers 4 and 5 are separate processes; 0..=3 are threads, 0 and 1
    // sharing one connection, 2 and 3 each with its own.
    let shared = open(db);
    let children: Vec<_> = WORKERS[4..]
        .iter()
        .map(|(host, w)| {
            Command::new(worker_bin)
                .args(["hammer", db, host, &w.to_string(), &OPS.to_string()])
                .spawn()
                .unwrap()
        })
        .collect();
    std::thread::scope(|s| {
        for (i, (host, w)) in WORKERS[..4].iter().enumerate() {
            let storage = if i < 2 { shared.clone() } else { open(db) };
            s.spawn(move || {
                let data = PrivateData::new(storage, host, DataLimits::default());
                hammer(&data, *w, OPS).unwrap_or_else(|e| panic!("worker {w}: {e}"));
            });
        }
    });
    for mut child in children {
        assert!(child.wait().unwrap().success(), "a worker process failed");
    }
    let concurrent = dump(db);

    let serial_store = Scratch::new();
    let serial = open(serial_store.url());
    for (host, w) in WORKERS {
        hammer(
            &PrivateData::new(serial.clone(), host, DataLimits::default()),
            w,
            OPS,
        )
        .unwrap();
    }
    let expected = dump(serial_store.url());
    assert!(!expected.is_empty());
    assert_eq!(
        concurrent, expected,
        "the concurrent run differs from the serial one"
    );
    let total_ops = OPS * WORKERS.len() as u64;
    eprintln!("{total_ops} concurrent operations by 4 threads and 2 processes: none failed, none lost");
}
