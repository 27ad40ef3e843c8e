//! Commands that read the store: `hosts`, `list`, `get` and `history`.

use super::{existing_store, printable};
use anyhow::Result;
use privdata_host::PrivateData;
use privdata_host::store::{self, HistoryFilter};
use std::path::Path;

/// `hosts`: every host holding data, with counts.
pub fn hosts(config: &Path, json: bool) -> Result<()> {
    let hosts = existing_store(config)?.0.hosts()?;
    if json {
        println!("{}", serde_json::to_string_pretty(&hosts)?);
    } else {
        for h in hosts {
            println!("{}\t{} entities\t{} entries", h.host, h.entities, h.entries);
        }
    }
    Ok(())
}

/// `list`: the entities of a host, with counts.
pub fn list(config: &Path, host: &str, json: bool) -> Result<()> {
    let entities = existing_store(config)?.0.entity_summaries(host)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&entities)?);
    } else {
        for e in entities {
            println!("{}\t{} entries", e.entity, e.entries);
        }
    }
    Ok(())
}

/// `get`: one entity's private data, all keys or some.
pub fn get(config: &Path, host: &str, entity: &str, keys: Vec<String>, json: bool) -> Result<()> {
    let (storage, _) = existing_store(config)?;
    let data = PrivateData::new(storage, host, Default::default());
    let keys = (!keys.is_empty()).then_some(keys);
    let pairs = data.get(entity, keys.as_deref())?;
    if json {
        let map: serde_json::Map<String, serde_json::Value> =
            pairs.into_iter().map(|(k, v)| (k, v.into())).collect();
        println!("{}", serde_json::to_string_pretty(&map)?);
    } else {
        for (k, v) in pairs {
            println!("{} = {}", printable(&k), printable(&v));
        }
    }
    Ok(())
}

/// `history`: the journal, or (`prune_days`) dropping its old entries.
pub fn history(config: &Path, filter: HistoryFilter, prune_days: Option<u32>, json: bool) -> Result<()> {
    let (storage, _) = existing_store(config)?;
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
