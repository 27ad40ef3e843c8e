//! Operator and driver-author tools: host rename, entity listing for
//! drivers (and old drivers still working), orphan purge, audit journal.

use conformance::*;
use privdata_host::ops::orphans;
use privdata_host::store::{HistoryFilter, StorageOptions};
use privdata_host::{DriverError, Error, Manager};

/// A manager over a store that keeps the audit journal. Not on etcd, which
/// keeps none (etcd.rs checks that it refuses one).
fn audited(specs: impl IntoIterator<Item = BackendSpec>) -> (Scratch, Manager) {
    let dir = Scratch::new();
    let mut config = dir.config(specs);
    config.storage_options = StorageOptions {
        audit: true,
        ..StorageOptions::default()
    };
    if dir.kind() == StoreKind::Etcd {
        StoreKind::Etcd.cannot_run_here("it keeps no audit journal");
    }
    let m = Manager::new(&config).unwrap();
    (dir, m)
}

#[test]
fn rename_host_moves_everything_atomically_and_refuses_to_clobber() {
    let f = Fixture::new([
        BackendSpec::new("a", drivers::GENERIC).host("old@a"),
        BackendSpec::new("b", drivers::GENERIC).host("taken@b"),
    ]);
    let storage = f.manager.storage();
    f.backend("a")
        .create_share(&share(ID1))
        .unwrap()
        .export_locations
        .unwrap();
    f.backend("a").create_snapshot(&snapshot(ID2, ID1)).unwrap();
    let before = f.backend("a").private_data().get(ID1, None).unwrap();

    let r = storage.rename_host("old@a", "new@a", false).unwrap();
    assert_eq!((r.moved, r.entities, r.overwritten), (3, 2, 0));
    let renamed = privdata_host::PrivateData::new(storage.clone(), "new@a", Default::default());
    assert_eq!(renamed.get(ID1, None).unwrap(), before);
    assert_eq!(
        f.backend("a").private_data().get(ID1, None).unwrap(),
        vec![],
        "old host emptied"
    );
    let hosts: Vec<String> = storage.hosts().unwrap().into_iter().map(|h| h.host).collect();
    assert_eq!(hosts, ["new@a"]);

    f.backend("b")
        .create_share(&share(ID1))
        .unwrap()
        .export_locations
        .unwrap();
    let err = storage
        .rename_host("new@a", "taken@b", false)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("taken@b already holds 1 entries") && err.contains("--merge"),
        "{err}"
    );
    assert_eq!(
        renamed.get(ID1, None).unwrap(),
        before,
        "a refused rename changes nothing"
    );
    let r = storage.rename_host("new@a", "taken@b", true).unwrap();
    assert_eq!((r.moved, r.overwritten), (3, 1));
    assert_eq!(
        f.backend("b").private_data().get(ID1, None).unwrap(),
        before,
        "the renamed host's values win"
    );
    assert_eq!(storage.hosts().unwrap().len(), 1);
}

#[test]
fn a_driver_pages_through_its_entities_and_sees_only_its_own() {
    let f = Fixture::new([
        BackendSpec::new("p", drivers::HOSTILE).option("mode", "probe"),
        BackendSpec::new("q", drivers::HOSTILE).option("mode", "probe"),
    ]);
    let p = f.backend("p").private_data();
    let mut ids: Vec<String> = (0..25).map(entity).collect();
    for id in &ids {
        p.update(id, &pairs(&[("k", "v")]), false).unwrap();
    }
    f.backend("q")
        .private_data()
        .update(ID1, &pairs(&[("k", "v")]), false)
        .unwrap();
    ids.sort();

    let guest = ViaGuest(f.backend("p"));
    let mut seen = Vec::new();
    let mut cursor = String::new();
    loop {
        let page = guest.list(&cursor, 10);
        assert!(page.ids.len() <= 10);
        seen.extend(page.ids);
        match page.next {
            Some(next) => cursor = next,
            None => break,
        }
    }
    assert_eq!(seen, ids);
    let err = f
        .backend("p")
        .private_data()
        .entities(Some("garbage"), 10)
        .unwrap_err();
    assert!(
        matches!(err, Error::InvalidEntityId(_)) && err.to_string().contains("cursor"),
        "{err}"
    );
    assert_eq!(
        p.entities(None, 0).unwrap().0.len(),
        1,
        "a limit of 0 is taken as 1"
    );
}

