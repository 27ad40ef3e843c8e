//! Private data whose entity no longer exists, found against the list of
//! live entities an operator gives (`openstack share list`, …), and purged
//! only when that list cannot be a mistake.

use crate::error::{Error, Result};
use privdata_store::{Admin, EntitySummary};
use std::collections::HashSet;
use std::io::BufRead;

/// Entities deleted in one transaction.
const BATCH: usize = 500;

/// The entity ids an operator says still exist.
#[derive(Debug, Clone, Default)]
pub struct LiveList(HashSet<String>);

impl LiveList {
    /// Read one id a line; blank lines and `#` comments are skipped. A line
    /// that is not a UUID is an error naming `source` and the line.
    pub fn read(reader: impl BufRead, source: &str) -> Result<LiveList> {
        let mut ids = HashSet::new();
        for (n, line) in reader.lines().enumerate() {
            let line = line.map_err(|e| Error::Io {
                what: format!("cannot read {source}"),
                source: e,
            })?;
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let id = privdata_store::validate::entity_id(line).map_err(|e| Error::BadInput {
                at: format!("{source} line {}", n + 1),
                message: e.to_string(),
            })?;
            ids.insert(id);
        }
        Ok(LiveList(ids))
    }

    /// A list of the given ids, in any spelling Manila accepts.
    pub fn of<'a>(ids: impl IntoIterator<Item = &'a str>) -> Result<LiveList> {
        Ok(LiveList(
            ids.into_iter()
                .map(privdata_store::validate::entity_id)
                .collect::<Result<_>>()?,
        ))
    }

    /// How many ids it holds.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// What a host keeps about entities the live list does not name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Orphans {
    /// The host.
    pub host: String,
    /// The orphaned entities, sorted by id.
    pub entities: Vec<EntitySummary>,
    /// How many entities the host holds data for, orphaned or not.
    pub held: usize,
}

impl Orphans {
    /// Entries of the orphaned entities.
    pub fn entries(&self) -> u64 {
        self.entities.iter().map(|e| e.entries).sum()
    }
}

/// The entities `host` holds data for that `live` does not name. Refused
/// when the host holds nothing: its name is most likely mistyped.
pub fn find(storage: &dyn Admin, host: &str, live: &LiveList) -> Result<Orphans> {
    let all = storage.entity_summaries(host)?;
    if all.is_empty() {
        return Err(Error::Refused(format!(
            "host {host} holds no private data (a typo?); `privdata hosts` lists the hosts that do"
        )));
    }
    let held = all.len();
    Ok(Orphans {
        host: host.to_string(),
        entities: all.into_iter().filter(|e| !live.0.contains(&e.entity)).collect(),
        held,
    })
}

/// Delete what `orphans` lists, one transaction per batch of 500
/// entities; returns the entries deleted. With `dry_run`, delete nothing
/// and return what would be deleted. A batch that fails deletes nothing;
/// the error ([`Error::PurgeStopped`]) says how much the batches before it
/// purged.
///
/// Refused, deleting nothing, when the live list was empty or when every
/// entity of the host would go: that is what a failed `openstack share
/// list` piped in, or the list of another backend, looks like. `all` says
/// the operator means it.
pub fn purge(
    storage: &dyn Admin,
    orphans: &Orphans,
    live: &LiveList,
    all: bool,
    dry_run: bool,
) -> Result<u64> {
    if !all {
        if live.is_empty() {
            return Err(Error::Refused(format!(
                "the live list is empty, so every entity of {} would be purged; if the command \
                 that wrote the list failed, run it again. To purge every entity of the host, \
                 pass --all",
                orphans.host
            )));
        }
        if orphans.entities.len() == orphans.held {
            return Err(Error::Refused(format!(
                "none of the {} live ids is an entity of {}, so all {} of its entities would be \
                 purged; is the list from another backend? To purge every entity of the host, \
                 pass --all",
                live.len(),
                orphans.host,
                orphans.held
            )));
        }
    }
    if dry_run {
        return Ok(orphans.entries());
    }
    let (mut entities, mut deleted) = (0, 0);
    for batch in orphans.entities.chunks(BATCH) {
        let ids: Vec<String> = batch.iter().map(|e| e.entity.clone()).collect();
        deleted += storage
            .delete_entities(&orphans.host, &ids)
            .map_err(|cause| Error::PurgeStopped {
                entities,
                entries: deleted,
                cause: Box::new(cause),
            })?;
        entities += batch.len() as u64;
    }
    Ok(deleted)
}
