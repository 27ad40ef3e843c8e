//! Every example driver through a full share lifecycle via the real host,
//! checking at each step what it keeps in private data, and that nothing is
//! left behind once an entity is deleted.

use conformance::*;
use privdata_host::{
    AccessLevel, AccessRule, AccessType, DriverError, Error, ExportLocation, RuleState, Share, ShareUpdate,
};
use std::path::Path;

const DRIVERS: [(&str, &str); 6] = [
    ("generic", drivers::GENERIC),
    ("short", drivers::SHORT_NAMES),
    ("caching", drivers::CACHING),
    ("python", drivers::PYTHON_GENERIC),
    ("rest", drivers::REST),
    ("python-rest", drivers::PYTHON_REST),
];

/// An array for the REST driver to manage, over HTTPS with a CA of its
/// own; each test gets its own, serving until the test process ends.
fn nas() -> &'static fake_nas::FakeNas {
    Box::leak(Box::new(fake_nas::FakeNas::https().unwrap()))
}

fn fixture() -> Fixture {
    Fixture::new(DRIVERS.map(|(name, path)| match name {
        "rest" | "python-rest" => BackendSpec::rest(name, path, nas()),
        _ => BackendSpec::new(name, path),
    }))
}

fn data(f: &Fixture, backend: &str, entity: &str) -> Vec<(String, String)> {
    f.backend(backend).private_data().get(entity, None).unwrap()
}

/// Ensuring a share the driver does not know: Manila is told to set it to
/// `error`.
fn lost(result: &Result<ShareUpdate, Error>) -> bool {
    matches!(result, Ok(ShareUpdate { status: Some(s), .. }) if s == "error")
}

/// The steps every driver shares: create, ensure, extend, delete, no orphans.
#[test]
fn create_ensure_extend_delete_leaves_no_private_data() {
    let f = fixture();
    for (name, _) in DRIVERS {
        let b = f.backend(name);
        let s = share(ID1);
        let created = b.create_share(&s).unwrap().export_locations.unwrap();
        assert!(!created.is_empty(), "{name}: no export locations");
        assert!(
            !data(&f, name, ID1).is_empty(),
            "{name}: kept nothing about the share"
        );
        assert_eq!(
            b.ensure_share(&s).unwrap().export_locations.unwrap(),
            created,
            "{name}: ensure differs from create"
        );
        b.extend_share(&s, 5).unwrap();
        assert_eq!(
            b.ensure_share(&s).unwrap().export_locations.unwrap(),
            created,
            "{name}"
        );
        b.delete_share(&s).unwrap();
        assert_eq!(data(&f, name, ID1), vec![], "{name}: orphaned private data");
        assert!(lost(&b.ensure_share(&s)), "{name}: deleted share still found");
        // Deleting again is harmless, as Manila expects.
        b.delete_share(&s).unwrap();
    }
    assert_eq!(
        f.manager.storage().hosts().unwrap(),
        vec![],
        "orphans left in the store"
    );
}

#[test]
fn any_spelling_of_the_share_id_finds_the_share() {
    let f = fixture();
    for (name, _) in DRIVERS {
        let b = f.backend(name);
        let created = b.create_share(&share(ID1)).unwrap().export_locations.unwrap();
        if name == "caching" {
            // This backend names its directories by the id as given, so it
            // can only find the share by the spelling that created it.
            continue;
        }
        let other = share(&ID1.to_uppercase().replace('-', ""));
        assert_eq!(
            b.ensure_share(&other).unwrap().export_locations.unwrap(),
            created,
            "{name}"
        );
        b.delete_share(&other).unwrap();
        assert_eq!(data(&f, name, ID1), vec![], "{name}");
    }
}

#[test]
fn ensuring_an_unknown_share_sets_it_to_error_on_every_driver() {
    let f = fixture();
    for (name, _) in DRIVERS {
        let answer = f.backend(name).ensure_share(&share(ID3));
        assert!(lost(&answer), "{name}: {answer:?}");
    }
}

