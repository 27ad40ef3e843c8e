//! Quotas and per-call limits: a driver that writes too much gets a typed
//! error, nothing partial is written, and other hosts are unaffected.

use conformance::*;
use privdata_host::store::Quota;

fn with_quota(max_entries: u64, max_bytes: u64) -> BackendSpec {
    let mut spec = BackendSpec::new("small", drivers::HOSTILE).option("mode", "probe");
    spec.data_limits.quota = Quota {
        max_entries,
        max_bytes,
    };
    spec
}

/// The usage counters quotas are checked against must match the data.
fn assert_usage_consistent(f: &Fixture) {
    assert_eq!(f.usage_mismatches(), 0, "host_usage drifted from private_data");
}

#[test]
fn a_driver_flooding_the_store_stops_at_its_entry_quota() {
    let mut flood = BackendSpec::new("flood", drivers::HOSTILE).option("mode", "flood");
    flood.data_limits.quota.max_entries = 50;
    let f = Fixture::new([
        flood,
        BackendSpec::new("other", drivers::HOSTILE).option("mode", "probe"),
    ]);
    let report = f
        .backend("flood")
        .create_share(&share(ID1))
        .unwrap()
        .export_locations
        .unwrap();
    let (written, refusal) = report[0].path.split_once('\t').unwrap();
    assert_eq!(written, "50");
    assert!(
        refusal.contains("QuotaExceeded") && refusal.contains("quota is 50"),
        "{refusal}"
    );
    let hosts = f.manager.storage().hosts().unwrap();
    assert_eq!(hosts[0].entries, 50);
    // The other backend's host has its own quota and is unaffected.
    ViaGuest(f.backend("other"))
        .update(ID1, &[("k", "v")], false)
        .unwrap();
    assert_usage_consistent(&f);
}

#[test]
fn an_update_that_would_cross_the_quota_writes_nothing() {
    let f = Fixture::new([with_quota(4, 1 << 20)]);
    let api = ViaGuest(f.backend("small"));
    api.update(ID1, &[("a", "1"), ("b", "2"), ("c", "3")], false)
        .unwrap();
    let (kind, msg) = api.update(ID2, &[("x", "1"), ("y", "2")], false).unwrap_err();
    assert_eq!(kind, Kind::QuotaExceeded);
    assert!(
        msg.contains("would hold 5 entries") && msg.contains("max_entries"),
        "{msg}"
    );
    assert_eq!(api.get(ID2, None).unwrap(), vec![], "nothing partial");
    // Overwriting keys and replacing within the quota still work.
    api.update(ID1, &[("a", "10")], false).unwrap();
    api.update(ID1, &[("p", "1"), ("q", "2"), ("r", "3"), ("s", "4")], true)
        .unwrap();
    assert_eq!(api.get(ID1, None).unwrap().len(), 4);
    assert_usage_consistent(&f);
}

#[test]
fn the_byte_quota_counts_keys_and_values() {
    let f = Fixture::new([with_quota(1000, 20)]);
    let api = Direct(f.backend("small").private_data());
    api.update(ID1, &[("key", "0123456789")], false).unwrap(); // 13 bytes
    let (kind, msg) = api.update(ID1, &[("k2", "012345")], false).unwrap_err(); // 21
    assert_eq!(kind, Kind::QuotaExceeded);
    assert!(
        msg.contains("21 bytes") && msg.contains("quota is 20 bytes"),
        "{msg}"
    );
    api.update(ID1, &[("key", "ü")], false).unwrap(); // shrinking is fine: 3 + 2 bytes
    api.update(ID1, &[("k2", "0123456789")], false).unwrap(); // 5 + 12 = 17
    assert_usage_consistent(&f);
}

#[test]
fn over_a_lowered_quota_shrinking_works_and_growing_does_not() {
    let dir = Scratch::new();
    let roomy = dir.config([with_quota(100, 1 << 20)]);
    let m = privdata_host::Manager::new(&roomy).unwrap();
    Direct(m.backend("small").unwrap().private_data())
        .update(ID1, &[("a", "1"), ("b", "2"), ("c", "3"), ("d", "4")], false)
        .unwrap();
    drop(m);
    let tight = dir.config([with_quota(2, 1 << 20)]);
    let m = privdata_host::Manager::new(&tight).unwrap();
    let api = Direct(m.backend("small").unwrap().private_data());
    api.update(ID1, &[("a", "changed")], false).unwrap();
    api.delete(ID1, Some(&["a"])).unwrap();
    api.update(ID1, &[("x", "1"), ("y", "2")], true).unwrap();
    assert_eq!(
        api.update(ID2, &[("z", "1")], false).unwrap_err().0,
        Kind::QuotaExceeded
    );
}

