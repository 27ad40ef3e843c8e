//! `privdata bench`: every private-data path against the store's floor.
//!
//! The same workload runs three ways in one process: `guest` (a driver
//! component calls the private-data interface through the host), `host`
//! (Rust calls the host's `PrivateData` API) and `floor` (the store's own
//! client with prepared statements on the same schema: the least work the
//! store can do). Figures are nanoseconds per operation, the median of
//! rounds. SQLite always; MariaDB/MySQL and PostgreSQL when given a URL.

use anyhow::{Context, Result, bail};
use example_driver_artifacts as drivers;
use privdata_host::store::Durability;
use privdata_host::store::sqlite::SqliteStorage;
use privdata_host::{DataLimits, PrivateData, Runtime, Sandbox, SandboxLimits, Share, Storage};
use rusqlite::{Connection, params};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The operations, as named in the table and the JSON.
const OPS: [&str; 5] = ["get_one", "get_all", "update_one", "replace_five", "delete_one"];
const FIVE: [(&str, &str); 5] = [
    ("k0", "v0"),
    ("k1", "v1"),
    ("k2", "v2"),
    ("k3", "v3"),
    ("k4", "v4"),
];

/// How much work one run does.
#[derive(Debug, Clone, Copy)]
pub struct Sizes {
    /// Operations timed per round.
    pub iterations: usize,
    /// Rounds per figure; the median is reported.
    pub rounds: usize,
    /// Entities in the large store of the scale test.
    pub large_entities: usize,
}

impl Sizes {
    pub const FULL: Sizes = Sizes {
        iterations: 2000,
        rounds: 7,
        large_entities: 1_000_000,
    };
    pub const QUICK: Sizes = Sizes {
        iterations: 200,
        rounds: 3,
        large_entities: 20_000,
    };
}

/// The id of entity `i`: the bench driver uses the same scheme.
fn entity(i: usize) -> String {
    format!("00000000-0000-4000-8000-{i:012x}")
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

pub fn run(sizes: Sizes, json_out: bool, servers: &[String]) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("bench.db");
    let storage: Arc<dyn Storage> = Arc::new(SqliteStorage::open_with(&db, Durability::Normal)?);
    let runtime = Runtime::new()?;
    let bench = runtime.load_bytes(drivers::BENCH_WASM, Path::new("bench_driver.wasm"))?;
    std::fs::create_dir_all(dir.path().join("root"))?;
    let sandbox = |data: PrivateData| Sandbox {
        backend: "bench".into(),
        private_data: data,
        root: dir.path().join("root"),
        options: Vec::new(),
        limits: SandboxLimits {
            timeout: Duration::from_secs(600),
            ..SandboxLimits::default()
        },
    };
    let guest = sandbox(PrivateData::new(
        storage.clone(),
        "bench@guest",
        DataLimits::default(),
    ));
    let ops = measure_ops(
        &bench,
        &guest,
        storage.clone(),
        &mut SqliteFloor::open(&db)?,
        sizes,
    )?;

    let mut server_ops = serde_json::Map::new();
    for url in servers {
        let label = privdata_host::store::redact(url);
        // As SQLite's ops table: commits survive a crash of the server, not
        // of the machine. PostgreSQL does it per session; MariaDB/MySQL only
        // server-wide (`.ci/servers` starts it that way).
        let durability = if url.starts_with("postgres") {
            Durability::Normal
        } else {
            Durability::Full
        };
        let options = privdata_host::store::StorageOptions {
            durability,
            ..Default::default()
        };
        let storage =
            privdata_host::store::open_with(url, &options).with_context(|| format!("bench on {label}"))?;
        let guest = sandbox(PrivateData::new(
            storage.clone(),
            "bench@guest",
            DataLimits::default(),
        ));
        let mut floor = ServerFloor::open(url)?;
        let figures = measure_ops(&bench, &guest, storage.clone(), &mut floor, sizes);
        // Leave the database as it was found, even after a failure.
        for host in ["bench@guest", "bench@host", FLOOR_HOST] {
            let entities: Vec<String> = (0..sizes.iterations).map(entity).collect();
            storage.delete_entities(host, &entities)?;
        }
        server_ops.insert(floor.kind().into(), figures?);
    }

    let (instantiate_ns, call_ns) = per_call_overhead(&bench, &guest, sizes)?;
    let cold_start = cold_start(&runtime, dir.path())?;
    let scale = scale(dir.path(), sizes)?;
    let durability = durability(dir.path(), sizes)?;

    let report = json!({
        "ops": ops,
        "servers": server_ops,
        "instantiate_ns": instantiate_ns.round() as u64,
        "noop_call_ns": call_ns.round() as u64,
        "cold_start_ms": cold_start,
        "scale": scale,
        "durability": durability,
        "iterations": sizes.iterations,
        "rounds": sizes.rounds,
        "machine": machine(),
    });
    let table = table(&report);
    if json_out {
        eprint!("{table}");
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print!("{table}");
    }
    Ok(())
}

