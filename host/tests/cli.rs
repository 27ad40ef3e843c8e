//! The `privdata` binary as an operator runs it.

use std::path::Path;
use std::process::{Command, Output};

const ID: &str = "3f2a6c1e-8d4b-4e0a-9c71-5b2f0e9d4a17";

fn privdata(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_privdata"))
        .current_dir(dir)
        .env_remove("PRIVDATA_CONFIG")
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

fn setup() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("alpha")).unwrap();
    std::fs::write(
        dir.path().join("generic.wasm"),
        example_driver_artifacts::GENERIC_WASM,
    )
    .unwrap();
    std::fs::write(
        dir.path().join("privdata.toml"),
        "host = \"cli-node\"\n[storage]\nurl = \"store.db\"\n\
         [backends.alpha]\ndriver = \"generic.wasm\"\nroot = \"alpha\"\noptions = { export_host = \"nas1\" }\n",
    )
    .unwrap();
    dir
}

#[test]
fn demo_runs_the_three_drivers_and_cleans_up() {
    let dir = tempfile::tempdir().unwrap();
    let out = ok(privdata(dir.path(), &["demo", "--keep", "demo"]));
    for want in [
        "backend generic  bound to host demo-node@generic",
        "volume_id = vol-",
        "backend_name = 3f2a6c1e",
        "export_locations = 10.0.0.30:/shares/",
        "adopted, 3 GiB",
        "hosts holding data: 0",
        "demo finished",
    ] {
        assert!(out.contains(want), "missing {want:?} in:\n{out}");
    }
    assert!(
        dir.path().join("demo/privdata.db").exists(),
        "the demo's store is a real SQLite file"
    );
}

#[test]
fn share_operations_and_inspection_from_the_command_line() {
    let dir = setup();
    let d = dir.path();
    let out = ok(privdata(
        d,
        &["share", "create", "--backend", "alpha", "--id", ID, "--size", "4"],
    ));
    assert!(out.starts_with("export nas1:/volumes/vol-"), "{out}");

    let hosts: serde_json::Value = serde_json::from_str(&ok(privdata(d, &["hosts", "--json"]))).unwrap();
    assert_eq!(
        hosts,
        serde_json::json!([{"host": "cli-node@alpha", "entities": 1, "entries": 1}])
    );

    let list = ok(privdata(d, &["list", "--host", "cli-node@alpha"]));
    assert_eq!(list, format!("{ID}\t1 entries\n"));

    let got: serde_json::Value = serde_json::from_str(&ok(privdata(
        d,
        &[
            "get",
            "--host",
            "cli-node@alpha",
            "--entity",
            &ID.to_uppercase(),
            "--json",
        ],
    )))
    .unwrap();
    let volume = got["volume_id"].as_str().unwrap();
    assert!(out.contains(volume));
    assert!(d.join("alpha/volumes").join(volume).is_dir());

    let ensured = ok(privdata(
        d,
        &["share", "ensure", "--backend", "alpha", "--id", ID],
    ));
    assert_eq!(ensured, out);
    ok(privdata(
        d,
        &[
            "share",
            "extend",
            "--backend",
            "alpha",
            "--id",
            ID,
            "--new-size",
            "8",
        ],
    ));
    ok(privdata(
        d,
        &["share", "delete", "--backend", "alpha", "--id", ID],
    ));
    assert_eq!(ok(privdata(d, &["hosts"])), "");
}

#[test]
fn errors_name_what_is_wrong_and_exit_non_zero() {
    let dir = setup();
    let d = dir.path();
    let cases: [(&[&str], &str); 4] = [
        (&["--config", "nope.toml", "hosts"], "nope.toml: cannot read it"),
        (
            &["share", "ensure", "--backend", "beta", "--id", ID],
            "no backend named `beta`",
        ),
        (
            &["share", "ensure", "--backend", "alpha", "--id", ID],
            "not found",
        ),
        (
            &["get", "--host", "cli-node@alpha", "--entity", "share-1"],
            "not a UUID",
        ),
    ];
    for (args, want) in cases {
        let out = privdata(d, args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert!(
            stderr.contains("error: ") && stderr.contains(want),
            "{args:?}: {stderr}"
        );
    }
}

#[test]
fn every_command_has_help() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        &["--help"][..],
        &["demo", "--help"],
        &["share", "--help"],
        &["share", "create", "--help"],
        &["snapshot", "create", "--help"],
        &["hosts", "--help"],
        &["list", "--help"],
        &["get", "--help"],
        &["export", "--help"],
        &["import", "--help"],
        &["migrate", "--help"],
        &["check-driver", "--help"],
        &["rename-host", "--help"],
        &["orphans", "--help"],
        &["history", "--help"],
        &["check-config", "--help"],
        &["set", "--help"],
        &["unset", "--help"],
    ] {
        let out = ok(privdata(dir.path(), args));
        assert!(out.contains("Usage: privdata"), "{args:?}: {out}");
    }
}

