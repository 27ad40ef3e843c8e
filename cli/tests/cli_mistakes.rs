//! The `privdata` binary tried as a newcomer would, mistakes included:
//! commands that delete or move data refuse what would lose it, the command
//! line behaves as Unix tools do, and the demo leads to a configuration of
//! one's own.

mod common;

use common::*;
use std::path::Path;
use std::process::Command;

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

    // An export to a file that exists, with a mistyped host: the file stays.
    std::fs::write(d.join("backup.jsonl"), &held).unwrap();
    fails(
        privdata(
            d,
            &["export", "--host", "cli-node@alhpa", "--output", "backup.jsonl"],
        ),
        "holds no private data",
    );
    assert_eq!(std::fs::read_to_string(d.join("backup.jsonl")).unwrap(), held);
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
    assert_eq!(ensured["operation"], "ensure-shares");
    assert!(
        ensured["update"]["export_locations"][0]["path"]
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
    // An endpoint or CA check-driver cannot use is refused, saying why.
    fails(
        privdata(
            d,
            &["check-driver", "generic.wasm", "--allow-outbound", "10.0.0.5:443"],
        ),
        "write it as scheme://host:port",
    );
    fails(
        privdata(
            d,
            &[
                "check-driver",
                "generic.wasm",
                "--allow-outbound",
                "https://10.0.0.5:443",
                "--ca-file",
                "nope.pem",
            ],
        ),
        "ca_file nope.pem: cannot read it",
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
    // Each backend's digest, for the operator to pin.
    let generic = &report["backends"]["generic"];
    let digest = generic["driver_sha256"].as_str().unwrap();
    assert_eq!(digest.len(), 64, "{generic}");
    assert_eq!(generic["pinned"], false);
    assert!(generic["detail"].as_str().unwrap().contains(digest), "{generic}");
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
