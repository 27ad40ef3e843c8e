//! `privdata demo`: the example drivers (four in Rust, one in Python)
//! through a share lifecycle; the REST one manages a fake NAS the demo
//! starts on 127.0.0.1.

use anyhow::{Context, Result, ensure};
use example_driver_artifacts as drivers;
use privdata_host::{
    AccessLevel, AccessRule, AccessType, Backend, ExportLocation, Manager, RuleState, Share, Snapshot,
};
use std::path::{Path, PathBuf};

const CONFIG: &str = r#"# privdata.toml, as the demo wrote it
host = "demo-node"
# Compiled drivers are kept here: the Python one takes seconds to compile.
driver_cache = "driver-cache"

[storage]
url = "privdata.db"

[backends.generic]
driver = "drivers/generic_driver.wasm"
root = "backends/generic"
options = { export_host = "10.0.0.10" }

[backends.short]
driver = "drivers/short_names_driver.wasm"
root = "backends/short"
options = { export_host = "10.0.0.20", max_name_length = 8 }

[backends.caching]
driver = "drivers/caching_driver.wasm"
root = "backends/caching"
options = { export_addresses = "10.0.0.30,10.0.0.31" }

[backends.python]
driver = "drivers/python_generic_driver.wasm"
root = "backends/python"
options = { export_host = "10.0.0.40" }
"#;

/// The REST backend's section: its array is the fake NAS the demo starts,
/// which is gone when the demo ends.
fn rest_section(url: &str) -> String {
    format!(
        r#"
[backends.rest]
driver = "drivers/rest_driver.wasm"
root = "backends/rest"
options = {{ api_url = "{url}", api_token = "{token}" }}
# The only endpoint this driver may reach, and the CA its certificate is
# checked against (the demo's fake NAS, gone when the demo ends).
allowed_outbound = ["{url}"]
ca_file = "nas-ca.pem"
"#,
        token = fake_nas::TOKEN
    )
}

const BACKENDS: [&str; 5] = ["generic", "short", "caching", "python", "rest"];