#[test]
fn check_driver_passes_the_example_drivers() {
    let dir = tempfile::tempdir().unwrap();
    for (name, wasm) in [
        ("generic", example_driver_artifacts::GENERIC),
        ("short-names", example_driver_artifacts::SHORT_NAMES),
        ("caching", example_driver_artifacts::CACHING),
    ] {
        let out = privdata(dir.path(), &["check-driver", wasm]);
        let stdout = ok(out);
        assert!(stdout.contains("result: PASS"), "{name}:\n{stdout}");
        assert!(
            stdout.contains("OK           no private data after delete-share"),
            "{name}:\n{stdout}"
        );
        assert!(!stdout.contains("FAIL"), "{name}:\n{stdout}");
    }
    let out = ok(privdata(
        dir.path(),
        &["check-driver", example_driver_artifacts::GENERIC],
    ));
    assert!(
        out.contains("OK           manage-existing: adopted \"vol-"),
        "{out}"
    );
}

#[test]
fn check_driver_fails_a_leaky_driver_and_names_the_leak() {
    let dir = tempfile::tempdir().unwrap();
    let out = privdata(
        dir.path(),
        &[
            "check-driver",
            example_driver_artifacts::HOSTILE,
            "--option",
            "mode=leaky",
        ],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(
        stdout.contains("FAIL         no private data after delete-share: private data left behind:")
            && stdout.contains("keeps volume_id"),
        "{stdout}"
    );
    assert!(stdout.contains("FAIL         no orphans"), "{stdout}");
    assert!(stderr.contains("does not conform"), "{stderr}");

    let json = privdata(
        dir.path(),
        &[
            "check-driver",
            example_driver_artifacts::HOSTILE,
            "--option",
            "mode=panic",
            "--json",
        ],
    );
    let report: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(report["steps"][1]["name"], "create-share");
    assert_eq!(report["steps"][1]["outcome"], "fail");
    assert!(report["steps"][1]["detail"].as_str().unwrap().contains("trapped"));
}

#[test]
fn orphans_rename_and_history_from_the_command_line() {
    let dir = setup();
    let d = dir.path();
    let mut config = std::fs::read_to_string(d.join("privdata.toml")).unwrap();
    config = config.replace(
        "[storage]\n",
        "[audit]\nenabled = true\nretention_days = 30\n[storage]\n",
    );
    std::fs::write(d.join("privdata.toml"), config).unwrap();
    let live = "c0ffee00-1234-4abc-8def-0123456789ab";
    for id in [ID, live] {
        ok(privdata(
            d,
            &["share", "create", "--backend", "alpha", "--id", id],
        ));
    }
    std::fs::write(
        d.join("live.txt"),
        format!("# still in Manila\n{}\n", live.to_uppercase()),
    )
    .unwrap();
    let out = ok(privdata(
        d,
        &["orphans", "--host", "cli-node@alpha", "--live", "live.txt"],
    ));
    assert!(
        out.contains(&format!("{ID}\t1 entries")) && out.contains("1 orphaned entities (1 entries)"),
        "{out}"
    );
    let out = ok(privdata(
        d,
        &[
            "orphans",
            "--host",
            "cli-node@alpha",
            "--live",
            "live.txt",
            "--purge",
        ],
    ));
    assert!(out.contains("purged 1 orphaned entities (1 entries)"), "{out}");
    let out = ok(privdata(d, &["list", "--host", "cli-node@alpha"]));
    assert_eq!(out, format!("{live}\t1 entries\n"));

    std::fs::write(d.join("bad.txt"), "not-a-uuid\n").unwrap();
    let bad = privdata(d, &["orphans", "--host", "cli-node@alpha", "--live", "bad.txt"]);
    assert!(String::from_utf8_lossy(&bad.stderr).contains("bad.txt line 1"));

    let out = ok(privdata(d, &["rename-host", "cli-node@alpha", "node2@alpha"]));
    assert_eq!(
        out,
        "moved 1 entries of 1 entities from cli-node@alpha to node2@alpha (0 overwritten)\n"
    );

    let history: serde_json::Value = serde_json::from_str(&ok(privdata(d, &["history", "--json"]))).unwrap();
    let ops: Vec<&str> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["operation"].as_str().unwrap())
        .collect();
    assert_eq!(ops, ["update", "update", "purge", "rename-from", "rename-to"]);
    let text = ok(privdata(d, &["history", "--entity", ID]));
    assert_eq!(text.lines().count(), 2, "{text}");
    // Times are shown as dates, and taken as dates too.
    let year = text
        .lines()
        .next()
        .unwrap()
        .split('-')
        .next()
        .unwrap()
        .parse::<u32>();
    assert!(year.is_ok_and(|y| y >= 2024), "{text}");
    let since = ok(privdata(d, &["history", "--entity", ID, "--since", "2000-01-01"]));
    assert_eq!(since, text);
    let future = ok(privdata(d, &["history", "--since", "2999-01-01T00:00:00Z"]));
    assert_eq!(future, "");
    fails(privdata(d, &["history", "--since", "yesterday"]), "is not a time");
}

