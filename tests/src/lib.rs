//! Test harness: a real SQLite file in a temporary directory, backends built
//! from the driver components compiled from source, and the private-data
//! contract reachable both directly and through a real guest.
#![allow(missing_docs)]

use privdata_host::config::BackendConfig;
use privdata_host::{
    Backend, Config, DataLimits, DriverError, Error, Manager, SandboxLimits, Share, Snapshot,
};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub use example_driver_artifacts as drivers;

/// A share with a given id.
pub fn share(id: &str) -> Share {
    Share {
        id: id.into(),
        name: "test".into(),
        size_gib: 1,
        protocol: "NFS".into(),
    }
}

/// A snapshot of `share_id`.
pub fn snapshot(id: &str, share_id: &str) -> Snapshot {
    Snapshot {
        id: id.into(),
        share_id: share_id.into(),
        size_gib: 1,
    }
}

pub const ID1: &str = "3f2a6c1e-8d4b-4e0a-9c71-5b2f0e9d4a17";
pub const ID2: &str = "9b1d3e55-0c2a-4f6e-8a7d-21c4b8e6f903";
pub const ID3: &str = "c0ffee00-1234-4abc-8def-0123456789ab";

/// One backend to put in a [`Fixture`].
#[derive(Debug, Clone)]
pub struct BackendSpec {
    pub name: String,
    pub driver: PathBuf,
    pub host: Option<String>,
    pub options: Vec<(String, String)>,
    pub data_limits: DataLimits,
    pub sandbox_limits: SandboxLimits,
}

impl BackendSpec {
    pub fn new(name: &str, driver: &str) -> Self {
        BackendSpec {
            name: name.into(),
            driver: driver.into(),
            host: None,
            options: Vec::new(),
            data_limits: DataLimits::default(),
            sandbox_limits: SandboxLimits::default(),
        }
    }

    pub fn option(mut self, key: &str, value: &str) -> Self {
        self.options.push((key.into(), value.into()));
        self
    }

    pub fn host(mut self, host: &str) -> Self {
        self.host = Some(host.into());
        self
    }
}

/// A temporary directory with a SQLite store and one root per backend.
#[derive(Debug)]
pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub manager: Manager,
}

impl Fixture {
    pub fn new(backends: impl IntoIterator<Item = BackendSpec>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let manager = Manager::new(&Fixture::config(dir.path(), backends)).unwrap();
        Fixture { dir, manager }
    }

    pub fn config(dir: &Path, backends: impl IntoIterator<Item = BackendSpec>) -> Config {
        let mut map = BTreeMap::new();
        for b in backends {
            let root = dir.join("roots").join(&b.name);
            std::fs::create_dir_all(&root).unwrap();
            map.insert(
                b.name.clone(),
                BackendConfig {
                    host: b.host.unwrap_or_else(|| format!("test-node@{}", b.name)),
                    driver: b.driver,
                    root,
                    options: b.options.into_iter().collect(),
                    data_limits: b.data_limits,
                    sandbox_limits: b.sandbox_limits,
                },
            );
        }
        Config {
            storage_url: format!("sqlite://{}", dir.join("privdata.db").display()),
            storage_options: Default::default(),
            driver_cache: None,
            max_stack_bytes: privdata_host::runtime::DEFAULT_MAX_STACK,
            backends: map,
        }
    }

    pub fn backend(&self, name: &str) -> &Backend {
        self.manager.backend(name).unwrap()
    }

    pub fn root(&self, name: &str) -> PathBuf {
        self.dir.path().join("roots").join(name)
    }

    pub fn db(&self) -> PathBuf {
        self.dir.path().join("privdata.db")
    }
}

/// What kind of refusal a private-data call got, on either path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    InvalidEntityId,
    InvalidKey,
    ValueTooLong,
    QuotaExceeded,
    StorageUnavailable,
}

/// A refusal: its kind and the message the caller saw.
pub type Refusal = (Kind, String);

/// The private-data contract, reached one way or another.
pub trait Api {
    fn get(&self, entity: &str, keys: Option<&[&str]>) -> Result<Vec<(String, String)>, Refusal>;
    fn update(&self, entity: &str, details: &[(&str, &str)], delete_existing: bool) -> Result<(), Refusal>;
    fn delete(&self, entity: &str, keys: Option<&[&str]>) -> Result<(), Refusal>;
}

fn owned(keys: Option<&[&str]>) -> Option<Vec<String>> {
    keys.map(|k| k.iter().map(|s| s.to_string()).collect())
}

fn owned_pairs(details: &[(&str, &str)]) -> Vec<(String, String)> {
    details
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Straight to the host's [`privdata_host::PrivateData`], no wasm.
#[derive(Debug)]
pub struct Direct<'a>(pub &'a privdata_host::PrivateData);

fn direct_refusal(e: Error) -> Refusal {
    let kind = match &e {
        Error::InvalidEntityId(_) => Kind::InvalidEntityId,
        Error::InvalidKey(_) => Kind::InvalidKey,
        Error::ValueTooLong(_) => Kind::ValueTooLong,
        Error::QuotaExceeded(_) => Kind::QuotaExceeded,
        Error::StorageUnavailable(_) | Error::Storage(_) => Kind::StorageUnavailable,
        other => panic!("not a private-data error: {other}"),
    };
    (kind, e.to_string())
}

