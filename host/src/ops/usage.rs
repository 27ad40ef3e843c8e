//! What a store holds per host, against each configured backend's quota,
//! in Prometheus' text format: `privdata metrics`. (What drivers do is
//! counted in the process that runs them: [`crate::runtime::exposition`].)

use crate::config::Config;
use crate::error::Result;
use privdata_runtime::Exposition;
use privdata_store::Admin;

/// The store's usage per host (entities, entries, bytes), and the quota of
/// each backend of `config` with the host it is bound to.
pub fn exposition(storage: &dyn Admin, config: &Config) -> Result<String> {
    let hosts = storage.hosts()?;
    let mut usage = Vec::with_capacity(hosts.len());
    for h in &hosts {
        usage.push((h, storage.usage(&h.host)?));
    }
    let mut out = Exposition::new();
    out.family(
        "privdata_store_entities",
        "gauge",
        "Entities a host holds private data for.",
    );
    for (h, _) in &usage {
        out.sample("privdata_store_entities", &[("host", &h.host)], h.entities);
    }
    out.family(
        "privdata_usage_entries",
        "gauge",
        "Key/value pairs a host holds, as its quota counts them.",
    );
    for (h, (entries, _)) in &usage {
        out.sample("privdata_usage_entries", &[("host", &h.host)], entries);
    }
    out.family(
        "privdata_usage_bytes",
        "gauge",
        "Bytes of keys and values a host holds, as its quota counts them.",
    );
    for (h, (_, bytes)) in &usage {
        out.sample("privdata_usage_bytes", &[("host", &h.host)], bytes);
    }
    let quotas = [
        (
            "privdata_quota_entries",
            "The quota of key/value pairs of a backend's host.",
        ),
        ("privdata_quota_bytes", "The quota of bytes of a backend's host."),
    ];
    for (i, (name, help)) in quotas.into_iter().enumerate() {
        out.family(name, "gauge", help);
        for (backend, b) in &config.backends {
            let quota = b.data_limits.quota;
            let value = if i == 0 {
                quota.max_entries
            } else {
                quota.max_bytes
            };
            out.sample(name, &[("backend", backend), ("host", &b.host)], value);
        }
    }
    Ok(out.finish())
}
