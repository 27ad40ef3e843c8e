//! The host's metrics after scripted lifecycles, read back from their
//! Prometheus text and checked count by count: operations by outcome (a
//! trap, a timeout, a driver error), private-data calls, a store failure,
//! network requests, bytes and refusals, instances rebuilt, usage against
//! the quota.

use conformance::fake_nas::FakeNas;
use conformance::*;
use privdata_host::{NetworkLimits, SandboxLimits};
use std::collections::BTreeMap;
use std::time::Duration;

/// The samples of an exposition by `name{labels}`, after checking that
/// every line is a comment or a sample of a family declared before it.
fn samples(text: &str) -> BTreeMap<String, f64> {
    let mut families = Vec::new();
    let mut out = BTreeMap::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap();
            assert!(["counter", "gauge", "histogram"].contains(&kind), "{line}");
            assert!(!families.contains(&name.to_string()), "{name} declared twice");
            families.push(name.to_string());
            continue;
        }
        if line.starts_with("# HELP ") {
            continue;
        }
        let (key, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("not a sample: {line}"));
        let name = key.split('{').next().unwrap();
        let family = families
            .last()
            .unwrap_or_else(|| panic!("{line} before any family"));
        assert!(
            name == family
                || name
                    .strip_prefix(family.as_str())
                    .is_some_and(|s| ["_bucket", "_sum", "_count"].contains(&s)),
            "{name} is not of {family}"
        );
        let value: f64 = value.parse().unwrap_or_else(|_| panic!("bad value: {line}"));
        assert!(out.insert(key.to_string(), value).is_none(), "{key} twice");
    }
    out
}

fn get(samples: &BTreeMap<String, f64>, key: &str) -> f64 {
    *samples.get(key).unwrap_or_else(|| {
        panic!(
            "no sample {key} in:\n{}",
            samples.keys().cloned().collect::<Vec<_>>().join("\n")
        )
    })
}

fn create(b: &privdata_host::Backend, id: &str, name: &str) -> Result<(), privdata_host::Error> {
    let mut s = share(id);
    s.name = name.to_string();
    b.create_share(&s).map(drop)
}

const SEP: char = '\u{1f}';