#[test]
fn generic_names_volumes_itself_and_finds_them_through_private_data() {
    let f = fixture();
    let b = f.backend("generic");
    let exports = b.create_share(&share(ID1)).unwrap().export_locations.unwrap();
    let volume = data(&f, "generic", ID1)
        .into_iter()
        .find(|(k, _)| k == "volume_id")
        .expect("volume_id kept")
        .1;
    assert!(
        volume.starts_with("vol-") && !volume.contains(&ID1[..8]),
        "{volume}"
    );
    assert!(
        exports[0].path.ends_with(&format!("/volumes/{volume}")),
        "{exports:?}"
    );
    let dir = f.root("generic").join("volumes").join(&volume);
    assert!(dir.is_dir());

    b.extend_share(&share(ID1), 7).unwrap();
    assert_eq!(std::fs::read_to_string(dir.join(".size")).unwrap(), "7");
    let err = b.extend_share(&share(ID1), 3).unwrap_err();
    assert!(err.to_string().contains("not larger"), "{err}");

    b.create_snapshot(&snapshot(ID2, ID1)).unwrap();
    let snap = data(&f, "generic", ID2);
    let snap_volume = &snap.iter().find(|(k, _)| k == "snapshot_volume_id").unwrap().1;
    assert!(snap.contains(&("source_volume_id".into(), volume.clone())));
    let snap_dir = f.root("generic").join("snapshots").join(snap_volume);
    assert_eq!(std::fs::read_to_string(snap_dir.join(".size")).unwrap(), "7");
    b.delete_snapshot(&snapshot(ID2, ID1)).unwrap();
    assert!(!snap_dir.exists());
    assert_eq!(data(&f, "generic", ID2), vec![]);

    b.delete_share(&share(ID1)).unwrap();
    assert!(!dir.exists());
}

#[test]
fn generic_manages_an_existing_volume_and_unmanage_leaves_it() {
    let f = fixture();
    let b = f.backend("generic");
    let dir = f.root("generic").join("volumes/vol-legacy");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(".size"), "12").unwrap();
    let adopted = b.manage_existing(&share(ID1), &by_name("vol-legacy")).unwrap();
    assert_eq!(adopted.size_gib, Some(12));
    assert!(adopted.exports()[0].path.ends_with("/volumes/vol-legacy"));
    assert_eq!(data(&f, "generic", ID1), pairs(&[("volume_id", "vol-legacy")]));
    b.unmanage(&share(ID1)).unwrap();
    assert_eq!(data(&f, "generic", ID1), vec![]);
    assert!(dir.is_dir(), "unmanage must leave the data");
    for (bad, invalid) in [("../etc", true), ("missing", false), ("", true)] {
        match b.manage_existing(&share(ID1), &by_name(bad)) {
            Err(Error::Driver {
                error: DriverError::Invalid(_),
                ..
            }) if invalid => {}
            Err(Error::Driver {
                error: DriverError::NotFound(_),
                ..
            }) if !invalid => {}
            other => panic!("{bad:?}: {other:?}"),
        }
    }
    assert_eq!(data(&f, "generic", ID1), vec![]);
}

#[test]
fn short_names_fit_the_limit_and_stay_unique() {
    let f = Fixture::new([BackendSpec::new("short", drivers::SHORT_NAMES).option("max_name_length", "6")]);
    let b = f.backend("short");
    // Two shares whose UUIDs begin alike: the first 6 hex digits collide.
    let a = "abcdef01-0000-4000-8000-000000000001";
    let c = "abcdef02-0000-4000-8000-000000000002";
    b.create_share(&share(a)).unwrap().export_locations.unwrap();
    b.create_share(&share(c)).unwrap().export_locations.unwrap();
    let name = |id: &str| {
        data(&f, "short", id)
            .into_iter()
            .find(|(k, _)| k == "backend_name")
            .unwrap()
            .1
    };
    let (na, nc) = (name(a), name(c));
    assert_eq!(na, "abcdef");
    assert_ne!(na, nc);
    assert!(nc.len() <= 6, "{nc}");
    for n in [&na, &nc] {
        assert!(f.root("short").join("shares").join(n).is_dir(), "{n}");
    }
    b.create_snapshot(&snapshot(ID2, a)).unwrap();
    let snap = name(ID2);
    assert!(snap.len() <= 6);
    assert!(
        f.root("short")
            .join("shares")
            .join(&na)
            .join(".snapshots")
            .join(&snap)
            .is_dir()
    );
    b.delete_snapshot(&snapshot(ID2, a)).unwrap();
    assert_eq!(data(&f, "short", ID2), vec![]);
    b.delete_share(&share(a)).unwrap();
    assert!(!f.root("short").join("shares").join(&na).exists());
    assert_eq!(name(c), nc, "the other share's mapping is untouched");
}

