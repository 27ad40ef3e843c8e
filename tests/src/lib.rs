//! Test harness: a real store of its own for every test (a SQLite file, or
//! a fresh database on a MariaDB/MySQL or PostgreSQL server, see
//! [`StoreKind`]), backends built from the driver components compiled from
//! source, and the private-data contract reachable both directly and through
//! a real guest.
#![allow(missing_docs)]

use privdata_host::config::BackendConfig;
use privdata_host::{
    Backend, Config, DataLimits, DriverError, Error, Manager, SandboxLimits, Share, Snapshot,
};
use privdata_host::{Endpoint, Network, NetworkLimits};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub use example_driver_artifacts as drivers;
pub use fake_nas;

/// Where tests keep compiled drivers (beside the built components): a
/// Python driver takes seconds to compile, and every fixture would compile
/// it again.
pub fn driver_cache() -> PathBuf {
    Path::new(drivers::PYTHON_GENERIC)
        .parent()
        .map_or_else(std::env::temp_dir, Path::to_path_buf)
        .join("compiled")
}

/// A share with a given id.
pub fn share(id: &str) -> Share {
    Share {
        display_name: "test".into(),
        ..Share::new(id, 1, "NFS")
    }
}

/// The driver options that name the backend object to manage.
pub fn by_name(name: &str) -> Vec<(String, String)> {
    vec![("backend_name".into(), name.into())]
}

/// A snapshot of the share `share_id`.
pub fn snapshot(id: &str, share_id: &str) -> Snapshot {
    Snapshot::new(id, share(share_id))
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
    pub network: Network,
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
            network: Network::none(),
        }
    }

    /// Let the driver reach `endpoints` (as in `allowed_outbound`), with
    /// TLS verified against `ca_pem` when given.
    pub fn network(mut self, endpoints: &[&str], ca_pem: Option<&str>, limits: NetworkLimits) -> Self {
        let allowed = endpoints.iter().map(|e| Endpoint::parse(e).unwrap()).collect();
        let ca_file = ca_pem.map(|pem| {
            let file = tempfile::NamedTempFile::new().unwrap();
            std::fs::write(file.path(), pem).unwrap();
            file
        });
        self.network = Network::new(allowed, ca_file.as_ref().map(|f| f.path()), limits).unwrap();
        self
    }

    /// A backend of a REST example driver (`drivers::REST` or
    /// `drivers::PYTHON_REST`) managing `nas`, allowed to reach exactly its
    /// API.
    pub fn rest(name: &str, driver: &str, nas: &fake_nas::FakeNas) -> Self {
        BackendSpec::new(name, driver)
            .option("api_url", &nas.url())
            .option("api_token", fake_nas::TOKEN)
            .network(&[&nas.url()], nas.ca_pem(), NetworkLimits::default())
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

/// The store the suites run on, from `PRIVDATA_TEST_STORAGE`: `sqlite`
/// (the default), `mysql` or `postgres`. A server's URL comes from
/// `PRIVDATA_TEST_MYSQL` or `PRIVDATA_TEST_POSTGRES` (`.ci/servers start`
/// prints both); it must name a user allowed to create databases, since
/// every scratch store is a database of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    Sqlite,
    Mysql,
    Postgres,
    Etcd,
}

impl StoreKind {
    /// The kind this run of the suites uses.
    pub fn current() -> StoreKind {
        match std::env::var("PRIVDATA_TEST_STORAGE").as_deref() {
            Err(_) | Ok("") | Ok("sqlite") => StoreKind::Sqlite,
            Ok("mysql") => StoreKind::Mysql,
            Ok("postgres") => StoreKind::Postgres,
            Ok("etcd") => StoreKind::Etcd,
            Ok(other) => panic!("PRIVDATA_TEST_STORAGE={other:?}: use sqlite, mysql, postgres or etcd"),
        }
    }

    /// The server URL given for this kind, if any (never for SQLite).
    pub fn server_url(self) -> Option<String> {
        let var = match self {
            StoreKind::Sqlite => return None,
            StoreKind::Mysql => "PRIVDATA_TEST_MYSQL",
            StoreKind::Postgres => "PRIVDATA_TEST_POSTGRES",
            StoreKind::Etcd => "PRIVDATA_TEST_ETCD",
        };
        std::env::var(var).ok().filter(|u| !u.is_empty())
    }

