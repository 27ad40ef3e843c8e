//! Two backends that use the same entity ids never see each other's data,
//! through any path: the driver's calls, the host API, or a shared driver.

use conformance::*;
use privdata_host::Manager;

#[test]
fn the_same_driver_on_two_backends_keeps_separate_data_for_the_same_share() {
    // In Rust and in Python: the host binds each instance, not the SDK.
    for driver in [drivers::GENERIC, drivers::PYTHON_GENERIC] {
        let f = Fixture::new([BackendSpec::new("a", driver), BackendSpec::new("b", driver)]);
        let (a, b) = (f.backend("a"), f.backend("b"));
        let ea = a.create_share(&share(ID1)).unwrap().export_locations.unwrap();
        let eb = b.create_share(&share(ID1)).unwrap().export_locations.unwrap();
        assert_ne!(ea, eb, "each backend made its own volume");
        let va = a.private_data().get(ID1, None).unwrap();
        let vb = b.private_data().get(ID1, None).unwrap();
        assert_ne!(va, vb);
        a.delete_share(&share(ID1)).unwrap();
        assert_eq!(
            b.private_data().get(ID1, None).unwrap(),
            vb,
            "b untouched by a's delete"
        );
        assert_eq!(b.ensure_share(&share(ID1)).unwrap().export_locations.unwrap(), eb);
        assert!(f.root("b").join("volumes").read_dir().unwrap().count() == 1);
    }
}

#[test]
fn a_guest_cannot_read_change_or_delete_another_hosts_data() {
    let f = Fixture::new([
        BackendSpec::new("a", drivers::HOSTILE).option("mode", "probe"),
        BackendSpec::new("b", drivers::HOSTILE).option("mode", "probe"),
    ]);
    let (a, b) = (ViaGuest(f.backend("a")), ViaGuest(f.backend("b")));
    a.update(ID1, &[("secret", "a's")], false).unwrap();
    assert_eq!(b.get(ID1, None).unwrap(), vec![]);
    assert_eq!(b.get(ID1, Some(&["secret"])).unwrap(), vec![]);
    b.update(ID1, &[("secret", "b's")], true).unwrap();
    b.delete(ID1, None).unwrap();
    b.update(ID1, &[], true).unwrap();
    assert_eq!(a.get(ID1, None).unwrap(), pairs(&[("secret", "a's")]));
    let hosts = f.manager.storage().hosts().unwrap();
    assert_eq!(hosts.len(), 1);
    assert_eq!(hosts[0].host, "test-node@a");
}

#[test]
fn a_host_with_a_similar_name_is_a_different_host() {
    // Prefixes, case and trailing spaces must not alias.
    let f = Fixture::new([
        BackendSpec::new("a", drivers::HOSTILE).host("node@alpha"),
        BackendSpec::new("b", drivers::HOSTILE).host("node@alpha2"),
        BackendSpec::new("c", drivers::HOSTILE).host("NODE@alpha"),
        BackendSpec::new("d", drivers::HOSTILE).host("node@alpha "),
    ]);
    f.backend("a")
        .private_data()
        .update(ID1, &pairs(&[("k", "v")]), false)
        .unwrap();
    for other in ["b", "c", "d"] {
        assert_eq!(
            f.backend(other).private_data().get(ID1, None).unwrap(),
            vec![],
            "{other}"
        );
    }
}

#[test]
fn two_backends_bound_to_one_host_are_refused() {
    let dir = Scratch::new();
    let config = dir.config([
        BackendSpec::new("a", drivers::GENERIC).host("node@shared"),
        BackendSpec::new("b", drivers::CACHING).host("node@shared"),
    ]);
    let err = Manager::new(&config).unwrap_err().to_string();
    assert!(
        err.contains("node@shared") && err.contains("each backend needs its own host"),
        "{err}"
    );
}

#[test]
fn data_survives_a_restart_and_stays_with_its_host() {
    let dir = Scratch::new();
    let specs = || {
        [
            BackendSpec::new("a", drivers::GENERIC),
            BackendSpec::new("b", drivers::SHORT_NAMES),
        ]
    };
    let config = dir.config(specs());
    let exports = {
        let m = Manager::new(&config).unwrap();
        m.backend("b")
            .unwrap()
            .create_share(&share(ID1))
            .unwrap()
            .export_locations
            .unwrap()
    };
    let m = Manager::new(&dir.config(specs())).unwrap();
    assert_eq!(
        m.backend("b")
            .unwrap()
            .ensure_share(&share(ID1))
            .unwrap()
            .export_locations
            .unwrap(),
        exports
    );
    // Backend a finds nothing of b's share: ensuring it says it is lost.
    let lost = m.backend("a").unwrap().ensure_share(&share(ID1)).unwrap();
    assert_eq!(lost.status.as_deref(), Some("error"), "{lost:?}");
    assert_eq!(lost.export_locations, None, "{lost:?}");
}
