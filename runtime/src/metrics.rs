//! What each backend's driver does, counted by the host as it happens:
//! operations by name and outcome with their latency, the private-data
//! calls the driver makes, its network traffic and refusals by endpoint, its
//! instances built and rebuilt, and the store's failures. Counting is a few
//! atomic additions (an operation, which takes milliseconds, also takes a
//! lock), cheap enough to leave on; [`Metrics::off`] counts nothing, for
//! measuring what counting costs. `exposition.rs` writes them out in
//! Prometheus' text format.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

pub(crate) mod exposition;

/// One backend's counters, shared by its instances. Cloning shares them.
#[derive(Debug, Clone)]
pub struct Metrics(Option<Arc<Counters>>);

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// Counters starting at zero.
    pub fn new() -> Self {
        Metrics(Some(Arc::default()))
    }

    /// Counters that count nothing (the exposition has no samples of them).
    pub fn off() -> Self {
        Metrics(None)
    }

    /// Whether anything is counted.
    pub fn is_on(&self) -> bool {
        self.0.is_some()
    }

    pub(crate) fn operation(&self, name: &'static str, outcome: Outcome, took: Duration) {
        if let Some(c) = &self.0 {
            let mut operations = lock(&c.operations);
            let op = operations.entry(name).or_default();
            *op.outcomes.entry(outcome.label()).or_default() += 1;
            op.latency.observe(took);
        }
    }

    pub(crate) fn private_data(&self, call: DataCall, outcome: DataOutcome, took: Duration) {
        if let Some(c) = &self.0 {
            let counters = &c.private_data[call as usize];
            counters.outcomes[outcome as usize].fetch_add(1, Relaxed);
            counters.latency.observe(took);
            match outcome {
                DataOutcome::Unavailable => c.store_errors[0].fetch_add(1, Relaxed),
                DataOutcome::Failed => c.store_errors[1].fetch_add(1, Relaxed),
                _ => 0,
            };
        }
    }

    /// A store failure outside a driver's call (reading the host's usage).
    pub(crate) fn store_error(&self, unavailable: bool) {
        if let Some(c) = &self.0 {
            c.store_errors[usize::from(!unavailable)].fetch_add(1, Relaxed);
        }
    }

    /// An instance was made and set up; `replacing` one discarded after a
    /// trap.
    pub(crate) fn instance_built(&self, replacing: bool) {
        if let Some(c) = &self.0 {
            c.built.fetch_add(1, Relaxed);
            if replacing {
                c.rebuilt.fetch_add(1, Relaxed);
            }
        }
    }

    /// A request or connection to `endpoint`, which the backend may reach:
    /// the counters its bytes go to.
    pub(crate) fn request(&self, endpoint: &str) -> Option<Arc<Traffic>> {
        let c = self.0.as_ref()?;
        let traffic = c.traffic(endpoint);
        traffic.requests.fetch_add(1, Relaxed);
        Some(traffic)
    }

    /// The counters of `endpoint`'s bytes, without counting a request (a
    /// TCP connection's were counted when its address was allowed).
    pub(crate) fn traffic(&self, endpoint: &str) -> Option<Arc<Traffic>> {
        Some(self.0.as_ref()?.traffic(endpoint))
    }

    /// The host refused the driver's use of `endpoint` (`""` when the
    /// refusal is of the operation's whole traffic).
    pub(crate) fn refused(&self, endpoint: &str, reason: Refusal) {
        if let Some(c) = &self.0 {
            let mut endpoints = lock(&c.endpoints);
            let key = Counters::endpoint_key(&endpoints, endpoint);
            *endpoints
                .entry(key)
                .or_default()
                .refusals
                .entry(reason.label())
                .or_default() += 1;
        }
    }
}

/// How an operation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    Ok,
    /// The driver's own error, by kind (`not_found`, `invalid`, ...).
    Driver(&'static str),
    /// The driver trapped (panicked, aborted, ran out of memory).
    Trap,
    /// The operation ran past its time limit.
    Timeout,
    /// A limit of the host's stopped it (resources, network bytes).
    Limit,
}

impl Outcome {
    fn label(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Driver(kind) => kind,
            Outcome::Trap => "trap",
            Outcome::Timeout => "timeout",
            Outcome::Limit => "limit",
        }
    }
}

/// The private-data calls, as the contract names them.
#[derive(Debug, Clone, Copy)]
pub(crate) enum DataCall {
    Get,
    Update,
    Delete,
    List,
}

const DATA_CALLS: [(DataCall, &str); 4] = [
    (DataCall::Get, "details-get"),
    (DataCall::Update, "details-update"),
    (DataCall::Delete, "details-delete"),
    (DataCall::List, "entities-list"),
];

/// How a private-data call ended.
#[derive(Debug, Clone, Copy)]
pub(crate) enum DataOutcome {
    Ok,
    /// Refused as the driver's mistake: a bad id or key, a value too long.
    Invalid,
    QuotaExceeded,
    /// The store was busy or unreachable.
    Unavailable,
    /// The store failed otherwise.
    Failed,
}

const DATA_OUTCOMES: [&str; 5] = ["ok", "invalid", "quota_exceeded", "unavailable", "failed"];