#[test]
fn export_and_import_round_trip_in_pages_and_can_run_again() {
    let from = setup();
    let to = setup();
    let storage = privdata_host::store::open(from.path().join("store.db").to_str().unwrap()).unwrap();
    for (host, n) in [("cli-node@alpha", 2300u64), ("other@beta", 5)] {
        let data = privdata_host::PrivateData::new(storage.clone(), host, Default::default());
        for i in 0..n {
            let entity = format!("00000000-0000-4000-8000-{:012x}", i / 3);
            data.update(&entity, &[(format!("k{}", i % 3), format!("välue\n{i}"))], false)
                .unwrap();
        }
    }
    drop(storage);
    ok(privdata(from.path(), &["export", "--output", "all.jsonl"]));
    let exported = std::fs::read_to_string(from.path().join("all.jsonl")).unwrap();
    assert_eq!(exported.lines().count(), 2305);
    let first: serde_json::Value = serde_json::from_str(exported.lines().next().unwrap()).unwrap();
    assert_eq!(first["host"], "cli-node@alpha");
    assert_eq!(first["value"], "välue\n0");

    std::fs::copy(from.path().join("all.jsonl"), to.path().join("all.jsonl")).unwrap();
    for _ in 0..2 {
        let out = ok(privdata(to.path(), &["import", "--input", "all.jsonl"]));
        assert_eq!(out, "imported 2305 entries\n");
    }
    ok(privdata(to.path(), &["export", "--output", "again.jsonl"]));
    assert_eq!(
        std::fs::read_to_string(to.path().join("again.jsonl")).unwrap(),
        exported
    );

    let one_host = ok(privdata(from.path(), &["export", "--host", "other@beta"]));
    assert_eq!(one_host.lines().count(), 5);

    std::fs::write(
        to.path().join("bad.jsonl"),
        format!(
            "{}\n{{\"host\":\"h\",\"entity\":\"nope\",\"key\":\"k\",\"value\":\"v\"}}\n",
            exported.lines().next().unwrap()
        ),
    )
    .unwrap();
    let bad = privdata(to.path(), &["import", "--input", "bad.jsonl"]);
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(
        !bad.status.success() && stderr.contains("bad.jsonl line 2") && stderr.contains("not a UUID"),
        "{stderr}"
    );
}