#[test]
fn short_names_manage_adopts_by_name_and_unmanage_forgets_only_the_mapping() {
    let f = Fixture::new([BackendSpec::new("short", drivers::SHORT_NAMES)]);
    let b = f.backend("short");
    let dir = f.root("short").join("shares/legacy01");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(".size"), "3").unwrap();
    std::fs::write(dir.join("payload"), "tenant data").unwrap();
    // As Manila asks: by the export path the administrator gave.
    let legacy = Share {
        export_locations: vec![ExportLocation::new("10.0.0.1:/shares/legacy01")],
        ..share(ID1)
    };
    let adopted = b.manage_existing(&legacy, &Vec::new()).unwrap();
    assert_eq!(adopted.size_gib, Some(3));
    assert!(adopted.exports()[0].path.ends_with("/shares/legacy01"));
    assert_eq!(data(&f, "short", ID1), pairs(&[("backend_name", "legacy01")]));
    b.unmanage(&share(ID1)).unwrap();
    assert_eq!(data(&f, "short", ID1), vec![]);
    assert_eq!(
        std::fs::read_to_string(dir.join("payload")).unwrap(),
        "tenant data"
    );
    let err = b
        .manage_existing(&share(ID1), &by_name("much-too-long-name"))
        .unwrap_err();
    assert!(err.to_string().contains("at most 8"), "{err}");
}

#[test]
fn a_bad_driver_option_is_refused_by_setup_naming_it() {
    for value in ["2", "eight"] {
        let f =
            Fixture::new([BackendSpec::new("bad", drivers::SHORT_NAMES).option("max_name_length", value)]);
        let err = f.backend("bad").create_share(&share(ID1)).unwrap_err();
        assert!(
            matches!(
                err,
                Error::Driver {
                    error: DriverError::Invalid(_),
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("max_name_length"), "{err}");
        assert_eq!(f.manager.storage().hosts().unwrap(), vec![], "nothing written");
    }
}

/// Manila checks a backend's setup before its first operation: the
/// instance that check set up serves that operation, so a driver is not set
/// up twice (nor logs in to its array twice). A failed check keeps no place.
#[test]
fn a_checked_backend_serves_its_first_operation_on_the_instance_it_set_up() {
    use privdata_host::PoolStats;
    let f = Fixture::new([
        BackendSpec::new("g", drivers::GENERIC),
        BackendSpec::new("bad", drivers::SHORT_NAMES).option("max_name_length", "eight"),
    ]);
    let g = f.backend("g");
    g.check_setup().unwrap();
    assert_eq!(g.instances(), PoolStats { live: 1, made: 1 });
    g.create_share(&share(ID1)).unwrap();
    g.delete_share(&share(ID1)).unwrap();
    assert_eq!(g.instances(), PoolStats { live: 1, made: 1 }, "set up once");

    let bad = f.backend("bad");
    let err = bad.check_setup().unwrap_err().to_string();
    assert!(err.contains("max_name_length"), "{err}");
    assert_eq!(bad.instances(), PoolStats { live: 0, made: 1 });
}

#[test]
fn a_misspelled_driver_option_is_refused_naming_what_the_driver_reads() {
    let f = Fixture::new([
        BackendSpec::new("typo", drivers::SHORT_NAMES).option("max_name_lenght", "6"),
        BackendSpec::new("words", drivers::SHORT_NAMES).option("max_name_length", "six"),
    ]);
    let err = f
        .backend("typo")
        .create_share(&share(ID1))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("unknown option(s) `max_name_lenght`")
            && err.contains("`export_host`, `max_name_length`"),
        "{err}"
    );
    let err = f
        .backend("words")
        .create_share(&share(ID1))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("option `max_name_length` = \"six\" is not a whole number"),
        "{err}"
    );
    assert_eq!(f.manager.storage().hosts().unwrap(), vec![], "nothing written");
}

