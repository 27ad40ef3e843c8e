//! `privdata-bench`: every private-data path against the store's floor.
//!
//! The same workload runs three ways in one process: `guest` (a driver
//! component calls the private-data interface through the host), `host`
//! (Rust calls the host's `PrivateData` API) and `floor` (the store's own
//! client with prepared statements on the same schema: the least work the
//! store can do). Figures are nanoseconds per operation, the median of
//! rounds. SQLite always; MariaDB/MySQL and PostgreSQL when given a URL.

mod floor;
mod load;

use anyhow::{Context, Result, bail};
use clap::Parser;
use example_driver_artifacts as drivers;
use floor::{FLOOR_HOST, Floor, ServerFloor, SqliteFloor};
use privdata_host::config::BackendConfig;
use privdata_host::store::Durability;
use privdata_host::store::sqlite::SqliteStorage;
use privdata_host::{Admin, Backend, DataLimits, Limits, PrivateData, Runtime, Sandbox, Share};
use rusqlite::{Connection, params};
use serde_json::{Value, json};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

/// Measure every private-data path (guest, host, and the store's own
/// client) and the runtime's costs.
#[derive(Debug, Parser)]
#[command(name = "privdata-bench", version)]
struct Args {
    /// Print one JSON object on stdout (the table goes to stderr).
    #[arg(long)]
    json: bool,
    /// A short run with small sizes, to check the benchmark works.
    #[arg(long)]
    quick: bool,
    /// Also measure the ops on this MariaDB/MySQL or PostgreSQL server
    /// (repeatable); its tables are created if missing, and the bench's
    /// hosts are deleted after.
    #[arg(long = "server", value_name = "URL")]
    servers: Vec<String>,
    /// Instead, the load benchmark: 1, 2, 4, 16 and 64 share services
    /// (processes, each its own backend host) at once on SQLite and on each
    /// `--server` and `--galera` cluster; calls a second and latency.
    #[arg(long)]
    load: bool,
    /// A node of a MariaDB Galera cluster, for `--load` (repeat for each
    /// node: service `i` talks to node `i` mod their number).
    #[arg(long = "galera", value_name = "URL")]
    galera: Vec<String>,
    /// (internal) Run one service of the load benchmark on this store.
    #[arg(long, hide = true, requires_all = ["worker_host", "worker_ms", "worker_seed"])]
    load_worker: Option<String>,
    #[arg(long, hide = true)]
    worker_host: Option<String>,
    #[arg(long, hide = true)]
    worker_ms: Option<u64>,
    #[arg(long, hide = true)]
    worker_seed: Option<u64>,
    /// (internal) The worker makes the floor's bare requests (etcd).
    #[arg(long, hide = true)]
    worker_floor: bool,
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let sizes = if args.quick { Sizes::QUICK } else { Sizes::FULL };
    let outcome = if let Some(url) = &args.load_worker {
        load::worker(
            url,
            args.worker_host.as_deref().unwrap_or_default(),
            args.worker_ms.unwrap_or_default(),
            args.worker_seed.unwrap_or_default(),
            args.worker_floor,
        )
    } else if args.load {
        run_load(&args)
    } else {
        run(sizes, args.json, &args.servers)
    };
    match outcome {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// The operations, as named in the table and the JSON.
const OPS: [&str; 5] = ["get_one", "get_all", "update_one", "replace_five", "delete_one"];
pub(crate) const FIVE: [(&str, &str); 5] = [
    ("k0", "v0"),
    ("k1", "v1"),
    ("k2", "v2"),
    ("k3", "v3"),
    ("k4", "v4"),
];

/// How much work one run does.
#[derive(Debug, Clone, Copy)]
struct Sizes {
    /// Operations timed per round.
    pub iterations: usize,
    /// Rounds per figure; the median is reported.
    pub rounds: usize,
    /// Entities in the large store of the scale test.
    pub large_entities: usize,
}

impl Sizes {
    const FULL: Sizes = Sizes {
        iterations: 2000,
        rounds: 7,
        large_entities: 1_000_000,
    };
    const QUICK: Sizes = Sizes {
        iterations: 200,
        rounds: 3,
        large_entities: 20_000,
    };
}

/// The id of entity `i`: the bench driver uses the same scheme.
fn entity(i: usize) -> String {
    format!("00000000-0000-4000-8000-{i:012x}")
}

/// A benchmark's backend: no network, and ten minutes for an operation
/// (one operation may run thousands of calls).
fn bench_backend(host: &str, driver: &Path, root: &Path) -> Result<BackendConfig> {
    let limits = Limits::from_pairs([("timeout_secs", 600.0)]).map_err(anyhow::Error::msg)?;
    BackendConfig::new(
        host,
        driver.into(),
        root.into(),
        Default::default(),
        limits,
        &[],
        None,
    )
    .map_err(anyhow::Error::msg)
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

fn run(sizes: Sizes, json_out: bool, servers: &[String]) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("bench.db");
    let storage: Arc<dyn Admin> = Arc::new(SqliteStorage::open_with(&db, Durability::Normal)?);
    let runtime = Runtime::new()?;
    let bench = runtime.load_bytes(drivers::BENCH_WASM, Path::new("bench_driver.wasm"))?;
    std::fs::create_dir_all(dir.path().join("root"))?;
    let guest_config = bench_backend(
        "bench@guest",
        Path::new("bench_driver.wasm"),
        &dir.path().join("root"),
    )?;
    let guest = guest_config.sandbox("bench", storage.clone());
    let ops = measure_ops(
        &Backend::new(bench.clone(), guest.clone()),
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
        let guest = guest_config.sandbox("bench", storage.clone());
        let mut floor = ServerFloor::open(url)?;
        let figures = measure_ops(
            &Backend::new(bench.clone(), guest),
            storage.clone(),
            &mut floor,
            sizes,
        );
        // Leave the database as it was found, even after a failure.
        for host in ["bench@guest", "bench@host", FLOOR_HOST] {
            let entities: Vec<String> = (0..sizes.iterations).map(entity).collect();
            storage.delete_entities(host, &entities)?;
        }
        server_ops.insert(floor.kind().into(), figures?);
    }

    let (instantiate_ns, call_ns) = per_call_overhead(&bench, &guest, sizes)?;
    let metrics = metrics_cost(&bench, &guest, sizes)?;
    let cold_start = cold_start(&runtime, dir.path())?;
    let scale = scale(dir.path(), sizes)?;
    let durability = durability(dir.path(), sizes)?;
    let read_threads = read_threads(dir.path(), sizes)?;
    let python = python(&runtime, &storage, dir.path(), sizes)?;

    let report = json!({
        "ops": ops,
        "servers": server_ops,
        "instantiate_ns": instantiate_ns.round() as u64,
        "noop_call_ns": call_ns.round() as u64,
        "metrics": metrics,
        "cold_start_ms": cold_start,
        "scale": scale,
        "durability": durability,
        "read_threads": read_threads,
        "python": python,
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

/// The load benchmark on SQLite (a file of its own) and every server given.
fn run_load(args: &Args) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let sqlite = format!("sqlite://{}", dir.path().join("load.db").display());
    privdata_host::store::open(&sqlite)?; // created once, before the services
    let mut targets = vec![load::Target {
        label: "sqlite".into(),
        nodes: vec![sqlite],
        floor: false,
    }];
    for url in &args.servers {
        let kind = url.split("://").next().unwrap_or("server");
        targets.push(load::Target {
            label: kind.replace("postgresql", "postgres").replace("mariadb", "mysql"),
            nodes: vec![url.clone()],
            floor: false,
        });
        if kind == "etcd" {
            // The same mix, each call one bare request: the cluster's floor.
            targets.push(load::Target {
                label: "etcd floor".into(),
                nodes: vec![url.clone()],
                floor: true,
            });
        }
    }
    if !args.galera.is_empty() {
        targets.push(load::Target {
            label: format!("galera ({} nodes)", args.galera.len()),
            nodes: args.galera.clone(),
            floor: false,
        });
    }
    let sizes = if args.quick {
        load::LoadSizes::QUICK
    } else {
        load::LoadSizes::FULL
    };
    let report = json!({
        "load": load::run(&targets, sizes)?,
        "seconds_per_run": sizes.duration.as_secs_f64(),
        "machine": machine(),
    });
    let table = format!(
        "privdata bench --load: each run {} s, {} ({} cores){}",
        report["seconds_per_run"],
        report["machine"]["cpu"].as_str().unwrap_or("?"),
        report["machine"]["cores"],
        load::table(&report["load"])
    );
    if args.json {
        eprint!("{table}");
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print!("{table}");
    }
    Ok(())
}

/// Each op through the guest, the host and the floor, on one store.
fn measure_ops(
    bench: &Backend,
    storage: Arc<dyn Admin>,
    floor: &mut dyn Floor,
    sizes: Sizes,
) -> Result<Value> {
    let guest_data = bench.private_data();
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
                name: format!("{op}\u{1f}{}", sizes.iterations),
                ..Share::new(&entity(0), 1, "NFS")
            };
            let out = bench.create_share(&share)?;
            let ns: f64 = out.exports()[0].path.parse().context("bench driver's timing")?;
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

/// What the host's metrics cost on the hot paths: a guest's get_one and
/// update_one, and a driver call on a live instance that does nothing,
/// with metrics on and off, rounds interleaved (ns per call, median).
fn metrics_cost(bench: &privdata_host::DriverComponent, sandbox: &Sandbox, sizes: Sizes) -> Result<Value> {
    let on = Backend::new(bench.clone(), sandbox.clone());
    let off = Backend::new(
        bench.clone(),
        Sandbox {
            metrics: privdata_host::Metrics::off(),
            ..sandbox.clone()
        },
    );
    let ids: Vec<String> = (0..sizes.iterations).map(entity).collect();
    let share = Share::new(&entity(0), 1, "NFS");
    let mut report = serde_json::Map::new();
    for op in ["get_one", "update_one", "noop_call"] {
        let (mut on_ns, mut off_ns) = (Vec::new(), Vec::new());
        for _ in 0..sizes.rounds {
            for (backend, figures) in [(&on, &mut on_ns), (&off, &mut off_ns)] {
                let ns = if op == "noop_call" {
                    let start = Instant::now();
                    for _ in 0..sizes.iterations {
                        backend.delete_share(&share)?;
                    }
                    start.elapsed().as_nanos() as f64
                } else {
                    prepare(backend.private_data(), &ids)?;
                    let timed = Share {
                        name: format!("{op}\u{1f}{}", sizes.iterations),
                        ..Share::new(&entity(0), 1, "NFS")
                    };
                    let out = backend.create_share(&timed)?;
                    out.exports()[0].path.parse().context("bench driver's timing")?
                };
                figures.push(ns / sizes.iterations as f64);
            }
        }
        let (on_ns, off_ns) = (median(on_ns), median(off_ns));
        report.insert(
            op.into(),
            json!({"on_ns": on_ns.round() as u64, "off_ns": off_ns.round() as u64, "ratio": ratio(on_ns, off_ns)}),
        );
    }
    Ok(Value::Object(report))
}

/// Instantiation alone (a store with its limits and WASI context, the
/// instance from the pre-instance in the pooling allocator, and freeing it),
/// and a driver call that does no work on a live instance (the backend's
/// instances are set up once and kept), in ns.
fn per_call_overhead(
    bench: &privdata_host::DriverComponent,
    sandbox: &Sandbox,
    sizes: Sizes,
) -> Result<(f64, f64)> {
    let share = Share::new(&entity(0), 1, "NFS");
    let n = sizes.iterations.min(1000);
    let noop = Backend::new(bench.clone(), sandbox.clone());
    let (mut instantiate, mut call) = (Vec::new(), Vec::new());
    for _ in 0..sizes.rounds {
        let start = Instant::now();
        for _ in 0..n {
            bench.instantiate(sandbox)?.finish();
        }
        instantiate.push(start.elapsed().as_nanos() as f64 / n as f64);
        let start = Instant::now();
        for _ in 0..n {
            noop.delete_share(&share)?;
        }
        call.push(start.elapsed().as_nanos() as f64 / n as f64);
    }
    Ok((median(instantiate), median(call)))
}

/// A driver in Python (componentize-py): compiling it and loading it from
/// the cache (ms), instantiation alone and a no-op call on a live instance
/// (ns), and
/// get_one through the Python SDK, timed inside the guest (ns per call).
fn python(runtime: &Runtime, storage: &Arc<dyn Admin>, dir: &Path, sizes: Sizes) -> Result<Value> {
    let path = Path::new(drivers::PYTHON_BENCH);
    let wasm = std::fs::read(path)?;
    let start = Instant::now();
    runtime.load_bytes(&wasm, path)?;
    let compile = start.elapsed().as_secs_f64() * 1e3;
    let cached_runtime = runtime.clone().with_cache_dir(dir.join("driver-cache"));
    cached_runtime.load_bytes(&wasm, path)?; // fills the cache
    let mut cached = Vec::new();
    let mut component = None;
    for _ in 0..5 {
        let start = Instant::now();
        component = Some(cached_runtime.load_bytes(&wasm, path)?);
        cached.push(start.elapsed().as_secs_f64() * 1e3);
    }
    let component = component.expect("loaded above");
    let sandbox =
        bench_backend("bench@python", path, &dir.join("root"))?.sandbox("python-bench", storage.clone());
    let few = Sizes {
        iterations: sizes.iterations.min(200),
        ..sizes
    };
    let (instantiate_ns, call_ns) = per_call_overhead(&component, &sandbox, few)?;
    let backend = Backend::new(component, sandbox);
    let ids: Vec<String> = (0..sizes.iterations).map(entity).collect();
    prepare(backend.private_data(), &ids)?;
    let mut get_one = Vec::new();
    for _ in 0..sizes.rounds {
        let share = Share {
            name: format!("get_one\u{1f}{}", sizes.iterations),
            ..Share::new(&entity(0), 1, "NFS")
        };
        let ns: f64 = backend.create_share(&share)?.exports()[0].path.parse()?;
        get_one.push(ns / sizes.iterations as f64);
    }
    storage.delete_entities("bench@python", &ids)?;
    Ok(json!({
        "compile_ms": round2(compile),
        "cached_ms": round2(median(cached)),
        "instantiate_ns": instantiate_ns.round() as u64,
        "noop_call_ns": call_ns.round() as u64,
        "get_one_ns": median(get_one).round() as u64,
    }))
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
        let storage: Arc<dyn Admin> = Arc::new(SqliteStorage::open_with(&path, Durability::Normal)?);
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
        let storage: Arc<dyn Admin> = Arc::new(SqliteStorage::open_with(&path, d)?);
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

/// Reads from one thread, then from two at once, through one store: what
/// a share service's threads get when they read together. The floor does
/// the same with plain rusqlite, a connection per thread: how far SQLite
/// itself goes on this machine.
///
/// A round must be long enough for the two threads to run side by side
/// all through it: one of a few milliseconds is mostly the second thread
/// waiting to be scheduled, and moved the ratio from 0.55 to 1.75 between
/// runs here. So each thread makes [`READ_PASSES`] passes over the
/// entities a round (a tenth of a second or more), and the host's and the
/// floor's rounds alternate, one thread and two, in an order that turns
/// each round: a slow spell of the machine falls on both.
fn read_threads(dir: &Path, sizes: Sizes) -> Result<Value> {
    let path = dir.join("threads.db");
    let storage: Arc<dyn Admin> = Arc::new(SqliteStorage::open_with(&path, Durability::Normal)?);
    let data = PrivateData::new(storage, "bench@threads", DataLimits::default());
    let ids: Vec<String> = (0..sizes.iterations).map(entity).collect();
    prepare(&data, &ids)?;
    let mut floor = SqliteFloor::open(&path)?;
    floor.prepare(&ids)?;
    floor.settle()?;
    let floors = [SqliteFloor::open(&path)?, SqliteFloor::open(&path)?].map(std::sync::Mutex::new);
    let passes = if sizes.iterations < Sizes::FULL.iterations {
        1
    } else {
        READ_PASSES
    };
    let host = |_: usize| -> Result<()> {
        for _ in 0..passes {
            host_op(&data, "get_one", &ids)?;
        }
        Ok(())
    };
    let floor = |thread: usize| -> Result<()> {
        let mut floor = floors[thread].lock().expect("a floor reader panicked");
        for _ in 0..passes {
            floor.op("get_one", &ids)?;
        }
        Ok(())
    };
    let ops = passes * ids.len();
    // [host one, host two, floor one, floor two], a round each.
    let mut rounds: [Vec<f64>; 4] = Default::default();
    for round in 0..sizes.rounds * 2 {
        let mut order = [(0, 1), (1, 2), (2, 1), (3, 2)];
        order.rotate_left(round % 4);
        for (figure, threads) in order {
            let work: &(dyn Fn(usize) -> Result<()> + Sync) = if figure < 2 { &host } else { &floor };
            rounds[figure].push(per_second(threads, ops, work)?);
        }
    }
    let [one, two, floor_one, floor_two] = rounds.map(median);
    Ok(json!({
        "one_thread_per_s": one.round() as u64,
        "two_threads_per_s": two.round() as u64,
        "ratio": round2(two / one),
        "floor_one_thread_per_s": floor_one.round() as u64,
        "floor_two_threads_per_s": floor_two.round() as u64,
        "floor_ratio": round2(floor_two / floor_one),
        "against_floor": round2((two / one) / (floor_two / floor_one)),
        "ops_per_thread_round": ops,
        "rounds": sizes.rounds * 2,
    }))
}

/// Passes over the entities each reading thread makes in a round.
const READ_PASSES: usize = 40;

/// Aggregate operations a second of `threads` threads running `work` at
/// once (given the thread's number; `ops` operations each).
fn per_second(threads: usize, ops: usize, work: &(dyn Fn(usize) -> Result<()> + Sync)) -> Result<f64> {
    let start = Instant::now();
    std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads).map(|t| s.spawn(move || work(t))).collect();
        workers
            .into_iter()
            .try_for_each(|w| w.join().expect("a reader panicked"))
    })?;
    Ok((threads * ops) as f64 / start.elapsed().as_secs_f64())
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

/// One line per op of a table of figures: guest, host, floor, ratios.
fn op_rows(ops: &Value) -> String {
    let mut s = String::new();
    for op in OPS {
        let f = |k: &str| ops[op][k].to_string();
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
    s
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
    s.push_str(&op_rows(&r["ops"]));
    if let Some(servers) = r["servers"].as_object() {
        for (kind, ops) in servers {
            s.push_str(&format!("\n{kind} (over loopback)\n"));
            s.push_str(&op_rows(ops));
        }
    }
    let c = &r["cold_start_ms"];
    let sc = &r["scale"];
    let d = &r["durability"];
    let m = &r["metrics"];
    let cost = |op: &str| {
        format!(
            "{} ns on, {} off ({}x)",
            m[op]["on_ns"], m[op]["off_ns"], m[op]["ratio"]
        )
    };
    s.push_str(&format!(
        "\nmetrics: guest get_one {}; guest update_one {}; a no-op call on a live instance {}\n",
        cost("get_one"),
        cost("update_one"),
        cost("noop_call")
    ));
    s.push_str(&format!(
        "\ninstantiate per call (pooling): {} ns; a no-op call on a live instance: {} ns\n\
         cold start, worst example driver: compile {} ms, from cache {} ms\n\
         scale: get_one {} ns with {} entities, {} ns with {} entities (ratio {})\n\
         durability: update_one {} ns with durability=full, {} ns with durability=normal\n\
         reads (get_one): {} a second from one thread, {} from two (ratio {}); \
         the floor (rusqlite, a connection per thread): {}, {} (ratio {}); \
         the host's ratio {}× the floor's\n\
         python driver: compile {} ms, from cache {} ms; instantiate {} ns; a no-op call on a live instance {} ns; \
         get_one through the Python SDK {} ns\n",
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
        r["read_threads"]["one_thread_per_s"],
        r["read_threads"]["two_threads_per_s"],
        r["read_threads"]["ratio"],
        r["read_threads"]["floor_one_thread_per_s"],
        r["read_threads"]["floor_two_threads_per_s"],
        r["read_threads"]["floor_ratio"],
        r["read_threads"]["against_floor"],
        r["python"]["compile_ms"],
        r["python"]["cached_ms"],
        r["python"]["instantiate_ns"],
        r["python"]["noop_call_ns"],
        r["python"]["get_one_ns"],
    ));
    s
}
