//! Operator commands as a library, tried the way operators get them wrong:
//! the same host twice, an empty or foreign live list, a bad line in an
//! import, data over a host's limits, a store path that cannot last. Each
//! is refused, or does only what it says, and loses nothing. Every test runs
//! on the store `PRIVDATA_TEST_STORAGE` selects.

use conformance::*;
use privdata_host::config::{BackendConfig, HostLimits};
use privdata_host::ops::orphans::{self, LiveList};
use privdata_host::store::{self, Entry, Quota, StorageOptions};
use privdata_host::{
    Admin, Config, DataLimits, Error, PrivateData,
    ops::{rename, transfer},
};
use std::sync::Arc;

fn open(scratch: &Scratch) -> Arc<dyn Admin> {
    store::open(scratch.url()).unwrap()
}

/// `entities` entities of two keys each for `host`.
fn fill(storage: &Arc<dyn Admin>, host: &str, entities: u64) -> Vec<(String, String, String, String)> {
    let data = PrivateData::new(storage.clone(), host, DataLimits::default());
    for i in 0..entities {
        data.update(
            &entity(i),
            &pairs(&[("volume_id", &format!("vol-{i}")), ("export", "10.0.0.1:/v")]),
            false,
        )
        .unwrap();
    }
    dump_of(storage)
}

fn dump_of(storage: &Arc<dyn Admin>) -> Vec<(String, String, String, String)> {
    dump_storage(storage.as_ref())
}

/// Limits for the hosts of a configuration with one backend per
/// `(host, limits)`.
fn limits(hosts: &[(&str, DataLimits)]) -> HostLimits {
    let backends = hosts
        .iter()
        .enumerate()
        .map(|(i, (host, limits))| {
            (
                format!("b{i}"),
                BackendConfig {
                    host: host.to_string(),
                    driver: "unused.wasm".into(),
                    driver_sha256: None,
                    root: "unused".into(),
                    options: Default::default(),
                    manila_conf: Default::default(),
                    data_limits: *limits,
                    sandbox_limits: Default::default(),
                    network: Default::default(),
                },
            )
        })
        .collect();
    Config {
        storage_url: store::StorageUrl::Sqlite("unused.db".into()),
        storage_options: StorageOptions::default(),
        driver_cache: None,
        max_stack_bytes: privdata_host::runtime::DEFAULT_MAX_STACK,
        backends,
    }
    .host_limits()
}

fn refused(err: Error, want: &str) {
    assert!(matches!(err, Error::Refused(_)), "not a refusal: {err:?}");
    assert!(err.to_string().contains(want), "{err}");
}

#[test]
fn a_rename_onto_the_same_host_is_refused_and_loses_nothing() {
    let scratch = Scratch::new();
    let storage = open(&scratch);
    let before = fill(&storage, "n1@a", 2);
    for merge in [false, true] {
        refused(
            storage.rename_host("n1@a", "n1@a", merge).unwrap_err(),
            "the same",
        );
        let err = rename::rename_host(
            storage.as_ref(),
            "n1@a",
            "n1@a",
            merge,
            &HostLimits::default(),
            false,
        )
        .unwrap_err();
        refused(err, "the same");
    }
    assert_eq!(dump_of(&storage), before);
}

#[test]
fn a_rename_is_counted_and_checked_before_anything_moves() {
    let scratch = Scratch::new();
    let storage = open(&scratch);
    fill(&storage, "old@a", 3);
    let taken = PrivateData::new(storage.clone(), "taken@b", DataLimits::default());
    taken
        .update(
            &entity(0),
            &pairs(&[("volume_id", "theirs"), ("only_b", "x")]),
            false,
        )
        .unwrap();
    let before = dump_of(&storage);
    let none = HostLimits::default();

    // A typo in the old host: nothing to move, said so.
    let err = rename::rename_host(storage.as_ref(), "old@aa", "new@a", false, &none, false).unwrap_err();
    refused(err, "holds no private data");

    // A dry run counts what the real merge then does, and changes nothing.
    let plan = rename::rename_host(storage.as_ref(), "old@a", "taken@b", true, &none, true).unwrap();
    assert_eq!((plan.moved, plan.entities, plan.overwritten), (6, 3, 1));
    assert_eq!(dump_of(&storage), before, "a dry run changes nothing");

    // The new host's backend allows shorter values, or fewer entries.
    let short = DataLimits {
        max_value_bytes: 4,
        ..DataLimits::default()
    };
    let err = rename::rename_host(
        storage.as_ref(),
        "old@a",
        "taken@b",
        true,
        &limits(&[("taken@b", short)]),
        false,
    )
    .unwrap_err();
    refused(err, "allows at most 4 bytes");
    let mut few = DataLimits::default();
    few.quota.max_entries = 6;
    let err = rename::rename_host(
        storage.as_ref(),
        "old@a",
        "taken@b",
        true,
        &limits(&[("taken@b", few)]),
        false,
    )
    .unwrap_err();
    assert!(matches!(err, Error::QuotaExceeded(_)), "{err:?}");
    assert!(err.to_string().contains("would hold 7 entries"), "{err}");
    assert_eq!(dump_of(&storage), before, "refused renames change nothing");

    let done = rename::rename_host(storage.as_ref(), "old@a", "taken@b", true, &none, false).unwrap();
    assert_eq!(done, plan);
    let hosts: Vec<(String, u64)> = storage
        .hosts()
        .unwrap()
        .into_iter()
        .map(|h| (h.host, h.entries))
        .collect();
    assert_eq!(hosts, [("taken@b".to_string(), 7)]);
}

