//! `--load`: many share services on one store. Each service is a process
//! of its own with its own backend host, as `manila-share` runs one per
//! node; all of them start together on a signal and run a share-service mix
//! for the same time. Reported per store and number of services: aggregate
//! private-data calls a second, and the latency of one call (p50, p99).
//!
//! The mix, per share operation (each makes one to three private-data
//! calls, and reads dominate):
//! - 60% ensure a share: get all its keys (1 call);
//! - 15% look a share up: get two keys, then one (2 calls);
//! - 15% extend a share: get one key, update one key (2 calls);
//! - 10% recreate a share: delete it, write three keys replacing what was
//!   there, read one back (3 calls).
//!
//! On etcd the same mix also runs as its floor: each call the one bare etcd
//! request of its kind through the store's own gRPC client (a range, a
//! put, a deletion), with no usage key, quota or comparison.

use crate::{entity, round2};
use anyhow::{Context, Result, bail};
use privdata_host::store::Entry;
use privdata_host::store::etcd::Floor;
use privdata_host::{DataLimits, PrivateData};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Entities each service holds private data for.
const ENTITIES: usize = 500;

/// How long and how many.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LoadSizes {
    /// Each service's run, after the signal.
    pub(crate) duration: Duration,
    /// The numbers of concurrent services, one run each.
    pub(crate) services: &'static [usize],
}

impl LoadSizes {
    pub(crate) const FULL: LoadSizes = LoadSizes {
        duration: Duration::from_secs(3),
        services: &[1, 2, 4, 16, 64],
    };
    pub(crate) const QUICK: LoadSizes = LoadSizes {
        duration: Duration::from_millis(300),
        services: &[1, 2],
    };
}

/// A store to load: its label and the URLs of its nodes (service `i`
/// talks to node `i` mod their number).
pub(crate) struct Target {
    pub(crate) label: String,
    pub(crate) nodes: Vec<String>,
    /// The floor's bare requests instead of the host's calls (etcd only).
    pub(crate) floor: bool,
}

/// Every target at every number of services.
pub(crate) fn run(targets: &[Target], sizes: LoadSizes) -> Result<Value> {
    let mut out = serde_json::Map::new();
    for target in targets {
        let mut rows = Vec::new();
        for &n in sizes.services {
            let row = services(target, n, sizes.duration)
                .with_context(|| format!("load on {} with {n} services", target.label))?;
            rows.push(row);
        }
        out.insert(target.label.clone(), Value::Array(rows));
    }
    Ok(Value::Object(out))
}

/// `n` services at once on `target`.
fn services(target: &Target, n: usize, duration: Duration) -> Result<Value> {
    let exe = std::env::current_exe()?;
    let mut children = Services(
        (0..n)
            .map(|i| {
                Command::new(&exe)
                    .args(["--load-worker", &target.nodes[i % target.nodes.len()]])
                    .args(["--worker-host", &format!("load-{i}@bench")])
                    .args(["--worker-ms", &duration.as_millis().to_string()])
                    .args(["--worker-seed", &i.to_string()])
                    .args(target.floor.then_some("--worker-floor"))
                    .stdin(Stdio::piped())
                    .stdout(Stdio::piped())
                    .spawn()
                    .context("starting a service process")
            })
            .collect::<Result<_>>()?,
    );
    let mut outputs: Vec<_> = children
        .0
        .iter_mut()
        .map(|c| BufReader::new(c.stdout.take().expect("piped")))
        .collect();
    // Every service has its data in place before any starts.
    for out in &mut outputs {
        let mut line = String::new();
        out.read_line(&mut line)?;
        if line.trim() != "ready" {
            bail!("a service did not get ready (said {line:?}); see its error above");
        }
    }
    for child in &mut children.0 {
        writeln!(child.stdin.as_mut().expect("piped"), "go")?;
    }
    let (mut calls, mut errors, mut per_second) = (0u64, 0u64, 0f64);
    let mut histogram = Histogram::default();
    for out in &mut outputs {
        let mut line = String::new();
        out.read_line(&mut line)?;
        let report: Value =
            serde_json::from_str(&line).with_context(|| format!("a service's report: {line:?}"))?;
        let n = report["calls"].as_u64().unwrap_or(0);
        calls += n;
        errors += report["errors"].as_u64().unwrap_or(0);
        per_second += n as f64 / report["seconds"].as_f64().unwrap_or(f64::INFINITY);
        histogram.merge(&report["histogram"]);
    }
    for mut child in std::mem::take(&mut children.0) {
        if !child.wait()?.success() {
            bail!("a service process failed; see its error above");
        }
    }
    Ok(json!({
        "services": n,
        "calls": calls,
        "errors": errors,
        "calls_per_s": per_second.round() as u64,
        "p50_us": round2(histogram.quantile(0.50) / 1e3),
        "p99_us": round2(histogram.quantile(0.99) / 1e3),
    }))
}

