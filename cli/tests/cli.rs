//! The `privdata` binary as an operator runs it: every command.

mod common;

use common::*;

#[test]
fn demo_runs_every_example_driver_and_cleans_up() {
    let dir = tempfile::tempdir().unwrap();
    let out = ok(privdata(dir.path(), &["demo", "--keep", "demo"]));
    for want in [
        "backend generic  bound to host demo-node@generic",
        "volume_id = vol-",
        "backend_name = 3f2a6c1e",
        "export_locations = 10.0.0.30:/shares/",
        "adopted, 3 GiB",
        "backend python   bound to host demo-node@python",
        "private data of 7d2e9a41-6b3c-4f58-8e1d-a9c0b7f65e24 on demo-node@python:",
        "rule 5b7c0f3e-9a41-4d8e-b2c6-0e1f2a3b4c5d: active",
        "denied: the exports file is empty again",
        "on the array: vol-1 named share-3f2a6c1e-8d4b-4e0a-9c71-5b2f0e9d4a17 (20 GiB)",
        "capacity, asked over HTTPS: 980 GiB free of 1000",
        "is not an endpoint this backend may reach (allowed_outbound = [\"https://127.0.0.1:",
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

    // The store's usage against the backend's quota, as Prometheus reads it.
    let metrics = ok(privdata(d, &["metrics"]));
    for want in [
        "# TYPE privdata_usage_entries gauge\n".to_string(),
        "privdata_store_entities{host=\"cli-node@alpha\"} 1\n".to_string(),
        "privdata_usage_entries{host=\"cli-node@alpha\"} 1\n".to_string(),
        format!(
            "privdata_usage_bytes{{host=\"cli-node@alpha\"}} {}\n",
            "volume_id".len() + volume.len()
        ),
        "privdata_quota_entries{backend=\"alpha\",host=\"cli-node@alpha\"} 1000000\n".to_string(),
        format!(
            "privdata_quota_bytes{{backend=\"alpha\",host=\"cli-node@alpha\"}} {}\n",
            1u64 << 30
        ),
    ] {
        assert!(metrics.contains(&want), "missing {want:?} in:\n{metrics}");
    }
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
fn every_operation_of_the_contract_from_the_command_line() {
    let dir = setup();
    let d = dir.path();
    let snap = "9b1d3e55-0c2a-4f6e-8a7d-21c4b8e6f903";
    let clone = "c0ffee00-1234-4abc-8def-0123456789ab";
    let rule = "5b7c0f3e-9a41-4d8e-b2c6-0e1f2a3b4c5d";
    let share = ["--backend", "alpha", "--id", ID];
    let run = |args: &[&str]| ok(privdata(d, args));
    fn with<'a>(op: &[&'a str], share: &[&'a str], extra: &[&'a str]) -> Vec<&'a str> {
        [op, share, extra].concat()
    }

    run(&with(&["share", "create"], &share, &["--size", "4"]));
    let export = run(&with(&["share", "ensure"], &share, &[]));
    let volume = export.trim().rsplit('/').next().unwrap().to_string();
    std::fs::write(d.join("alpha/volumes").join(&volume).join("data"), "first").unwrap();

    // Access: a rule in, its exports line written, then out again.
    let allow = [
        "--rule-id",
        rule,
        "--type",
        "ip",
        "--to",
        "10.1.0.0/24",
        "--level",
        "ro",
    ];
    assert_eq!(
        run(&with(&["share", "allow"], &share, &allow)),
        format!("rule {rule}: active\n")
    );
    let exports = std::fs::read_to_string(d.join("alpha/exports").join(&volume)).unwrap();
    assert!(exports.contains("10.1.0.0/24(ro)"), "{exports}");
    run(&with(&["share", "deny"], &share, &allow));
    assert_eq!(
        std::fs::read_to_string(d.join("alpha/exports").join(&volume)).unwrap(),
        ""
    );

    // A snapshot; the share changes, then goes back to it.
    let snapshot = [
        "--backend",
        "alpha",
        "--id",
        snap,
        "--share-id",
        ID,
        "--size",
        "4",
    ];
    run(&[&["snapshot", "create"][..], &snapshot].concat());
    std::fs::write(d.join("alpha/volumes").join(&volume).join("data"), "second").unwrap();
    run(&[&["snapshot", "revert"][..], &snapshot].concat());
    assert_eq!(
        std::fs::read_to_string(d.join("alpha/volumes").join(&volume).join("data")).unwrap(),
        "first"
    );

    // A share made from the snapshot, with its data.
    let made = run(&[
        "share",
        "create-from-snapshot",
        "--backend",
        "alpha",
        "--id",
        clone,
        "--size",
        "4",
        "--snapshot-id",
        snap,
        "--snapshot-share-id",
        ID,
    ]);
    let clone_volume = made.trim().rsplit('/').next().unwrap().to_string();
    assert_ne!(clone_volume, volume);
    assert_eq!(
        std::fs::read_to_string(d.join("alpha/volumes").join(&clone_volume).join("data")).unwrap(),
        "first"
    );
    run(&["share", "delete", "--backend", "alpha", "--id", clone]);

    // Unmanage the snapshot and manage it again by its volume.
    let kept: serde_json::Value = serde_json::from_str(&run(&[
        "get",
        "--host",
        "cli-node@alpha",
        "--entity",
        snap,
        "--json",
    ]))
    .unwrap();
    let snapshot_volume = kept["snapshot_volume_id"].as_str().unwrap().to_string();
    run(&[&["snapshot", "unmanage"][..], &snapshot].concat());
    let managed: serde_json::Value = serde_json::from_str(&run(&[
        &["snapshot", "manage"][..],
        &snapshot,
        &["--backend-name", &snapshot_volume, "--json"],
    ]
    .concat()))
    .unwrap();
    assert_eq!(managed["update"]["size_gib"], 4);
    run(&[&["snapshot", "delete"][..], &snapshot].concat());

    // Shrink, and stats.
    run(&with(&["share", "shrink"], &share, &["--new-size", "2"]));
    let stats: serde_json::Value =
        serde_json::from_str(&run(&["stats", "--backend", "alpha", "--json"])).unwrap();
    assert_eq!(stats["operation"], "get-stats");
    assert!(
        stats["stats"]["protocols"]
            .as_array()
            .is_some_and(|p| !p.is_empty()),
        "{stats}"
    );
    run(&with(&["share", "delete"], &share, &[]));
    assert_eq!(run(&["hosts"]), "", "no private data left");
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
        ("python-generic", example_driver_artifacts::PYTHON_GENERIC),
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
        out.contains("OK           manage-existing: adopted by its export location"),
        "{out}"
    );
    // The generic driver serves all of contract 0.3, checked on its data.
    for step in [
        "shrink-share",
        "update-access: allow",
        "update-access: deny",
        "revert restores the data",
        "no private data after deleting the share made from the snapshot",
        "no private data after unmanage-snapshot",
        "manage-existing-snapshot: adopted by its export location / provider location: 1 GiB",
        "get-stats",
    ] {
        assert!(out.contains(&format!("OK           {step}")), "{step}:\n{out}");
    }
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
    let steps = report["steps"].as_array().unwrap();
    let create = steps.iter().find(|s| s["name"] == "create-share").unwrap();
    assert_eq!(create["outcome"], "fail");
    assert!(create["detail"].as_str().unwrap().contains("trapped"), "{create}");
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