    /// Both servers, for the tests that need them (marked `#[ignore]`, run
    /// with `--include-ignored`). A missing URL fails the test: asked for,
    /// it must not pass by doing nothing.
    pub fn servers() -> Vec<StoreKind> {
        let kinds = [StoreKind::Mysql, StoreKind::Postgres];
        for kind in kinds {
            assert!(
                kind.server_url().is_some(),
                "this test needs MariaDB and PostgreSQL, and no URL for {kind:?} is set: start \
                 them with `eval \"$(.ci/servers start)\"`, or run the tests without \
                 --include-ignored"
            );
        }
        kinds.to_vec()
    }

    /// Stop a check that this store cannot run, with a failure that says
    /// so: a check that returned early would count as passed. Runs on such
    /// a store leave the check out by name (`--skip`, as `.ci/test` does),
    /// so the runner counts it as filtered out.
    pub fn cannot_run_here(self, why: &str) -> ! {
        panic!(
            "this check cannot run on {self:?} ({why}): leave it out of this store's run with \
             `-- --skip NAME`, as .ci/test does"
        )
    }

    /// etcd, for the tests that need its cluster (marked `#[ignore]`); a
    /// missing URL fails the test, as in [`StoreKind::servers`].
    pub fn etcd() -> StoreKind {
        assert!(
            StoreKind::Etcd.server_url().is_some(),
            "this test needs an etcd cluster and PRIVDATA_TEST_ETCD is not set: start one with \
             `eval \"$(.ci/servers etcd)\"`, or run the tests without --include-ignored"
        );
        StoreKind::Etcd
    }
}

/// A scratch directory and a store of its own: a SQLite file in the
/// directory, or a new database on the server, dropped with the scratch.
#[derive(Debug)]
pub struct Scratch {
    dir: tempfile::TempDir,
    kind: StoreKind,
    url: String,
    /// The server database's admin URL and name, to drop it.
    server: Option<(String, String)>,
}

static DATABASES: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

impl Scratch {
    /// A scratch store of the kind this run uses.
    pub fn new() -> Scratch {
        Scratch::of(StoreKind::current())
    }

    /// A scratch store of a given kind.
    pub fn of(kind: StoreKind) -> Scratch {
        let dir = tempfile::tempdir().unwrap();
        let Some(admin) = kind.server_url() else {
            assert_eq!(kind, StoreKind::Sqlite, "no URL for {kind:?}: see StoreKind");
            let url = format!("sqlite://{}", dir.path().join("privdata.db").display());
            return Scratch {
                dir,
                kind,
                url,
                server: None,
            };
        };
        let name = format!(
            "privdata_test_{}_{}",
            std::process::id(),
            DATABASES.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        );
        drop_database(kind, &admin, &name).unwrap_or_else(|e| panic!("cannot drop an old {name}: {e}"));
        let (admin_base, query) = admin.split_once('?').unwrap_or((&admin, ""));
        let (base, _) = admin_base
            .rsplit_once('/')
            .expect("a server URL ends in /DATABASE");
        let url = match kind {
            // A prefix of its own, with the cluster's parameters.
            StoreKind::Etcd => format!("{base}/{name}?{query}"),
            _ => {
                server_exec(kind, &admin, &[&format!("CREATE DATABASE {name}")]);
                format!("{base}/{name}")
            }
        };
        Scratch {
            dir,
            kind,
            url,
            server: Some((admin, name)),
        }
    }

    /// The scratch directory.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The store's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The store's kind.
    pub fn kind(&self) -> StoreKind {
        self.kind
    }

    /// Run statements on the store itself, outside privdata (to inject
    /// failures). MySQL sessions quote with `"` like the others.
    pub fn execute(&self, statements: &[&str]) {
        match self.kind {
            StoreKind::Sqlite => {
                let conn = rusqlite::Connection::open(self.sqlite_path()).unwrap();
                for s in statements {
                    conn.execute_batch(s).unwrap();
                }
            }
            kind => server_exec(kind, &self.url, statements),
        }
    }