/// The service processes of a run: killed if the run stops early.
struct Services(Vec<Child>);

impl Drop for Services {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// One service: its own host's data on `url`, then, on `go`, the mix for
/// `ms`; prints its report and deletes its data.
pub(crate) fn worker(url: &str, host: &str, ms: u64, seed: u64, floor: bool) -> Result<()> {
    let ids: Vec<String> = (0..ENTITIES).map(entity).collect();
    if floor {
        return floor_worker(url, host, ms, seed, &ids);
    }
    let storage = privdata_host::store::open(url)?;
    let data = PrivateData::new(storage.clone(), host, DataLimits::default());
    // In one transaction, as an import: 64 services writing 500 entities
    // one by one would measure the setup, not the mix.
    let entries: Vec<Entry> = ids
        .iter()
        .flat_map(|id| {
            share_keys(id).into_iter().map(|(key, value)| Entry {
                host: host.into(),
                entity: id.clone(),
                key,
                value,
            })
        })
        .collect();
    storage.put(&entries, &|_| DataLimits::default().quota)?;
    mix(&data, &ids, ms, seed)?;
    storage.delete_entities(host, &ids)?;
    Ok(())
}

/// The private-data calls of the mix, as a service makes them.
trait Calls {
    /// Get an entity's keys (all of them: `None`).
    fn get(&self, id: &str, keys: Option<&[String]>) -> privdata_host::Result<()>;
    /// Set `pairs`, the entity's only keys after it with `replace`.
    fn update(&self, id: &str, pairs: &[(String, String)], replace: bool) -> privdata_host::Result<()>;
    /// Delete every key of the entity.
    fn delete(&self, id: &str) -> privdata_host::Result<()>;
}

impl Calls for PrivateData {
    fn get(&self, id: &str, keys: Option<&[String]>) -> privdata_host::Result<()> {
        PrivateData::get(self, id, keys).map(drop)
    }
    fn update(&self, id: &str, pairs: &[(String, String)], replace: bool) -> privdata_host::Result<()> {
        PrivateData::update(self, id, pairs, replace)
    }
    fn delete(&self, id: &str) -> privdata_host::Result<()> {
        PrivateData::delete(self, id, None)
    }
}

/// The floor on etcd: each call one bare request through the same client.
struct Bare<'a> {
    floor: &'a Floor,
    host: &'a str,
}

impl Calls for Bare<'_> {
    fn get(&self, id: &str, _: Option<&[String]>) -> privdata_host::Result<()> {
        self.floor.get(self.host, id).map(drop)
    }
    fn update(&self, id: &str, pairs: &[(String, String)], _: bool) -> privdata_host::Result<()> {
        let entries: Vec<_> = pairs.iter().map(|(k, v)| (id, k.as_str(), v.as_str())).collect();
        self.floor.put(self.host, &entries)
    }
    fn delete(&self, id: &str) -> privdata_host::Result<()> {
        self.floor.delete(self.host, Some(id))
    }
}

/// The floor's service on the etcd cluster `url`.
fn floor_worker(url: &str, host: &str, ms: u64, seed: u64, ids: &[String]) -> Result<()> {
    let Ok(privdata_host::store::StorageUrl::Etcd(url)) = privdata_host::store::StorageUrl::parse(url) else {
        bail!("the floor is measured on etcd only");
    };
    let floor = Floor::open(&url)?;
    let keys: Vec<(String, Vec<(String, String)>)> =
        ids.iter().map(|id| (id.clone(), share_keys(id))).collect();
    let entries: Vec<(&str, &str, &str)> = keys
        .iter()
        .flat_map(|(id, pairs)| {
            pairs
                .iter()
                .map(move |(k, v)| (id.as_str(), k.as_str(), v.as_str()))
        })
        .collect();
    floor.put(host, &entries)?;
    mix(&Bare { floor: &floor, host }, ids, ms, seed)?;
    floor.delete(host, None)?;
    Ok(())
}