/// Each op through the guest, the host and the floor, on one store.
fn measure_ops(
    bench: &privdata_host::DriverComponent,
    sandbox: &Sandbox,
    storage: Arc<dyn Storage>,
    floor: &mut dyn Floor,
    sizes: Sizes,
) -> Result<Value> {
    let guest_data = &sandbox.private_data;
    let host_data = PrivateData::new(storage, "bench@host", DataLimits::default());
    let ids: Vec<String> = (0..sizes.iterations).map(entity).collect();
    let mut ops = serde_json::Map::new();
    for op in OPS {
        let (mut guest, mut host, mut floor_ns) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..sizes.rounds {
            // Each path starts from the same state with the log checkpointed,
            // so none pays for another's writes.
            prepare(guest_data, &ids)?;
            floor.settle()?;
            let share = Share {
                id: entity(0),
                name: format!("{op}\u{1f}{}", sizes.iterations),
                size_gib: 1,
                protocol: "NFS".into(),
            };
            let out = bench.call(sandbox, "create-share", |s, d| {
                d.manila_driver_share_driver().call_create_share(s, &share)
            })?;
            let ns: f64 = out[0].path.parse().context("bench driver's timing")?;
            guest.push(ns / sizes.iterations as f64);

            prepare(&host_data, &ids)?;
            floor.settle()?;
            let start = Instant::now();
            host_op(&host_data, op, &ids)?;
            host.push(start.elapsed().as_nanos() as f64 / sizes.iterations as f64);

            floor.prepare(&ids)?;
            floor.settle()?;
            let start = Instant::now();
            floor.op(op, &ids)?;
            floor_ns.push(start.elapsed().as_nanos() as f64 / sizes.iterations as f64);
        }
        let (g, h, f) = (median(guest), median(host), median(floor_ns));
        ops.insert(
            op.into(),
            json!({"guest_ns": g.round() as u64, "host_ns": h.round() as u64, "floor_ns": f.round() as u64,
                   "guest_floor": ratio(g, f), "host_floor": ratio(h, f)}),
        );
    }
    Ok(Value::Object(ops))
}

fn ratio(x: f64, floor: f64) -> f64 {
    (x / floor * 100.0).round() / 100.0
}

/// Every entity holds five keys before each round.
fn prepare(data: &PrivateData, ids: &[String]) -> Result<()> {
    let five: Vec<(String, String)> = FIVE.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    for id in ids {
        data.update(id, &five, true)?;
    }
    Ok(())
}

fn host_op(data: &PrivateData, op: &str, ids: &[String]) -> Result<()> {
    let k2 = ["k2".to_string()];
    let k0 = ["k0".to_string()];
    let five: Vec<(String, String)> = FIVE.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    for (i, id) in ids.iter().enumerate() {
        match op {
            "get_one" => {
                std::hint::black_box(data.get(id, Some(&k2))?);
            }
            "get_all" => {
                std::hint::black_box(data.get(id, None)?);
            }
            "update_one" => {
                let value = if i % 2 == 0 { "even" } else { "odd" };
                data.update(id, &[("k1".to_string(), value.to_string())], false)?
            }
            "replace_five" => data.update(id, &five, true)?,
            "delete_one" => data.delete(id, Some(&k0))?,
            other => bail!("unknown op {other}"),
        }
    }
    Ok(())
}

