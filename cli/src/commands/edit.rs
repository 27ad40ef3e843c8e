//! Commands that change a host's data in place: `set`, `unset`,
//! `rename-host` and `orphans --purge`.

use super::{existing_store, input, printable, source_name};
use anyhow::Result;
use privdata_host::PrivateData;
use privdata_host::ops::{orphans, rename};
use std::path::Path;

/// `set`: one key by hand, within the host's limits; journaled when the
/// audit journal is on.
pub fn set(config: &Path, host: &str, entity: &str, key: &str, value: &str) -> Result<()> {
    privdata_host::validate::host(host)?;
    let (storage, config) = existing_store(config)?;
    let data = PrivateData::new(storage, host, config.host_limits().of(host));
    data.update(entity, &[(key.to_string(), value.to_string())], false)?;
    println!("set {} of {entity} on {host}", printable(key));
    Ok(())
}

/// `unset`: one key by hand; refused when the entity holds no such key (a
/// typo must not look like success).
pub fn unset(config: &Path, host: &str, entity: &str, key: &str) -> Result<()> {
    let (storage, config) = existing_store(config)?;
    let data = PrivateData::new(storage, host, config.host_limits().of(host));
    let keys = [key.to_string()];
    anyhow::ensure!(
        !data.get(entity, Some(&keys))?.is_empty(),
        "host {host} holds no key {} for entity {entity}; `privdata get --host {host} --entity \
         {entity}` lists its keys",
        printable(key)
    );
    data.delete(entity, Some(&keys))?;
    println!("deleted {} of {entity} on {host}", printable(key));
    Ok(())
}

/// `rename-host`: counted and checked first; `dry_run` changes nothing.
pub fn rename_host(
    config: &Path,
    old: &str,
    new: &str,
    merge: bool,
    dry_run: bool,
    json: bool,
) -> Result<()> {
    let (storage, config) = existing_store(config)?;
    let r = rename::rename_host(storage.as_ref(), old, new, merge, &config.host_limits(), dry_run)?;
    if json {
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

/// List, or purge (`purge = Some((all, dry_run))`), what `host` keeps about
/// entities not in the live list. The counts are printed before anything
/// is deleted.
pub fn orphans(
    config: &Path,
    host: &str,
    live: &Path,
    purge: Option<(bool, bool)>,
    json: bool,
) -> Result<()> {
    let live_list = orphans::LiveList::read(input(live)?, &source_name(live))?;
    let (storage, _) = existing_store(config)?;
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
