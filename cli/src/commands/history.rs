//! `privdata history`: the audit journal, or (`--prune-days`) dropping its
//! old entries.

use super::Context;
use crate::output::Output;
use anyhow::Result;
use clap::Args;
use privdata_host::store::{self, HistoryFilter};

#[derive(Debug, Args)]
pub struct History {
    /// Only this host.
    #[arg(long)]
    host: Option<String>,
    /// Only this entity.
    #[arg(long)]
    entity: Option<String>,
    /// Only changes at or after this time: a date (2026-11-25), a UTC
    /// time (2026-11-25T10:00:00Z) or unix seconds.
    #[arg(long, value_parser = parse_time)]
    since: Option<i64>,
    /// Only changes before this time (same forms).
    #[arg(long, value_parser = parse_time)]
    until: Option<i64>,
    /// At most this many, the newest.
    #[arg(long)]
    limit: Option<usize>,
    /// Delete entries older than this many days instead of listing.
    #[arg(long)]
    prune_days: Option<u32>,
    #[command(flatten)]
    output: Output,
}

impl History {
    pub fn execute(self, context: &Context) -> Result<()> {
        let entity = self
            .entity
            .map(|e| privdata_host::validate::entity_id(&e))
            .transpose()?;
        let filter = HistoryFilter {
            host: self.host,
            entity,
            since: self.since,
            until: self.until,
            limit: self.limit,
        };
        let (prune_days, json) = (self.prune_days, self.output.json);
        let (storage, _) = context.existing_store()?;
        if let Some(days) = prune_days {
            let pruned = storage.prune_history(store::now() - i64::from(days) * 86_400)?;
            println!("pruned {pruned} journal entries older than {days} days");
            return Ok(());
        }
        let entries = storage.history(&filter)?;
        if json {
            println!("{}", serde_json::to_string_pretty(&entries)?);
            return Ok(());
        }
        let short = |d: &Option<String>| d.as_deref().map_or("-".to_string(), |d| d[..12].to_string());
        for e in entries {
            let at = std::time::UNIX_EPOCH + std::time::Duration::from_secs(e.at.max(0) as u64);
            println!(
                "{}\t{}\t{}\t{}\t{}\t{} -> {}",
                humantime::format_rfc3339_seconds(at),
                e.host,
                e.entity,
                e.key,
                e.operation,
                short(&e.old_digest),
                short(&e.new_digest)
            );
        }
        Ok(())
    }
}

/// A time as `--since` and `--until` take it: unix seconds, a date
/// (midnight UTC), or an RFC 3339 time (`T` or a space, `Z` optional).
fn parse_time(s: &str) -> std::result::Result<i64, String> {
    if let Ok(seconds) = s.parse::<i64>() {
        return Ok(seconds);
    }
    let text = if s.len() == 10 {
        format!("{s} 00:00:00")
    } else {
        s.trim_end_matches('Z').to_string()
    };
    let at = humantime::parse_rfc3339_weak(&text).map_err(|e| {
        format!("{s:?} is not a time ({e}); give a date like 2026-11-25, a time like 2026-11-25T10:00:00Z, or unix seconds")
    })?;
    at.duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .map_err(|_| format!("{s:?} is before 1970"))
}