#[test]
fn a_lifecycle_with_a_trap_a_timeout_and_a_refused_endpoint_is_counted_exactly() {
    let listed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let unlisted = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let (listed, unlisted) = (listed.local_addr().unwrap(), unlisted.local_addr().unwrap());
    let mut spec = BackendSpec::new("h", drivers::HOSTILE)
        .option("mode", "per-share")
        .network(
            &[&format!("tcp://{listed}")],
            None,
            NetworkLimits {
                max_bytes: 10_000,
                ..NetworkLimits::default()
            },
        );
    spec.sandbox_limits = SandboxLimits {
        timeout: Duration::from_secs(1),
        ..SandboxLimits::default()
    };
    let f = Fixture::new([spec]);
    let h = f.backend("h");

    // Private data: two updates (three entries), a get, a refused key, a
    // store failure, a list, a delete.
    create(
        h,
        ID1,
        &format!("probe:update{SEP}{ID1}{SEP}volume_id{SEP}v{SEP}b{SEP}22"),
    )
    .unwrap();
    create(h, ID1, &format!("probe:update{SEP}{ID2}{SEP}c{SEP}333")).unwrap();
    create(h, ID1, &format!("probe:get{SEP}{ID1}{SEP}volume_id")).unwrap();
    let refused = create(h, ID1, &format!("probe:get{SEP}{ID1}{SEP}")).unwrap_err();
    assert!(refused.to_string().contains("private data"), "{refused}");
    let failed = match f.dir.kind() {
        StoreKind::Etcd => 0,
        _ => {
            f.fail_on_boom();
            create(h, ID1, &format!("probe:update{SEP}{ID1}{SEP}x{SEP}boom")).unwrap_err();
            1
        }
    };
    create(h, ID1, &format!("probe:list{SEP}{SEP}10")).unwrap();
    create(h, ID1, &format!("probe:delete{SEP}{ID1}{SEP}b")).unwrap();
    // A trap, then a timeout: each instance is discarded, and the next
    // operation gets a new one.
    assert!(matches!(
        create(h, ID1, "panic:"),
        Err(privdata_host::Error::DriverTrap { .. })
    ));
    assert!(matches!(
        create(h, ID1, "loop:"),
        Err(privdata_host::Error::DriverTrap { .. })
    ));
    // Two host limits: resources (header fields without end), and network
    // bytes (4 KiB written three times, past 10,000 bytes).
    assert!(matches!(
        create(h, ID1, "table:"),
        Err(privdata_host::Error::DriverTrap { .. })
    ));
    let over = create(h, ID1, &format!("script:{listed} - cwww")).unwrap_err();
    assert!(over.to_string().contains("max_network_bytes"), "{over}");
    // Raw TCP: twice to the listed endpoint, twice refused elsewhere.
    create(h, ID1, &format!("reach:{listed}")).unwrap();
    create(h, ID1, &format!("reach:{unlisted}")).unwrap();
    h.ensure_share(&share(ID1)).unwrap();

    let m = samples(&privdata_host::runtime::exposition(&[h]));
    let op = |operation: &str, outcome: &str| {
        get(
            &m,
            &format!(
                "privdata_operations_total{{backend=\"h\",operation=\"{operation}\",outcome=\"{outcome}\"}}"
            ),
        )
    };
    assert_eq!(op("create-share", "ok"), 7.0);
    // The refused key is the driver's private-data error; the store's
    // failure too.
    assert_eq!(op("create-share", "private_data"), 1.0 + failed as f64);
    assert_eq!(op("create-share", "trap"), 1.0);
    assert_eq!(op("create-share", "timeout"), 1.0);
    assert_eq!(op("ensure-shares", "ok"), 1.0);
    assert_eq!(op("create-share", "limit"), 2.0);
    assert_eq!(op("setup", "ok"), 5.0, "the first instance and four rebuilt");
    let ops_total: f64 = m
        .iter()
        .filter(|(k, _)| k.starts_with("privdata_operations_total{"))
        .map(|(_, v)| v)
        .sum();
    assert_eq!(
        ops_total,
        7.0 + 1.0 + failed as f64 + 4.0 + 1.0 + 5.0,
        "no other outcome counted"
    );
    let count = get(
        &m,
        "privdata_operation_duration_seconds_count{backend=\"h\",operation=\"create-share\"}",
    );
    assert_eq!(count, 12.0 + failed as f64);
    // The timeout took its whole second; nothing else took half of one.
    let under_half = get(
        &m,
        "privdata_operation_duration_seconds_bucket{backend=\"h\",operation=\"create-share\",le=\"0.5\"}",
    );
    assert_eq!(under_half, count - 1.0);

    let call = |call: &str, outcome: &str| {
        get(
            &m,
            &format!(
                "privdata_private_data_calls_total{{backend=\"h\",call=\"{call}\",outcome=\"{outcome}\"}}"
            ),
        )
    };
    assert_eq!(call("details-update", "ok"), 2.0);
    assert_eq!(call("details-get", "ok"), 2.0, "the probe's get and ensure's");
    assert_eq!(call("details-get", "invalid"), 1.0);
    assert_eq!(call("entities-list", "ok"), 1.0);
    assert_eq!(call("details-delete", "ok"), 1.0);
    if failed == 1 {
        assert_eq!(call("details-update", "failed"), 1.0);
    }
    assert_eq!(
        get(&m, "privdata_store_errors_total{backend=\"h\",kind=\"failed\"}"),
        failed as f64
    );
    assert_eq!(
        get(
            &m,
            "privdata_store_errors_total{backend=\"h\",kind=\"unavailable\"}"
        ),
        0.0
    );
    assert_eq!(
        get(
            &m,
            "privdata_private_data_duration_seconds_count{backend=\"h\",call=\"details-get\"}"
        ),
        3.0
    );

    let listed_key = format!("backend=\"h\",endpoint=\"tcp://{listed}\"");
    let unlisted_key = format!("backend=\"h\",endpoint=\"tcp://{unlisted}\"");
    assert_eq!(
        get(&m, &format!("privdata_network_requests_total{{{listed_key}}}")),
        3.0
    );
    assert_eq!(
        get(&m, &format!("privdata_network_requests_total{{{unlisted_key}}}")),
        0.0
    );
    assert_eq!(
        get(
            &m,
            &format!("privdata_network_refusals_total{{{unlisted_key},reason=\"not_listed\"}}")
        ),
        2.0
    );
    // What went out before the limit; the write past it never did.
    assert_eq!(
        get(
            &m,
            &format!("privdata_network_bytes_total{{{listed_key},direction=\"sent\"}}")
        ),
        8192.0
    );
    assert_eq!(
        get(
            &m,
            "privdata_network_refusals_total{backend=\"h\",endpoint=\"\",reason=\"max_network_bytes\"}"
        ),
        1.0
    );
    assert_eq!(
        m.keys()
            .filter(|k| k.starts_with("privdata_network_refusals_total"))
            .count(),
        2
    );

    assert_eq!(get(&m, "privdata_instances_built_total{backend=\"h\"}"), 5.0);
    assert_eq!(get(&m, "privdata_instances_rebuilt_total{backend=\"h\"}"), 4.0);
    assert_eq!(get(&m, "privdata_instances_live{backend=\"h\"}"), 1.0);

    // ID1 keeps volume_id, ID2 c: 2 entries, "volume_idv" and "c333".
    let host = h.host();
    assert_eq!(
        get(
            &m,
            &format!("privdata_usage_entries{{backend=\"h\",host=\"{host}\"}}")
        ),
        2.0
    );
    assert_eq!(
        get(
            &m,
            &format!("privdata_usage_bytes{{backend=\"h\",host=\"{host}\"}}")
        ),
        14.0
    );
    assert_eq!(
        get(
            &m,
            &format!("privdata_quota_entries{{backend=\"h\",host=\"{host}\"}}")
        ),
        1_000_000.0
    );
}