pub fn run(keep: Option<PathBuf>) -> Result<()> {
    let temp;
    let dir = match keep {
        Some(dir) => {
            // A kept demo is a first configuration to build on: never write
            // over one, or over a store, that is already there.
            for file in ["privdata.toml", "privdata.db"] {
                ensure!(
                    !dir.join(file).exists(),
                    "{} already holds {file}; the demo writes a new configuration and store: give \
                     it a directory of its own",
                    dir.display()
                );
            }
            std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
            dir
        }
        None => {
            temp = tempfile::tempdir().context("cannot create a temporary directory")?;
            temp.path().to_path_buf()
        }
    };
    let nas = fake_nas::FakeNas::https().context("cannot start the demo's fake NAS")?;
    let config_path = write_files(&dir, &nas)?;
    println!("privdata demo in {}\n", dir.display());
    println!("(loading the drivers; the one in Python compiles for a few seconds the first time)");
    let manager = Manager::from_config_file(&config_path)?;
    for backend in manager.backends() {
        println!("backend {:<8} bound to host {}", backend.name(), backend.host());
    }

    let share = Share {
        display_name: "projects".into(),
        ..Share::new("3f2a6c1e-8d4b-4e0a-9c71-5b2f0e9d4a17", 10, "NFS")
    };
    let snapshot = Snapshot::new("9b1d3e55-0c2a-4f6e-8a7d-21c4b8e6f903", share.clone());

    for name in BACKENDS {
        let b = manager.backend(name)?;
        println!("\n== {name}: create share {} (10 GiB)", share.id);
        crate::output::print_exports(b.create_share(&share)?.exports());
        show(b, &share.id)?;
        println!("-- extend to 20 GiB, then ensure");
        b.extend_share(&share, 20)?;
        crate::output::print_exports(b.ensure_share(&share)?.exports());
        if name != "caching" {
            println!("-- snapshot {}", snapshot.id);
            b.create_snapshot(&snapshot)?;
            show(b, &snapshot.id)?;
            b.delete_snapshot(&snapshot)?;
        }
    }

    let generic = manager.backend("generic")?;
    let rule = AccessRule::new(
        "5b7c0f3e-9a41-4d8e-b2c6-0e1f2a3b4c5d",
        AccessType::Ip,
        "10.1.0.0/24",
        AccessLevel::Rw,
    );
    println!("\n== generic: allow {} read-write, then deny it", rule.access_to);
    let rules = std::slice::from_ref(&rule);
    let states = generic.update_access(&share, rules, rules, &[], &[])?;
    let active = states.iter().all(|s| s.state == RuleState::Active);
    println!("rule {}: {}", rule.id, if active { "active" } else { "error" });
    let volume = &generic
        .private_data()
        .get(&share.id, Some(&["volume_id".to_string()]))?[0]
        .1;
    let exports = format!("backends/generic/exports/{volume}");
    print!("{exports}: {}", std::fs::read_to_string(dir.join(&exports))?);
    generic.update_access(&share, &[], &[], rules, &[])?;
    ensure!(
        std::fs::read_to_string(dir.join(&exports))?.is_empty(),
        "deny left the rule in {exports}"
    );
    println!("denied: the exports file is empty again");

    let python = manager.backend("python")?;
    let copy = Share {
        display_name: "projects-copy".into(),
        snapshot_id: Some(snapshot.id.clone()),
        ..Share::new("7d2e9a41-6b3c-4f58-8e1d-a9c0b7f65e24", 20, "NFS")
    };
    println!("\n== python: a share from a snapshot, in the driver written in Python");
    python.create_snapshot(&snapshot)?;
    crate::output::print_exports(python.create_share_from_snapshot(&copy, &snapshot)?.exports());
    show(python, &copy.id)?;
    python.delete_share(&copy)?;
    python.delete_snapshot(&snapshot)?;

    let rest = manager.backend("rest")?;
    println!(
        "\n== rest: the array at {} names its own volumes; the driver keeps their ids",
        nas.url()
    );
    for volume in nas.volumes() {
        println!(
            "on the array: {} named {} ({} GiB)",
            volume.id, volume.name, volume.size_gib
        );
    }
    show(rest, &share.id)?;
    let stats = rest.get_stats()?;
    println!(
        "capacity, asked over HTTPS: {} GiB free of {}",
        stats.free_capacity_gib.unwrap_or(0),
        stats.total_capacity_gib.unwrap_or(0)
    );
    println!("-- a request to an endpoint the backend does not list is refused:");
    let mut fenced = privdata_host::config::Config::load(&config_path)?;
    if let Some(b) = fenced.backends.get_mut("rest") {
        b.options.insert("api_url".into(), "https://127.0.0.1:9".into());
    }
    let fenced = Manager::new(&fenced)?;
    match fenced.backend("rest")?.get_stats() {
        Ok(_) => anyhow::bail!("an unlisted endpoint was reached"),
        Err(e) => println!("{e}"),
    }

    let caching = manager.backend("caching")?;
    println!("\n== caching: the backend's interfaces change, ensure-share is served from private data");
    std::fs::create_dir_all(dir.join("backends/caching/.backend"))?;
    std::fs::write(dir.join("backends/caching/.backend/interfaces"), "192.168.99.1\n")?;
    crate::output::print_exports(caching.ensure_share(&share)?.exports());

    let short = manager.backend("short")?;
    let legacy = Share {
        display_name: "legacy".into(),
        export_locations: vec![ExportLocation::new("127.0.0.1:/shares/legacy01")],
        status: "manage_starting".into(),
        ..Share::new("c0ffee00-1234-4abc-8def-0123456789ab", 1, "NFS")
    };
    println!("\n== short: manage the existing backend share at 127.0.0.1:/shares/legacy01, then unmanage it");
    let adopted = short.manage_existing(&legacy, &Vec::new())?;
    println!("adopted, {} GiB", adopted.size_gib.unwrap_or_default());
    crate::output::print_exports(adopted.exports());
    show(short, &legacy.id)?;
    short.unmanage(&legacy)?;
    ensure!(
        dir.join("backends/short/shares/legacy01").is_dir(),
        "unmanage must leave the data"
    );
    println!("unmanaged: mapping forgotten, backends/short/shares/legacy01 still there");

    println!("\n== isolation: the same share id on five backends, each sees only its own data");
    for h in manager.storage().hosts()? {
        println!("{:<20} {} entities, {} entries", h.host, h.entities, h.entries);
    }
    println!(
        "a spelling Manila accepts reaches the same data: get(\"{}\") on generic -> {:?}",
        share.id.to_uppercase().replace('-', ""),
        manager.backend("generic")?.private_data().get(
            &share.id.to_uppercase().replace('-', ""),
            Some(&["volume_id".to_string()])
        )?
    );

    println!("\n== delete the share everywhere: no private data is left behind");
    for b in manager.backends() {
        b.delete_share(&share)?;
        let left = b.private_data().get(&share.id, None)?;
        ensure!(left.is_empty(), "{} left {left:?}", b.name());
    }
    println!("hosts holding data: {}", manager.storage().hosts()?.len());
    ensure!(
        nas.volumes().is_empty(),
        "the REST driver left volumes on the array"
    );
    println!("\ndemo finished: 5 drivers, every private entry cleaned up");
    Ok(())
}

fn show(backend: &Backend, entity: &str) -> Result<()> {
    println!("private data of {entity} on {}:", backend.host());
    for (k, v) in backend.private_data().get(entity, None)? {
        println!("    {k} = {}", v.replace('\n', " | ").replace('\t', " "));
    }
    Ok(())
}

fn write_files(dir: &Path, nas: &fake_nas::FakeNas) -> Result<PathBuf> {
    let write = |rel: &str, bytes: &[u8]| -> Result<()> {
        let path = dir.join(rel);
        std::fs::create_dir_all(path.parent().unwrap())?;
        std::fs::write(&path, bytes).with_context(|| format!("cannot write {}", path.display()))
    };
    write("drivers/generic_driver.wasm", drivers::GENERIC_WASM)?;
    write("drivers/short_names_driver.wasm", drivers::SHORT_NAMES_WASM)?;
    write("drivers/caching_driver.wasm", drivers::CACHING_WASM)?;
    write("drivers/rest_driver.wasm", drivers::REST_WASM)?;
    write("nas-ca.pem", nas.ca_pem().unwrap_or_default().as_bytes())?;
    // 18 MB: read from the build's output rather than embedded.
    let python = std::fs::read(drivers::PYTHON_GENERIC).with_context(|| {
        format!(
            "cannot read the Python example driver {}",
            drivers::PYTHON_GENERIC
        )
    })?;
    write("drivers/python_generic_driver.wasm", &python)?;
    for b in BACKENDS {
        std::fs::create_dir_all(dir.join("backends").join(b))?;
    }
    write("backends/short/shares/legacy01/.size", b"3")?;
    write(
        "privdata.toml",
        (CONFIG.to_string() + &rest_section(&nas.url())).as_bytes(),
    )?;
    Ok(dir.join("privdata.toml"))
}
