//! Moving private data between stores: make what a destination holds for
//! each host the same as the source's, then prove it with counts and a
//! checksum.
//!
//! Both stores are read in the same order (host, entity, key, by bytes), a
//! page at a time, and merged: an entry missing or different in the
//! destination is written, one the source does not hold is removed, an
//! equal one is left alone. Memory stays constant, and an interrupted run
//! started again only writes what is still missing: it resumes.

use crate::config::HostLimits;
use crate::error::{Error, Result};
use privdata_store::{Admin, Entry, Quota};
use std::collections::BTreeMap;

/// The quota of the writes: [`check_source`] checked what each host will
/// hold in the end, and on the way a host may hold more for a moment (what
/// the destination held and the source does not is removed last).
const UNCHECKED: Quota = Quota::UNLIMITED;

/// Entries read, and written, at a time.
const PAGE: usize = 1000;

/// What a migration did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Report {
    /// Hosts migrated.
    pub hosts: u64,
    /// Entries the source holds for them.
    pub entries: u64,
    /// Entries written to the destination (missing there, or different).
    pub copied: u64,
    /// Entries the destination already held with the same value.
    pub unchanged: u64,
    /// Entries the destination held that the source does not: removed.
    pub removed: u64,
    /// The checksum both stores gave in the final verification.
    pub checksum: String,
}

/// How far a migration is: `done` of `total` source entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Source entries handled so far.
    pub done: u64,
    /// Source entries in all.
    pub total: u64,
}

/// What a store holds for some hosts: how many entries, and a checksum of
/// them in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// Entries, over the hosts.
    pub entries: u64,
    /// blake3 over every (host, entity, key, value), in order, each field
    /// length-prefixed; hex.
    pub checksum: String,
}

/// The hosts `from` holds data for, or just `only`.
fn hosts_of(from: &dyn Admin, only: Option<&str>) -> Result<Vec<(String, u64)>> {
    Ok(from
        .hosts()?
        .into_iter()
        .filter(|h| only.is_none_or(|only| h.host == only))
        .map(|h| (h.host, h.entries))
        .collect())
}

/// Every entry a store holds for `host`, in order, a page at a time.
pub(crate) struct Cursor<'a> {
    storage: &'a dyn Admin,
    host: &'a str,
    page: std::vec::IntoIter<Entry>,
    after: Option<Entry>,
    finished: bool,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(storage: &'a dyn Admin, host: &'a str) -> Self {
        Cursor {
            storage,
            host,
            page: Vec::new().into_iter(),
            after: None,
            finished: false,
        }
    }

    /// The next entry without taking it.
    pub(crate) fn peek(&mut self) -> Result<Option<&Entry>> {
        if self.page.len() == 0 && !self.finished {
            let page = self.storage.scan(Some(self.host), self.after.as_ref(), PAGE)?;
            self.finished = page.len() < PAGE;
            let mut previous = self.after.as_ref();
            let ascending = page.iter().all(|e| {
                let after = previous.is_none_or(|p| order(p) < order(e));
                previous = Some(e);
                after
            });
            if !ascending {
                return Err(Error::Storage(format!(
                    "host {}: the store returned entries out of byte order; it cannot be migrated",
                    self.host
                )));
            }
            if let Some(last) = page.last() {
                self.after = Some(last.clone());
            }
            self.page = page.into_iter();
        }
        Ok(self.page.as_slice().first())
    }

    pub(crate) fn next(&mut self) -> Result<Option<Entry>> {
        self.peek()?;
        Ok(self.page.next())
    }
}

/// The order every store scans in: bytes of host, entity, key.
fn order(e: &Entry) -> (&[u8], &[u8], &[u8]) {
    (e.host.as_bytes(), e.entity.as_bytes(), e.key.as_bytes())
}

/// Check every entry `from` holds for `hosts` against `limits`, as a
/// driver's write of it would be checked, and each host's total against its
/// quota: the destination will hold exactly this.
fn check_source(from: &dyn Admin, hosts: &[(String, u64)], limits: &HostLimits) -> Result<()> {
    let bad = |message: String| Error::BadInput {
        at: "the source store".into(),
        message,
    };
    for (host, _) in hosts {
        let host_limits = limits.of(host);
        let (mut entries, mut bytes) = (0u64, 0u64);
        let mut cursor = Cursor::new(from, host);
        while let Some(e) = cursor.next()? {
            entries += 1;
            bytes += (e.key.len() + e.value.len()) as u64;
            let entity = e.entity.clone();
            let checked = privdata_store::validate::entry(e, host_limits.max_value_bytes)
                .map_err(|e| bad(e.to_string()))?;
            if checked.entity != entity {
                return Err(bad(format!(
                    "host {host} keeps entity {entity:?} under a non-canonical id (as {:?}); \
                     export it, and import the file, which stores it canonically",
                    checked.entity
                )));
            }
        }
        let quota = host_limits.quota;
        if !quota.allows((entries, bytes)) {
            return Err(bad(format!(
                "host {host} holds {entries} entries, {bytes} bytes; its quota is {} entries, {} \
                 bytes (raise limits.max_entries or limits.max_bytes of its backend in the \
                 configuration)",
                quota.max_entries, quota.max_bytes
            )));
        }
    }
    Ok(())
}

