//! A writer process killed with SIGKILL at random moments, many times:
//! after every kill the file passes SQLite's integrity check, every
//! acknowledged update is there, and no update is half-applied.
//!
//! `PRIVDATA_CRASH_KILLS` sets how many kills (default 25; the long run in
//! the README uses 1000).

use conformance::{Rng, entity};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

type Model = BTreeMap<u64, BTreeMap<String, String>>;

#[derive(Debug, Clone)]
struct Op {
    seq: u64,
    replace: bool,
    entity: u64,
    keys: Vec<String>,
}

fn apply(model: &mut Model, op: &Op) {
    let pairs = model.entry(op.entity).or_default();
    if op.replace {
        pairs.clear();
    }
    for k in &op.keys {
        pairs.insert(k.clone(), op.seq.to_string());
    }
    model.retain(|_, p| !p.is_empty());
}

fn read_store(db: &std::path::Path) -> Model {
    let mut model = Model::new();
    for (host, e, k, v) in conformance::dump(db.to_str().unwrap()) {
        assert_eq!(host, "crash@test");
        let i = (0..8).find(|i| entity(*i) == e).expect("a known entity");
        model.entry(i).or_default().insert(k, v);
    }
    model
}

#[test]
fn acknowledged_writes_survive_sigkill_and_none_is_half_applied() {
    let kills: u64 = std::env::var("PRIVDATA_CRASH_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(25);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("crash.db");
    let mut model = Model::new();
    let mut rng = Rng::new(7);
    let mut next_seq = 0;
    let mut in_flight_applied = 0;
    let mut acked_total = 0;
    for round in 0..kills {
        let mut child = Command::new(env!("CARGO_BIN_EXE_privdata-worker"))
            .args([
                "crash",
                db.to_str().unwrap(),
                &round.to_string(),
                &next_seq.to_string(),
            ])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        assert_eq!(lines.next().unwrap().unwrap(), "ready");
        let (mut acked, mut pending): (Vec<Op>, Option<Op>) = (Vec::new(), None);
        let mut read = |line: &str, acked: &mut Vec<Op>| {
            let parts: Vec<&str> = line.split(' ').collect();
            match parts[0] {
                "begin" => {
                    pending = Some(Op {
                        seq: parts[1].parse().unwrap(),
                        replace: parts[2] == "replace",
                        entity: parts[3].parse().unwrap(),
                        keys: parts
                            .get(4)
                            .map(|k| k.split(',').map(String::from).collect())
                            .unwrap_or_default(),
                    })
                }
                "ack" => acked.push(pending.take().expect("ack after begin")),
                _ => {} // a line cut by the kill
            }
        };
        // Kill in the middle of a stream of writes: after a random number
        // of them were acknowledged, while the next is under way.
        let target = 1 + rng.below(40) as usize;
        while acked.len() < target {
            let line = lines.next().expect("the writer stopped writing").unwrap();
            read(&line, &mut acked);
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        for line in lines {
            read(&line.unwrap(), &mut acked);
        }
        acked_total += acked.len();
        for op in &acked {
            apply(&mut model, op);
        }
        let conn = rusqlite::Connection::open(&db).unwrap();
        let check: String = conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(check, "ok", "after kill {round}");
        drop(conn);

        let stored = read_store(&db);
        if stored != model {
            // Only the one unacknowledged write may have landed, and wholly.
            let op = pending
                .clone()
                .unwrap_or_else(|| panic!("kill {round}: store differs with nothing in flight"));
            apply(&mut model, &op);
            assert_eq!(stored, model, "kill {round}: a write was lost or half-applied");
            in_flight_applied += 1;
        }
        next_seq = acked.last().map(|o| o.seq + 1).unwrap_or(next_seq) + pending.map_or(0, |_| 1);
    }
    eprintln!(
        "survived {kills} kills: {acked_total} acknowledged writes all present, \
         {in_flight_applied} unacknowledged writes found wholly applied"
    );
    assert!(
        acked_total as u64 >= kills,
        "every kill must interrupt a stream of acknowledged writes"
    );
}
