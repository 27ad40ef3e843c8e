//! The operator's face of the etcd store: list hosts and entities, rename
//! a host, purge entities, and page through entries for an export or a
//! migration and write them back, each within one transaction's limits.

use super::client::Op;
use super::keys::end_of;
use super::{EtcdStorage, range, text, usage_of};
use crate::change::{self, remove_from, set_in};
use crate::error::{Error, Result};
use crate::{Admin, EntitySummary, Entry, HistoryFilter, HostSummary, JournalEntry, Quota, RenameReport};
use std::collections::{BTreeMap, BTreeSet};

impl EtcdStorage {
    pub(super) fn host_summaries(&self) -> Result<Vec<HostSummary>> {
        let prefix = self.keys.data(None, None);
        let mut hosts: Vec<HostSummary> = Vec::new();
        let mut last_entity = String::new();
        self.scan_keys(prefix.clone(), &end_of(&prefix), true, |kv| {
            let (host, entity, _) = self.keys.parse(&kv.key)?;
            match hosts.last_mut() {
                Some(h) if h.host == host => {
                    h.entries += 1;
                    if entity != last_entity {
                        h.entities += 1;
                    }
                }
                _ => hosts.push(HostSummary {
                    host,
                    entities: 1,
                    entries: 1,
                }),
            }
            last_entity = entity;
            Ok(true)
        })?;
        Ok(hosts)
    }

    pub(super) fn entities_of(&self, host: &str) -> Result<Vec<EntitySummary>> {
        let prefix = self.keys.data(Some(host), None);
        let mut entities: Vec<EntitySummary> = Vec::new();
        self.scan_keys(prefix.clone(), &end_of(&prefix), true, |kv| {
            let (_, entity, _) = self.keys.parse(&kv.key)?;
            match entities.last_mut() {
                Some(e) if e.entity == entity => e.entries += 1,
                _ => entities.push(EntitySummary { entity, entries: 1 }),
            }
            Ok(true)
        })?;
        Ok(entities)
    }