    /// One integer from a query on the store itself.
    pub fn query_i64(&self, sql: &str) -> i64 {
        match self.kind {
            StoreKind::Sqlite => rusqlite::Connection::open(self.sqlite_path())
                .unwrap()
                .query_row(sql, [], |r| r.get(0))
                .unwrap(),
            StoreKind::Mysql => {
                use mysql::prelude::Queryable;
                let mut conn = mysql::Conn::new(mysql::Opts::from_url(&self.url).unwrap()).unwrap();
                conn.query_drop("SET SESSION sql_mode = 'ANSI_QUOTES'").unwrap();
                let n: Option<i64> = conn.query_first(sql).unwrap();
                n.unwrap()
            }
            StoreKind::Postgres => {
                let mut client = postgres::Client::connect(&self.url, postgres::NoTls).unwrap();
                client.query_one(sql, &[]).unwrap().get(0)
            }
            StoreKind::Etcd => panic!("etcd takes no SQL: {sql}"),
        }
    }

    fn sqlite_path(&self) -> PathBuf {
        self.dir.path().join("privdata.db")
    }

    /// A configuration of `backends` over this store, one root each.
    pub fn config(&self, backends: impl IntoIterator<Item = BackendSpec>) -> Config {
        let mut map = BTreeMap::new();
        for b in backends {
            let root = self.path().join("roots").join(&b.name);
            std::fs::create_dir_all(&root).unwrap();
            map.insert(
                b.name.clone(),
                BackendConfig {
                    host: b.host.unwrap_or_else(|| format!("test-node@{}", b.name)),
                    driver: b.driver,
                    driver_sha256: None,
                    root,
                    options: b.options.into_iter().collect(),
                    manila_conf: BTreeMap::new(),
                    data_limits: b.data_limits,
                    sandbox_limits: b.sandbox_limits,
                    network: b.network,
                },
            );
        }
        Config {
            storage_url: privdata_host::store::StorageUrl::parse(&self.url).unwrap(),
            storage_options: Default::default(),
            driver_cache: Some(driver_cache()),
            max_stack_bytes: privdata_host::runtime::DEFAULT_MAX_STACK,
            backends: map,
        }
    }
}

impl Default for Scratch {
    fn default() -> Self {
        Scratch::new()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if let Some((admin, name)) = &self.server
            && let Err(e) = drop_database(self.kind, admin, name)
        {
            // A database left behind on a throwaway server harms nothing;
            // failing a test that passed, or panicking while a failing one
            // unwinds, would.
            eprintln!("warning: scratch database {name} was left on the server: {e}");
        }
    }
}

/// Drop a scratch database, ending the sessions a test leaked on it.
///
/// A plain `DROP DATABASE` first: PostgreSQL stops an autovacuum worker on
/// the database itself and waits for it, where `WITH (FORCE)` would have to
/// signal that worker, which a role without `pg_signal_backend` may not
/// (issue 16). Sessions still open are then ended one by one, only this
/// role's own, and the drop tried again. MariaDB has no background sessions
/// on a database; there a leaked connection's open transaction would make the
/// drop wait for its metadata lock, so the wait is bounded and the
/// connection killed.
fn drop_database(kind: StoreKind, admin: &str, name: &str) -> Result<(), String> {
    let mut last = String::new();
    for attempt in 0..20 {
        if attempt > 0 {
            std::thread::sleep(std::time::Duration::from_millis(250));
        }
        let result = match kind {
            StoreKind::Postgres => drop_postgres(admin, name),
            StoreKind::Mysql => drop_mysql(admin, name),
            StoreKind::Etcd => etcd::call(
                admin,
                "/v3/kv/deleterange",
                &etcd::range_of_prefix(&format!("/{name}/")),
            )
            .map(drop),
            StoreKind::Sqlite => unreachable!("SQLite has no server"),
        };
        match result {
            Ok(()) => return Ok(()),
            Err(e) => last = e,
        }
    }
    Err(last)
}