/// Make `to` hold exactly what `from` holds for every host of `from` (or
/// only `host`), then verify both with [`summarize`]. Hosts that only `to`
/// holds are left alone. Every entry is first checked against `limits`, and
/// nothing is written if one fails. `progress` is called after every page.
pub fn migrate(
    from: &dyn Admin,
    to: &dyn Admin,
    host: Option<&str>,
    limits: &HostLimits,
    progress: &mut dyn FnMut(Progress),
) -> Result<Report> {
    let hosts = hosts_of(from, host)?;
    if let Some(only) = host
        && hosts.is_empty()
    {
        return Err(Error::Refused(format!(
            "the source holds no private data for host {only} (a typo?); `privdata hosts` lists \
             the hosts it has"
        )));
    }
    check_source(from, &hosts, limits)?;
    let mut report = Report {
        hosts: hosts.len() as u64,
        entries: hosts.iter().map(|(_, n)| n).sum(),
        ..Report::default()
    };
    let mut done = Progress {
        done: 0,
        total: report.entries,
    };
    progress(done);
    for (host, _) in &hosts {
        let (mut src, mut dst) = (Cursor::new(from, host), Cursor::new(to, host));
        let mut writes = Vec::with_capacity(PAGE);
        let mut extras: BTreeMap<String, Vec<String>> = BTreeMap::new();
        loop {
            let Some(s) = src.peek()? else {
                // What the destination holds past the source's last entry.
                while let Some(d) = dst.next()? {
                    extras.entry(d.entity).or_default().push(d.key);
                }
                break;
            };
            let step = match dst.peek()? {
                Some(d) => order(d).cmp(&order(s)),
                None => std::cmp::Ordering::Greater,
            };
            match step {
                std::cmp::Ordering::Less => {
                    let d = dst.next()?.expect("peeked");
                    extras.entry(d.entity).or_default().push(d.key);
                    continue;
                }
                std::cmp::Ordering::Equal => {
                    let d = dst.next()?.expect("peeked");
                    let s = src.next()?.expect("peeked");
                    if d.value == s.value {
                        report.unchanged += 1;
                    } else {
                        writes.push(s);
                    }
                }
                std::cmp::Ordering::Greater => writes.push(src.next()?.expect("peeked")),
            }
            done.done += 1;
            if writes.len() == PAGE {
                to.put(&writes, &|_| UNCHECKED)?;
                report.copied += writes.len() as u64;
                writes.clear();
            }
            if done.done.is_multiple_of(PAGE as u64) {
                progress(done);
            }
        }
        to.put(&writes, &|_| UNCHECKED)?;
        report.copied += writes.len() as u64;
        for (entity, keys) in extras {
            report.removed += keys.len() as u64;
            to.delete(host, &entity, Some(&keys))?;
        }
        progress(done);
    }
    let names: Vec<&str> = hosts.iter().map(|(h, _)| h.as_str()).collect();
    let (source, destination) = (summarize(from, &names)?, summarize(to, &names)?);
    if source != destination {
        return Err(Error::VerificationFailed(format!(
            "the source holds {} entries (checksum {}), the destination {} \
             (checksum {}); were drivers writing during the migration? Stop the share services \
             and run the same command again",
            source.entries, source.checksum, destination.entries, destination.checksum
        )));
    }
    report.checksum = source.checksum;
    Ok(report)
}

/// Count and checksum what `storage` holds for `hosts`, reading it in order
/// a page at a time. Two stores holding the same entries give the same
/// summary, whatever their kind.
pub fn summarize(storage: &dyn Admin, hosts: &[&str]) -> Result<Summary> {
    let mut hasher = blake3::Hasher::new();
    let mut entries = 0;
    let mut sorted = hosts.to_vec();
    sorted.sort_unstable();
    for host in sorted {
        let mut cursor = Cursor::new(storage, host);
        while let Some(e) = cursor.next()? {
            for field in [&e.host, &e.entity, &e.key, &e.value] {
                hasher.update(&(field.len() as u64).to_le_bytes());
                hasher.update(field.as_bytes());
            }
            entries += 1;
        }
    }
    Ok(Summary {
        entries,
        checksum: hasher.finalize().to_hex().to_string(),
    })
}
