//! Moving private data between stores: a round trip through every kind of
//! store leaves identical data, and a migration interrupted or run again
//! ends in the same place, writing only what differs.

use conformance::*;
use privdata_host::ops::migrate::{Progress, Report, migrate, summarize};
use privdata_host::store::{self, Entry, Quota};
use privdata_host::{Admin, HostLimits};
use std::sync::Arc;

const HOSTS: [&str; 3] = ["node1@alpha", "node2@beta#pool", "ノード@γ"];

/// A few thousand entries over three hosts (more than one page each), with
/// unicode, the longest key, empty and the longest values.
fn sample() -> Vec<Entry> {
    let mut rng = Rng::new(11);
    let mut entries = Vec::new();
    for (h, host) in HOSTS.iter().enumerate() {
        for e in 0..(400 + 200 * h as u64) {
            for k in 0..(1 + rng.below(4)) {
                let key = match k {
                    0 => "volume_id".to_string(),
                    1 => "ключ 🔑".to_string(),
                    2 => "k".repeat(255),
                    _ => format!("Key {k}"),
                };
                let value = match rng.below(4) {
                    0 => String::new(),
                    1 => "é".repeat(511) + "x",
                    _ => format!("vol-{}", rng.next_u64()),
                };
                entries.push(Entry {
                    host: host.to_string(),
                    entity: entity(e),
                    key,
                    value,
                });
            }
        }
    }
    entries
}

fn open(scratch: &Scratch) -> Arc<dyn Admin> {
    store::open(scratch.url()).unwrap()
}

fn run(from: &dyn Admin, to: &dyn Admin) -> (Report, Vec<Progress>) {
    let mut seen = Vec::new();
    let report = migrate(from, to, None, &HostLimits::default(), &mut |p| seen.push(p)).unwrap();
    (report, seen)
}

#[test]
fn a_round_trip_between_two_sqlite_stores_leaves_identical_data() {
    round_trip(&[StoreKind::Sqlite]);
}

#[test]
#[ignore = "needs MariaDB and PostgreSQL: .ci/servers start"]
fn a_round_trip_through_every_kind_of_store_leaves_identical_data() {
    let mut kinds = StoreKind::servers();
    kinds.push(StoreKind::Sqlite);
    round_trip(&kinds);
}

/// From a SQLite store through a store of each of `kinds` in turn.
fn round_trip(kinds: &[StoreKind]) {
    let entries = sample();
    let origin = Scratch::of(StoreKind::Sqlite);
    open(&origin).put(&entries, &|_| Quota::UNLIMITED).unwrap();
    let want = dump(origin.url());
    assert_eq!(want.len(), entries.len());

    let stops: Vec<Scratch> = kinds.iter().copied().map(Scratch::of).collect();
    let mut from = &origin;
    for to in &stops {
        let (report, progress) = run(open(from).as_ref(), open(to).as_ref());
        assert_eq!(report.hosts, 3);
        assert_eq!(report.entries, entries.len() as u64, "{:?}", to.kind());
        assert_eq!(report.copied, entries.len() as u64);
        assert_eq!((report.unchanged, report.removed), (0, 0));
        assert_eq!(dump(to.url()), want, "{:?} holds what the source held", to.kind());
        let last = progress.last().unwrap();
        assert_eq!((last.done, last.total), (report.entries, report.entries));
        assert!(progress.windows(2).all(|w| w[0].done <= w[1].done));
        from = to;
    }
    let all: Vec<&str> = HOSTS.to_vec();
    let checksums: Vec<String> = std::iter::once(&origin)
        .chain(&stops)
        .map(|s| summarize(open(s).as_ref(), &all).unwrap().checksum)
        .collect();
    assert!(checksums.windows(2).all(|w| w[0] == w[1]), "{checksums:?}");
}

#[test]
#[ignore = "needs an etcd cluster: .ci/servers etcd"]
fn a_round_trip_through_etcd_and_back_leaves_identical_data() {
    round_trip(&[StoreKind::etcd(), StoreKind::Sqlite]);
}

#[test]
fn running_again_resumes_and_makes_the_destination_equal() {
    resume_into(&[StoreKind::Sqlite]);
}

#[test]
#[ignore = "needs MariaDB and PostgreSQL: .ci/servers start"]
fn running_again_resumes_on_every_server() {
    resume_into(&StoreKind::servers());
}

#[test]
#[ignore = "needs an etcd cluster: .ci/servers etcd"]
fn running_again_resumes_on_etcd() {
    resume_into(&[StoreKind::etcd()]);
}

/// An interrupted migration into a store of each of `kinds`, run again.
fn resume_into(kinds: &[StoreKind]) {
    for &kind in kinds {
        let entries = sample();
        let source = Scratch::of(StoreKind::Sqlite);
        open(&source).put(&entries, &|_| Quota::UNLIMITED).unwrap();
        let target = Scratch::of(kind);
        let to = open(&target);
        // An earlier run stopped part way (the first 1,500 entries copied),
        // a value changed since, and the destination holds an entry the
        // source does not, plus a host the source never had.
        to.put(&entries[..1500], &|_| Quota::UNLIMITED).unwrap();
        let mut changed = entries[10].clone();
        changed.value = "stale".into();
        let extra = Entry {
            key: "gone".into(),
            ..entries[20].clone()
        };
        let other_host = Entry {
            host: "elsewhere@x".into(),
            ..entries[0].clone()
        };
        to.put(&[changed, extra, other_host.clone()], &|_| Quota::UNLIMITED)
            .unwrap();

        let (report, _) = run(open(&source).as_ref(), to.as_ref());
        assert_eq!(report.entries, entries.len() as u64);
        assert_eq!(report.unchanged, 1499, "{kind:?}");
        assert_eq!(report.copied, entries.len() as u64 - 1499);
        assert_eq!(report.removed, 1);
        let moved: Vec<_> = dump(target.url())
            .into_iter()
            .filter(|e| e.0 != "elsewhere@x")
            .collect();
        assert_eq!(moved, dump(source.url()), "{kind:?}");
        assert_eq!(
            to.get("elsewhere@x", &other_host.entity, None).unwrap().len(),
            1,
            "hosts the source does not have are left alone"
        );

        // A second run finds nothing to do.
        let (again, _) = run(open(&source).as_ref(), to.as_ref());
        assert_eq!((again.copied, again.removed), (0, 0), "{kind:?}");
        assert_eq!(again.unchanged, entries.len() as u64);
        assert_eq!(again.checksum, report.checksum);
    }
}

#[test]
fn one_host_alone_can_be_migrated() {
    let source = Scratch::of(StoreKind::Sqlite);
    open(&source).put(&sample(), &|_| Quota::UNLIMITED).unwrap();
    let target = Scratch::new();
    let mut ticks = 0;
    let report = migrate(
        open(&source).as_ref(),
        open(&target).as_ref(),
        Some(HOSTS[1]),
        &HostLimits::default(),
        &mut |_| ticks += 1,
    )
    .unwrap();
    assert!(ticks > 1);
    let hosts: Vec<String> = open(&target)
        .hosts()
        .unwrap()
        .into_iter()
        .map(|h| h.host)
        .collect();
    assert_eq!(hosts, [HOSTS[1]]);
    assert_eq!(report.hosts, 1);
    let err = migrate(
        open(&source).as_ref(),
        open(&target).as_ref(),
        Some("nobody@none"),
        &HostLimits::default(),
        &mut |_| {},
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("no private data for host nobody@none"),
        "{err}"
    );
}