    pub(super) fn page_of_entities(
        &self,
        host: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<String>> {
        let prefix = self.keys.data(Some(host), None);
        let start = match after {
            // Past every key of `after`: its entity prefix ends in \0.
            Some(after) => end_of(&self.keys.data(Some(host), Some(after))),
            None => prefix.clone(),
        };
        let mut page: Vec<String> = Vec::new();
        if limit == 0 {
            return Ok(page);
        }
        self.scan_keys(start, &end_of(&prefix), true, |kv| {
            let (_, entity, _) = self.keys.parse(&kv.key)?;
            if page.last() != Some(&entity) {
                if page.len() == limit {
                    return Ok(false);
                }
                page.push(entity);
            }
            Ok(true)
        })?;
        Ok(page)
    }

    pub(super) fn rename(&self, old: &str, new: &str, merge: bool) -> Result<RenameReport> {
        crate::refuse_same_host(old, new)?;
        self.retried(|| {
            let read = self.client.txn(
                &[],
                &[
                    range(&self.keys.usage(old), None),
                    range(&self.keys.usage(new), None),
                ],
                &[],
            )?;
            let (_, old_revision) = usage_of(&read.ranges[0].0)?;
            let (_, new_revision) = usage_of(&read.ranges[1].0)?;
            let moving = self.host_pairs(old)?;
            let mut merged = self.host_pairs(new)?;
            if !merged.is_empty() && !merge {
                return Err(crate::host_taken(old, new, merged.len() as u64));
            }
            let overwritten = moving.keys().filter(|k| merged.contains_key(*k)).count() as u64;
            let entities = moving.keys().map(|(e, _)| e).collect::<BTreeSet<_>>().len() as u64;
            let mut ops: Vec<Op> = moving
                .iter()
                .map(|((entity, key), value)| Op::Put {
                    key: self.keys.pair(new, entity, key),
                    value: value.clone().into_bytes(),
                })
                .collect();
            let prefix = self.keys.data(Some(old), None);
            ops.push(Op::Delete {
                end: Some(end_of(&prefix)),
                key: prefix,
            });
            ops.push(Op::Delete {
                key: self.keys.usage(old),
                end: None,
            });
            merged.extend(moving.iter().map(|(k, v)| (k.clone(), v.clone())));
            let usage = change::of(
                merged
                    .iter()
                    .map(|((_, key), value)| (key.as_str(), value.as_str())),
            );
            ops.push(Op::Put {
                key: self.keys.usage(new),
                value: format!("{} {}", usage.0, usage.1).into_bytes(),
            });
            if ops.len() > self.max_txn_ops {
                return Err(Error::Refused(format!(
                    "host {old} holds {} entries; moving them in one etcd transaction takes {} \
                     operations, and the cluster takes at most {} (max-txn-ops): raise \
                     --max-txn-ops on every member and max-txn-ops in [storage] url for the \
                     rename, then lower them again",
                    moving.len(),
                    ops.len(),
                    self.max_txn_ops
                )));
            }
            let unchanged = [
                (self.keys.usage(old), old_revision),
                (self.keys.usage(new), new_revision),
            ];
            let done = self.client.txn(&unchanged, &ops, &[])?.succeeded;
            Ok(done.then_some(RenameReport {
                moved: moving.len() as u64,
                entities,
                overwritten,
            }))
        })
    }

    pub(super) fn purge(&self, host: &str, entities: &[String]) -> Result<u64> {
        // As many entities a transaction as fit one, with the usage key.
        let mut deleted = 0;
        for chunk in entities.chunks(self.max_txn_ops - 1) {
            deleted += self.retried(|| {
                let mut reads = vec![range(&self.keys.usage(host), None)];
                for entity in chunk {
                    let prefix = self.keys.data(Some(host), Some(entity));
                    reads.push(range(&prefix, Some(end_of(&prefix))));
                }
                let read = self.client.txn(&[], &reads, &[])?;
                let (mut usage, revision) = usage_of(&read.ranges[0].0)?;
                let mut gone = 0;
                let mut ops = Vec::new();
                for (entity, (kvs, _)) in chunk.iter().zip(&read.ranges[1..]) {
                    if kvs.is_empty() {
                        continue;
                    }
                    for kv in kvs {
                        let (_, _, key) = self.keys.parse(&kv.key)?;
                        remove_from(&mut usage, &key, &text(&kv.value)?);
                        gone += 1;
                    }
                    let prefix = self.keys.data(Some(host), Some(entity));
                    ops.push(Op::Delete {
                        end: Some(end_of(&prefix)),
                        key: prefix,
                    });
                }
                if ops.is_empty() {
                    return Ok(Some(0));
                }
                Ok(self.commit(host, revision, ops, usage)?.then_some(gone))
            })?;
        }
        Ok(deleted)
    }

    pub(super) fn page_of_entries(
        &self,
        host: Option<&str>,
        after: Option<&Entry>,
        limit: usize,
    ) -> Result<Vec<Entry>> {
        let prefix = self.keys.data(host, None);
        let start = match after {
            Some(a) => {
                let mut key = self.keys.pair(&a.host, &a.entity, &a.key);
                key.push(0);
                key.max(prefix.clone())
            }
            None => prefix.clone(),
        };
        let mut entries = Vec::new();
        if limit == 0 {
            return Ok(entries);
        }
        self.scan_keys(start, &end_of(&prefix), false, |kv| {
            let (host, entity, key) = self.keys.parse(&kv.key)?;
            entries.push(Entry {
                host,
                entity,
                key,
                value: text(&kv.value)?,
            });
            Ok(entries.len() < limit)
        })?;
        Ok(entries)
    }

    pub(super) fn import(&self, entries: &[Entry], quota_of: &dyn Fn(&str) -> Quota) -> Result<()> {
        // The last line for a key wins, as if applied one by one.
        let mut by_host: BTreeMap<&str, BTreeMap<(&str, &str), &str>> = BTreeMap::new();
        for e in entries {
            by_host
                .entry(&e.host)
                .or_default()
                .insert((&e.entity, &e.key), &e.value);
        }
        for (host, latest) in by_host {
            let latest: Vec<((&str, &str), &str)> = latest.into_iter().collect();
            // The whole batch within the quota first, so that a refused
            // batch writes nothing.
            let mut before = None;
            let mut after = (0u64, 0u64);
            for chunk in latest.chunks(self.max_txn_ops - 1) {
                let mut reads = vec![range(&self.keys.usage(host), None)];
                reads.extend(
                    chunk
                        .iter()
                        .map(|((e, k), _)| range(&self.keys.pair(host, e, k), None)),
                );
                let read = self.client.txn(&[], &reads, &[])?;
                if before.is_none() {
                    let usage = usage_of(&read.ranges[0].0)?.0;
                    (before, after) = (Some(usage), usage);
                }
                for (((_, key), value), (kvs, _)) in chunk.iter().zip(&read.ranges[1..]) {
                    let was = kvs.first().map(|kv| text(&kv.value)).transpose()?;
                    set_in(&mut after, key, was.as_deref(), value);
                }
            }
            quota_of(host).check(host, before.unwrap_or_default(), after)?;
            // Then one transaction per chunk, each checked again with what
            // the chunks before it wrote.
            for chunk in latest.chunks(self.max_txn_ops - 1) {
                self.retried(|| {
                    let mut reads = vec![range(&self.keys.usage(host), None)];
                    reads.extend(
                        chunk
                            .iter()
                            .map(|((e, k), _)| range(&self.keys.pair(host, e, k), None)),
                    );
                    let read = self.client.txn(&[], &reads, &[])?;
                    let (before, revision) = usage_of(&read.ranges[0].0)?;
                    let mut after = before;
                    let mut ops = Vec::new();
                    for (((entity, key), value), (kvs, _)) in chunk.iter().zip(&read.ranges[1..]) {
                        let was = kvs.first().map(|kv| text(&kv.value)).transpose()?;
                        if was.as_deref() == Some(*value) {
                            continue;
                        }
                        set_in(&mut after, key, was.as_deref(), value);
                        ops.push(Op::Put {
                            key: self.keys.pair(host, entity, key),
                            value: value.as_bytes().to_vec(),
                        });
                    }
                    if ops.is_empty() {
                        return Ok(Some(()));
                    }
                    quota_of(host).check(host, before, after)?;
                    Ok(self.commit(host, revision, ops, after)?.then_some(()))
                })?;
            }
        }
        Ok(())
    }
}

impl Admin for EtcdStorage {
    fn hosts(&self) -> Result<Vec<HostSummary>> {
        self.host_summaries()
    }

    fn entity_summaries(&self, host: &str) -> Result<Vec<EntitySummary>> {
        self.entities_of(host)
    }

    fn rename_host(&self, old: &str, new: &str, merge: bool) -> Result<RenameReport> {
        self.rename(old, new, merge)
    }

    fn delete_entities(&self, host: &str, entities: &[String]) -> Result<u64> {
        self.purge(host, entities)
    }

    fn history(&self, _: &HistoryFilter) -> Result<Vec<JournalEntry>> {
        Err(Error::Refused(
            "the audit journal is not kept on etcd; use a SQLite, MariaDB/MySQL or PostgreSQL \
             store for it"
                .into(),
        ))
    }

    fn prune_history(&self, _: i64) -> Result<u64> {
        Ok(0)
    }

    fn scan(&self, host: Option<&str>, after: Option<&Entry>, limit: usize) -> Result<Vec<Entry>> {
        self.page_of_entries(host, after, limit)
    }

    fn put(&self, entries: &[Entry], quota_of: &dyn Fn(&str) -> Quota) -> Result<()> {
        self.import(entries, quota_of)
    }
}
