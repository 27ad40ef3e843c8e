//! The semantics table of the contract, each row checked twice: straight on
//! the host's private-data API and through a real guest (the SDK's bindings
//! inside a wasm component), both over a real store (SQLite, or the server
//! `PRIVDATA_TEST_STORAGE` names).

use conformance::*;

fn fixture() -> Fixture {
    let mut probe = BackendSpec::new("probe", drivers::HOSTILE).option("mode", "probe");
    probe.data_limits.max_value_bytes = 1023;
    let mut small = BackendSpec::new("small", drivers::HOSTILE).option("mode", "probe");
    small.data_limits.max_value_bytes = 16;
    Fixture::new([probe, small])
}

/// Generate a `direct` and a `via_guest` test for one check.
macro_rules! both_paths {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            use super::*;
            #[test]
            fn direct() {
                let f = fixture();
                super::checks::$name(&Direct(f.backend("probe").private_data()), &f);
            }
            #[test]
            fn via_guest() {
                let f = fixture();
                super::checks::$name(&ViaGuest(f.backend("probe")), &f);
            }
        }
    )*};
}

both_paths!(
    get_all_of_unknown_entity_is_empty,
    update_merges_and_keeps_other_keys,
    empty_update_is_a_no_op,
    get_some_returns_only_found_pairs_sorted,
    replace_leaves_exactly_the_details,
    replace_with_nothing_deletes_all,
    delete_some_and_all_with_missing_keys_silent,
    every_manila_spelling_of_an_id_is_the_same_entity,
    invalid_entity_ids_are_refused,
    invalid_keys_are_refused,
    values_over_the_backend_limit_are_refused,
    a_refused_call_writes_nothing,
    a_storage_failure_mid_call_writes_nothing,
    unicode_and_maximum_sizes_round_trip,
    entities_are_separate,
    keys_and_values_are_exact_bytes,
    thousands_of_keys_in_one_call,
);

mod checks {
    use super::*;

    const E: &str = ID1;

    pub fn get_all_of_unknown_entity_is_empty(api: &dyn Api, _: &Fixture) {
        assert_eq!(api.get(E, None).unwrap(), vec![]);
        assert_eq!(api.get(E, Some(&["a"])).unwrap(), vec![]);
    }

    pub fn update_merges_and_keeps_other_keys(api: &dyn Api, _: &Fixture) {
        api.update(E, &[("b", "2"), ("a", "1")], false).unwrap();
        api.update(E, &[("b", "3"), ("c", "4")], false).unwrap();
        assert_eq!(
            api.get(E, None).unwrap(),
            pairs(&[("a", "1"), ("b", "3"), ("c", "4")])
        );
    }

    pub fn empty_update_is_a_no_op(api: &dyn Api, _: &Fixture) {
        api.update(E, &[("a", "1")], false).unwrap();
        api.update(E, &[], false).unwrap();
        assert_eq!(api.get(E, None).unwrap(), pairs(&[("a", "1")]));
    }

    pub fn get_some_returns_only_found_pairs_sorted(api: &dyn Api, _: &Fixture) {
        api.update(E, &[("a", "1"), ("b", "2"), ("c", "3")], false)
            .unwrap();
        assert_eq!(
            api.get(E, Some(&["c", "missing", "a"])).unwrap(),
            pairs(&[("a", "1"), ("c", "3")])
        );
        assert_eq!(api.get(E, Some(&[])).unwrap(), vec![]);
        assert_eq!(api.get(E, Some(&["missing"])).unwrap(), vec![]);
    }

    pub fn replace_leaves_exactly_the_details(api: &dyn Api, _: &Fixture) {
        api.update(E, &[("a", "1"), ("b", "2")], false).unwrap();
        api.update(E, &[("b", "20"), ("z", "26")], true).unwrap();
        assert_eq!(api.get(E, None).unwrap(), pairs(&[("b", "20"), ("z", "26")]));
    }

    pub fn replace_with_nothing_deletes_all(api: &dyn Api, _: &Fixture) {
        api.update(E, &[("a", "1"), ("b", "2")], false).unwrap();
        api.update(E, &[], true).unwrap();
        assert_eq!(api.get(E, None).unwrap(), vec![]);
    }

