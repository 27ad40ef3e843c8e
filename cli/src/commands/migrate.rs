//! `privdata migrate`: copy between two stores, drawing progress on
//! stderr, then verify.

use super::Context;
use crate::progress::Progress;
use anyhow::{Context as _, Result};
use clap::Args;
use privdata_host::store;
use privdata_host::{Config, HostLimits};
use std::path::Path;

#[derive(Debug, Args)]
pub struct Migrate {
    /// The store to read: sqlite://PATH, mysql://…, postgres://… or etcd://….
    #[arg(long, env = "PRIVDATA_MIGRATE_FROM", hide_env_values = true)]
    from: String,
    /// The store to write; its entries for the migrated hosts end equal
    /// to the source's (entries the source lacks are removed).
    #[arg(long, env = "PRIVDATA_MIGRATE_TO", hide_env_values = true)]
    to: String,
    /// Only this host.
    #[arg(long)]
    host: Option<String>,
}

impl Migrate {
    pub fn execute(self, context: &Context) -> Result<()> {
        let limits = &limits(context.config_named.as_deref())?;
        let (from, to, host) = (self.from.as_str(), self.to.as_str(), self.host.as_deref());
        let parse = |flag: &str, url: &str| {
            store::StorageUrl::parse(url).with_context(|| format!("{flag} {}", store::redact(url)))
        };
        let (from, to) = (parse("--from", from)?, parse("--to", to)?);
        anyhow::ensure!(
            !from.same_store(&to),
            "--from and --to name the same store ({from}); give two different stores"
        );
        // A mistyped source must not become an empty store that migrates
        // nothing.
        let source =
            store::open_existing(&from, &Default::default()).with_context(|| format!("--from {from}"))?;
        let target = store::open_url(&to, &Default::default()).with_context(|| format!("--to {to}"))?;
        let started = std::time::Instant::now();
        let mut progress = None;
        let report =
            privdata_host::ops::migrate::migrate(source.as_ref(), target.as_ref(), host, limits, &mut |p| {
                progress
                    .get_or_insert_with(|| Progress::new("migrate", Some(p.total), true))
                    .set(p.done)
            });
        if let Some(progress) = progress {
            progress.finish();
        }
        let r = report?;
        println!(
            "migrated {} hosts, {} entries: {} copied, {} already there, {} removed from the \
             destination; verified: counts equal, checksum {} ({:.1} s)",
            r.hosts,
            r.entries,
            r.copied,
            r.unchanged,
            r.removed,
            &r.checksum[..16],
            started.elapsed().as_secs_f64()
        );
        Ok(())
    }
}

/// The limits migrate keeps: the backends' of the configuration if one is
/// named, or if `privdata.toml` is here; the defaults otherwise.
fn limits(config: Option<&Path>) -> Result<HostLimits> {
    match config {
        Some(path) => Ok(Config::load_store(path)?.host_limits()),
        None if Path::new("privdata.toml").is_file() => {
            Ok(Config::load_store(Path::new("privdata.toml"))?.host_limits())
        }
        None => Ok(HostLimits::default()),
    }
}