/// The least work a store can do for each op, on the bench's schema.
trait Floor {
    /// Every entity holds the five keys.
    fn prepare(&mut self, ids: &[String]) -> Result<()>;
    /// Let the store settle before a timed run (SQLite: checkpoint the log).
    fn settle(&mut self) -> Result<()>;
    /// Run `op` on every entity.
    fn op(&mut self, op: &str, ids: &[String]) -> Result<()>;
}

/// Plain rusqlite on the same file, schema and pragmas.
struct SqliteFloor {
    conn: Connection,
}

const FLOOR_HOST: &str = "bench@floor";

impl Floor for SqliteFloor {
    fn prepare(&mut self, ids: &[String]) -> Result<()> {
        self.conn.execute_batch("BEGIN")?;
        for id in ids {
            self.replace_five(id)?;
        }
        self.conn.execute_batch("COMMIT")?;
        Ok(())
    }

    fn settle(&mut self) -> Result<()> {
        self.conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        Ok(())
    }

    fn op(&mut self, op: &str, ids: &[String]) -> Result<()> {
        self.sqlite_op(op, ids)
    }
}

impl SqliteFloor {
    fn open(path: &Path) -> Result<SqliteFloor> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(Duration::from_secs(5))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "mmap_size", 1i64 << 30)?;
        conn.pragma_update(None, "cache_size", -32i64 * 1024)?;
        Ok(SqliteFloor { conn })
    }

    fn replace_five(&self, id: &str) -> Result<()> {
        self.conn
            .prepare_cached("DELETE FROM private_data WHERE host = ?1 AND entity_id = ?2")?
            .execute(params![FLOOR_HOST, id])?;
        let mut insert = self.conn.prepare_cached(
            "INSERT INTO private_data (host, entity_id, key, value, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
        )?;
        for (k, v) in FIVE {
            insert.execute(params![FLOOR_HOST, id, k, v, 0])?;
        }
        Ok(())
    }

    fn sqlite_op(&self, op: &str, ids: &[String]) -> Result<()> {
        let c = &self.conn;
        for (i, id) in ids.iter().enumerate() {
            match op {
                "get_one" => {
                    let v: Option<String> = c
                        .prepare_cached(
                            "SELECT value FROM private_data WHERE host = ?1 AND entity_id = ?2 AND key = ?3",
                        )?
                        .query_row(params![FLOOR_HOST, id, "k2"], |r| r.get(0))
                        .ok();
                    std::hint::black_box(v);
                }
                "get_all" => {
                    let mut stmt = c.prepare_cached(
                        "SELECT key, value FROM private_data WHERE host = ?1 AND entity_id = ?2 ORDER BY key",
                    )?;
                    let rows: Vec<(String, String)> = stmt
                        .query_map(params![FLOOR_HOST, id], |r| Ok((r.get(0)?, r.get(1)?)))?
                        .collect::<rusqlite::Result<_>>()?;
                    std::hint::black_box(rows);
                }
                "update_one" => {
                    let value = if i % 2 == 0 { "even" } else { "odd" };
                    c.prepare_cached(
                        "INSERT INTO private_data (host, entity_id, key, value, created_at, updated_at)
                         VALUES (?1, ?2, 'k1', ?3, ?4, ?4)
                         ON CONFLICT (host, entity_id, key) DO UPDATE SET value = excluded.value,
                         updated_at = excluded.updated_at",
                    )?
                    .execute(params![FLOOR_HOST, id, value, 0])?;
                }
                "replace_five" => {
                    c.execute_batch("BEGIN IMMEDIATE")?;
                    self.replace_five(id)?;
                    c.execute_batch("COMMIT")?;
                }
                "delete_one" => {
                    c.prepare_cached(
                        "DELETE FROM private_data WHERE host = ?1 AND entity_id = ?2 AND key = ?3",
                    )?
                    .execute(params![FLOOR_HOST, id, "k0"])?;
                }
                other => bail!("unknown op {other}"),
            }
        }
        Ok(())
    }
}

