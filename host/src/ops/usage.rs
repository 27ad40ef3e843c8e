//! What a store holds per host, against each configured backend's quota,
//! in Prometheus' text format: `privdata metrics`. (What drivers do is
//! counted in the process that runs them: [`crate::runtime::exposition`].)

use crate::config::Config;
use crate::error::Result;
use privdata_runtime::Exposition;
use privdata_store::{Admin, HostSummary, Quota};

/// The store's usage per host (entities, entries, bytes), and the quota of
/// each backend of `config` with the host it is bound to.
pub fn exposition(storage: &dyn Admin, config: &Config) -> Result<String> {
    let hosts = storage.hosts()?;
    let mut usage = Vec::with_capacity(hosts.len());
    for h in &hosts {
        usage.push((h, storage.usage(&h.host)?));
    }
    // Each family: its name, its help, and its value from what a host
    // holds (entities, and entries and bytes as its quota counts them).
    type HostValue = fn(&HostSummary, (u64, u64)) -> u64;
    type QuotaValue = fn(&Quota) -> u64;
    let held: [(&str, &str, HostValue); 3] = [
        (
            "privdata_store_entities",
            "Entities a host holds private data for.",
            |h, _| h.entities,
        ),
        (
            "privdata_usage_entries",
            "Key/value pairs a host holds, as its quota counts them.",
            |_, (entries, _)| entries,
        ),
        (
            "privdata_usage_bytes",
            "Bytes of keys and values a host holds, as its quota counts them.",
            |_, (_, bytes)| bytes,
        ),
    ];
    let quotas: [(&str, &str, QuotaValue); 2] = [
        (
            "privdata_quota_entries",
            "The quota of key/value pairs of a backend's host.",
            |q| q.max_entries,
        ),
        (
            "privdata_quota_bytes",
            "The quota of bytes of a backend's host.",
            |q| q.max_bytes,
        ),
    ];
    let mut out = Exposition::new();
    for (name, help, value) in held {
        out.family(name, "gauge", help);
        for (h, used) in &usage {
            out.sample(name, &[("host", &h.host)], value(h, *used));
        }
    }
    for (name, help, value) in quotas {
        out.family(name, "gauge", help);
        for (backend, b) in &config.backends {
            let quota = value(&b.data_limits.quota);
            out.sample(name, &[("backend", backend), ("host", &b.host)], quota);
        }
    }
    Ok(out.finish())
}
