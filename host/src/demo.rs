//! `privdata demo`: the three example drivers through a share lifecycle.

use anyhow::{Context, Result, ensure};
use example_driver_artifacts as drivers;
use privdata_host::{Backend, Manager, Share, Snapshot};
use std::path::{Path, PathBuf};

const CONFIG: &str = r#"# privdata.toml, as the demo wrote it
host = "demo-node"

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
"#;

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
    let config_path = write_files(&dir)?;
    println!("privdata demo in {}\n", dir.display());
    let manager = Manager::from_config_file(&config_path)?;
    for backend in manager.backends() {
        println!("backend {:<8} bound to host {}", backend.name(), backend.host());
    }

    let share = Share {
        id: "3f2a6c1e-8d4b-4e0a-9c71-5b2f0e9d4a17".into(),
        name: "projects".into(),
        size_gib: 10,
        protocol: "NFS".into(),
    };
    let snapshot = Snapshot {
        id: "9b1d3e55-0c2a-4f6e-8a7d-21c4b8e6f903".into(),
        share_id: share.id.clone(),
        size_gib: 10,
    };

    for name in ["generic", "short", "caching"] {
        let b = manager.backend(name)?;
        println!("\n== {name}: create share {} (10 GiB)", share.id);
        crate::commands::print_exports(&b.create_share(&share)?);
        show(b, &share.id)?;
        println!("-- extend to 20 GiB, then ensure");
        b.extend_share(&share, 20)?;
        crate::commands::print_exports(&b.ensure_share(&share)?);
        if name != "caching" {
            println!("-- snapshot {}", snapshot.id);
            b.create_snapshot(&snapshot)?;
            show(b, &snapshot.id)?;
            b.delete_snapshot(&snapshot)?;
        }
    }

    let caching = manager.backend("caching")?;
    println!("\n== caching: the backend's interfaces change, ensure-share is served from private data");
    std::fs::create_dir_all(dir.join("backends/caching/.backend"))?;
    std::fs::write(dir.join("backends/caching/.backend/interfaces"), "192.168.99.1\n")?;
    crate::commands::print_exports(&caching.ensure_share(&share)?);

    let short = manager.backend("short")?;
    let legacy = Share {
        id: "c0ffee00-1234-4abc-8def-0123456789ab".into(),
        name: "legacy".into(),
        size_gib: 0,
        protocol: "NFS".into(),
    };
    println!("\n== short: manage the existing backend share `legacy01`, then unmanage it");
    let (size, exports) = short.manage_existing(&legacy, "legacy01")?;
    println!("adopted, {size} GiB");
    crate::commands::print_exports(&exports);
    show(short, &legacy.id)?;
    short.unmanage(&legacy)?;
    ensure!(
        dir.join("backends/short/shares/legacy01").is_dir(),
        "unmanage must leave the data"
    );
    println!("unmanaged: mapping forgotten, backends/short/shares/legacy01 still there");

    println!("\n== isolation: the same share id on three backends, each sees only its own data");
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
    println!("\ndemo finished: 3 drivers, every private entry cleaned up");
    Ok(())
}

fn show(backend: &Backend, entity: &str) -> Result<()> {
    println!("private data of {entity} on {}:", backend.host());
    for (k, v) in backend.private_data().get(entity, None)? {
        println!("    {k} = {}", v.replace('\n', " | ").replace('\t', " "));
    }
    Ok(())
}

fn write_files(dir: &Path) -> Result<PathBuf> {
    let write = |rel: &str, bytes: &[u8]| -> Result<()> {
        let path = dir.join(rel);
        std::fs::create_dir_all(path.parent().unwrap())?;
        std::fs::write(&path, bytes).with_context(|| format!("cannot write {}", path.display()))
    };
    write("drivers/generic_driver.wasm", drivers::GENERIC_WASM)?;
    write("drivers/short_names_driver.wasm", drivers::SHORT_NAMES_WASM)?;
    write("drivers/caching_driver.wasm", drivers::CACHING_WASM)?;
    for b in ["generic", "short", "caching"] {
        std::fs::create_dir_all(dir.join("backends").join(b))?;
    }
    write("backends/short/shares/legacy01/.size", b"3")?;
    write("privdata.toml", CONFIG.as_bytes())?;
    Ok(dir.join("privdata.toml"))
}