/// The same ops through the server's own client, each one statement in
/// autocommit (`replace_five`: one transaction), on the schema the store
/// created: one round trip where the host takes several, to lock the host's
/// usage row, check its quota and keep the counts.
enum ServerFloor {
    Mysql(mysql::Conn),
    /// The client, and its statements prepared once (as the mysql crate's
    /// statement cache does on the other side).
    Postgres(Box<postgres::Client>, HashMap<&'static str, postgres::Statement>),
}

/// `sql` prepared on `client` once.
fn prepared(
    client: &mut postgres::Client,
    cache: &mut HashMap<&'static str, postgres::Statement>,
    sql: &'static str,
) -> Result<postgres::Statement> {
    if let Some(statement) = cache.get(sql) {
        return Ok(statement.clone());
    }
    let statement = client.prepare(sql)?;
    cache.insert(sql, statement.clone());
    Ok(statement)
}

impl ServerFloor {
    fn open(url: &str) -> Result<ServerFloor> {
        let label = privdata_host::store::redact(url);
        let floor = match url.split_once("://").map(|(scheme, _)| scheme) {
            Some("mysql" | "mariadb") => {
                use mysql::prelude::Queryable;
                let opts = mysql::Opts::from_url(&url.replacen("mariadb://", "mysql://", 1))
                    .with_context(|| format!("{label}: not a MySQL URL"))?;
                let mut conn =
                    mysql::Conn::new(opts).with_context(|| format!("cannot connect to {label}"))?;
                conn.query_drop(
                    "SET SESSION sql_mode = CONCAT_WS(',', NULLIF(@@sql_mode, ''), 'ANSI_QUOTES')",
                )?;
                ServerFloor::Mysql(conn)
            }
            Some("postgres" | "postgresql") => {
                let mut client = postgres::Client::connect(url, postgres::NoTls)
                    .with_context(|| format!("cannot connect to {label}"))?;
                client.batch_execute("SET synchronous_commit = off")?;
                ServerFloor::Postgres(Box::new(client), HashMap::new())
            }
            _ => bail!("{label}: the bench's servers are mysql://… or postgres://… URLs"),
        };
        Ok(floor)
    }

    fn kind(&self) -> &'static str {
        match self {
            ServerFloor::Mysql(_) => "mysql",
            ServerFloor::Postgres(..) => "postgres",
        }
    }

    fn replace_five(&mut self, id: &str) -> Result<()> {
        match self {
            ServerFloor::Mysql(c) => {
                use mysql::prelude::Queryable;
                let mut tx = c.start_transaction(mysql::TxOpts::default())?;
                tx.exec_drop(
                    "DELETE FROM private_data WHERE host = ? AND entity_id = ?",
                    (FLOOR_HOST, id),
                )?;
                let mut params: Vec<mysql::Value> = Vec::new();
                for (k, v) in FIVE {
                    params.extend([
                        FLOOR_HOST.into(),
                        id.into(),
                        k.into(),
                        v.into(),
                        0.into(),
                        0.into(),
                    ]);
                }
                tx.exec_drop(
                    "INSERT INTO private_data (host, entity_id, \"key\", value, created_at, updated_at) \
                     VALUES (?, ?, ?, ?, ?, ?), (?, ?, ?, ?, ?, ?), (?, ?, ?, ?, ?, ?), \
                     (?, ?, ?, ?, ?, ?), (?, ?, ?, ?, ?, ?)",
                    params,
                )?;
                tx.commit()?;
            }
            ServerFloor::Postgres(c, cache) => {
                let delete = prepared(
                    c,
                    cache,
                    "DELETE FROM private_data WHERE host = $1 AND entity_id = $2",
                )?;
                let insert = prepared(
                    c,
                    cache,
                    "INSERT INTO private_data (host, entity_id, \"key\", value, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $5), ($6, $7, $8, $9, $10, $10), \
                     ($11, $12, $13, $14, $15, $15), ($16, $17, $18, $19, $20, $20), \
                     ($21, $22, $23, $24, $25, $25)",
                )?;
                let mut tx = c.transaction()?;
                tx.execute(&delete, &[&FLOOR_HOST, &id])?;
                type Param<'a> = &'a (dyn postgres::types::ToSql + Sync);
                let mut params: Vec<Param<'_>> = Vec::new();
                let five: Vec<(&[u8], &[u8])> =
                    FIVE.iter().map(|(k, v)| (k.as_bytes(), v.as_bytes())).collect();
                let (host, zero) = (FLOOR_HOST, 0i64);
                for (k, v) in &five {
                    let row: [Param<'_>; 5] = [&host, &id, k, v, &zero];
                    params.extend(row);
                }
                tx.execute(&insert, &params)?;
                tx.commit()?;
            }
        }
        Ok(())
    }
}

impl Floor for ServerFloor {
    fn prepare(&mut self, ids: &[String]) -> Result<()> {
        for id in ids {
            self.replace_five(id)?;
        }
        Ok(())
    }

