//! The metrics in Prometheus' text exposition format (version 0.0.4): what
//! `manila-share` writes for node_exporter's textfile collector, and what
//! `privdata metrics` prints. Every family is written once, with the
//! samples of every backend under it.

use super::{BUCKETS, Counters, DATA_CALLS, DATA_OUTCOMES, Histogram, lock};
use crate::Backend;
use std::fmt::Write as _;
use std::sync::atomic::Ordering::Relaxed;

/// A text exposition being written: families, each with its samples.
#[derive(Debug, Default)]
pub struct Exposition {
    text: String,
}

impl Exposition {
    /// An empty one.
    pub fn new() -> Self {
        Exposition::default()
    }

    /// Start the family `name`: `kind` is `counter`, `gauge` or
    /// `histogram`; `help` says what it counts.
    pub fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.text, "# HELP {name} {help}");
        let _ = writeln!(self.text, "# TYPE {name} {kind}");
    }

    /// One sample of the family begun last.
    pub fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: impl std::fmt::Display) {
        self.text.push_str(name);
        if !labels.is_empty() {
            self.text.push('{');
            for (i, (label, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.text.push(',');
                }
                let _ = write!(self.text, "{label}=\"{}\"", escape(v));
            }
            self.text.push('}');
        }
        let _ = writeln!(self.text, " {value}");
    }

    fn histogram(&mut self, name: &str, labels: &[(&str, &str)], h: &Histogram) {
        let mut cumulative = 0;
        let bucket = format!("{name}_bucket");
        for (i, count) in h.counts.iter().enumerate() {
            cumulative += count.load(Relaxed);
            let le = BUCKETS.get(i).map_or("+Inf".to_string(), |b| b.to_string());
            let mut with_le: Vec<(&str, &str)> = labels.to_vec();
            with_le.push(("le", &le));
            self.sample(&bucket, &with_le, cumulative);
        }
        let sum = h.sum_nanos.load(Relaxed) as f64 / 1e9;
        self.sample(&format!("{name}_sum"), labels, sum);
        self.sample(&format!("{name}_count"), labels, cumulative);
    }

    /// The text.
    pub fn finish(self) -> String {
        self.text
    }
}

/// A label value with `\`, `"` and newlines escaped.
fn escape(value: &str) -> std::borrow::Cow<'_, str> {
    if value.contains(['\\', '"', '\n']) {
        value
            .replace('\\', "\\\\")
            .replace('"', "\\\"")
            .replace('\n', "\\n")
            .into()
    } else {
        value.into()
    }
}

/// The metrics of `backends` (those whose metrics are on), with each one's
/// instances and its host's usage against its quota (read from the store
/// now: a failure to read it is counted as a store error, and its usage
/// left out).
pub fn exposition(backends: &[&Backend]) -> String {
    let counted: Vec<(&Backend, &Counters)> = backends
        .iter()
        .filter_map(|b| b.metrics().0.as_deref().map(|c| (*b, c)))
        .collect();
    let mut out = Exposition::new();

    out.family(
        "privdata_operations_total",
        "counter",
        "Driver operations by outcome: ok, the driver's error kind (not_found, invalid, backend, \
         private_data, unsupported), trap, timeout, or limit (a host limit stopped it).",
    );
    each(&mut out, &counted, |out, backend, c| {
        for (operation, op) in lock(&c.operations).iter() {
            for (outcome, n) in &op.outcomes {
                let labels = [
                    ("backend", backend),
                    ("operation", operation),
                    ("outcome", outcome),
                ];
                out.sample("privdata_operations_total", &labels, n);
            }
        }
    });
    out.family(
        "privdata_operation_duration_seconds",
        "histogram",
        "Wall time of driver operations, waits on the array and private-data calls included.",
    );
    each(&mut out, &counted, |out, backend, c| {
        for (operation, op) in lock(&c.operations).iter() {
            let labels = [("backend", backend), ("operation", operation)];
            out.histogram("privdata_operation_duration_seconds", &labels, &op.latency);
        }
    });
    out.family(
        "privdata_private_data_calls_total",
        "counter",
        "Private-data calls drivers made, by outcome: ok, invalid, quota_exceeded, unavailable \
         (the store was busy or unreachable), failed (the store failed).",
    );
    each(&mut out, &counted, |out, backend, c| {
        for (call, name) in DATA_CALLS {
            let counters = &c.private_data[call as usize];
            for (i, outcome) in DATA_OUTCOMES.iter().enumerate() {
                let n = counters.outcomes[i].load(Relaxed);
                if n > 0 {
                    let labels = [("backend", backend), ("call", name), ("outcome", outcome)];
                    out.sample("privdata_private_data_calls_total", &labels, n);
                }
            }
        }
    });
    out.family(
        "privdata_private_data_duration_seconds",
        "histogram",
        "Latency of drivers' private-data calls, as the host serves them.",
    );
    each(&mut out, &counted, |out, backend, c| {
        for (call, name) in DATA_CALLS {
            let h = &c.private_data[call as usize].latency;
            if h.counts.iter().any(|n| n.load(Relaxed) > 0) {
                let labels = [("backend", backend), ("call", name)];
                out.histogram("privdata_private_data_duration_seconds", &labels, h);
            }
        }
    });
    out.family(
        "privdata_store_errors_total",
        "counter",
        "Store failures: unavailable (busy or unreachable, retried by the caller) or failed.",
    );
    each(&mut out, &counted, |out, backend, c| {
        for (i, kind) in ["unavailable", "failed"].iter().enumerate() {
            let labels = [("backend", backend), ("kind", kind)];
            out.sample(
                "privdata_store_errors_total",
                &labels,
                c.store_errors[i].load(Relaxed),
            );
        }
    });
    network(&mut out, &counted);
    let instances = [
        (
            "privdata_instances_built_total",
            "Driver instances made and set up since the backend was loaded.",
        ),
        (
            "privdata_instances_rebuilt_total",
            "Driver instances made to replace one discarded after a trap or timeout.",
        ),
    ];
    for (i, (name, help)) in instances.into_iter().enumerate() {
        out.family(name, "counter", help);
        each(&mut out, &counted, |out, backend, c| {
            let n = if i == 0 { &c.built } else { &c.rebuilt };
            out.sample(name, &[("backend", backend)], n.load(Relaxed))
        });
    }
    out.family("privdata_instances_live", "gauge", "Driver instances alive now.");
    for (b, _) in &counted {
        out.sample(
            "privdata_instances_live",
            &[("backend", b.name())],
            b.instances().live,
        );
    }
    usage(&mut out, &counted);
    out.finish()
}