/// Signal ready, wait for `go`, run the mix on `ids` for `ms`, and print
/// the report.
fn mix(data: &dyn Calls, ids: &[String], ms: u64, seed: u64) -> Result<()> {
    println!("ready");
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;

    let keys = |names: &[&str]| -> Vec<String> { names.iter().map(|k| k.to_string()).collect() };
    let (one, two) = (keys(&["volume_id"]), keys(&["volume_id", "export"]));
    let mut rng = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let (mut calls, mut errors) = (0u64, 0u64);
    let mut histogram = Histogram::default();
    let mut timed = |call: &mut dyn FnMut() -> privdata_host::Result<()>| {
        let start = Instant::now();
        let ok = call().is_ok();
        histogram.add(start.elapsed().as_nanos() as f64);
        calls += 1;
        errors += u64::from(!ok);
    };
    let start = Instant::now();
    let run = Duration::from_millis(ms);
    while start.elapsed() < run {
        let id = &ids[next() as usize % ids.len()];
        match next() % 100 {
            0..60 => timed(&mut || data.get(id, None)),
            60..75 => {
                timed(&mut || data.get(id, Some(&two)));
                timed(&mut || data.get(id, Some(&one)));
            }
            75..90 => {
                timed(&mut || data.get(id, Some(&one)));
                let size = [("size_gib".to_string(), (next() % 1000).to_string())];
                timed(&mut || data.update(id, &size, false));
            }
            _ => {
                timed(&mut || data.delete(id));
                timed(&mut || data.update(id, &share_keys(id), true));
                timed(&mut || data.get(id, Some(&one)));
            }
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    println!(
        "{}",
        json!({"calls": calls, "errors": errors, "seconds": seconds, "histogram": histogram.to_json()})
    );
    std::io::stdout().flush()?;
    Ok(())
}

/// What a driver keeps about a share.
fn share_keys(id: &str) -> Vec<(String, String)> {
    vec![
        ("volume_id".into(), format!("vol-{}", &id[24..])),
        ("export".into(), format!("10.0.0.10:/volumes/vol-{}", &id[24..])),
        ("size_gib".into(), "10".into()),
    ]
}

/// Latencies in buckets 1/16 of an octave wide (about 4%).
#[derive(Debug, Default)]
struct Histogram(BTreeMap<u32, u64>);

impl Histogram {
    fn add(&mut self, ns: f64) {
        *self.0.entry((ns.max(1.0).log2() * 16.0) as u32).or_default() += 1;
    }

    fn to_json(&self) -> Value {
        Value::Object(self.0.iter().map(|(b, n)| (b.to_string(), json!(n))).collect())
    }

    fn merge(&mut self, json: &Value) {
        for (bucket, n) in json.as_object().into_iter().flatten() {
            if let (Ok(b), Some(n)) = (bucket.parse(), n.as_u64()) {
                *self.0.entry(b).or_default() += n;
            }
        }
    }

    /// The latency (ns) below which `q` of the calls fall: a bucket's middle.
    fn quantile(&self, q: f64) -> f64 {
        let total: u64 = self.0.values().sum();
        let mut seen = 0;
        for (bucket, n) in &self.0 {
            seen += n;
            if seen as f64 >= q * total as f64 {
                return 2f64.powf((*bucket as f64 + 0.5) / 16.0);
            }
        }
        0.0
    }
}

/// The load table.
pub(crate) fn table(load: &Value) -> String {
    let mut s = format!(
        "\n{:<22}{:>9}{:>12}{:>10}{:>10}{:>8}\n",
        "load: store", "services", "calls/s", "p50 µs", "p99 µs", "errors"
    );
    for (label, rows) in load.as_object().into_iter().flatten() {
        for row in rows.as_array().into_iter().flatten() {
            let f = |k: &str| row[k].to_string();
            s.push_str(&format!(
                "{:<22}{:>9}{:>12}{:>10}{:>10}{:>8}\n",
                label,
                f("services"),
                f("calls_per_s"),
                f("p50_us"),
                f("p99_us"),
                f("errors")
            ));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_come_from_the_merged_buckets() {
        let mut a = Histogram::default();
        for _ in 0..98 {
            a.add(10_000.0);
        }
        let mut b = Histogram::default();
        b.add(10_000.0);
        b.add(1_000_000.0);
        a.merge(&b.to_json());
        assert!((a.quantile(0.5) / 10_000.0 - 1.0).abs() < 0.05);
        assert!((a.quantile(0.99) / 10_000.0 - 1.0).abs() < 0.05);
        assert!((a.quantile(1.0) / 1_000_000.0 - 1.0).abs() < 0.05);
    }
}