    pub fn delete_some_and_all_with_missing_keys_silent(api: &dyn Api, _: &Fixture) {
        api.update(E, &[("a", "1"), ("b", "2"), ("c", "3")], false)
            .unwrap();
        api.delete(E, Some(&["b", "missing"])).unwrap();
        assert_eq!(api.get(E, None).unwrap(), pairs(&[("a", "1"), ("c", "3")]));
        api.delete(E, Some(&[])).unwrap();
        assert_eq!(api.get(E, None).unwrap().len(), 2, "some([]) deletes nothing");
        api.delete(E, None).unwrap();
        assert_eq!(api.get(E, None).unwrap(), vec![]);
        api.delete(E, None).unwrap();
        api.delete(ID2, Some(&["never-there"])).unwrap();
    }

    pub fn every_manila_spelling_of_an_id_is_the_same_entity(api: &dyn Api, _: &Fixture) {
        let upper = E.to_uppercase();
        let simple = E.replace('-', "");
        let braced = format!("{{{E}}}");
        let urn = format!("urn:uuid:{E}");
        api.update(&upper, &[("a", "1")], false).unwrap();
        api.update(&simple, &[("b", "2")], false).unwrap();
        api.update(&braced, &[("c", "3")], false).unwrap();
        let all = pairs(&[("a", "1"), ("b", "2"), ("c", "3")]);
        for spelling in [E, &upper, &simple, &braced, &urn] {
            assert_eq!(api.get(spelling, None).unwrap(), all, "{spelling}");
        }
        api.delete(&urn, None).unwrap();
        assert_eq!(api.get(E, None).unwrap(), vec![]);
    }

    pub fn invalid_entity_ids_are_refused(api: &dyn Api, _: &Fixture) {
        for bad in [
            "",
            "share-1",
            "3f2a6c1e-8d4b-4e0a-9c71",
            "../../etc/passwd",
            "3f2a6c1e-8d4b-4e0a-9c71-5b2f0e9d4a17x",
        ] {
            let (kind, msg) = api.get(bad, None).unwrap_err();
            assert_eq!(kind, Kind::InvalidEntityId, "{bad:?}");
            assert!(msg.contains("not a UUID"), "{msg}");
            assert_eq!(
                api.update(bad, &[("a", "1")], false).unwrap_err().0,
                Kind::InvalidEntityId
            );
            assert_eq!(api.delete(bad, None).unwrap_err().0, Kind::InvalidEntityId);
        }
    }

    pub fn invalid_keys_are_refused(api: &dyn Api, _: &Fixture) {
        let long = "k".repeat(256);
        let (kind, msg) = api.update(E, &[("", "v")], false).unwrap_err();
        assert_eq!(kind, Kind::InvalidKey);
        assert!(msg.contains("empty"), "{msg}");
        let (kind, msg) = api.update(E, &[(&long, "v")], false).unwrap_err();
        assert_eq!(kind, Kind::InvalidKey);
        assert!(msg.contains("256 bytes") && msg.contains("255"), "{msg}");
        let (kind, msg) = api.update(E, &[("a", "1"), ("a", "2")], false).unwrap_err();
        assert_eq!(kind, Kind::InvalidKey);
        assert!(msg.contains("twice"), "{msg}");
        assert_eq!(api.get(E, Some(&[&long])).unwrap_err().0, Kind::InvalidKey);
        assert_eq!(api.delete(E, Some(&[""])).unwrap_err().0, Kind::InvalidKey);
    }

    pub fn values_over_the_backend_limit_are_refused(api: &dyn Api, f: &Fixture) {
        api.update(E, &[("k", &"v".repeat(1023))], false).unwrap();
        let (kind, msg) = api.update(E, &[("k", &"v".repeat(1024))], false).unwrap_err();
        assert_eq!(kind, Kind::ValueTooLong);
        assert!(
            msg.contains("1024 bytes") && msg.contains("at most 1023"),
            "{msg}"
        );
        // Another backend configured with a smaller limit enforces its own.
        let small = f.backend("small");
        let (kind, msg) = Direct(small.private_data())
            .update(E, &[("k", &"v".repeat(17))], false)
            .unwrap_err();
        assert_eq!(kind, Kind::ValueTooLong);
        assert!(msg.contains("at most 16"), "{msg}");
        assert_eq!(
            ViaGuest(small)
                .update(E, &[("k", &"v".repeat(17))], false)
                .unwrap_err()
                .0,
            Kind::ValueTooLong
        );
    }