#[test]
fn the_last_page_of_entities_has_no_cursor_even_when_full() {
    let f = Fixture::new([BackendSpec::new("p", drivers::HOSTILE).option("mode", "probe")]);
    let p = f.backend("p").private_data();
    for i in 0..20 {
        p.update(&entity(i), &pairs(&[("k", "v")]), false).unwrap();
    }
    let guest = ViaGuest(f.backend("p"));
    let first = guest.list("", 10);
    assert_eq!(first.ids.len(), 10);
    let second = guest.list(first.next.as_deref().expect("a second page"), 10);
    assert_eq!(second.ids, (10..20).map(entity).collect::<Vec<_>>());
    assert_eq!(second.next, None, "a full last page: no cursor");
    let (all, next) = p.entities(None, 20).unwrap();
    assert_eq!((all.len(), next), (20, None));
}

#[test]
fn a_driver_built_against_contract_0_1_0_keeps_working() {
    let f = Fixture::new([BackendSpec::new("old", drivers::LEGACY)]);
    let b = f.backend("old");
    let created = b.create_share(&share(ID1)).unwrap().export_locations.unwrap();
    assert_eq!(created[0].path, format!("old-nas:/legacy-{}", &ID1[..8]));
    assert_eq!(
        b.ensure_share(&share(ID1)).unwrap().export_locations.unwrap(),
        created
    );
    assert_eq!(b.private_data().get(ID1, None).unwrap().len(), 1);
    b.delete_share(&share(ID1)).unwrap();
    assert_eq!(b.private_data().get(ID1, None).unwrap(), vec![]);
    assert_eq!(b.contract(), "0.1");
    assert_added_in_0_2_is_unsupported(b);
}

/// Every operation contract 0.2 added answers `unsupported` for a 0.1
/// driver, naming the operation and how to get it.
fn assert_added_in_0_2_is_unsupported(b: &privdata_host::Backend) {
    let (s, snap) = (share(ID1), snapshot(ID2, ID1));
    let results: [(&str, Result<(), Error>); 7] = [
        ("shrink-share", b.shrink_share(&s, 1)),
        (
            "create-share-from-snapshot",
            b.create_share_from_snapshot(&share(ID3), &snap).map(drop),
        ),
        (
            "revert-to-snapshot",
            b.revert_to_snapshot(&snap, &[], &[]).map(drop),
        ),
        ("update-access", b.update_access(&s, &[], &[], &[], &[]).map(drop)),
        (
            "manage-existing-snapshot",
            b.manage_existing_snapshot(&snap, &by_name("x")).map(drop),
        ),
        ("unmanage-snapshot", b.unmanage_snapshot(&snap)),
        ("get-stats", b.get_stats().map(drop)),
    ];
    for (op, result) in results {
        match result {
            Err(Error::Driver {
                error: DriverError::Unsupported(m),
                operation,
                ..
            }) => {
                assert_eq!(operation, op);
                assert!(
                    m.contains(op) && m.contains("0.1") && m.contains("rebuild"),
                    "{m}"
                );
            }
            other => panic!("{op}: {other:?}"),
        }
    }
}

#[test]
fn a_driver_built_against_contract_0_1_1_keeps_working() {
    let f = Fixture::new([BackendSpec::new("old", drivers::LEGACY_0_1_1)]);
    let b = f.backend("old");
    assert_eq!(b.contract(), "0.1");
    let created = b.create_share(&share(ID1)).unwrap().export_locations.unwrap();
    assert_eq!(created[0].path, format!("old-nas:/v011-{}", &ID1[..8]));
    b.extend_share(&share(ID1), 3).unwrap();
    let kept = b.private_data().get(ID1, None).unwrap();
    assert!(
        kept.contains(&("size_gib".to_string(), "3".to_string())),
        "{kept:?}"
    );
    // ensure-share goes through entities-list, which 0.1.1 added.
    assert_eq!(
        b.ensure_share(&share(ID1)).unwrap().export_locations.unwrap(),
        created
    );
    // A share it does not know is lost: Manila records it in error.
    let lost = b.ensure_share(&share(ID2)).unwrap();
    assert_eq!(
        (lost.status.as_deref(), lost.export_locations),
        (Some("error"), None)
    );
    // The 0.1 SDK's "does not support" answer is what 0.2 calls unsupported.
    let err = b.create_snapshot(&snapshot(ID2, ID1)).unwrap_err();
    assert!(
        matches!(&err, Error::Driver { error: DriverError::Unsupported(m), .. } if m.contains("create-snapshot")),
        "{err}"
    );
    assert_added_in_0_2_is_unsupported(b);
    b.delete_share(&share(ID1)).unwrap();
    assert_eq!(b.private_data().get(ID1, None).unwrap(), vec![]);
}

