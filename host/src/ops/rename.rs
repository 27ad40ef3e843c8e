//! Moving a host's private data to a new host name (after Manila's
//! `manila-manage share update_host`), counted and checked before anything
//! moves.

use crate::config::HostLimits;
use crate::error::{Error, Result};
use crate::ops::migrate::Cursor;
use privdata_store::{Admin, RenameReport, host_taken, refuse_same_host};
use std::cmp::Ordering;

/// What renaming `old` to `new` would do, without changing anything.
///
/// Refused when the two hosts are the same, when `old` holds nothing (a
/// typo), when `new` holds data and `merge` is not given, when a value of
/// `old` is longer than `new`'s backend allows, or when `new` would end over
/// its quota: the same limits a driver's writes to `new` keep.
pub fn plan(
    storage: &dyn Admin,
    old: &str,
    new: &str,
    merge: bool,
    limits: &HostLimits,
) -> Result<RenameReport> {
    refuse_same_host(old, new)?;
    privdata_store::validate::host(new)?;
    let limits = limits.of(new);
    let (mut from, mut into) = (Cursor::new(storage, old), Cursor::new(storage, new));
    let mut report = RenameReport {
        moved: 0,
        entities: 0,
        overwritten: 0,
    };
    let size = |e: &privdata_store::Entry| (e.key.len() + e.value.len()) as u64;
    // What `new` holds now, and what it will hold: (entries, bytes).
    let (mut before, mut after) = ((0u64, 0u64), (0u64, 0u64));
    let mut last_entity = None;
    loop {
        let step = match (from.peek()?, into.peek()?) {
            (None, None) => break,
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (Some(o), Some(n)) => {
                (o.entity.as_bytes(), o.key.as_bytes()).cmp(&(n.entity.as_bytes(), n.key.as_bytes()))
            }
        };
        if step != Ordering::Less {
            let n = into.next()?.expect("peeked");
            before = (before.0 + 1, before.1 + size(&n));
            if step == Ordering::Greater {
                after = (after.0 + 1, after.1 + size(&n));
                continue;
            }
            report.overwritten += 1;
        }
        let mut o = from.next()?.expect("peeked");
        report.moved += 1;
        if last_entity.as_ref() != Some(&o.entity) {
            report.entities += 1;
            last_entity = Some(o.entity.clone());
        }
        after = (after.0 + 1, after.1 + size(&o));
        o.host = new.to_string();
        privdata_store::validate::entry(o, limits.max_value_bytes)
            .map_err(|e| Error::Refused(format!("rename-host {old} {new}: {e}")))?;
    }
    if report.moved == 0 {
        return Err(Error::Refused(format!(
            "host {old} holds no private data, so there is nothing to rename (a typo?); \
             `privdata hosts` lists the hosts that hold data"
        )));
    }
    if before.0 > 0 && !merge {
        return Err(host_taken(old, new, before.0));
    }
    limits.quota.check(new, before, after)?;
    Ok(report)
}

/// Rename `old` to `new`: check it with [`plan`], then move every entry in
/// one transaction. With `dry_run`, only the plan.
pub fn rename_host(
    storage: &dyn Admin,
    old: &str,
    new: &str,
    merge: bool,
    limits: &HostLimits,
    dry_run: bool,
) -> Result<RenameReport> {
    let planned = plan(storage, old, new, merge, limits)?;
    if dry_run {
        return Ok(planned);
    }
    storage.rename_host(old, new, merge)
}