    pub fn a_refused_call_writes_nothing(api: &dyn Api, _: &Fixture) {
        api.update(E, &[("keep", "1")], false).unwrap();
        let long = "v".repeat(2000);
        assert!(api.update(E, &[("new", "x"), ("bad", &long)], false).is_err());
        assert!(api.update(E, &[("new", "x"), ("", "y")], true).is_err());
        assert!(api.update(E, &[("new", "x"), ("new", "y")], true).is_err());
        assert_eq!(api.get(E, None).unwrap(), pairs(&[("keep", "1")]));
    }

    pub fn a_storage_failure_mid_call_writes_nothing(api: &dyn Api, f: &Fixture) {
        api.update(E, &[("a", "1"), ("b", "2")], false).unwrap();
        // Make the store itself fail on the second row of a write, after the
        // delete-existing and the first row have run inside the transaction.
        f.fail_on_boom();
        let (kind, msg) = api.update(E, &[("c", "3"), ("d", "boom")], true).unwrap_err();
        assert_eq!(kind, api.storage_failure());
        assert!(
            !msg.contains("SELECT") && !msg.contains(".db"),
            "no SQL or paths leak to drivers: {msg}"
        );
        assert!(api.update(E, &[("a", "10"), ("d", "boom")], false).is_err());
        assert_eq!(api.get(E, None).unwrap(), pairs(&[("a", "1"), ("b", "2")]));
    }

    pub fn unicode_and_maximum_sizes_round_trip(api: &dyn Api, _: &Fixture) {
        let cyrillic = "ключ".repeat(31); // 248 bytes
        let max_key = format!("{cyrillic}{}", "k".repeat(255 - cyrillic.len()));
        assert_eq!(max_key.len(), 255);
        let value = "值=\n\t;'\"".repeat(100);
        let max_value = "é".repeat(511) + "x"; // 1023 bytes
        api.update(E, &[(&max_key, &value), ("ü", ""), ("m", &max_value)], false)
            .unwrap();
        let got = api.get(E, None).unwrap();
        let mut want = pairs(&[(&max_key, &value), ("ü", ""), ("m", &max_value)]);
        want.sort();
        assert_eq!(got, want);
    }

    pub fn entities_are_separate(api: &dyn Api, _: &Fixture) {
        api.update(ID1, &[("k", "one")], false).unwrap();
        api.update(ID2, &[("k", "two")], false).unwrap();
        api.delete(ID1, None).unwrap();
        assert_eq!(api.get(ID2, None).unwrap(), pairs(&[("k", "two")]));
    }

    pub fn keys_and_values_are_exact_bytes(api: &dyn Api, _: &Fixture) {
        // Case, trailing spaces, accents and reserved words: every store
        // compares and sorts keys by their bytes, as SQLite does.
        let keys = ["a", "A", "a ", "á", "key", "select", "ß", "ss"];
        let details: Vec<(&str, &str)> = keys.iter().map(|k| (*k, *k)).collect();
        api.update(E, &details, false).unwrap();
        let mut want = pairs(&details);
        want.sort();
        assert_eq!(api.get(E, None).unwrap(), want);
        assert_eq!(api.get(E, Some(&["a "])).unwrap(), pairs(&[("a ", "a ")]));
        api.update(E, &[("a", "trailing spaces kept  "), ("A", "")], false)
            .unwrap();
        assert_eq!(
            api.get(E, Some(&["A", "a"])).unwrap(),
            pairs(&[("A", ""), ("a", "trailing spaces kept  ")])
        );
        api.delete(E, Some(&["ss"])).unwrap();
        assert_eq!(api.get(E, Some(&["ß"])).unwrap(), pairs(&[("ß", "ß")]));
    }

    pub fn thousands_of_keys_in_one_call(api: &dyn Api, _: &Fixture) {
        // More than the 65,535 parameters one server statement can take.
        let keys: Vec<String> = (0..70_000).map(|i| format!("k{i:05}")).collect();
        let details: Vec<(&str, &str)> = keys.iter().map(|k| (k.as_str(), "v")).collect();
        api.update(E, &details, false).unwrap();
        let mut asked: Vec<&str> = keys.iter().map(String::as_str).collect();
        asked.extend(["missing-1", "missing-2"]);
        let got = api.get(E, Some(&asked)).unwrap();
        assert_eq!(got.len(), 70_000);
        assert!(got.windows(2).all(|w| w[0].0 < w[1].0), "sorted by key");
        api.delete(E, Some(&asked[..69_500])).unwrap();
        assert_eq!(api.get(E, None).unwrap().len(), 500);
        api.update(E, &details[..10], true).unwrap();
        assert_eq!(api.get(E, None).unwrap(), pairs(&details[..10]));
    }
}