#[test]
fn a_purge_fed_an_empty_or_foreign_live_list_is_refused() {
    let scratch = Scratch::new();
    let storage = open(&scratch);
    fill(&storage, "n1@a", 4);
    let before = dump_of(&storage);

    // What a failed `openstack share list | privdata orphans --live -` gives.
    let empty = LiveList::read(&b"\n# nothing\n"[..], "stdin").unwrap();
    let found = orphans::find(storage.as_ref(), "n1@a", &empty).unwrap();
    assert_eq!((found.entities.len(), found.held), (4, 4));
    let err = orphans::purge(storage.as_ref(), &found, &empty, false, false).unwrap_err();
    refused(err, "the live list is empty");

    // The list of another backend: none of its ids are this host's.
    let foreign = LiveList::of([ID1, ID2]).unwrap();
    let found = orphans::find(storage.as_ref(), "n1@a", &foreign).unwrap();
    let err = orphans::purge(storage.as_ref(), &found, &foreign, false, false).unwrap_err();
    refused(err, "all 4 of its entities would be purged");
    assert_eq!(dump_of(&storage), before, "refused purges delete nothing");

    // A mistyped host is not a host with no orphans.
    let err = orphans::find(storage.as_ref(), "n1@b", &foreign).unwrap_err();
    refused(err, "holds no private data");

    // A real list: a dry run counts, the purge deletes just the orphans.
    let live = LiveList::of([entity(0).as_str(), entity(1).as_str()]).unwrap();
    let found = orphans::find(storage.as_ref(), "n1@a", &live).unwrap();
    assert_eq!(
        orphans::purge(storage.as_ref(), &found, &live, false, true).unwrap(),
        4
    );
    assert_eq!(dump_of(&storage), before, "a dry run deletes nothing");
    assert_eq!(
        orphans::purge(storage.as_ref(), &found, &live, false, false).unwrap(),
        4
    );
    let left: Vec<String> = storage
        .entity_summaries("n1@a")
        .unwrap()
        .into_iter()
        .map(|e| e.entity)
        .collect();
    assert_eq!(left, [entity(0), entity(1)]);

    // Said explicitly, everything goes.
    let found = orphans::find(storage.as_ref(), "n1@a", &empty).unwrap();
    assert_eq!(
        orphans::purge(storage.as_ref(), &found, &empty, true, false).unwrap(),
        4
    );
    assert!(storage.hosts().unwrap().is_empty());
}

/// `n` export lines of `host`, one entity a line.
fn lines(host: &str, n: u64) -> Vec<String> {
    (0..n)
        .map(|i| {
            serde_json::to_string(&Entry {
                host: host.into(),
                entity: entity(i),
                key: "volume_id".into(),
                value: format!("vol-{i}"),
            })
            .unwrap()
        })
        .collect()
}

#[test]
fn an_import_with_a_bad_line_imports_nothing_and_names_the_line() {
    let scratch = Scratch::new();
    let storage = open(&scratch);
    let none = HostLimits::default();
    for bad_at in [500, 1500] {
        let mut file = lines("n1@a", 1499);
        file.insert(bad_at - 1, "garbage".into());
        let err = transfer::import(
            storage.as_ref(),
            file.join("\n").as_bytes(),
            "dump.jsonl",
            &none,
            &mut |_| {},
        )
        .unwrap_err();
        assert!(matches!(err, Error::BadInput { .. }), "{err:?}");
        let text = err.to_string();
        assert!(
            text.contains(&format!("dump.jsonl line {bad_at}:"))
                && text.contains("nothing was changed")
                && !text.contains("at line"),
            "{text}"
        );
        assert!(
            storage.hosts().unwrap().is_empty(),
            "a bad line at {bad_at} imported something"
        );
    }

    // Values over the host's limit, and over every limit, are bad lines too.
    let tight = DataLimits {
        max_value_bytes: 100,
        ..DataLimits::default()
    };
    for (value, limits) in [
        ("x".repeat(200), limits(&[("n1@a", tight)])),
        ("x".repeat(1024), HostLimits::default()),
        ("x".repeat(2_000_000), HostLimits::default()),
    ] {
        let mut file = lines("n1@a", 3);
        file.push(
            serde_json::to_string(&Entry {
                host: "n1@a".into(),
                entity: entity(9),
                key: "big".into(),
                value: value.clone(),
            })
            .unwrap(),
        );
        let err = transfer::import(
            storage.as_ref(),
            file.join("\n").as_bytes(),
            "dump.jsonl",
            &limits,
            &mut |_| {},
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("line 4") && err.contains(&format!("is {} bytes", value.len())),
            "{err}"
        );
        assert!(storage.hosts().unwrap().is_empty());
    }

    let report = transfer::import(
        storage.as_ref(),
        lines("n1@a", 1499).join("\n").as_bytes(),
        "ok",
        &none,
        &mut |_| {},
    )
    .unwrap();
    assert_eq!((report.entries, report.lines), (1499, 1499));
}