#[test]
fn orphans_are_purged_in_one_transaction_per_batch() {
    let f = Fixture::new([
        BackendSpec::new("a", drivers::HOSTILE),
        BackendSpec::new("b", drivers::HOSTILE),
    ]);
    // 1,205 orphans, sorted as the purge takes them: batches of 500, 500
    // and 205, beside 5 live entities.
    let live: Vec<String> = (0..5)
        .map(|i| format!("00000000-0000-4000-8000-{i:012}"))
        .collect();
    let dead: Vec<String> = (0..1205)
        .map(|i| format!("10000000-0000-4000-8000-{i:012}"))
        .collect();
    let storage = f.manager.storage();
    let a = f.backend("a").private_data();
    for id in live.iter().chain(&dead) {
        a.update(id, &pairs(&[("k1", "v"), ("k2", "v")]), false).unwrap();
    }
    f.backend("b")
        .private_data()
        .update(&dead[0], &pairs(&[("k", "v")]), false)
        .unwrap();
    let list = orphans::LiveList::of(live.iter().map(String::as_str)).unwrap();
    let held = |host: &str| -> Vec<String> {
        storage
            .entity_summaries(host)
            .unwrap()
            .into_iter()
            .map(|e| e.entity)
            .collect()
    };

    // The store refuses to delete one entity of the second batch: the
    // first batch is gone, the whole second batch and the third are kept.
    f.fail_on_delete_of(&dead[742]);
    let found = orphans::find(storage.as_ref(), "test-node@a", &list).unwrap();
    assert_eq!(found.entities.len(), 1205);
    let err = orphans::purge(storage.as_ref(), &found, &list, false, false).unwrap_err();
    assert!(
        matches!(
            err,
            Error::PurgeStopped {
                entities: 500,
                entries: 1000,
                ..
            }
        ),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains("500 entities (1000 entries) were purged"),
        "{err}"
    );
    let left = held("test-node@a");
    assert_eq!(
        left,
        [&live[..], &dead[500..]].concat(),
        "whole batches, or nothing of one"
    );

    // Once the store lets it, the same purge ends the job.
    f.stop_failing_deletes();
    let found = orphans::find(storage.as_ref(), "test-node@a", &list).unwrap();
    assert_eq!(
        orphans::purge(storage.as_ref(), &found, &list, false, false).unwrap(),
        2 * 705
    );
    assert_eq!(held("test-node@a"), live);
    assert_eq!(
        held("test-node@b"),
        [dead[0].clone()],
        "another host's data is untouched"
    );
}