#[test]
fn http_requests_and_bytes_are_counted_per_endpoint_and_refusals_by_reason() {
    let nas = FakeNas::http().unwrap();
    let aimed = BackendSpec::rest("rest", drivers::REST, &nas);
    let misaimed = BackendSpec::new("misaimed", drivers::REST)
        .option("api_url", "http://127.0.0.1:9/api")
        .option("api_token", fake_nas::TOKEN)
        .network(&[&nas.url()], None, NetworkLimits::default());
    let f = Fixture::new([aimed, misaimed]);
    let rest = f.backend("rest");
    rest.create_share(&share(ID1)).unwrap();
    rest.extend_share(&share(ID1), 7).unwrap();
    rest.get_stats().unwrap();
    rest.delete_share(&share(ID1)).unwrap();
    let refused = f.backend("misaimed").create_share(&share(ID2)).unwrap_err();
    assert!(refused.to_string().contains("not an endpoint"), "{refused}");

    let both = [f.backend("rest"), f.backend("misaimed")];
    let m = samples(&privdata_host::runtime::exposition(&both));
    let endpoint = format!(
        "backend=\"rest\",endpoint=\"{}\"",
        nas.url().trim_end_matches('/')
    );
    assert_eq!(
        get(&m, &format!("privdata_network_requests_total{{{endpoint}}}")),
        nas.received() as f64,
        "every request the array received, and no other"
    );
    assert!(nas.received() >= 4);
    let sent = get(
        &m,
        &format!("privdata_network_bytes_total{{{endpoint},direction=\"sent\"}}"),
    );
    let received = get(
        &m,
        &format!("privdata_network_bytes_total{{{endpoint},direction=\"received\"}}"),
    );
    assert!(
        sent > 100.0 * nas.received() as f64 && received > 0.0,
        "{sent} {received}"
    );
    assert_eq!(
        get(
            &m,
            "privdata_network_refusals_total{backend=\"misaimed\",endpoint=\"http://127.0.0.1:9\",reason=\"not_listed\"}"
        ),
        1.0
    );
    assert_eq!(
        get(
            &m,
            "privdata_operations_total{backend=\"misaimed\",operation=\"create-share\",outcome=\"backend\"}"
        ),
        1.0
    );
    for op in ["create-share", "extend-share", "get-stats", "delete-share"] {
        assert_eq!(
            get(
                &m,
                &format!("privdata_operations_total{{backend=\"rest\",operation=\"{op}\",outcome=\"ok\"}}")
            ),
            1.0,
            "{op}"
        );
    }
}

#[test]
fn metrics_that_are_off_leave_the_backend_out() {
    let f = Fixture::new([BackendSpec::new("g", drivers::GENERIC)]);
    let g = f.backend("g");
    let sandbox = privdata_host::Sandbox {
        backend: "quiet".into(),
        private_data: g.private_data().clone(),
        root: f.root("g"),
        options: Vec::new(),
        manila_conf: Vec::new(),
        limits: Default::default(),
        network: Default::default(),
        metrics: privdata_host::Metrics::off(),
    };
    let driver = privdata_host::Runtime::new()
        .unwrap()
        .with_cache_dir(driver_cache())
        .load(std::path::Path::new(drivers::GENERIC))
        .unwrap();
    let quiet = privdata_host::Backend::new(driver, sandbox);
    quiet.create_share(&share(ID1)).unwrap();
    g.create_share(&share(ID2)).unwrap();
    let text = privdata_host::runtime::exposition(&[&quiet, g]);
    assert!(!text.contains("quiet"), "{text}");
    assert!(
        text.contains(
            "privdata_operations_total{backend=\"g\",operation=\"create-share\",outcome=\"ok\"} 1\n"
        ),
        "{text}"
    );
}