#[test]
fn caching_serves_ensure_from_private_data_without_the_backend() {
    let f = Fixture::new([
        BackendSpec::new("caching", drivers::CACHING).option("export_addresses", "10.1.1.1,10.1.1.2")
    ]);
    let b = f.backend("caching");
    let created = b.create_share(&share(ID1)).unwrap().export_locations.unwrap();
    let paths: Vec<&str> = created.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(paths.len(), 3, "{paths:?}");
    assert!(paths[0].starts_with("10.1.1.1:") && paths[1].starts_with("10.1.1.2:"));
    assert!(created[2].is_admin_only);
    let keys: Vec<String> = data(&f, "caching", ID1).into_iter().map(|(k, _)| k).collect();
    assert_eq!(keys, ["export_locations", "size_gib", "used_bytes"]);

    // The backend changes and even loses the share: ensure still answers
    // from what was learned, so it never touched the backend.
    let backend_dir = f.root("caching").join("shares").join(ID1);
    std::fs::create_dir_all(f.root("caching").join(".backend")).unwrap();
    std::fs::write(f.root("caching").join(".backend/interfaces"), "192.168.0.9\n").unwrap();
    std::fs::rename(&backend_dir, f.root("caching").join("moved-away")).unwrap();
    assert_eq!(
        b.ensure_share(&share(ID1)).unwrap().export_locations.unwrap(),
        created
    );

    // Without the cache it must ask the backend again, and sees the change.
    std::fs::rename(f.root("caching").join("moved-away"), &backend_dir).unwrap();
    b.private_data()
        .delete(ID1, Some(&["export_locations".to_string()]))
        .unwrap();
    let relearned = b.ensure_share(&share(ID1)).unwrap().export_locations.unwrap();
    assert!(relearned[0].path.starts_with("192.168.0.9:"), "{relearned:?}");
    assert_eq!(relearned.len(), 2);

    b.extend_share(&share(ID1), 9).unwrap();
    let after = data(&f, "caching", ID1);
    assert!(after.contains(&("size_gib".into(), "9".into())), "{after:?}");
    assert!(
        !after.iter().any(|(k, _)| k == "used_bytes"),
        "stale usage dropped"
    );
    b.delete_share(&share(ID1)).unwrap();
    assert_eq!(data(&f, "caching", ID1), vec![]);
    assert!(!Path::new(&backend_dir).exists());
}

#[test]
fn unsupported_operations_say_so() {
    let f = fixture();
    let err = f
        .backend("caching")
        .create_snapshot(&snapshot(ID2, ID1))
        .unwrap_err();
    assert!(
        matches!(
            &err,
            Error::Driver {
                error: DriverError::Unsupported(m),
                operation: "create-snapshot",
                ..
            } if m.contains("create-snapshot")
        ),
        "{err}"
    );
}

/// Manila retries a create whose answer was lost: the drivers that name
/// backend objects themselves must not make a second one, which delete would
/// then leave behind.
#[test]
fn a_retried_create_makes_no_second_backend_object() {
    let f = fixture();
    for (name, objects) in [("generic", "volumes"), ("short", "shares"), ("caching", "shares")] {
        let b = f.backend(name);
        let s = share(ID1);
        let first = b.create_share(&s).unwrap().export_locations.unwrap();
        assert_eq!(
            b.create_share(&s).unwrap().export_locations.unwrap(),
            first,
            "{name}"
        );
        let count = |dir: &str| {
            std::fs::read_dir(f.root(name).join(dir))
                .map(|d| d.count())
                .unwrap_or(0)
        };
        assert_eq!(count(objects), 1, "{name} made a second object");
        if name != "caching" {
            let snap = snapshot(ID2, ID1);
            b.create_snapshot(&snap).unwrap();
            let before = data(&f, name, ID2);
            b.create_snapshot(&snap).unwrap();
            assert_eq!(data(&f, name, ID2), before, "{name}: a retried snapshot");
            if name == "generic" {
                assert_eq!(count("snapshots"), 1, "a second snapshot volume");
            }
            b.delete_snapshot(&snap).unwrap();
        }
        b.delete_share(&s).unwrap();
        assert_eq!(count(objects), 0, "{name} left an object behind");
        assert!(data(&f, name, ID1).is_empty());
    }
}