    fn settle(&mut self) -> Result<()> {
        Ok(())
    }

    fn op(&mut self, op: &str, ids: &[String]) -> Result<()> {
        use mysql::prelude::Queryable;
        for (i, id) in ids.iter().enumerate() {
            let value = if i % 2 == 0 { "even" } else { "odd" };
            match (op, &mut *self) {
                ("replace_five", _) => self.replace_five(id)?,
                ("get_one", ServerFloor::Mysql(c)) => {
                    let v: Option<Vec<u8>> = c.exec_first(
                        "SELECT value FROM private_data WHERE host = ? AND entity_id = ? AND \"key\" = ?",
                        (FLOOR_HOST, id, "k2"),
                    )?;
                    std::hint::black_box(v);
                }
                ("get_one", ServerFloor::Postgres(c, cache)) => {
                    let statement = prepared(
                        c,
                        cache,
                        "SELECT value FROM private_data WHERE host = $1 AND entity_id = $2 AND \"key\" = $3",
                    )?;
                    let row = c.query_opt(&statement, &[&FLOOR_HOST, id, &b"k2".as_slice()])?;
                    std::hint::black_box(row.map(|r| r.get::<_, Vec<u8>>(0)));
                }
                ("get_all", ServerFloor::Mysql(c)) => {
                    let rows: Vec<(Vec<u8>, Vec<u8>)> = c.exec(
                        "SELECT \"key\", value FROM private_data WHERE host = ? AND entity_id = ? ORDER BY \"key\"",
                        (FLOOR_HOST, id),
                    )?;
                    std::hint::black_box(rows);
                }
                ("get_all", ServerFloor::Postgres(c, cache)) => {
                    let statement = prepared(
                        c,
                        cache,
                        "SELECT \"key\", value FROM private_data WHERE host = $1 AND entity_id = $2 ORDER BY \"key\"",
                    )?;
                    let rows = c.query(&statement, &[&FLOOR_HOST, id])?;
                    let pairs: Vec<(Vec<u8>, Vec<u8>)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
                    std::hint::black_box(pairs);
                }
                ("update_one", ServerFloor::Mysql(c)) => c.exec_drop(
                    "INSERT INTO private_data (host, entity_id, \"key\", value, created_at, updated_at) \
                     VALUES (?, ?, 'k1', ?, 0, 0) ON DUPLICATE KEY UPDATE value = VALUES(value)",
                    (FLOOR_HOST, id, value),
                )?,
                ("update_one", ServerFloor::Postgres(c, cache)) => {
                    let statement = prepared(
                        c,
                        cache,
                        "INSERT INTO private_data (host, entity_id, \"key\", value, created_at, updated_at) \
                         VALUES ($1, $2, 'k1', $3, 0, 0) \
                         ON CONFLICT (host, entity_id, \"key\") DO UPDATE SET value = excluded.value",
                    )?;
                    c.execute(&statement, &[&FLOOR_HOST, id, &value.as_bytes()])?;
                }
                ("delete_one", ServerFloor::Mysql(c)) => c.exec_drop(
                    "DELETE FROM private_data WHERE host = ? AND entity_id = ? AND \"key\" = 'k0'",
                    (FLOOR_HOST, id),
                )?,
                ("delete_one", ServerFloor::Postgres(c, cache)) => {
                    let statement = prepared(
                        c,
                        cache,
                        "DELETE FROM private_data WHERE host = $1 AND entity_id = $2 AND \"key\" = 'k0'",
                    )?;
                    c.execute(&statement, &[&FLOOR_HOST, id])?;
                }
                (other, _) => bail!("unknown op {other}"),
            }
        }
        Ok(())
    }
}

/// Instantiation alone (a store with its limits and WASI context, the
/// instance from the pre-instance in the pooling allocator, and freeing it),
/// and a whole driver call that does no work (the same plus `setup` and the
/// call), in ns.
fn per_call_overhead(
    bench: &privdata_host::DriverComponent,
    sandbox: &Sandbox,
    sizes: Sizes,
) -> Result<(f64, f64)> {
    let share = Share {
        id: entity(0),
        name: String::new(),
        size_gib: 1,
        protocol: "NFS".into(),
    };
    let n = sizes.iterations.min(1000);
    let (mut instantiate, mut call) = (Vec::new(), Vec::new());
    for _ in 0..sizes.rounds {
        let start = Instant::now();
        for _ in 0..n {
            bench.instantiate(sandbox)?.finish();
        }
        instantiate.push(start.elapsed().as_nanos() as f64 / n as f64);
        let start = Instant::now();
        for _ in 0..n {
            bench.call(sandbox, "delete-share", |s, d| {
                d.manila_driver_share_driver().call_delete_share(s, &share)
            })?;
        }
        call.push(start.elapsed().as_nanos() as f64 / n as f64);
    }
    Ok((median(instantiate), median(call)))
}

/// Compiling each example driver, against loading it from the cache.
fn cold_start(runtime: &Runtime, dir: &Path) -> Result<Value> {
    let cached_runtime = runtime.clone().with_cache_dir(dir.join("driver-cache"));
    let mut per_driver = serde_json::Map::new();
    let (mut worst_compile, mut worst_cached) = (0f64, 0f64);
    for (name, wasm) in [
        ("generic", drivers::GENERIC_WASM),
        ("short_names", drivers::SHORT_NAMES_WASM),
        ("caching", drivers::CACHING_WASM),
    ] {
        let path = Path::new(name);
        let start = Instant::now();
        runtime.load_bytes(wasm, path)?;
        let compile = start.elapsed().as_secs_f64() * 1e3;
        cached_runtime.load_bytes(wasm, path)?; // fills the cache
        let mut cached = Vec::new();
        for _ in 0..5 {
            let start = Instant::now();
            cached_runtime.load_bytes(wasm, path)?;
            cached.push(start.elapsed().as_secs_f64() * 1e3);
        }
        let cached = median(cached);
        worst_compile = worst_compile.max(compile);
        worst_cached = worst_cached.max(cached);
        per_driver.insert(
            name.into(),
            json!({"compile": round2(compile), "cached": round2(cached)}),
        );
    }
    Ok(json!({"compile": round2(worst_compile), "cached": round2(worst_cached), "per_driver": per_driver}))
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// get-one latency over a store of 1,000 entities against a large one.
fn scale(dir: &Path, sizes: Sizes) -> Result<Value> {
    let small = 1000;
    let measure = |entities: usize| -> Result<f64> {
        let path = dir.join(format!("scale-{entities}.db"));
        let storage: Arc<dyn Storage> = Arc::new(SqliteStorage::open_with(&path, Durability::Normal)?);
        bulk_fill(&path, entities)?;
        let data = PrivateData::new(storage, "bench@scale", DataLimits::default());
        // A fixed pseudo-random walk over all entities: the same for both sizes.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let lookups: Vec<String> = (0..sizes.iterations * 5)
            .map(|_| {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                entity((x >> 33) as usize % entities)
            })
            .collect();
        let key = ["k2".to_string()];
        let mut rounds = Vec::new();
        for _ in 0..sizes.rounds {
            let start = Instant::now();
            for id in &lookups {
                std::hint::black_box(data.get(id, Some(&key))?);
            }
            rounds.push(start.elapsed().as_nanos() as f64 / lookups.len() as f64);
        }
        Ok(median(rounds))
    };
    let small_ns = measure(small)?;
    let large_ns = measure(sizes.large_entities)?;
    Ok(json!({
        "entities_small": small, "entities_large": sizes.large_entities,
        "get_one_small_ns": small_ns.round() as u64, "get_one_large_ns": large_ns.round() as u64,
        "get_one_ratio": ratio(large_ns, small_ns),
    }))
}

fn bulk_fill(path: &Path, entities: usize) -> Result<()> {
    let mut conn = Connection::open(path)?;
    conn.pragma_update(None, "synchronous", "OFF")?;
    let tx = conn.transaction()?;
    {
        let mut insert = tx.prepare(
            "INSERT INTO private_data (host, entity_id, key, value, created_at, updated_at)
             VALUES ('bench@scale', ?1, ?2, ?3, 0, 0)",
        )?;
        for i in 0..entities {
            let id = entity(i);
            for (k, v) in FIVE {
                insert.execute(params![id, k, v])?;
            }
        }
    }
    tx.commit()?;
    Ok(())
}

/// One-key updates under each durability setting, through the host API.
fn durability(dir: &Path, sizes: Sizes) -> Result<Value> {
    let mut out = serde_json::Map::new();
    for d in [Durability::Full, Durability::Normal] {
        let path = dir.join(format!("durability-{}.db", d.synchronous()));
        let storage: Arc<dyn Storage> = Arc::new(SqliteStorage::open_with(&path, d)?);
        let data = PrivateData::new(storage, "bench@durability", DataLimits::default());
        let ids: Vec<String> = (0..sizes.iterations).map(entity).collect();
        let mut rounds = Vec::new();
        for _ in 0..sizes.rounds {
            // From five keys each time, so every update changes a row.
            prepare(&data, &ids)?;
            let start = Instant::now();
            host_op(&data, "update_one", &ids)?;
            rounds.push(start.elapsed().as_nanos() as f64 / ids.len() as f64);
        }
        let name = format!("update_one_{}_ns", d.synchronous().to_lowercase());
        out.insert(name, json!(median(rounds).round() as u64));
    }
    Ok(Value::Object(out))
}

fn machine() -> Value {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, m)| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into());
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    json!({"cpu": cpu, "cores": cores, "os": std::env::consts::OS})
}