#[test]
fn an_import_over_a_hosts_quota_stops_at_a_page_and_says_how_far_it_got() {
    let scratch = Scratch::new();
    let storage = open(&scratch);
    let mut small = DataLimits::default();
    small.quota.max_entries = 1500;
    let file = lines("n1@a", 2500).join("\n");
    let mut pages = Vec::new();
    let err = transfer::import(
        storage.as_ref(),
        file.as_bytes(),
        "dump.jsonl",
        &limits(&[("n1@a", small)]),
        &mut |n| pages.push(n),
    )
    .unwrap_err();
    assert_eq!(pages, [1000], "progress after each page written");
    let Error::ImportStopped {
        imported,
        through_line,
        cause,
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!((*imported, *through_line), (1000, 1000));
    assert!(matches!(**cause, Error::QuotaExceeded(_)), "{cause:?}");
    assert!(
        err.to_string()
            .contains("the first 1000 entries (through line 1000)"),
        "{err}"
    );
    assert_eq!(storage.hosts().unwrap()[0].entries, 1000, "exactly what it says");
}

#[test]
fn migrate_checks_the_source_against_the_limits_before_writing_anything() {
    // The old import let such values in; the servers then reset the
    // connection on a 50 MB row.
    let source = Scratch::of(StoreKind::Sqlite);
    let from = open(&source);
    let big = Entry {
        host: "n1@a".into(),
        entity: entity(1),
        key: "k".into(),
        value: "x".repeat(2_000_000),
    };
    let small = Entry {
        value: "v".into(),
        entity: entity(0),
        ..big.clone()
    };
    from.put(&[small, big], &|_| Quota::UNLIMITED).unwrap();
    let target = Scratch::new();
    let to = open(&target);
    let err = privdata_host::ops::migrate::migrate(
        from.as_ref(),
        to.as_ref(),
        None,
        &HostLimits::default(),
        &mut |_| {},
    )
    .unwrap_err();
    assert!(matches!(err, Error::BadInput { .. }), "{err:?}");
    assert!(err.to_string().contains("is 2000000 bytes"), "{err}");
    assert!(to.hosts().unwrap().is_empty(), "nothing was written");

    let roomy = DataLimits {
        max_value_bytes: 2_000_000,
        ..DataLimits::default()
    };
    let mut few = roomy;
    few.quota.max_entries = 1;
    let err = privdata_host::ops::migrate::migrate(
        from.as_ref(),
        to.as_ref(),
        None,
        &limits(&[("n1@a", few)]),
        &mut |_| {},
    )
    .unwrap_err();
    assert!(err.to_string().contains("holds 2 entries"), "{err}");
    assert!(to.hosts().unwrap().is_empty());

    if target.kind() == StoreKind::Sqlite {
        // The servers' default packet limits are below 2 MB rows; SQLite
        // shows the limits let through what they allow.
        let report = privdata_host::ops::migrate::migrate(
            from.as_ref(),
            to.as_ref(),
            None,
            &limits(&[("n1@a", roomy)]),
            &mut |_| {},
        )
        .unwrap();
        assert_eq!(report.copied, 2);
    }
}

#[test]
fn a_store_that_cannot_outlive_the_process_is_refused() {
    for url in [
        "",
        "sqlite://",
        ":memory:",
        "sqlite://:memory:",
        "file::memory:?cache=shared",
    ] {
        let err = store::open(url).unwrap_err();
        assert!(matches!(err, Error::Refused(_)), "{url:?}: {err:?}");
        assert!(err.to_string().contains("outlive the process"), "{url:?}: {err}");
    }
    for url in ["\"\"", "\"sqlite://\"", "\":memory:\""] {
        let text = format!("[storage]\nurl = {url}\n[backends.a]\ndriver = 'd.wasm'\nroot = 'r'\n");
        let err = Config::parse(&text, std::path::Path::new("")).unwrap_err();
        assert!(
            err.contains("[storage] url") && err.contains("outlive the process"),
            "{url}: {err}"
        );
    }
}

#[test]
fn commands_that_only_read_never_create_a_store() {
    let dir = tempfile::tempdir().unwrap();
    let typo = dir.path().join("privdta.db");
    let url: store::StorageUrl = format!("sqlite://{}", typo.display()).parse().unwrap();
    let err = store::open_existing(&url, &StorageOptions::default()).unwrap_err();
    assert!(
        err.to_string().contains("no such file, so no store") && err.to_string().contains("privdta.db"),
        "{err}"
    );
    assert!(!typo.exists(), "a read created the store");
    store::open_url(&url, &StorageOptions::default()).unwrap();
    store::open_existing(&url, &StorageOptions::default()).unwrap();
}