#[test]
fn migrate_copies_verifies_and_names_its_mistakes() {
    let dir = setup();
    let d = dir.path();
    let storage = privdata_host::store::open(d.join("store.db").to_str().unwrap()).unwrap();
    let data = privdata_host::PrivateData::new(storage, "cli-node@alpha", Default::default());
    for i in 0..1500u64 {
        let entity = format!("00000000-0000-4000-8000-{i:012x}");
        data.update(&entity, &[("volume_id".into(), format!("vol-{i}"))], false)
            .unwrap();
    }
    drop(data);
    let to = format!("sqlite://{}", d.join("copy.db").display());
    let out = privdata(d, &["migrate", "--from", "store.db", "--to", &to]);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    let stdout = ok(out);
    assert!(
        stdout.starts_with("migrated 1 hosts, 1500 entries: 1500 copied, 0 already there")
            && stdout.contains("verified: counts equal, checksum"),
        "{stdout}"
    );
    assert!(stderr.contains("migrate: 100%  1500 / 1500 entries"), "{stderr}");
    let again = ok(privdata(d, &["migrate", "--from", "store.db", "--to", &to]));
    assert!(
        again.contains("0 copied, 1500 already there, 0 removed"),
        "{again}"
    );
    let config = std::fs::read_to_string(d.join("privdata.toml")).unwrap();
    std::fs::write(d.join("copy.toml"), config.replace("store.db", "copy.db")).unwrap();
    let listed = ok(privdata(d, &["--config", "copy.toml", "hosts"]));
    assert!(
        listed.contains("cli-node@alpha\t1500 entities\t1500 entries"),
        "{listed}"
    );

    for (args, want) in [
        (
            &["migrate", "--from", "store.db", "--to", "store.db"][..],
            "the same store",
        ),
        (
            &["migrate", "--from", "missing.db", "--to", "x.db"],
            "missing.db: no such file",
        ),
        (
            &[
                "migrate",
                "--from",
                "store.db",
                "--to",
                "mysql://u:secretpw@127.0.0.1:9/db",
            ],
            "check that the server is running",
        ),
    ] {
        let out = privdata(d, args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success() && stderr.contains(want),
            "{args:?}: {stderr}"
        );
        assert!(!stderr.contains("secretpw"), "{stderr}");
    }
}

fn fails(out: Output, want: &str) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(
        !out.status.success(),
        "succeeded; stdout: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(stderr.contains(want), "wanted {want:?} in: {stderr}");
    stderr
}

/// What an operator gets wrong, tried on every command that deletes or
/// moves data: each one exits non-zero and the data is all still there.
#[test]
fn operator_mistakes_are_refused_and_lose_nothing() {
    let dir = setup();
    let d = dir.path();
    ok(privdata(
        d,
        &["share", "create", "--backend", "alpha", "--id", ID],
    ));
    let held = ok(privdata(d, &["export"]));
    assert_eq!(held.lines().count(), 1);
    let unchanged = || assert_eq!(ok(privdata(d, &["export"])), held, "data was lost");

    fails(
        privdata(d, &["rename-host", "cli-node@alpha", "cli-node@alpha", "--merge"]),
        "the same",
    );
    unchanged();
    fails(
        privdata(d, &["rename-host", "cli-node@alhpa", "n2@alpha"]),
        "holds no private data",
    );
    let out = ok(privdata(
        d,
        &["rename-host", "cli-node@alpha", "n2@alpha", "--dry-run"],
    ));
    assert_eq!(
        out,
        "would move 1 entries of 1 entities from cli-node@alpha to n2@alpha (0 overwritten)\n"
    );
    unchanged();

    // Empty stdin: a failed `openstack share list` in front of the pipe.
    fails(
        privdata(
            d,
            &["orphans", "--host", "cli-node@alpha", "--live", "-", "--purge"],
        ),
        "the live list is empty",
    );
    fails(
        privdata(d, &["orphans", "--host", "cli-node@alpha", "--live", "."]),
        "is a directory",
    );
    let out = ok(privdata(
        d,
        &[
            "orphans",
            "--host",
            "cli-node@alpha",
            "--live",
            "-",
            "--purge",
            "--all",
            "--dry-run",
        ],
    ));
    assert!(
        out.contains("would purge 1 orphaned entities (1 entries)"),
        "{out}"
    );
    unchanged();

    // A garbage line at 1,500 of an import: nothing of it is imported.
    let mut lines: Vec<String> = (0..1499)
        .map(|i| {
            format!(
                "{{\"host\":\"other@beta\",\"entity\":\"00000000-0000-4000-8000-{i:012x}\",\"key\":\"k\",\"value\":\"v\"}}"
            )
        })
        .collect();
    lines.push("garbage".into());
    std::fs::write(d.join("dump.jsonl"), lines.join("\n")).unwrap();
    fails(
        privdata(d, &["import", "--input", "dump.jsonl"]),
        "dump.jsonl line 1500",
    );
    unchanged();

    // A value over the backend's limit.
    let big = format!(
        "{{\"host\":\"cli-node@alpha\",\"entity\":\"{ID}\",\"key\":\"k\",\"value\":\"{}\"}}",
        "x".repeat(1024)
    );
    std::fs::write(d.join("big.jsonl"), big).unwrap();
    fails(privdata(d, &["import", "--input", "big.jsonl"]), "is 1024 bytes");
    unchanged();

    // Store paths that cannot keep anything, or do not exist.
    let config = std::fs::read_to_string(d.join("privdata.toml")).unwrap();
    for url in ["", ":memory:", "sqlite://"] {
        std::fs::write(d.join("mem.toml"), config.replace("store.db", url)).unwrap();
        let id = "c0ffee00-1234-4abc-8def-0123456789ab";
        fails(
            privdata(
                d,
                &[
                    "-c",
                    "mem.toml",
                    "share",
                    "create",
                    "--backend",
                    "alpha",
                    "--id",
                    id,
                ],
            ),
            "outlive the process",
        );
    }
    assert_eq!(
        std::fs::read_dir(d.join("alpha/volumes")).unwrap().count(),
        1,
        "a volume with no private data"
    );
    std::fs::write(d.join("typo.toml"), config.replace("store.db", "stroe.db")).unwrap();
    for args in [&["hosts"][..], &["list", "--host", "cli-node@alpha"], &["export"]] {
        let args: Vec<&str> = ["-c", "typo.toml"].iter().chain(args).copied().collect();
        fails(privdata(d, &args), "no such file, so no store");
    }
    assert!(
        !d.join("stroe.db").exists(),
        "a read-only command created a store"
    );

    // Operator commands need only the store.
    std::fs::write(d.join("store-only.toml"), "[storage]\nurl = \"store.db\"\n").unwrap();
    let out = ok(privdata(d, &["-c", "store-only.toml", "hosts"]));
    assert_eq!(out, "cli-node@alpha\t1 entities\t1 entries\n");
}

