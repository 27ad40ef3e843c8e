//! What only the etcd store can get wrong: a call larger than one etcd
//! transaction is refused whole, and killing the cluster's leader in the
//! middle of writes loses no acknowledged write. (The conformance suite runs
//! on etcd too: `PRIVDATA_TEST_STORAGE=etcd`.)
//!
//! The leader test kills a member: run `.ci/servers etcd` again (it starts
//! a new cluster) before running it again. All are ignored unless asked for
//! (`--include-ignored`, as CI does), and fail when asked for without the
//! cluster.

use conformance::*;
use privdata_host::store::StorageOptions;
use privdata_host::{DataLimits, Error, Manager, PrivateData, store};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

#[test]
#[ignore = "needs an etcd cluster: .ci/servers etcd"]
fn a_call_larger_than_one_transaction_is_refused_whole_with_the_setting_to_raise() {
    let scratch = Scratch::of(StoreKind::etcd());
    // The store told the cluster takes 8 operations a transaction.
    let url = scratch.url().replace("max-txn-ops=200000", "max-txn-ops=8");
    let data = PrivateData::new(store::open(&url).unwrap(), "n@a", DataLimits::default());
    let details: Vec<(String, String)> = (0..10).map(|i| (format!("k{i}"), "v".into())).collect();
    let err = data.update(ID1, &details, false).unwrap_err();
    assert!(matches!(err, Error::QuotaExceeded(_)), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains("changes 10 keys") && msg.contains("max-txn-ops"),
        "{msg}"
    );
    assert_eq!(data.get(ID1, None).unwrap(), vec![], "nothing written");
    data.update(ID1, &details[..7], false).unwrap();
    assert_eq!(data.get(ID1, None).unwrap().len(), 7);
}

#[test]
#[ignore = "needs an etcd cluster: .ci/servers etcd"]
fn an_audit_journal_is_refused_on_etcd_with_the_choice() {
    let scratch = Scratch::of(StoreKind::etcd());
    let mut config = scratch.config([BackendSpec::new("g", drivers::GENERIC)]);
    config.storage_options = StorageOptions {
        audit: true,
        ..StorageOptions::default()
    };
    let err = Manager::new(&config).unwrap_err().to_string();
    assert!(err.contains("audit journal is not kept on etcd"), "{err}");
}

/// Which member (1 to 3) leads the cluster now, by the word of a member
/// that answers: none while an election is under way.
fn leading_member(url: &str) -> Option<usize> {
    let members: Vec<&str> = url["etcd://".len()..]
        .split('/')
        .next()
        .unwrap()
        .split(',')
        .collect();
    for (i, member) in members.iter().enumerate() {
        let Ok(status) = etcd::call(
            &format!("etcd://{member}/x"),
            "/v3/maintenance/status",
            &serde_json::json!({}),
        ) else {
            continue;
        };
        if status["leader"].is_string() && status["leader"] == status["header"]["member_id"] {
            return Some(i + 1);
        }
    }
    None
}

/// The tests that kill a cluster member: `.ci/test` runs them after every
/// other test that uses the cluster (`--skip kills_a_member::` before).
mod kills_a_member {
    use super::*;

    #[test]
    #[ignore = "needs an etcd cluster: .ci/servers etcd"]
    fn killing_the_leader_mid_write_loses_no_acknowledged_write() {
        let scratch = Scratch::of(StoreKind::etcd());
        let dir = std::env::var("PRIVDATA_TEST_ETCD_DIR").expect("PRIVDATA_TEST_ETCD_DIR: .ci/servers etcd");
        let leader = leading_member(scratch.url()).expect("a leader before the kill");
        let pid = std::fs::read_to_string(format!("{dir}/node{leader}.pid")).unwrap();
        // The store talks to the first member it lists while that answers:
        // the leader first, so the kill makes it move to a survivor.
        let (members, rest) = scratch.url()["etcd://".len()..].split_once('/').unwrap();
        let mut members: Vec<&str> = members.split(',').collect();
        members.swap(0, leader - 1);
        let url = format!("etcd://{}/{rest}", members.join(","));
        let data = PrivateData::new(store::open(&url).unwrap(), "ha@etcd", DataLimits::default());

        // Two writers on one host (racing for its usage key), each write
        // noted with the time it was acknowledged. The leader is killed, and
        // the writers go on until both have had writes acknowledged after
        // a survivor took the lead.
        let elected: OnceLock<Instant> = OnceLock::new();
        // Writes that failed: the leader may have committed one before it
        // died, so it may or may not be there.
        let unsure = std::sync::Mutex::new(Vec::new());
        let deadline = Instant::now() + Duration::from_secs(60);
        let acked: Vec<(Instant, String, String, String)> = std::thread::scope(|s| {
            let writers: Vec<_> = ["a", "b"]
                .into_iter()
                .map(|side| {
                    let (data, elected, unsure) = (&data, &elected, &unsure);
                    s.spawn(move || {
                        let mut acked = Vec::new();
                        let mut after_election = 0;
                        for i in 0.. {
                            if after_election >= 10 || Instant::now() > deadline {
                                break;
                            }
                            let (id, key) = (entity(i % 7), format!("{side}{i}"));
                            match data.update(&id, &[(key.clone(), i.to_string())], false) {
                                Ok(()) => {
                                    let at = Instant::now();
                                    if elected.get().is_some_and(|e| at > *e) {
                                        after_election += 1;
                                    }
                                    acked.push((at, id, key, i.to_string()));
                                }
                                Err(e) => {
                                    assert!(
                                        matches!(e, Error::StorageUnavailable(_)),
                                        "a leader's death is unavailability, not a failure: {e}"
                                    );
                                    unsure.lock().unwrap().push(key);
                                }
                            }
                        }
                        acked
                    })
                })
                .collect();
            std::thread::sleep(Duration::from_millis(700));
            let killed = std::process::Command::new("kill")
                .args(["-KILL", pid.trim()])
                .status()
                .unwrap();
            assert!(killed.success(), "kill the leader, member {leader} ({pid})");
            // A survivor says it leads: the election is over.
            loop {
                if let Some(new) = leading_member(scratch.url()) {
                    assert_ne!(new, leader, "the killed member answers as leader");
                    elected.set(Instant::now()).unwrap();
                    break;
                }
                assert!(Instant::now() < deadline, "no survivor took the lead");
                std::thread::sleep(Duration::from_millis(50));
            }
            writers.into_iter().flat_map(|w| w.join().unwrap()).collect()
        });
        let elected = *elected.get().unwrap();
        let after = acked.iter().filter(|(at, ..)| *at > elected).count();
        assert!(
            after >= 20,
            "{after} writes acknowledged after the new leader was elected (of {})",
            acked.len()
        );
        // Every acknowledged write, before the kill, during the election
        // and after it, is on the two survivors.
        for (_, id, key, value) in &acked {
            let got = data.get(id, Some(std::slice::from_ref(key))).unwrap();
            assert_eq!(
                got,
                [(key.clone(), value.clone())],
                "acknowledged write {id} {key} lost"
            );
        }
        // Nothing else: every other entry is a write that failed.
        let unsure = unsure.into_inner().unwrap();
        let held: Vec<String> = (0..7)
            .flat_map(|i| data.get(&entity(i), None).unwrap())
            .map(|(key, _)| key)
            .collect();
        assert_eq!(
            held.len(),
            acked.len() + held.iter().filter(|k| unsure.contains(k)).count()
        );
        eprintln!(
            "member {leader} (the leader) killed; {} acknowledged writes, {after} after the \
             election, none lost",
            acked.len()
        );
    }
}
