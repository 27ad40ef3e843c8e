//! `privdata rename-host`: counted and checked first; `--dry-run` changes
//! nothing.

use super::Context;
use crate::output::Output;
use anyhow::Result;
use clap::Args;
use privdata_host::ops::rename;

#[derive(Debug, Args)]
pub struct RenameHost {
    /// The current host, `hostname@backend`.
    old: String,
    /// The new host.
    new: String,
    /// Merge into a host that already holds data (OLD's values win).
    #[arg(long)]
    merge: bool,
    /// Count and check what would move, and change nothing.
    #[arg(long)]
    dry_run: bool,
    #[command(flatten)]
    output: Output,
}

impl RenameHost {
    pub fn execute(self, context: &Context) -> Result<()> {
        let Self {
            old,
            new,
            merge,
            dry_run,
            output,
        } = self;
        let (storage, config) = context.existing_store()?;
        let r = rename::rename_host(
            storage.as_ref(),
            &old,
            &new,
            merge,
            &config.host_limits(),
            dry_run,
        )?;
        if output.json {
            let out = serde_json::json!({"old": old, "new": new, "dry_run": dry_run, "report": r});
            println!("{}", serde_json::to_string_pretty(&out)?);
            return Ok(());
        }
        let verb = if dry_run { "would move" } else { "moved" };
        println!(
            "{verb} {} entries of {} entities from {old} to {new} ({} overwritten)",
            r.moved, r.entities, r.overwritten
        );
        Ok(())
    }
}