fn rule(id: &str, kind: AccessType, to: &str, level: AccessLevel) -> AccessRule {
    AccessRule::new(id, kind, to, level)
}

/// Contract 0.2 on the generic driver, checked on its backend: rules in
/// its exports file, a share from a snapshot with the snapshot's data,
/// revert, shrink, snapshot manage/unmanage, stats.
#[test]
fn generic_serves_every_operation_of_contract_0_2() {
    let f = fixture();
    let b = f.backend("generic");
    let root = f.root("generic");
    let mut s = share(ID1);
    s.size_gib = 4;
    b.create_share(&s).unwrap().export_locations.unwrap();
    let volume = data(&f, "generic", ID1)[0].1.clone();
    let exports_file = root.join("exports").join(&volume);

    let net = rule(ID2, AccessType::Ip, "10.0.0.0/24", AccessLevel::Rw);
    let host = rule(ID3, AccessType::Ip, "10.0.1.7", AccessLevel::Ro);
    let user = rule(
        "7e5a3b9c-4d6f-4e8a-8b32-c3d4e5f60718",
        AccessType::User,
        "alice",
        AccessLevel::Rw,
    );
    let all = [net.clone(), host.clone(), user.clone()];
    let states = b.update_access(&s, &all, &all, &[], &[]).unwrap();
    let state_of = |id: &str| states.iter().find(|r| r.id == id).map(|r| r.state);
    assert_eq!(states.len(), 3);
    assert_eq!(state_of(ID2), Some(RuleState::Active));
    assert_eq!(state_of(ID3), Some(RuleState::Active));
    assert_eq!(
        state_of(&user.id),
        Some(RuleState::Error),
        "NFS takes no user rules"
    );
    let text = std::fs::read_to_string(&exports_file).unwrap();
    assert!(
        text.contains(&format!("/volumes/{volume} 10.0.0.0/24(rw) # {ID2}")),
        "{text}"
    );
    assert!(
        text.contains(&format!("/volumes/{volume} 10.0.1.7(ro) # {ID3}")),
        "{text}"
    );
    assert!(!text.contains("alice"), "{text}");

    b.update_access(
        &s,
        std::slice::from_ref(&host),
        &[],
        std::slice::from_ref(&net),
        &[],
    )
    .unwrap();
    let text = std::fs::read_to_string(&exports_file).unwrap();
    assert!(
        !text.contains("10.0.0.0/24") && text.contains("10.0.1.7"),
        "{text}"
    );
    // A full sync (no change given) applies the list as a whole.
    b.update_access(&s, std::slice::from_ref(&net), &[], &[], &[])
        .unwrap();
    let text = std::fs::read_to_string(&exports_file).unwrap();
    assert!(
        text.contains("10.0.0.0/24") && !text.contains("10.0.1.7"),
        "{text}"
    );

    let dir = root.join("volumes").join(&volume);
    std::fs::write(dir.join("data"), b"at the snapshot").unwrap();
    let snap = snapshot(ID2, ID1);
    b.create_snapshot(&snap).unwrap();
    std::fs::write(dir.join("data"), b"changed").unwrap();
    std::fs::write(dir.join("new"), b"after").unwrap();
    b.revert_to_snapshot(&snap, &[], &[]).unwrap();
    assert_eq!(std::fs::read(dir.join("data")).unwrap(), b"at the snapshot");
    assert!(
        !dir.join("new").exists(),
        "revert left a file made after the snapshot"
    );

    let clone = share(ID3);
    let exports = b
        .create_share_from_snapshot(&clone, &snap)
        .unwrap()
        .export_locations
        .unwrap();
    let clone_volume = data(&f, "generic", ID3)[0].1.clone();
    assert_ne!(clone_volume, volume);
    assert!(exports[0].path.ends_with(&format!("/volumes/{clone_volume}")));
    let clone_dir = root.join("volumes").join(&clone_volume);
    assert_eq!(std::fs::read(clone_dir.join("data")).unwrap(), b"at the snapshot");
    assert_eq!(
        b.create_share_from_snapshot(&clone, &snap)
            .unwrap()
            .export_locations
            .unwrap(),
        exports,
        "a retried create from a snapshot makes no second volume"
    );
    b.delete_share(&clone).unwrap();
    assert_eq!(data(&f, "generic", ID3), vec![]);
    assert!(!clone_dir.exists());

    b.shrink_share(&s, 2).unwrap();
    assert_eq!(std::fs::read_to_string(dir.join(".size")).unwrap(), "2");
    let err = b.shrink_share(&s, 3).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Driver {
                error: DriverError::Invalid(_),
                ..
            }
        ),
        "{err}"
    );

    let snap_volume = data(&f, "generic", ID2)
        .into_iter()
        .find(|(k, _)| k == "snapshot_volume_id")
        .unwrap()
        .1;
    b.unmanage_snapshot(&snap).unwrap();
    assert_eq!(data(&f, "generic", ID2), vec![]);
    assert!(
        root.join("snapshots").join(&snap_volume).is_dir(),
        "unmanage left the snapshot"
    );
    let adopted = snapshot("0a1b2c3d-0000-4000-8000-000000000001", ID1);
    let managed = b
        .manage_existing_snapshot(&adopted, &by_name(&snap_volume))
        .unwrap();
    assert!(managed.size_gib >= Some(1), "{managed:?}");
    let err = b
        .manage_existing_snapshot(&adopted, &by_name("snap-nonexistent"))
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Driver {
                error: DriverError::NotFound(_),
                ..
            }
        ),
        "{err}"
    );
    b.delete_snapshot(&adopted).unwrap();
    assert!(!root.join("snapshots").join(&snap_volume).exists());

    let stats = b.get_stats().unwrap();
    assert_eq!(stats.protocols, vec!["NFS".to_string()]);
    assert_eq!(stats.total_capacity_gib, Some(100));
    assert_eq!(stats.free_capacity_gib, Some(98), "one 2 GiB volume");
    b.delete_share(&s).unwrap();
    assert!(!exports_file.exists(), "delete left the share's exports");
    assert_eq!(
        f.manager.storage().hosts().unwrap(),
        vec![],
        "orphans left in the store"
    );
}

