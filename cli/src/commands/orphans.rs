//! `privdata orphans`: list, or purge, what a host keeps about entities
//! not in the live list. The counts are printed before anything is deleted.

use super::{Context, input, source_name};
use crate::output::Output;
use anyhow::Result;
use clap::Args;
use privdata_host::ops::orphans;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct Orphans {
    /// The backend host, `hostname@backend`.
    #[arg(long)]
    host: String,
    /// The entity ids that still exist, one a line; `-` for stdin.
    #[arg(long)]
    live: PathBuf,
    /// Delete the orphans, in one transaction per batch of 500. Refused
    /// when the live list is empty or would purge every entity of the
    /// host, unless --all.
    #[arg(long)]
    purge: bool,
    #[command(flatten)]
    output: Output,
    /// With --purge: purge even when that is every entity of the host.
    #[arg(long, requires = "purge")]
    all: bool,
    /// With --purge: list what would be purged, and delete nothing.
    #[arg(long, requires = "purge")]
    dry_run: bool,
}

impl Orphans {
    pub fn execute(self, context: &Context) -> Result<()> {
        let (host, live, json) = (self.host.as_str(), self.live.as_path(), self.output.json);
        let purge = self.purge.then_some((self.all, self.dry_run));
        let live_list = orphans::LiveList::read(input(live)?, &source_name(live))?;
        let (storage, _) = context.existing_store()?;
        let found = orphans::find(storage.as_ref(), host, &live_list)?;
        if json {
            // `purge`: null when not asked; what went (or, dry, would go).
            let purged = match purge {
                Some((all, dry_run)) => {
                    let entries = orphans::purge(storage.as_ref(), &found, &live_list, all, dry_run)?;
                    serde_json::json!({"dry_run": dry_run, "entities": found.entities.len(), "entries": entries})
                }
                None => serde_json::Value::Null,
            };
            let out = serde_json::json!({
                "host": host,
                "held": found.held,
                "orphans": found.entities,
                "purge": purged,
            });
            println!("{}", serde_json::to_string_pretty(&out)?);
            return Ok(());
        }
        for e in &found.entities {
            println!("{}\t{} entries", e.entity, e.entries);
        }
        let (count, entries) = (found.entities.len(), found.entries());
        match purge {
            None => println!(
                "{count} orphaned entities ({entries} entries) of {host}, of {} it holds; --purge deletes them",
                found.held
            ),
            Some((all, true)) => {
                orphans::purge(storage.as_ref(), &found, &live_list, all, true)?;
                println!(
                    "would purge {count} orphaned entities ({entries} entries) of {host}, of {} it holds; \
                     nothing was deleted (--dry-run)",
                    found.held
                );
            }
            Some((all, false)) => {
                let deleted = orphans::purge(storage.as_ref(), &found, &live_list, all, false)?;
                println!("purged {count} orphaned entities ({deleted} entries) of {host}");
            }
        }
        Ok(())
    }
}