/// `f` of each backend's name and counters.
fn each(
    out: &mut Exposition,
    counted: &[(&Backend, &Counters)],
    mut f: impl FnMut(&mut Exposition, &str, &Counters),
) {
    for (b, c) in counted {
        f(out, b.name(), c);
    }
}

fn network(out: &mut Exposition, counted: &[(&Backend, &Counters)]) {
    let families = [
        (
            "privdata_network_requests_total",
            "HTTP requests and TCP connections drivers made to endpoints on their allow-list.",
        ),
        (
            "privdata_network_bytes_total",
            "Bytes on the wire (TLS included) to and from each endpoint, by direction.",
        ),
        (
            "privdata_network_refusals_total",
            "Network use the host refused, by reason: not_listed, max_connections, \
             max_network_bytes (endpoint empty: the operation's whole traffic), timeout.",
        ),
    ];
    for (i, (family, help)) in families.into_iter().enumerate() {
        out.family(family, "counter", help);
        for (b, c) in counted {
            for (endpoint, e) in lock(&c.endpoints).iter() {
                let labels = [("backend", b.name()), ("endpoint", endpoint.as_str())];
                let t = &e.traffic;
                match i {
                    0 => out.sample(family, &labels, t.requests.load(Relaxed)),
                    1 => {
                        for (direction, n) in [("sent", &t.sent), ("received", &t.received)] {
                            let labels = [labels[0], labels[1], ("direction", direction)];
                            out.sample(family, &labels, n.load(Relaxed));
                        }
                    }
                    _ => {
                        for (reason, n) in &e.refusals {
                            out.sample(family, &[labels[0], labels[1], ("reason", reason)], n);
                        }
                    }
                }
            }
        }
    }
}

fn usage(out: &mut Exposition, counted: &[(&Backend, &Counters)]) {
    let read: Vec<_> = counted
        .iter()
        .filter_map(|(b, _)| match b.private_data().usage() {
            Ok(usage) => Some((b, usage)),
            Err(e) => {
                tracing::warn!(backend = b.name(), error = %e, "cannot read the host's usage for metrics");
                b.metrics()
                    .store_error(matches!(e, crate::error::Error::StorageUnavailable(_)));
                None
            }
        })
        .collect();
    let gauges = [
        (
            "privdata_usage_entries",
            "Key/value pairs the backend's host holds.",
        ),
        (
            "privdata_usage_bytes",
            "Bytes of keys and values the backend's host holds.",
        ),
        ("privdata_quota_entries", "The host's quota of key/value pairs."),
        ("privdata_quota_bytes", "The host's quota of bytes."),
    ];
    for (i, (name, help)) in gauges.into_iter().enumerate() {
        out.family(name, "gauge", help);
        for (b, ((entries, bytes), quota)) in &read {
            let value = [*entries, *bytes, quota.max_entries, quota.max_bytes][i];
            out.sample(name, &[("backend", b.name()), ("host", b.host())], value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        let mut out = Exposition::new();
        out.family("x", "gauge", "an example");
        out.sample("x", &[("backend", "a\"b\\c\nd")], 1);
        assert_eq!(
            out.finish(),
            "# HELP x an example\n# TYPE x gauge\nx{backend=\"a\\\"b\\\\c\\nd\"} 1\n"
        );
    }

    #[test]
    fn histograms_are_cumulative_and_end_at_inf() {
        let h = Histogram::default();
        h.observe(std::time::Duration::from_millis(3));
        h.observe(std::time::Duration::from_secs(60));
        let mut out = Exposition::new();
        out.histogram("t", &[("backend", "b")], &h);
        let text = out.finish();
        assert!(
            text.contains("t_bucket{backend=\"b\",le=\"0.0025\"} 0\n"),
            "{text}"
        );
        assert!(
            text.contains("t_bucket{backend=\"b\",le=\"0.005\"} 1\n"),
            "{text}"
        );
        assert!(text.contains("t_bucket{backend=\"b\",le=\"30\"} 1\n"), "{text}");
        assert!(text.contains("t_bucket{backend=\"b\",le=\"+Inf\"} 2\n"), "{text}");
        assert!(text.contains("t_sum{backend=\"b\"} 60.003\n"), "{text}");
        assert!(text.contains("t_count{backend=\"b\"} 2\n"), "{text}");
    }
}