fn drop_postgres(admin: &str, name: &str) -> Result<(), String> {
    let mut client = postgres::Client::connect(admin, postgres::NoTls).map_err(|e| format!("{e:?}"))?;
    let dropped = client.batch_execute(&format!("DROP DATABASE IF EXISTS {name}"));
    match dropped {
        Ok(()) => Ok(()),
        Err(e) => {
            client
                .execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                     WHERE datname = $1 AND usename = current_user AND pid <> pg_backend_pid()",
                    &[&name],
                )
                .map_err(|e| format!("{e:?}"))?;
            Err(format!("{e:?}"))
        }
    }
}

fn drop_mysql(admin: &str, name: &str) -> Result<(), String> {
    use mysql::prelude::Queryable;
    let mut conn = mysql::Conn::new(mysql::Opts::from_url(admin).map_err(|e| e.to_string())?)
        .map_err(|e| e.to_string())?;
    conn.query_drop("SET SESSION lock_wait_timeout = 5")
        .map_err(|e| e.to_string())?;
    match conn.query_drop(format!("DROP DATABASE IF EXISTS {name}")) {
        Ok(()) => Ok(()),
        Err(e) => {
            let leaked: Vec<u64> = conn
                .exec(
                    "SELECT ID FROM information_schema.PROCESSLIST WHERE DB = ? AND ID <> CONNECTION_ID()",
                    (name,),
                )
                .map_err(|e| e.to_string())?;
            for id in leaked {
                // It may have ended by itself meanwhile.
                let _ = conn.query_drop(format!("KILL {id}"));
            }
            Err(e.to_string())
        }
    }
}

/// Run statements on a server, one connection.
fn server_exec(kind: StoreKind, url: &str, statements: &[&str]) {
    match kind {
        StoreKind::Mysql => {
            use mysql::prelude::Queryable;
            let mut conn = mysql::Conn::new(mysql::Opts::from_url(url).unwrap()).unwrap();
            conn.query_drop("SET SESSION sql_mode = 'ANSI_QUOTES'").unwrap();
            for s in statements {
                conn.query_drop(s).unwrap_or_else(|e| panic!("{s}: {e}"));
            }
        }
        StoreKind::Postgres => {
            let mut client = postgres::Client::connect(url, postgres::NoTls).unwrap();
            for s in statements {
                client.batch_execute(s).unwrap_or_else(|e| panic!("{s}: {e:?}"));
            }
        }
        StoreKind::Etcd => panic!("etcd takes no SQL"),
        StoreKind::Sqlite => unreachable!("SQLite has no server"),
    }
}

/// etcd's JSON gateway, for what the tests look at outside privdata.
pub mod etcd {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD as B64;
    use serde_json::{Value, json};

    /// POST `body` to `path` of the first member of `url`
    /// (`etcd://HOST:PORT,.../PREFIX`) that answers.
    pub fn call(url: &str, path: &str, body: &Value) -> Result<Value, String> {
        let members = url
            .trim_start_matches("etcd://")
            .split('/')
            .next()
            .unwrap_or_default();
        let mut last = String::new();
        for member in members.split(',') {
            match ureq::post(&format!("http://{member}{path}")).send(body.to_string()) {
                Ok(mut answer) => {
                    let text = answer.body_mut().with_config().limit(u64::MAX).read_to_string();
                    return serde_json::from_str(&text.map_err(|e| e.to_string())?)
                        .map_err(|e| e.to_string());
                }
                Err(e) => last = format!("{member}: {e}"),
            }
        }
        Err(last)
    }

    /// A range over every key that starts with `prefix`.
    pub fn range_of_prefix(prefix: &str) -> Value {
        let mut end = prefix.as_bytes().to_vec();
        *end.last_mut().expect("a prefix") += 1;
        json!({"key": B64.encode(prefix), "range_end": B64.encode(end)})
    }

    /// Every (key, value) under `prefix`, decoded.
    pub fn pairs(url: &str, prefix: &str) -> Vec<(Vec<u8>, Vec<u8>)> {
        let answer = call(url, "/v3/kv/range", &range_of_prefix(prefix)).unwrap();
        answer["kvs"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|kv| {
                let bytes = |v: &Value| B64.decode(v.as_str().unwrap_or("")).unwrap();
                (bytes(&kv["key"]), bytes(&kv["value"]))
            })
            .collect()
    }
}