/// Every call of the Python SDK's `PrivateStorage`, with Manila's
/// semantics: a dict of all, one value or the default, a dict of a list,
/// delete of one key and of a list, replace, listing in pages, and the
/// refusals as `PrivateDataError` with their kind.
#[test]
fn the_python_sdk_keeps_manilas_private_storage_api() {
    let f = Fixture::new([BackendSpec::new("py", drivers::PYTHON_HOSTILE).option("mode", "sdk")]);
    let got: Vec<String> = f
        .backend("py")
        .create_share(&share(ID1))
        .unwrap()
        .export_locations
        .unwrap()
        .into_iter()
        .map(|e| e.path)
        .collect();
    let mut ids = [ID1, ID2];
    ids.sort();
    assert_eq!(
        got,
        [
            "{'a': '1', 'b': 'two', 'c': '3'}".to_string(),
            "'two'".into(),
            "'default'".into(),
            "{'a': '1'}".into(),
            "{'c': '3'}".into(),
            "{'x': 'y'}".into(),
            format!("['{}', '{}']", ids[0], ids[1]),
            "invalid key".into(),
            "invalid entity id".into(),
        ]
    );
    assert_eq!(data(&f, "py", ID1), pairs(&[("x", "y")]));
    assert_eq!(data(&f, "py", ID2), vec![]);
}