#[test]
fn a_call_carrying_too_much_data_is_refused() {
    let mut spec = with_quota(1_000_000, 1 << 30);
    spec.data_limits.max_call_bytes = 2048;
    let f = Fixture::new([spec]);
    let api = ViaGuest(f.backend("small"));
    let big = "v".repeat(1000);
    let (kind, msg) = api
        .update(ID1, &[("a", &big), ("b", &big), ("c", &big)], false)
        .unwrap_err();
    assert_eq!(kind, Kind::QuotaExceeded);
    assert!(
        msg.contains("at most 2048 bytes") && msg.contains("split"),
        "{msg}"
    );
    api.update(ID1, &[("a", &big), ("b", &big)], false).unwrap();
}

#[test]
fn usage_counters_survive_every_kind_of_change() {
    let f = Fixture::new([with_quota(1000, 1 << 20), BackendSpec::new("b", drivers::HOSTILE)]);
    let (a, b) = (
        Direct(f.backend("small").private_data()),
        Direct(f.backend("b").private_data()),
    );
    a.update(ID1, &[("k", "v"), ("ключ", "значение")], false).unwrap();
    a.update(ID1, &[("k", "longer value")], false).unwrap();
    a.update(ID2, &[("x", "y")], false).unwrap();
    b.update(ID1, &[("k", "v")], false).unwrap();
    a.update(ID1, &[("only", "this")], true).unwrap();
    a.delete(ID2, None).unwrap();
    b.delete(ID1, Some(&["k"])).unwrap();
    // One-key writes take a path of their own on the servers: what they
    // leave is checked as well as what they count.
    assert_eq!(
        a.get(ID1, None).unwrap(),
        vec![("only".to_string(), "this".to_string())]
    );
    assert_eq!(a.get(ID2, None).unwrap(), vec![]);
    assert_eq!(b.get(ID1, None).unwrap(), vec![]);
    assert_usage_consistent(&f);
}

#[test]
fn writers_racing_on_one_host_stop_exactly_at_its_quota() {
    let f = Fixture::new([with_quota(50, 1 << 20)]);
    let data = f.backend("small").private_data();
    // 4 threads, 30 new entities each: 120 writes race for 50 entries.
    let written: usize = std::thread::scope(|s| {
        let writers: Vec<_> = (0..4u64)
            .map(|t| {
                s.spawn(move || {
                    let mut ok = 0;
                    for i in 0..30 {
                        match data.update(&entity(t * 1000 + i), &[("k".into(), "v".into())], false) {
                            Ok(()) => ok += 1,
                            Err(e) => assert!(matches!(e, privdata_host::Error::QuotaExceeded(_)), "{e}"),
                        }
                    }
                    ok
                })
            })
            .collect();
        writers.into_iter().map(|w| w.join().unwrap()).sum()
    });
    assert_eq!(written, 50);
    assert_eq!(f.manager.storage().hosts().unwrap()[0].entries, 50);
    assert_usage_consistent(&f);
}

#[test]
fn writers_racing_on_the_same_entities_keep_the_totals_exact() {
    // Every kind of write on three shared entities at once, so writes of one
    // host wait for each other and see each other commit between reading
    // and writing. Replacing `a: xx` by `b: yy` keeps the host's totals
    // the same while changing its rows: no writer may miss it.
    let f = Fixture::new([with_quota(1_000, 1 << 20)]);
    let data = f.backend("small").private_data();
    let ids = [entity(1), entity(2), entity(3)];
    std::thread::scope(|s| {
        for t in 0..4u64 {
            let ids = &ids;
            s.spawn(move || {
                let mut seed = t + 1;
                for _ in 0..400 {
                    seed = seed
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    let id = &ids[(seed >> 33) as usize % ids.len()];
                    let pair = |k: &str, v: &str| vec![(k.to_string(), v.to_string())];
                    match (seed >> 40) % 6 {
                        0 => data.update(id, &pair("a", "xx"), true),
                        1 => data.update(id, &pair("b", "yy"), true),
                        2 => data.update(id, &pair("a", "xxx"), false),
                        3 => data.update(id, &pair("c", &"z".repeat((seed % 7) as usize)), false),
                        4 => data.delete(id, Some(&["a".to_string()])),
                        _ => data.delete(id, None),
                    }
                    .unwrap();
                }
            });
        }
    });
    assert_usage_consistent(&f);
}