#[test]
fn a_backend_with_a_missing_driver_leaves_the_others_serving() {
    let dir = setup();
    let d = dir.path();
    let mut config = std::fs::read_to_string(d.join("privdata.toml")).unwrap();
    config.push_str("[backends.beta]\ndriver = \"gone.wasm\"\nroot = \"alpha\"\n");
    std::fs::write(d.join("privdata.toml"), config).unwrap();
    ok(privdata(
        d,
        &["share", "create", "--backend", "alpha", "--id", ID],
    ));
    fails(
        privdata(d, &["share", "create", "--backend", "beta", "--id", ID]),
        "backend `beta` is not serving",
    );
}

fn privdata_env(dir: &Path, env: &[(&str, &str)], args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_privdata"))
        .current_dir(dir)
        .env_remove("PRIVDATA_CONFIG")
        .envs(env.iter().copied())
        .args(args)
        .output()
        .unwrap()
}

/// The conventions of a Unix command line, tried as users do.
#[test]
fn the_command_line_behaves_as_unix_tools_do() {
    let dir = setup();
    let d = dir.path();

    // A reader that goes away early: no panic, no exit code 101.
    let mut child = Command::new(env!("CARGO_BIN_EXE_privdata"))
        .current_dir(d)
        .args(["demo"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut first,
    )
    .unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(first.starts_with("privdata demo in"), "{first}");
    assert_ne!(out.status.code(), Some(101), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");

    // Values print on one line each, whatever they hold; sizes are checked.
    ok(privdata(
        d,
        &["share", "create", "--backend", "alpha", "--id", ID],
    ));
    ok(privdata(
        d,
        &[
            "set",
            "--host",
            "cli-node@alpha",
            "--entity",
            ID,
            "--key",
            "note",
            "--value",
            "two\nlines\tand\\",
        ],
    ));
    let got = ok(privdata(
        d,
        &["get", "--host", "cli-node@alpha", "--entity", ID, "--key", "note"],
    ));
    assert_eq!(got, "note = two\\nlines\\tand\\\\\n");
    fails(
        privdata(
            d,
            &[
                "unset",
                "--host",
                "cli-node@alpha",
                "--entity",
                ID,
                "--key",
                "nope",
            ],
        ),
        "holds no key",
    );
    ok(privdata(
        d,
        &[
            "unset",
            "--host",
            "cli-node@alpha",
            "--entity",
            ID,
            "--key",
            "note",
        ],
    ));
    fails(
        privdata(
            d,
            &[
                "share",
                "extend",
                "--backend",
                "alpha",
                "--id",
                ID,
                "--new-size",
                "0",
            ],
        ),
        "0 is not in 1..",
    );

    // --json where there is something to say.
    let ensured: serde_json::Value = serde_json::from_str(&ok(privdata(
        d,
        &["share", "ensure", "--backend", "alpha", "--id", ID, "--json"],
    )))
    .unwrap();
    assert_eq!(ensured["operation"], "ensure-share");
    assert!(
        ensured["export_locations"][0]["path"]
            .as_str()
            .unwrap()
            .starts_with("nas1:/volumes/vol-")
    );
    let renamed: serde_json::Value = serde_json::from_str(&ok(privdata(
        d,
        &["rename-host", "cli-node@alpha", "n2@alpha", "--dry-run", "--json"],
    )))
    .unwrap();
    assert_eq!(renamed["report"]["moved"], 1);
    assert_eq!(renamed["dry_run"], true);
    std::fs::write(d.join("live.txt"), format!("{ID}\n")).unwrap();
    let orphans: serde_json::Value = serde_json::from_str(&ok(privdata(
        d,
        &[
            "orphans",
            "--host",
            "cli-node@alpha",
            "--live",
            "live.txt",
            "--json",
        ],
    )))
    .unwrap();
    assert_eq!(
        (
            orphans["held"].as_u64(),
            orphans["orphans"].as_array().map(Vec::len)
        ),
        (Some(1), Some(0))
    );

    // --config where a command reads none is a mistake, not ignored.
    fails(
        privdata(d, &["--config", "privdata.toml", "demo"]),
        "demo reads no configuration",
    );
    fails(
        privdata(d, &["check-driver", "generic.wasm", "--config", "privdata.toml"]),
        "check-driver reads no configuration",
    );

    // Logs: no colour codes in a file, drivers' output in them, and no
    // password anywhere.
    std::fs::write(d.join("hostile.wasm"), example_driver_artifacts::HOSTILE_WASM).unwrap();
    let mut config = std::fs::read_to_string(d.join("privdata.toml")).unwrap();
    config.push_str(
        "[backends.reach]\ndriver = \"hostile.wasm\"\nroot = \"alpha\"\noptions = { mode = \"reach\" }\n",
    );
    std::fs::write(d.join("privdata.toml"), config).unwrap();
    let out = privdata_env(
        d,
        &[("PRIVDATA_LOG", "info")],
        &[
            "share",
            "create",
            "--backend",
            "reach",
            "--id",
            ID,
            "--name",
            "127.0.0.1:9",
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("reach: trying the network at 127.0.0.1:9"),
        "{stderr}"
    );
    assert!(!stderr.contains('\u{1b}'), "colour codes in a log file: {stderr}");
    std::fs::write(
        d.join("secret.toml"),
        "[storage]\nurl = \"postgres://privdata:secret-pw-42@127.0.0.1:9/privdata\"\n",
    )
    .unwrap();
    let out = privdata_env(d, &[("PRIVDATA_LOG", "trace")], &["-c", "secret.toml", "hosts"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains("postgres://privdata:***@"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("secret-pw-42"),
        "the password in the log: {stderr}"
    );
}

#[test]
fn an_operator_checks_a_configuration_and_the_demo_keeps_one_to_start_from() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(privdata(d, &["demo", "--keep", "first"]));
    let again = fails(
        privdata(d, &["demo", "--keep", "first"]),
        "already holds privdata.toml",
    );
    assert!(again.contains("directory of its own"), "{again}");
    let kept = d.join("first");
    let out = ok(privdata(&kept, &["check-config"]));
    assert!(
        out.contains("ok   backend short (demo-node@short)") && out.ends_with("result: PASS\n"),
        "{out}"
    );

    let config = std::fs::read_to_string(kept.join("privdata.toml")).unwrap();
    std::fs::write(
        kept.join("privdata.toml"),
        config.replace("max_name_length", "max_name_lenght"),
    )
    .unwrap();
    let out = privdata(&kept, &["check-config", "--json"]);
    assert!(!out.status.success());
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["passed"], false);
    assert_eq!(report["backends"]["generic"]["ok"], true);
    let detail = report["backends"]["short"]["detail"].as_str().unwrap();
    assert!(detail.contains("unknown option(s) `max_name_lenght`"), "{detail}");

    // The drivers the build made are in one place a newcomer can find.
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let drivers = target.join("drivers");
    for stem in ["generic_driver", "short_names_driver", "caching_driver"] {
        assert!(
            drivers.join(format!("{stem}.wasm")).is_file(),
            "{stem} not in {}",
            drivers.display()
        );
    }
}