fn table(r: &Value) -> String {
    let mut s = String::new();
    s.push_str(&format!(
        "privdata bench: {} ops/round, median of {} rounds, {} ({} cores)\n\n",
        r["iterations"],
        r["rounds"],
        r["machine"]["cpu"].as_str().unwrap_or("?"),
        r["machine"]["cores"]
    ));
    s.push_str(&format!(
        "{:<14}{:>10}{:>10}{:>10}{:>13}{:>12}\n",
        "op", "guest ns", "host ns", "floor ns", "guest/floor", "host/floor"
    ));
    for op in OPS {
        let o = &r["ops"][op];
        let f = |k: &str| o[k].to_string();
        s.push_str(&format!(
            "{:<14}{:>10}{:>10}{:>10}{:>13}{:>12}\n",
            op,
            f("guest_ns"),
            f("host_ns"),
            f("floor_ns"),
            f("guest_floor"),
            f("host_floor")
        ));
    }
    if let Some(servers) = r["servers"].as_object() {
        for (kind, ops) in servers {
            s.push_str(&format!("\n{kind} (over loopback)\n"));
            for op in OPS {
                let o = &ops[op];
                let f = |k: &str| o[k].to_string();
                s.push_str(&format!(
                    "{:<14}{:>10}{:>10}{:>10}{:>13}{:>12}\n",
                    op,
                    f("guest_ns"),
                    f("host_ns"),
                    f("floor_ns"),
                    f("guest_floor"),
                    f("host_floor")
                ));
            }
        }
    }
    let c = &r["cold_start_ms"];
    let sc = &r["scale"];
    let d = &r["durability"];
    s.push_str(&format!(
        "\ninstantiate per call (pooling): {} ns; a whole no-op call (instantiate, setup, call): {} ns\n\
         cold start, worst example driver: compile {} ms, from cache {} ms\n\
         scale: get_one {} ns with {} entities, {} ns with {} entities (ratio {})\n\
         durability: update_one {} ns with durability=full, {} ns with durability=normal\n",
        r["instantiate_ns"],
        r["noop_call_ns"],
        c["compile"],
        c["cached"],
        sc["get_one_small_ns"],
        sc["entities_small"],
        sc["get_one_large_ns"],
        sc["entities_large"],
        sc["get_one_ratio"],
        d["update_one_full_ns"],
        d["update_one_normal_ns"],
    ));
    s
}