#[test]
fn the_audit_journal_records_every_change_with_digests_not_values() {
    let (_dir, m) = audited([BackendSpec::new("g", drivers::GENERIC)]);
    let b = m.backend("g").unwrap();
    b.create_share(&share(ID1)).unwrap().export_locations.unwrap();
    let volume = b.private_data().get(ID1, None).unwrap()[0].1.clone();
    b.private_data()
        .update(ID1, &pairs(&[("volume_id", &volume)]), false)
        .unwrap(); // no change
    b.private_data()
        .update(ID1, &pairs(&[("extra", "x")]), true)
        .unwrap();
    b.delete_share(&share(ID1)).unwrap();
    // Renaming a host that holds nothing moves nothing, and journals nothing.
    let r = m
        .storage()
        .rename_host("test-node@g", "renamed@g", false)
        .unwrap();
    assert_eq!(r.moved, 0);

    let all = m.storage().history(&HistoryFilter::default()).unwrap();
    let ops: Vec<(&str, &str)> = all
        .iter()
        .map(|e| (e.key.as_str(), e.operation.as_str()))
        .collect();
    assert_eq!(
        ops,
        [
            ("volume_id", "update"),
            ("extra", "replace"),
            ("volume_id", "replace"),
            ("extra", "delete")
        ],
        "{all:#?}"
    );
    let digest = blake3::hash(volume.as_bytes()).to_hex().to_string();
    assert_eq!(all[0].new_digest.as_deref(), Some(digest.as_str()));
    assert_eq!(all[0].old_digest, None);
    assert_eq!(all[2].old_digest.as_deref(), Some(digest.as_str()));
    let json = serde_json::to_string(&all).unwrap();
    assert!(!json.contains(&volume), "the journal holds digests, never values");

    let filtered = m
        .storage()
        .history(&HistoryFilter {
            entity: Some(ID1.into()),
            limit: Some(2),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(filtered, all[2..].to_vec(), "the newest two, oldest first");
    let future = m
        .storage()
        .history(&HistoryFilter {
            since: Some(i64::MAX),
            ..Default::default()
        })
        .unwrap();
    assert!(future.is_empty());
    assert_eq!(m.storage().prune_history(i64::MAX).unwrap(), 4);
    assert!(m.storage().history(&HistoryFilter::default()).unwrap().is_empty());
}

#[test]
fn a_failed_change_leaves_no_journal_entry() {
    let mut spec = BackendSpec::new("g", drivers::HOSTILE);
    spec.data_limits.quota.max_entries = 1;
    let (_dir, m) = audited([spec]);
    let data = m.backend("g").unwrap().private_data();
    data.update(ID1, &pairs(&[("a", "1")]), false).unwrap();
    let err = data.update(ID1, &pairs(&[("b", "2")]), false).unwrap_err();
    assert!(matches!(err, Error::QuotaExceeded(_)), "{err:?}");
    let all = m.storage().history(&HistoryFilter::default()).unwrap();
    assert_eq!(all.len(), 1, "{all:?}");
}

#[test]
fn renames_and_purges_are_journaled_on_every_store() {
    let (_dir, m) = audited([BackendSpec::new("g", drivers::HOSTILE)]);
    let data = m.backend("g").unwrap().private_data();
    data.update(ID1, &pairs(&[("a", "1"), ("b", "2")]), false)
        .unwrap();
    data.update(ID2, &pairs(&[("c", "3")]), false).unwrap();
    let storage = m.storage();
    let r = storage.rename_host("test-node@g", "node2@g", false).unwrap();
    assert_eq!((r.moved, r.entities), (3, 2));
    assert_eq!(storage.delete_entities("node2@g", &[ID2.to_string()]).unwrap(), 1);

    let all = storage.history(&HistoryFilter::default()).unwrap();
    let ops: Vec<(&str, &str, &str)> = all
        .iter()
        .filter(|e| e.operation != "update")
        .map(|e| (e.host.as_str(), e.key.as_str(), e.operation.as_str()))
        .collect();
    let mut renamed: Vec<_> = ops
        .iter()
        .filter(|o| o.2.starts_with("rename"))
        .copied()
        .collect();
    renamed.sort();
    assert_eq!(
        renamed,
        [
            ("node2@g", "a", "rename-to"),
            ("node2@g", "b", "rename-to"),
            ("node2@g", "c", "rename-to"),
            ("test-node@g", "a", "rename-from"),
            ("test-node@g", "b", "rename-from"),
            ("test-node@g", "c", "rename-from"),
        ],
        "{all:#?}"
    );
    assert_eq!(ops.last(), Some(&("node2@g", "c", "purge")), "{all:#?}");
    let purge = all.last().unwrap();
    assert_eq!(purge.entity, ID2);
    assert_eq!(
        purge.old_digest.as_deref(),
        Some(blake3::hash(b"3").to_hex().as_str())
    );
}

/// A driver built against contract 0.2 keeps running: 0.3's records go down
/// as 0.2's (the share's name is its display name), its answers come up as
/// 0.3's updates, and what 0.3 added answers `unsupported`.
#[test]
fn a_driver_built_against_contract_0_2_keeps_working() {
    use privdata_host::{AccessLevel, AccessRule, AccessType, ExportLocation, RuleState, Share};
    let f = Fixture::new([BackendSpec::new("v2", drivers::LEGACY_0_2)]);
    let b = f.backend("v2");
    assert_eq!(b.contract(), "0.2");
    let s = Share {
        display_name: "projects".into(),
        ..share(ID1)
    };
    let created = b.create_share(&s).unwrap();
    assert_eq!(created.exports()[0].path, "v2-nas:/v2-projects");
    assert_eq!(
        b.private_data().get(ID1, None).unwrap(),
        pairs(&[("volume_id", "v2-projects")])
    );

    // Ensuring is one share at a time; a share it does not know is lost.
    let ensured = b.ensure_shares(&[s.clone(), share(ID3)]).unwrap();
    assert_eq!(ensured[0].0, ID1);
    assert_eq!(ensured[0].1.exports(), created.exports());
    assert_eq!(ensured[0].1.status.as_deref(), Some("available"));
    assert_eq!(
        (ensured[1].0.as_str(), ensured[1].1.status.as_deref()),
        (ID3, Some("error"))
    );

    // 0.2 had no cephx: such a rule is answered `error` without reaching it.
    let ip = AccessRule::new(ID2, AccessType::Ip, "10.0.0.1", AccessLevel::Rw);
    let ceph = AccessRule::new(ID3, AccessType::Cephx, "alice", AccessLevel::Rw);
    let rules = [ip, ceph];
    let states = b.update_access(&s, &rules, &rules, &[], &[]).unwrap();
    let state_of = |id: &str| states.iter().find(|r| r.id == id).map(|r| r.state);
    assert_eq!(state_of(ID2), Some(RuleState::Active));
    assert_eq!(state_of(ID3), Some(RuleState::Error));
    let kept = b.private_data().get(ID1, None).unwrap();
    assert!(
        kept.contains(&(format!("rule:{ID2}"), "ip 10.0.0.1 rw".into())),
        "{kept:?}"
    );
    assert!(!kept.iter().any(|(k, _)| k.contains(ID3)), "{kept:?}");

    // Managing by the export path an administrator gives: 0.2 took the
    // backend's name, its last part.
    let old = Share {
        export_locations: vec![ExportLocation::new("v2-nas:/v2-old")],
        ..share(ID3)
    };
    let adopted = b.manage_existing(&old, &Vec::new()).unwrap();
    assert_eq!(adopted.size_gib, Some(7));
    assert_eq!(adopted.exports()[0].path, "v2-nas:/v2-old");
    assert_eq!(
        b.private_data().get(ID3, None).unwrap(),
        pairs(&[("volume_id", "v2-old")])
    );

    let stats = b.get_stats().unwrap();
    assert_eq!(
        (
            stats.backend_name.as_str(),
            stats.total_capacity_gib,
            stats.free_capacity_gib
        ),
        ("legacy-0.2", Some(10), Some(4))
    );
    assert_eq!(b.get_backend_info().unwrap(), None);
    let snap = snapshot(ID2, ID1);
    let results: [(&str, Result<(), Error>); 3] = [
        ("get-share-status", b.get_share_status(&s).map(drop)),
        (
            "update-share-usage-size",
            b.update_share_usage_size(std::slice::from_ref(&s)).map(drop),
        ),
        (
            "snapshot-update-access",
            b.snapshot_update_access(&snap, &[], &[], &[]),
        ),
    ];
    for (op, result) in results {
        match result {
            Err(Error::Driver {
                error: DriverError::Unsupported(m),
                operation,
                ..
            }) => {
                assert_eq!(operation, op);
                assert!(
                    m.contains("0.3") && m.contains("0.2") && m.contains("rebuild"),
                    "{m}"
                );
            }
            other => panic!("{op}: {other:?}"),
        }
    }
    b.delete_share(&s).unwrap();
    b.unmanage(&old).unwrap();
    assert_eq!(
        f.manager.storage().hosts().unwrap(),
        vec![],
        "orphans left in the store"
    );
}
