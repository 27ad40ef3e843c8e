//! A separate process for the crash and concurrency tests.
//!
//! - `crash DB SEED`: forever, picks a random update or replace, prints
//!   `begin SEQ OP ENTITY KEYS` before it and `ack SEQ` once the store
//!   returned, so a test that kills it knows what was acknowledged.
//! - `hammer URL HOST WORKER OPS`: runs `conformance::hammer` on the store
//!   at URL, then `done`.

use conformance::{Rng, entity, hammer};
use privdata_host::store::{Durability, sqlite::SqliteStorage};
use privdata_host::{DataLimits, PrivateData};
use std::io::Write;
use std::sync::Arc;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let open = |db: &str| Arc::new(SqliteStorage::open_with(db, Durability::Full).expect("open store"));
    match args.get(1).map(String::as_str) {
        Some("crash") => {
            let data = PrivateData::new(open(&args[2]), "crash@test", DataLimits::default());
            let seed: u64 = args[3].parse().unwrap();
            let first_seq: u64 = args[4].parse().unwrap();
            let mut rng = Rng::new(seed);
            let mut out = std::io::stdout().lock();
            writeln!(out, "ready").unwrap();
            out.flush().unwrap();
            for seq in first_seq.. {
                let replace = rng.below(3) == 0;
                let e = rng.below(8);
                let keys: Vec<String> = (0..1 + rng.below(4))
                    .map(|_| format!("k{}", rng.below(6)))
                    .collect();
                let mut keys: Vec<String> = keys
                    .into_iter()
                    .collect::<std::collections::BTreeSet<_>>()
                    .into_iter()
                    .collect();
                keys.sort();
                let op = if replace { "replace" } else { "update" };
                writeln!(out, "begin {seq} {op} {e} {}", keys.join(",")).unwrap();
                out.flush().unwrap();
                let details: Vec<(String, String)> =
                    keys.iter().map(|k| (k.clone(), seq.to_string())).collect();
                data.update(&entity(e), &details, replace).expect("update");
                writeln!(out, "ack {seq}").unwrap();
                out.flush().unwrap();
            }
        }
        Some("hammer") => {
            let storage = privdata_host::store::open(&args[2]).expect("open store");
            let data = PrivateData::new(storage, &args[3], DataLimits::default());
            hammer(&data, args[4].parse().unwrap(), args[5].parse().unwrap()).expect("hammer");
            println!("done");
        }
        _ => {
            eprintln!("usage: privdata-worker crash DB SEED FIRST_SEQ | hammer URL HOST WORKER OPS");
            std::process::exit(2);
        }
    }
}
