//! Property tests: random sequences of get/update/replace/delete over several
//! hosts and entities, with unicode, empty and maximum-length keys and
//! values, and ids in every spelling, against a simple in-memory model. The
//! store must give the same answers, and no host may ever see another's data.
//!
//! `PROPTEST_CASES` raises the number of sequences (default 200 direct, 12
//! through a guest).

use conformance::*;
use proptest::prelude::*;
use std::collections::BTreeMap;

const HOSTS: usize = 3;
const ENTITIES: [&str; 3] = [ID1, ID2, ID3];

/// How an entity id is spelled; `Bad` is not a UUID.
#[derive(Debug, Clone, Copy)]
enum Spelling {
    Canonical,
    Upper,
    Simple,
    Braced,
    Urn,
    Bad,
}

fn spell(id: &str, s: Spelling) -> String {
    match s {
        Spelling::Canonical => id.to_string(),
        Spelling::Upper => id.to_uppercase(),
        Spelling::Simple => id.replace('-', ""),
        Spelling::Braced => format!("{{{id}}}"),
        Spelling::Urn => format!("urn:uuid:{id}"),
        Spelling::Bad => format!("{id}-x"),
    }
}

fn keys_pool() -> Vec<String> {
    vec![
        "a".into(),
        "b".into(),
        "volume_id".into(),
        "ключ".into(),
        "🔑".into(),
        "k".repeat(255),
        String::new(),   // invalid: empty
        "k".repeat(256), // invalid: too long
    ]
}

fn values_pool() -> Vec<String> {
    vec![
        String::new(),
        "v".into(),
        "значение 值 🎉".into(),
        "x".repeat(16),
        "x".repeat(17),  // over the small backend's limit
        "é".repeat(511), // 1022 bytes
        "v".repeat(1023),
        "v".repeat(1024), // over the default limit
    ]
}

#[derive(Debug, Clone)]
enum Op {
    Get(usize, usize, Spelling, Option<Vec<usize>>),
    Update(usize, usize, Spelling, Vec<(usize, usize)>, bool),
    Delete(usize, usize, Spelling, Option<Vec<usize>>),
}