/// Why the host refused a driver's network use.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Refusal {
    /// Not on the backend's allow-list.
    NotListed,
    /// Past `max_connections` in one operation.
    MaxConnections,
    /// Past `max_network_bytes` in one operation.
    MaxNetworkBytes,
    /// The operation's time ran out while waiting on the network.
    Timeout,
}

impl Refusal {
    fn label(self) -> &'static str {
        match self {
            Refusal::NotListed => "not_listed",
            Refusal::MaxConnections => "max_connections",
            Refusal::MaxNetworkBytes => "max_network_bytes",
            Refusal::Timeout => "timeout",
        }
    }
}

/// Endpoints a backend's counters name at most; a driver trying more is
/// counted under `other` (a hostile driver cannot grow the host's memory or
/// the exposition without bound).
const MAX_ENDPOINTS: usize = 64;

/// The bytes and requests of one endpoint, counted where they pass.
#[derive(Debug, Default)]
pub(crate) struct Traffic {
    requests: AtomicU64,
    sent: AtomicU64,
    received: AtomicU64,
}

impl Traffic {
    pub(crate) fn sent(&self, n: usize) {
        self.sent.fetch_add(n as u64, Relaxed);
    }

    pub(crate) fn received(&self, n: usize) {
        self.received.fetch_add(n as u64, Relaxed);
    }
}

#[derive(Debug, Default)]
struct Counters {
    operations: Mutex<BTreeMap<&'static str, Operation>>,
    private_data: [DataCounters; 4],
    /// Unavailable, failed.
    store_errors: [AtomicU64; 2],
    endpoints: Mutex<BTreeMap<String, Endpoint>>,
    built: AtomicU64,
    rebuilt: AtomicU64,
}

impl Counters {
    fn traffic(&self, endpoint: &str) -> Arc<Traffic> {
        let mut endpoints = lock(&self.endpoints);
        let key = Counters::endpoint_key(&endpoints, endpoint);
        Arc::clone(&endpoints.entry(key).or_default().traffic)
    }

    fn endpoint_key(endpoints: &BTreeMap<String, Endpoint>, endpoint: &str) -> String {
        if endpoints.contains_key(endpoint) || endpoints.len() < MAX_ENDPOINTS {
            endpoint.to_string()
        } else {
            "other".to_string()
        }
    }
}

#[derive(Debug, Default)]
struct Operation {
    outcomes: BTreeMap<&'static str, u64>,
    latency: Histogram,
}

#[derive(Debug, Default)]
struct DataCounters {
    outcomes: [AtomicU64; 5],
    latency: Histogram,
}

#[derive(Debug, Default)]
struct Endpoint {
    traffic: Arc<Traffic>,
    refusals: BTreeMap<&'static str, u64>,
}

/// Upper bounds of the latency buckets, in seconds: from a private-data
/// call on SQLite (tens of microseconds) to an operation at its time limit.
const BUCKETS: [f64; 18] = [
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0, 30.0,
];

/// A latency histogram: a count per bucket (not cumulative; the exposition
/// adds them up), and the sum.
#[derive(Debug, Default)]
struct Histogram {
    /// One per bucket, and one past the last.
    counts: [AtomicU64; BUCKETS.len() + 1],
    sum_nanos: AtomicU64,
}

impl Histogram {
    fn observe(&self, took: Duration) {
        let seconds = took.as_secs_f64();
        let bucket = BUCKETS
            .iter()
            .position(|&b| seconds <= b)
            .unwrap_or(BUCKETS.len());
        self.counts[bucket].fetch_add(1, Relaxed);
        self.sum_nanos
            .fetch_add(u64::try_from(took.as_nanos()).unwrap_or(u64::MAX), Relaxed);
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latencies_fall_in_the_first_bucket_that_holds_them() {
        let h = Histogram::default();
        h.observe(Duration::from_micros(50));
        h.observe(Duration::from_micros(51));
        h.observe(Duration::from_secs(31));
        assert_eq!(h.counts[0].load(Relaxed), 1);
        assert_eq!(h.counts[1].load(Relaxed), 1);
        assert_eq!(h.counts[BUCKETS.len()].load(Relaxed), 1);
        assert_eq!(h.sum_nanos.load(Relaxed), 31_000_101_000);
    }

    #[test]
    fn endpoints_past_the_limit_are_counted_as_other() {
        let m = Metrics::new();
        for i in 0..MAX_ENDPOINTS + 5 {
            m.refused(&format!("https://10.0.0.{i}:443"), Refusal::NotListed);
        }
        m.refused("https://10.0.0.0:443", Refusal::NotListed);
        let endpoints = lock(&m.0.as_ref().unwrap().endpoints);
        assert_eq!(endpoints.len(), MAX_ENDPOINTS + 1);
        assert_eq!(endpoints["other"].refusals["not_listed"], 5);
        assert_eq!(endpoints["https://10.0.0.0:443"].refusals["not_listed"], 2);
    }

    #[test]
    fn metrics_that_are_off_count_nothing() {
        let m = Metrics::off();
        m.operation("create-share", Outcome::Ok, Duration::ZERO);
        assert!(m.request("https://a:1").is_none());
        assert!(!m.is_on());
    }
}
