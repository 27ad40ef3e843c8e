//! Threads and processes on one SQLite store at once, on the same host and
//! on different hosts: every call succeeds (no busy or locked error reaches
//! a caller), nothing is lost, and the result equals a serial run.

use conformance::{dump, hammer};
use privdata_host::store::{Durability, sqlite::SqliteStorage};
use privdata_host::{DataLimits, PrivateData, Storage};
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

fn open(db: &std::path::Path) -> Arc<dyn Storage> {
    Arc::new(SqliteStorage::open_with(db, Durability::Normal).unwrap())
}

#[test]
fn threads_and_processes_together_equal_a_serial_run() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("shared.db");
    let worker_bin = env!("CARGO_BIN_EXE_privdata-worker");

    // Workers 4 and 5 are separate processes; 0..=3 are threads, 0 and 1
    // sharing one connection, 2 and 3 each with its own.
    let shared = open(&db);
    let children: Vec<_> = WORKERS[4..]
        .iter()
        .map(|(host, w)| {
            Command::new(worker_bin)
                .args([
                    "hammer",
                    db.to_str().unwrap(),
                    host,
                    &w.to_string(),
                    &OPS.to_string(),
                ])
                .spawn()
                .unwrap()
        })
        .collect();
    std::thread::scope(|s| {
        for (i, (host, w)) in WORKERS[..4].iter().enumerate() {
            let storage = if i < 2 { shared.clone() } else { open(&db) };
            s.spawn(move || {
                let data = PrivateData::new(storage, host, DataLimits::default());
                hammer(&data, *w, OPS).unwrap_or_else(|e| panic!("worker {w}: {e}"));
            });
        }
    });
    for mut child in children {
        assert!(child.wait().unwrap().success(), "a worker process failed");
    }
    let concurrent = dump(&db);

    let serial_db = dir.path().join("serial.db");
    let serial = open(&serial_db);
    for (host, w) in WORKERS {
        hammer(
            &PrivateData::new(serial.clone(), host, DataLimits::default()),
            w,
            OPS,
        )
        .unwrap();
    }
    let expected = dump(&serial_db);
    assert!(!expected.is_empty());
    assert_eq!(
        concurrent, expected,
        "the concurrent run differs from the serial one"
    );
    let total_ops = OPS * WORKERS.len() as u64;
    eprintln!("{total_ops} concurrent operations by 4 threads and 2 processes: none failed, none lost");
}