/// A scratch store and a manager of backends over it.
#[derive(Debug)]
pub struct Fixture {
    // Dropped in this order: the manager's connections close before the
    // scratch database goes.
    pub manager: Manager,
    pub dir: Scratch,
}

impl Fixture {
    pub fn new(backends: impl IntoIterator<Item = BackendSpec>) -> Self {
        let dir = Scratch::new();
        let manager = Manager::new(&dir.config(backends)).unwrap();
        Fixture { manager, dir }
    }

    pub fn backend(&self, name: &str) -> &Backend {
        self.manager.backend(name).unwrap()
    }

    pub fn root(&self, name: &str) -> PathBuf {
        self.dir.path().join("roots").join(name)
    }

    /// Make the store itself refuse, mid-transaction, any row whose value
    /// is `boom`. Not on etcd: it has no triggers, and no call of
    /// privdata's on it is more than one transaction to fail midway.
    pub fn fail_on_boom(&self) {
        match self.dir.kind() {
            StoreKind::Etcd => StoreKind::Etcd.cannot_run_here("no triggers to inject a failure with"),
            StoreKind::Sqlite => self
                .dir
                .execute(&["CREATE TRIGGER fail_on_boom BEFORE INSERT ON private_data
                 WHEN NEW.value = 'boom' BEGIN SELECT RAISE(ABORT, 'injected failure'); END;"]),
            StoreKind::Mysql => self.dir.execute(&[
                "CREATE TRIGGER fail_on_boom BEFORE INSERT ON private_data FOR EACH ROW
                 BEGIN IF NEW.value = 'boom' THEN
                     SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'injected failure';
                 END IF; END",
            ]),
            StoreKind::Postgres => self.dir.execute(&[
                "CREATE FUNCTION fail_on_boom() RETURNS trigger LANGUAGE plpgsql AS $$
                 BEGIN IF NEW.value = 'boom'::bytea THEN RAISE EXCEPTION 'injected failure';
                 END IF; RETURN NEW; END $$;
                 CREATE TRIGGER fail_on_boom BEFORE INSERT ON private_data
                 FOR EACH ROW EXECUTE FUNCTION fail_on_boom();",
            ]),
        }
    }

    /// Make the store itself refuse, mid-transaction, to delete the rows of
    /// `entity`. Not on etcd, as [`Fixture::fail_on_boom`].
    pub fn fail_on_delete_of(&self, entity: &str) {
        match self.dir.kind() {
            StoreKind::Etcd => StoreKind::Etcd.cannot_run_here("no triggers to inject a failure with"),
            StoreKind::Sqlite => self.dir.execute(&[&format!(
                "CREATE TRIGGER fail_on_delete BEFORE DELETE ON private_data
                 WHEN OLD.entity_id = '{entity}' BEGIN SELECT RAISE(ABORT, 'injected failure'); END;"
            )]),
            StoreKind::Mysql => self.dir.execute(&[&format!(
                "CREATE TRIGGER fail_on_delete BEFORE DELETE ON private_data FOR EACH ROW
                 BEGIN IF OLD.entity_id = '{entity}' THEN
                     SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'injected failure';
                 END IF; END"
            )]),
            StoreKind::Postgres => self.dir.execute(&[&format!(
                "CREATE FUNCTION fail_on_delete() RETURNS trigger LANGUAGE plpgsql AS $$
                 BEGIN IF OLD.entity_id = '{entity}' THEN RAISE EXCEPTION 'injected failure';
                 END IF; RETURN OLD; END $$;
                 CREATE TRIGGER fail_on_delete BEFORE DELETE ON private_data
                 FOR EACH ROW EXECUTE FUNCTION fail_on_delete();"
            )]),
        }
    }

    /// Take back [`Fixture::fail_on_delete_of`].
    pub fn stop_failing_deletes(&self) {
        self.dir.execute(&[match self.dir.kind() {
            StoreKind::Postgres => "DROP TRIGGER fail_on_delete ON private_data",
            _ => "DROP TRIGGER fail_on_delete",
        }]);
    }

    /// Hosts whose usage row (what quotas are checked against) differs
    /// from the data itself.
    pub fn usage_mismatches(&self) -> i64 {
        if self.dir.kind() == StoreKind::Etcd {
            return self.etcd_usage_mismatches();
        }
        self.dir.query_i64(
            "SELECT COUNT(*) FROM host_usage u LEFT JOIN (
                 SELECT host, COUNT(*) AS n, SUM(octet_length(\"key\") + octet_length(value)) AS b
                 FROM private_data GROUP BY host) d ON d.host = u.host
             WHERE u.entries <> COALESCE(d.n, 0) OR u.bytes <> COALESCE(d.b, 0)",
        )
    }

    /// [`Fixture::usage_mismatches`] on etcd: each `PREFIX/u/HOST` against
    /// the host's `PREFIX/d/HOST\0…` keys.
    fn etcd_usage_mismatches(&self) -> i64 {
        let url = self.dir.url();
        let prefix = url.split('?').next().unwrap().rsplit('/').next().unwrap();
        let mut counted: BTreeMap<Vec<u8>, (u64, u64)> = BTreeMap::new();
        for (key, value) in etcd::pairs(url, &format!("/{prefix}/d/")) {
            let rest = &key[prefix.len() + 4..];
            let mut parts = rest.splitn(3, |b| *b == 0);
            let host = parts.next().unwrap().to_vec();
            let k = parts.nth(1).unwrap();
            let c = counted.entry(host).or_default();
            *c = (c.0 + 1, c.1 + (k.len() + value.len()) as u64);
        }
        let mut stored: BTreeMap<Vec<u8>, (u64, u64)> = BTreeMap::new();
        for (key, value) in etcd::pairs(url, &format!("/{prefix}/u/")) {
            let value = String::from_utf8(value).unwrap();
            let (n, b) = value.split_once(' ').unwrap();
            stored.insert(
                key[prefix.len() + 4..].to_vec(),
                (n.parse().unwrap(), b.parse().unwrap()),
            );
        }
        let hosts: std::collections::BTreeSet<&Vec<u8>> = counted.keys().chain(stored.keys()).collect();
        hosts
            .into_iter()
            .filter(|h| {
                counted.get(*h).copied().unwrap_or_default() != stored.get(*h).copied().unwrap_or_default()
            })
            .count() as i64
    }
}

/// What kind of refusal a private-data call got, on either path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    InvalidEntityId,
    InvalidKey,
    ValueTooLong,
    QuotaExceeded,
    /// The store is busy or unreachable: retrying may work.
    StorageUnavailable,
    /// The store failed in a way retrying will not fix (embedders see it
    /// as such; drivers see `storage-unavailable`, the contract's one
    /// storage error, with a message saying so).
    StorageFailed,
}

/// A refusal: its kind and the message the caller saw.
pub type Refusal = (Kind, String);

/// The private-data contract, reached one way or another.
pub trait Api {
    /// The kind a store's own failure has on this path.
    fn storage_failure(&self) -> Kind;
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
        Error::StorageUnavailable(_) => Kind::StorageUnavailable,
        Error::Storage(_) => Kind::StorageFailed,
        other => panic!("not a private-data error: {other}"),
    };
    (kind, e.to_string())
}

impl Api for Direct<'_> {
    fn storage_failure(&self) -> Kind {
        Kind::StorageFailed
    }
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
            Ok(update) => Ok(update
                .export_locations
                .unwrap_or_default()
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
    fn storage_failure(&self) -> Kind {
        Kind::StorageUnavailable
    }
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

/// Every entry of a store, in order, for comparing whole stores.
pub fn dump(url: &str) -> Vec<(String, String, String, String)> {
    dump_storage(privdata_host::store::open(url).unwrap().as_ref())
}

/// Every entry of an open store, in order.
pub fn dump_storage(storage: &dyn privdata_host::store::Admin) -> Vec<(String, String, String, String)> {
    let (mut all, mut after) = (Vec::new(), None);
    loop {
        let page = storage.scan(None, after.as_ref(), 1000).unwrap();
        let Some(last) = page.last().cloned() else {
            return all;
        };
        all.extend(page.into_iter().map(|e| (e.host, e.entity, e.key, e.value)));
        after = Some(last);
    }
}