impl Api for Direct<'_> {
    fn get(&self, entity: &str, keys: Option<&[&str]>) -> Result<Vec<(String, String)>, Refusal> {
        self.0.get(entity, owned(keys).as_deref()).map_err(direct_refusal)
    }
    fn update(&self, entity: &str, details: &[(&str, &str)], delete_existing: bool) -> Result<(), Refusal> {
        self.0
            .update(entity, &owned_pairs(details), delete_existing)
            .map_err(direct_refusal)
    }
    fn delete(&self, entity: &str, keys: Option<&[&str]>) -> Result<(), Refusal> {
        self.0
            .delete(entity, owned(keys).as_deref())
            .map_err(direct_refusal)
    }
}

/// Through a real guest: the hostile driver in `probe` mode makes the call
/// with the SDK's bindings and reports what it got.
#[derive(Debug)]
pub struct ViaGuest<'a>(pub &'a Backend);

const SEP: &str = "\u{1f}";

impl ViaGuest<'_> {
    fn run(&self, op: &str, entity: &str, args: &[&str]) -> Result<Vec<(String, String)>, Refusal> {
        let mut script = format!("{op}{SEP}{entity}");
        for a in args {
            script.push_str(SEP);
            script.push_str(a);
        }
        let mut s = share(ID1);
        s.name = script;
        match self.0.create_share(&s) {
            Ok(locations) => Ok(locations
                .into_iter()
                .map(|l| {
                    let (k, v) = l.path.split_once(SEP).expect("probe result is key␟value");
                    (k.to_string(), v.to_string())
                })
                .collect()),
            Err(Error::Driver {
                error: DriverError::PrivateData(message),
                ..
            }) => {
                let kind = [
                    ("invalid entity id", Kind::InvalidEntityId),
                    ("invalid key", Kind::InvalidKey),
                    ("value too long", Kind::ValueTooLong),
                    ("quota exceeded", Kind::QuotaExceeded),
                    ("storage unavailable", Kind::StorageUnavailable),
                ]
                .into_iter()
                .find(|(prefix, _)| message.starts_with(prefix))
                .unwrap_or_else(|| panic!("unknown private-data error {message:?}"))
                .1;
                Err((kind, message))
            }
            Err(other) => panic!("probe failed outside private data: {other}"),
        }
    }
}

/// One page of `entities-list`, as a guest saw it.
#[derive(Debug)]
pub struct Page {
    pub ids: Vec<String>,
    pub next: Option<String>,
}

impl ViaGuest<'_> {
    /// `entities-list` from inside the guest; `cursor` empty means none.
    pub fn list(&self, cursor: &str, limit: u32) -> Page {
        let got = self
            .run("list", cursor, &[&limit.to_string()])
            .expect("entities-list");
        Page {
            ids: got
                .iter()
                .filter(|(k, _)| k == "id")
                .map(|(_, v)| v.clone())
                .collect(),
            next: got.iter().find(|(k, _)| k == "next").map(|(_, v)| v.clone()),
        }
    }
}

impl Api for ViaGuest<'_> {
    fn get(&self, entity: &str, keys: Option<&[&str]>) -> Result<Vec<(String, String)>, Refusal> {
        match keys {
            None => self.run("get-all", entity, &[]),
            Some(keys) => self.run("get", entity, keys),
        }
    }
    fn update(&self, entity: &str, details: &[(&str, &str)], delete_existing: bool) -> Result<(), Refusal> {
        let args: Vec<&str> = details.iter().flat_map(|(k, v)| [*k, *v]).collect();
        let op = if delete_existing { "replace" } else { "update" };
        self.run(op, entity, &args).map(drop)
    }
    fn delete(&self, entity: &str, keys: Option<&[&str]>) -> Result<(), Refusal> {
        match keys {
            None => self.run("delete-all", entity, &[]),
            Some(keys) => self.run("delete", entity, keys),
        }
        .map(drop)
    }
}

/// `[(k, v)]` as owned pairs, for comparisons.
pub fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
    owned_pairs(p)
}

/// A small deterministic random generator (xorshift64*), so a failing run
/// can be replayed from its seed.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

/// The id of test entity `i`.
pub fn entity(i: u64) -> String {
    format!("00000000-0000-4000-8000-{i:012x}")
}

/// One worker's share of a concurrency run: updates, replaces, deletes and
/// reads on keys and entities only it writes, so the final state does not
/// depend on how workers interleave and equals a serial run's.
pub fn hammer(data: &privdata_host::PrivateData, worker: u64, ops: u64) -> Result<(), privdata_host::Error> {
    let own = entity(1000 + worker);
    for i in 0..ops {
        let shared = entity(i % 4);
        let key = format!("w{worker}-k{}", i % 8);
        let value = format!("{i}");
        match i % 5 {
            0 | 1 => data.update(&shared, &[(key, value)], false)?,
            2 => data.update(
                &own,
                &[(format!("k{}", i % 3), value.clone()), ("last".into(), value)],
                true,
            )?,
            3 => data.delete(&shared, Some(&[format!("w{worker}-k{}", (i + 3) % 8)]))?,
            _ => {
                let got = data.get(&own, None)?;
                assert!(
                    got.len() <= 2,
                    "worker {worker} sees someone else's keys: {got:?}"
                );
            }
        }
    }
    Ok(())
}

/// Every row of a store, for comparing whole stores.
pub fn dump(db: &Path) -> Vec<(String, String, String, String)> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut stmt = conn
        .prepare("SELECT host, entity_id, key, value FROM private_data ORDER BY host, entity_id, key")
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}
