//! The benchmark as its users run it, in its short mode: it must work, and
//! report every figure; how fast is for the benchmark itself to say.

use std::path::Path;
use std::process::{Command, Output};

fn bench(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_privdata-bench"))
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap()
}

fn ok(out: Output) -> String {
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        out.status.success(),
        "failed: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[test]
fn bench_quick_reports_every_path_and_figure_as_json() {
    quick(&[]);
}

#[test]
#[ignore = "needs MariaDB and PostgreSQL: .ci/servers start"]
fn bench_quick_reports_the_servers_rows_too() {
    let servers: Vec<(&str, String)> = [
        ("mysql", "PRIVDATA_TEST_MYSQL"),
        ("postgres", "PRIVDATA_TEST_POSTGRES"),
    ]
    .into_iter()
    .map(|(kind, var)| {
        let url = std::env::var(var).unwrap_or_else(|_| panic!("{var} is not set: .ci/servers start"));
        (kind, url)
    })
    .collect();
    quick(&servers);
}

/// The short mode, on SQLite and on `servers` (kind, URL).
fn quick(servers: &[(&str, String)]) {
    let dir = tempfile::tempdir().unwrap();
    let mut args = vec!["--quick", "--json"];
    for (_, url) in servers {
        args.extend(["--server", url.as_str()]);
    }
    let out = bench(dir.path(), &args);
    let stdout = ok(out);
    let r: serde_json::Value = serde_json::from_str(&stdout).expect("one JSON object on stdout");
    let tables = std::iter::once(&r["ops"]).chain(servers.iter().map(|(kind, _)| &r["servers"][kind]));
    for (table, op) in tables
        .flat_map(|t| ["get_one", "get_all", "update_one", "replace_five", "delete_one"].map(|op| (t, op)))
    {
        let o = &table[op];
        let (g, h, f) = (
            o["guest_ns"].as_f64().unwrap(),
            o["host_ns"].as_f64().unwrap(),
            o["floor_ns"].as_f64().unwrap(),
        );
        assert!(g > 0.0 && h > 0.0 && f > 0.0, "{op}: {o}");
        let ratio = o["guest_floor"].as_f64().unwrap();
        assert!(
            (ratio - g / f).abs() < 0.01,
            "{op}: guest_floor is guest/floor: {o}"
        );
    }
    assert!(r["instantiate_ns"].as_u64().unwrap() > 0);
    assert!(r["cold_start_ms"]["compile"].as_f64().unwrap() > 0.0);
    assert!(r["cold_start_ms"]["cached"].as_f64().unwrap() > 0.0);
    for d in ["generic", "short_names", "caching"] {
        assert!(r["cold_start_ms"]["per_driver"][d]["cached"].is_number(), "{d}");
    }
    assert_eq!(r["scale"]["entities_small"], 1000);
    assert!(r["scale"]["get_one_ratio"].as_f64().unwrap() > 0.0);
    assert!(r["durability"]["update_one_full_ns"].as_u64().unwrap() > 0);
    assert!(r["durability"]["update_one_normal_ns"].as_u64().unwrap() > 0);
    assert!(r["read_threads"]["two_threads_per_s"].as_u64().unwrap() > 0);
    assert!(r["read_threads"]["floor_two_threads_per_s"].as_u64().unwrap() > 0);
    let reads = &r["read_threads"];
    let host_ratio =
        reads["two_threads_per_s"].as_f64().unwrap() / reads["one_thread_per_s"].as_f64().unwrap();
    let floor_ratio = reads["floor_two_threads_per_s"].as_f64().unwrap()
        / reads["floor_one_thread_per_s"].as_f64().unwrap();
    assert!(
        (reads["against_floor"].as_f64().unwrap() - host_ratio / floor_ratio).abs() < 0.02,
        "against_floor is the host's ratio over the floor's: {reads}"
    );
}

/// `--load --quick` on SQLite and `servers`: one row per number of
/// services, every call answered, and every service's data gone after.
fn load(servers: &[(&str, String)]) {
    let dir = tempfile::tempdir().unwrap();
    let mut args = vec!["--load", "--quick", "--json"];
    for (_, url) in servers {
        args.extend(["--server", url.as_str()]);
    }
    let r: serde_json::Value = serde_json::from_str(&ok(bench(dir.path(), &args))).expect("one JSON object");
    for label in std::iter::once("sqlite").chain(servers.iter().map(|(kind, _)| *kind)) {
        let rows = r["load"][label]
            .as_array()
            .unwrap_or_else(|| panic!("no {label} rows: {r}"));
        let services: Vec<u64> = rows.iter().map(|row| row["services"].as_u64().unwrap()).collect();
        assert_eq!(services, [1, 2], "{label}");
        for row in rows {
            assert!(row["calls"].as_u64().unwrap() > 0, "{label}: {row}");
            assert_eq!(row["errors"], 0, "{label}: {row}");
            let (p50, p99) = (row["p50_us"].as_f64().unwrap(), row["p99_us"].as_f64().unwrap());
            assert!(0.0 < p50 && p50 <= p99, "{label}: {row}");
        }
    }
    for (_, url) in servers {
        let hosts = privdata_host::store::open(url).unwrap().hosts().unwrap();
        assert!(
            hosts.iter().all(|h| !h.host.ends_with("@bench")),
            "left behind: {hosts:?}"
        );
    }
}

#[test]
fn load_quick_runs_concurrent_services_on_sqlite() {
    load(&[]);
}

#[test]
#[ignore = "needs MariaDB and PostgreSQL: .ci/servers start"]
fn load_quick_runs_concurrent_services_on_the_servers() {
    let servers: Vec<(&str, String)> = [
        ("mysql", "PRIVDATA_TEST_MYSQL"),
        ("postgres", "PRIVDATA_TEST_POSTGRES"),
    ]
    .into_iter()
    .map(|(kind, var)| {
        (
            kind,
            std::env::var(var).unwrap_or_else(|_| panic!("{var} is not set")),
        )
    })
    .collect();
    load(&servers);
}