fn spelling() -> impl Strategy<Value = Spelling> {
    prop_oneof![
        6 => Just(Spelling::Canonical),
        1 => Just(Spelling::Upper),
        1 => Just(Spelling::Simple),
        1 => Just(Spelling::Braced),
        1 => Just(Spelling::Urn),
        1 => Just(Spelling::Bad),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let key = 0..keys_pool().len();
    let keys = prop::option::of(prop::collection::vec(key.clone(), 0..4));
    let details = prop::collection::vec((key, 0..values_pool().len()), 0..5);
    prop_oneof![
        1 => (0..HOSTS, 0..ENTITIES.len(), spelling(), keys.clone()).prop_map(|(h, e, s, k)| Op::Get(h, e, s, k)),
        3 => (0..HOSTS, 0..ENTITIES.len(), spelling(), details, any::<bool>())
            .prop_map(|(h, e, s, d, r)| Op::Update(h, e, s, d, r)),
        1 => (0..HOSTS, 0..ENTITIES.len(), spelling(), keys).prop_map(|(h, e, s, k)| Op::Delete(h, e, s, k)),
    ]
}

/// The model: what each (host, entity) holds.
#[derive(Debug, Default)]
struct Model {
    data: BTreeMap<(usize, usize), BTreeMap<String, String>>,
}

fn max_value(host: usize) -> usize {
    if host == 2 { 16 } else { 1023 }
}

/// The refusal the contract calls for, in the order the host checks.
fn refusal(host: usize, s: Spelling, keys: &[String], values: Option<&[String]>) -> Option<Kind> {
    if matches!(s, Spelling::Bad) {
        return Some(Kind::InvalidEntityId);
    }
    for (i, k) in keys.iter().enumerate() {
        if k.is_empty() || k.len() > 255 || keys[..i].contains(k) {
            return Some(Kind::InvalidKey);
        }
    }
    if values.is_some_and(|vs| vs.iter().any(|v| v.len() > max_value(host))) {
        return Some(Kind::ValueTooLong);
    }
    None
}

impl Model {
    fn apply(&mut self, op: &Op) -> Result<Vec<(String, String)>, Kind> {
        let (kp, vp) = (keys_pool(), values_pool());
        match op {
            Op::Get(h, e, s, keys) => {
                let names: Vec<String> = keys.iter().flatten().map(|k| kp[*k].clone()).collect();
                if let Some(kind) = refusal(*h, *s, &names, None) {
                    return Err(kind);
                }
                let all = self.data.get(&(*h, *e)).cloned().unwrap_or_default();
                Ok(match keys {
                    None => all.into_iter().collect(),
                    Some(_) => all.into_iter().filter(|(k, _)| names.contains(k)).collect(),
                })
            }
            Op::Update(h, e, s, details, replace) => {
                let names: Vec<String> = details.iter().map(|(k, _)| kp[*k].clone()).collect();
                let values: Vec<String> = details.iter().map(|(_, v)| vp[*v].clone()).collect();
                if let Some(kind) = refusal(*h, *s, &names, Some(&values)) {
                    return Err(kind);
                }
                let entry = self.data.entry((*h, *e)).or_default();
                if *replace {
                    entry.clear();
                }
                entry.extend(names.into_iter().zip(values));
                Ok(Vec::new())
            }
            Op::Delete(h, e, s, keys) => {
                let names: Vec<String> = keys.iter().flatten().map(|k| kp[*k].clone()).collect();
                if let Some(kind) = refusal(*h, *s, &names, None) {
                    return Err(kind);
                }
                let entry = self.data.entry((*h, *e)).or_default();
                match keys {
                    None => entry.clear(),
                    Some(_) => entry.retain(|k, _| !names.contains(k)),
                }
                Ok(Vec::new())
            }
        }
    }
}

fn fixture() -> Fixture {
    let mut specs: Vec<BackendSpec> = (0..HOSTS)
        .map(|h| BackendSpec::new(&format!("h{h}"), drivers::HOSTILE).option("mode", "probe"))
        .collect();
    specs[2].data_limits.max_value_bytes = 16;
    Fixture::new(specs)
}

fn run<'a>(ops: &[Op], api: &dyn Fn(usize) -> Box<dyn Api + 'a>) {
    let mut model = Model::default();
    let (kp, vp) = (keys_pool(), values_pool());
    for op in ops {
        let want = model.apply(op);
        let got = match op {
            Op::Get(h, e, s, keys) => {
                let names: Option<Vec<&str>> =
                    keys.as_ref().map(|k| k.iter().map(|i| kp[*i].as_str()).collect());
                api(*h).get(&spell(ENTITIES[*e], *s), names.as_deref())
            }
            Op::Update(h, e, s, details, replace) => {
                let pairs: Vec<(&str, &str)> = details
                    .iter()
                    .map(|(k, v)| (kp[*k].as_str(), vp[*v].as_str()))
                    .collect();
                api(*h)
                    .update(&spell(ENTITIES[*e], *s), &pairs, *replace)
                    .map(|()| Vec::new())
            }
            Op::Delete(h, e, s, keys) => {
                let names: Option<Vec<&str>> =
                    keys.as_ref().map(|k| k.iter().map(|i| kp[*i].as_str()).collect());
                api(*h)
                    .delete(&spell(ENTITIES[*e], *s), names.as_deref())
                    .map(|()| Vec::new())
            }
        };
        let mut want = want;
        if let Ok(pairs) = &mut want {
            pairs.sort();
        }
        assert_eq!(got.map_err(|(kind, _)| kind), want, "{op:?}");
    }
    // Every host holds exactly what the model says, and nothing else.
    for h in 0..HOSTS {
        for (e, id) in ENTITIES.iter().enumerate() {
            let stored = api(h).get(id, None).unwrap();
            let modelled: Vec<(String, String)> = model
                .data
                .get(&(h, e))
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .collect();
            assert_eq!(stored, modelled, "host {h} entity {e}");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(200), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn the_store_behaves_like_the_model(ops in prop::collection::vec(op(), 1..40)) {
        let f = fixture();
        run(&ops, &|h| Box::new(Direct(f.backend(&format!("h{h}")).private_data())));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(200) / 16, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn a_guest_sees_the_same_as_the_model(ops in prop::collection::vec(op(), 1..20)) {
        let f = fixture();
        run(&ops, &|h| Box::new(ViaGuest(f.backend(&format!("h{h}")))));
    }
}

fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}
