//! `privdata check-config`: the store, then each backend's driver started
//! with its options, each reported; an error when anything failed.

use super::Context;
use crate::output::Output;
use anyhow::Result;
use clap::Args;
use privdata_host::Config;
use privdata_host::store;

#[derive(Debug, Args)]
pub struct CheckConfig {
    #[command(flatten)]
    output: Output,
}

impl CheckConfig {
    pub fn execute(self, context: &Context) -> Result<()> {
        let (path, json) = (context.config.as_path(), self.output.json);
        let config = Config::load(path)?;
        let mut failed = 0;
        let mut store_line = String::from("reachable, schema up to date");
        let mut scratch = None;
        let storage = match store::open_existing(&config.storage_url, &config.storage_options) {
            Ok(storage) => storage,
            // Not there yet: the first share operation creates it. The drivers
            // are checked on a scratch store meanwhile.
            Err(_) if config.storage_url.sqlite_path().is_some_and(|p| !p.exists()) => {
                store_line = "not created yet: the first share operation creates it".into();
                let dir = tempfile::tempdir()?;
                let storage = store::open(&dir.path().join("check.db").to_string_lossy())?;
                scratch = Some(dir);
                storage
            }
            Err(e) => {
                failed += 1;
                store_line = format!("FAIL: {e}");
                let dir = tempfile::tempdir()?;
                let storage = store::open(&dir.path().join("check.db").to_string_lossy())?;
                scratch = Some(dir);
                storage
            }
        };
        let mut runtime = privdata_host::Runtime::with_max_stack(config.max_stack_bytes)?;
        if let Some(dir) = &config.driver_cache {
            runtime = runtime.with_cache_dir(dir);
        }
        let mut backends = serde_json::Map::new();
        for (name, b) in &config.backends {
            let mut sha256 = None;
            let outcome = b.load_driver(&runtime).and_then(|driver| {
                sha256 = Some(driver.sha256().to_string());
                b.backend(name, driver, storage.clone()).check_setup()
            });
            if outcome.is_err() {
                failed += 1;
            }
            backends.insert(
                name.clone(),
                serde_json::json!({
                    "host": b.host,
                    "ok": outcome.is_ok(),
                    "driver_sha256": sha256,
                    "pinned": b.driver_sha256.is_some(),
                    "detail": match (&outcome, &sha256) {
                        (Ok(()), Some(sha256)) => format!(
                            "driver loaded (sha256 {sha256}{}), setup accepted its options",
                            if b.driver_sha256.is_some() { ", as pinned" } else { "" }
                        ),
                        (Ok(()), None) => "driver loaded, setup accepted its options".to_string(),
                        (Err(e), _) => e.to_string(),
                    },
                }),
            );
        }
        drop(scratch);
        if json {
            let out = serde_json::json!({
                "config": path,
                "store": {"url": config.storage_url.to_string(), "detail": store_line},
                "backends": backends,
                "passed": failed == 0,
            });
            println!("{}", serde_json::to_string_pretty(&out)?);
        } else {
            println!("store {}: {store_line}", config.storage_url);
            for (name, b) in &backends {
                let mark = if b["ok"] == true { "ok  " } else { "FAIL" };
                println!(
                    "{mark} backend {name} ({}): {}",
                    b["host"].as_str().unwrap_or(""),
                    b["detail"].as_str().unwrap_or("")
                );
            }
            println!("result: {}", if failed == 0 { "PASS" } else { "FAIL" });
        }
        anyhow::ensure!(
            failed == 0,
            "{}: {failed} problem(s), listed above",
            path.display()
        );
        Ok(())
    }
}
