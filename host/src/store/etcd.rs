//! An etcd cluster: `etcd://HOST:PORT[,HOST:PORT…]/PREFIX`, the distributed
//! key-value store OpenStack deployments already run.
//!
//! Under the URL's prefix, each entry is one etcd key,
//! `PREFIX/d/HOST\0ENTITY\0KEY` (so one host's entries, and one entity's,
//! are each one key range, in the order the contract lists them), and what
//! each host holds is `PREFIX/u/HOST` = `"ENTRIES BYTES"`. A driver's write
//! reads the entity and the host's usage, checks the quota, and commits in
//! one etcd transaction only if the usage key is as it read it; every write
//! rewrites that key, so two writes of one host never both commit on the same
//! reading, and the quota stays exact. A write that loses the race reads again
//! and retries.
//!
//! etcd's own limits bound a call: one transaction takes at most
//! `max-txn-ops` operations (etcd's `--max-txn-ops`, 128 by default; say the
//! cluster's value in the URL, `?max-txn-ops=N`), and one request at most
//! `--max-request-bytes` (1.5 MiB by default). The audit journal is not kept
//! here.

mod gateway;

use super::{
    EntitySummary, Entry, HistoryFilter, HostSummary, JournalEntry, Pair, Quota, RenameReport, Storage,
    StorageOptions,
};
use crate::error::{Error, Result};
use gateway::{Gateway, Kv, Op};
use std::collections::{BTreeMap, BTreeSet, HashSet};

/// etcd's default `--max-txn-ops`.
const DEFAULT_MAX_TXN_OPS: usize = 128;
/// Keys read by one range of a scan.
const PAGE: usize = 1000;
/// Times a write that lost the race to another writer of its host is read
/// and tried again.
const MAX_ATTEMPTS: usize = 64;

/// Private data in an etcd cluster.
#[derive(Debug)]
pub struct EtcdStorage {
    gateway: Gateway,
    /// `PREFIX`, as the URL gives it (`/privdata`).
    prefix: String,
    max_txn_ops: usize,
}

/// What a host holds: entries, and bytes of keys and values.
type Usage = (u64, u64);

impl EtcdStorage {
    /// Open the store `url` names; the cluster must answer.
    pub fn open(url: &str, options: &StorageOptions) -> Result<Self> {
        let bad = |why: String| {
            Error::Storage(format!(
                "storage URL {url}: {why}; the form is etcd://HOST:PORT[,HOST:PORT...]/PREFIX"
            ))
        };
        if options.audit {
            return Err(Error::Storage(format!(
                "storage {url}: the audit journal is not kept on etcd; turn [audit] off, or use a \
                 SQLite, MariaDB/MySQL or PostgreSQL store"
            )));
        }
        let rest = url
            .strip_prefix("etcd://")
            .ok_or_else(|| bad("not an etcd URL".into()))?;
        let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (members, prefix) = match rest.split_once('/') {
            Some((members, prefix)) if !prefix.trim_matches('/').is_empty() => {
                (members, format!("/{}", prefix.trim_matches('/')))
            }
            _ => return Err(bad("it names no prefix to keep the entries under".into())),
        };
        if members.contains('@') {
            return Err(bad("etcd users and passwords are not supported".into()));
        }
        let mut max_txn_ops = DEFAULT_MAX_TXN_OPS;
        let mut plaintext_asked = false;
        for param in query.split('&').filter(|p| !p.is_empty()) {
            match param.split_once('=') {
                Some(("max-txn-ops", n)) => {
                    max_txn_ops = n
                        .parse()
                        .ok()
                        .filter(|n| *n >= 4)
                        .ok_or_else(|| bad(format!("max-txn-ops={n}: a number, at least 4")))?;
                }
                Some(("sslmode", "disable")) => plaintext_asked = true,
                _ => {
                    return Err(bad(format!(
                        "unknown parameter {param:?} (known: max-txn-ops, sslmode)"
                    )));
                }
            }
        }
        let mut endpoints = Vec::new();
        for member in members.split(',') {
            let Some((host, _)) = member.rsplit_once(':').filter(|(_, p)| p.parse::<u16>().is_ok()) else {
                return Err(bad(format!("member {member:?} is not HOST:PORT")));
            };
            let host = host.trim_start_matches('[').trim_end_matches(']');
            let loopback =
                host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
            if !loopback && !plaintext_asked {
                return Err(bad(format!(
                    "member {member} is not on this machine, and this store speaks to etcd in \
                     plaintext only (no TLS yet): add ?sslmode=disable to say that is what you want"
                )));
            }
            endpoints.push(format!("http://{member}"));
        }
        let store = EtcdStorage {
            gateway: Gateway::new(endpoints, url.to_string()),
            prefix,
            max_txn_ops,
        };
        store.check_schema()?;
        Ok(store)
    }

    /// Mark the prefix as this layout's (version 1), or refuse a newer one.
    fn check_schema(&self) -> Result<()> {
        let key = format!("{}/schema", self.prefix).into_bytes();
        let read = self.gateway.txn(
            &[(key.clone(), 0)],
            &[Op::Put {
                key: key.clone(),
                value: b"1".to_vec(),
            }],
            &[range(&key, None)],
        )?;
        if !read.succeeded {
            let version = read.ranges[0]
                .0
                .first()
                .map(|kv| String::from_utf8_lossy(&kv.value).into_owned());
            if version.as_deref() != Some("1") {
                return Err(Error::Storage(format!(
                    "etcd at {}: the prefix {} holds layout version {}, which this program does \
                     not know; use the newer privdata that wrote it",
                    self.gateway.label(),
                    self.prefix,
                    version.unwrap_or_default()
                )));
            }
        }
        Ok(())
    }

    fn usage_key(&self, host: &str) -> Vec<u8> {
        format!("{}/u/{host}", self.prefix).into_bytes()
    }

    /// The key range of every entry (`None`), of one host, or of one entity.
    fn data_prefix(&self, host: Option<&str>, entity: Option<&str>) -> Vec<u8> {
        let mut key = format!("{}/d/", self.prefix).into_bytes();
        if let Some(host) = host {
            key.extend_from_slice(host.as_bytes());
            key.push(0);
            if let Some(entity) = entity {
                key.extend_from_slice(entity.as_bytes());
                key.push(0);
            }
        }
        key
    }

    fn data_key(&self, host: &str, entity: &str, key: &str) -> Vec<u8> {
        let mut k = self.data_prefix(Some(host), Some(entity));
        k.extend_from_slice(key.as_bytes());
        k
    }

    /// (host, entity, key) of a data key.
    fn parse_key(&self, key: &[u8]) -> Result<(String, String, String)> {
        let rest = key.get(self.prefix.len() + 3..).unwrap_or_default();
        let mut parts = rest.splitn(3, |b| *b == 0);
        let mut next = || {
            String::from_utf8(parts.next().unwrap_or_default().to_vec())
                .map_err(|_| Error::Storage("etcd holds a key that is not UTF-8 under the prefix".into()))
        };
        Ok((next()?, next()?, next()?))
    }

    /// The host's usage and its revision, and the entity's pairs, as one
    /// reading.
    fn read_entity(&self, host: &str, entity: &str) -> Result<(Usage, i64, BTreeMap<String, String>)> {
        let prefix = self.data_prefix(Some(host), Some(entity));
        let read = self.gateway.txn(
            &[],
            &[
                range(&self.usage_key(host), None),
                range(&prefix, Some(end_of(&prefix))),
            ],
            &[],
        )?;
        let (usage, revision) = usage_of(&read.ranges[0].0)?;
        let mut pairs = BTreeMap::new();
        for kv in &read.ranges[1].0 {
            let (_, _, key) = self.parse_key(&kv.key)?;
            pairs.insert(key, text(&kv.value)?);
        }
        Ok((usage, revision, pairs))
    }

    /// Commit `ops` and the host's new usage if its usage key is still at
    /// `revision`; false if another write of the host came first.
    fn commit(&self, host: &str, revision: i64, mut ops: Vec<Op>, usage: Usage) -> Result<bool> {
        ops.push(Op::Put {
            key: self.usage_key(host),
            value: format!("{} {}", usage.0, usage.1).into_bytes(),
        });
        self.fits(ops.len())?;
        Ok(self
            .gateway
            .txn(&[(self.usage_key(host), revision)], &ops, &[])?
            .succeeded)
    }

    /// Refuse a transaction of more operations than the cluster takes.
    fn fits(&self, ops: usize) -> Result<()> {
        if ops > self.max_txn_ops {
            return Err(Error::QuotaExceeded(format!(
                "this call changes {} keys; etcd takes at most {} operations in one transaction \
                 (max-txn-ops in [storage] url, and --max-txn-ops on every member): split it into \
                 several calls",
                ops - 1,
                self.max_txn_ops
            )));
        }
        Ok(())
    }

    /// Every key from `start` up to `end`, a page at a time, until `f` says
    /// stop.
    fn scan_keys(
        &self,
        mut start: Vec<u8>,
        end: &[u8],
        keys_only: bool,
        mut f: impl FnMut(&Kv) -> Result<bool>,
    ) -> Result<()> {
        loop {
            let (kvs, more) = self.gateway.range(&start, end, PAGE, keys_only)?;
            for kv in &kvs {
                if !f(kv)? {
                    return Ok(());
                }
            }
            match kvs.last() {
                Some(last) if more => {
                    start = last.key.clone();
                    start.push(0);
                }
                _ => return Ok(()),
            }
        }
    }

    /// Every pair of `host`, by (entity, key).
    fn host_pairs(&self, host: &str) -> Result<BTreeMap<(String, String), String>> {
        let prefix = self.data_prefix(Some(host), None);
        let mut pairs = BTreeMap::new();
        self.scan_keys(prefix.clone(), &end_of(&prefix), false, |kv| {
            let (_, entity, key) = self.parse_key(&kv.key)?;
            pairs.insert((entity, key), text(&kv.value)?);
            Ok(true)
        })?;
        Ok(pairs)
    }

    /// Run `attempt` until it commits (`Some`), reading again each time
    /// another writer of the host came first.
    fn retried<T>(&self, mut attempt: impl FnMut() -> Result<Option<T>>) -> Result<T> {
        for _ in 0..MAX_ATTEMPTS {
            if let Some(done) = attempt()? {
                return Ok(done);
            }
        }
        Err(Error::StorageUnavailable(format!(
            "etcd at {}: {MAX_ATTEMPTS} tries in a row lost the race to other writers of the same \
             host; try again",
            self.gateway.label()
        )))
    }
}

fn range(key: &[u8], end: Option<Vec<u8>>) -> Op {
    Op::Range {
        key: key.to_vec(),
        end,
        limit: 0,
        keys_only: false,
    }
}

/// The first key after every key that starts with `prefix`.
fn end_of(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    vec![0]
}

fn text(bytes: &[u8]) -> Result<String> {
    String::from_utf8(bytes.to_vec())
        .map_err(|_| Error::Storage("etcd holds a value that is not UTF-8".into()))
}

/// A usage key's value and revision (0, 0 and revision 0 when missing).
fn usage_of(kvs: &[Kv]) -> Result<(Usage, i64)> {
    let Some(kv) = kvs.first() else {
        return Ok(((0, 0), 0));
    };
    let value = text(&kv.value)?;
    let mut numbers = value.split(' ').map(str::parse::<u64>);
    match (numbers.next(), numbers.next()) {
        (Some(Ok(entries)), Some(Ok(bytes))) => Ok(((entries, bytes), kv.mod_revision)),
        _ => Err(Error::Storage(format!(
            "etcd holds a usage value that is not `ENTRIES BYTES`: {value:?}"
        ))),
    }
}

fn size(key: &str, value: &str) -> u64 {
    (key.len() + value.len()) as u64
}

impl Storage for EtcdStorage {
    fn get(&self, host: &str, entity: &str, keys: Option<&[String]>) -> Result<Vec<Pair>> {
        if let Some([key]) = keys {
            let key = self.data_key(host, entity, key);
            let read = self.gateway.txn(&[], &[range(&key, None)], &[])?;
            let found = read.ranges[0].0.first().map(|kv| text(&kv.value)).transpose()?;
            return Ok(found
                .map(|v| (keys.unwrap_or_default()[0].clone(), v))
                .into_iter()
                .collect());
        }
        let prefix = self.data_prefix(Some(host), Some(entity));
        let (kvs, _) = self.gateway.range(&prefix, &end_of(&prefix), 0, false)?;
        let wanted: Option<HashSet<&str>> = keys.map(|keys| keys.iter().map(String::as_str).collect());
        let mut pairs = Vec::new();
        for kv in &kvs {
            let (_, _, key) = self.parse_key(&kv.key)?;
            if wanted.as_ref().is_none_or(|w| w.contains(key.as_str())) {
                pairs.push((key, text(&kv.value)?));
            }
        }
        Ok(pairs)
    }

    fn update(
        &self,
        host: &str,
        entity: &str,
        details: &[Pair],
        delete_existing: bool,
        quota: &Quota,
    ) -> Result<()> {
        self.fits(details.len() + 1)?;
        self.retried(|| {
            let (before, revision, old) = self.read_entity(host, entity)?;
            let mut after = before;
            let mut ops = Vec::new();
            for (key, value) in details {
                match old.get(key) {
                    Some(was) if was == value => continue,
                    Some(was) => after.1 = after.1 - was.len() as u64 + value.len() as u64,
                    None => after = (after.0 + 1, after.1 + size(key, value)),
                }
                ops.push(Op::Put {
                    key: self.data_key(host, entity, key),
                    value: value.clone().into_bytes(),
                });
            }
            if delete_existing {
                let kept: HashSet<&str> = details.iter().map(|(k, _)| k.as_str()).collect();
                for (key, value) in old.iter().filter(|(k, _)| !kept.contains(k.as_str())) {
                    after = (
                        after.0.saturating_sub(1),
                        after.1.saturating_sub(size(key, value)),
                    );
                    ops.push(Op::Delete {
                        key: self.data_key(host, entity, key),
                        end: None,
                    });
                }
            }
            if ops.is_empty() {
                return Ok(Some(()));
            }
            quota.check(host, before, after)?;
            Ok(self.commit(host, revision, ops, after)?.then_some(()))
        })
    }

    fn delete(&self, host: &str, entity: &str, keys: Option<&[String]>) -> Result<()> {
        self.retried(|| {
            let (mut usage, revision, old) = self.read_entity(host, entity)?;
            let named: Option<HashSet<&str>> = keys.map(|keys| keys.iter().map(String::as_str).collect());
            let gone: Vec<(&String, &String)> = old
                .iter()
                .filter(|(k, _)| named.as_ref().is_none_or(|n| n.contains(k.as_str())))
                .collect();
            if gone.is_empty() {
                return Ok(Some(()));
            }
            for (key, value) in &gone {
                usage = (
                    usage.0.saturating_sub(1),
                    usage.1.saturating_sub(size(key, value)),
                );
            }
            let ops = match keys {
                None => {
                    let prefix = self.data_prefix(Some(host), Some(entity));
                    vec![Op::Delete {
                        end: Some(end_of(&prefix)),
                        key: prefix,
                    }]
                }
                Some(_) => gone
                    .iter()
                    .map(|(key, _)| Op::Delete {
                        key: self.data_key(host, entity, key),
                        end: None,
                    })
                    .collect(),
            };
            Ok(self.commit(host, revision, ops, usage)?.then_some(()))
        })
    }

    fn hosts(&self) -> Result<Vec<HostSummary>> {
        let prefix = self.data_prefix(None, None);
        let mut hosts: Vec<HostSummary> = Vec::new();
        let mut last_entity = String::new();
        self.scan_keys(prefix.clone(), &end_of(&prefix), true, |kv| {
            let (host, entity, _) = self.parse_key(&kv.key)?;
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

    fn entity_summaries(&self, host: &str) -> Result<Vec<EntitySummary>> {
        let prefix = self.data_prefix(Some(host), None);
        let mut entities: Vec<EntitySummary> = Vec::new();
        self.scan_keys(prefix.clone(), &end_of(&prefix), true, |kv| {
            let (_, entity, _) = self.parse_key(&kv.key)?;
            match entities.last_mut() {
                Some(e) if e.entity == entity => e.entries += 1,
                _ => entities.push(EntitySummary { entity, entries: 1 }),
            }
            Ok(true)
        })?;
        Ok(entities)
    }

    fn entity_page(&self, host: &str, after: Option<&str>, limit: usize) -> Result<Vec<String>> {
        let prefix = self.data_prefix(Some(host), None);
        let start = match after {
            // Past every key of `after`: its entity prefix ends in \0.
            Some(after) => end_of(&self.data_prefix(Some(host), Some(after))),
            None => prefix.clone(),
        };
        let mut page: Vec<String> = Vec::new();
        if limit == 0 {
            return Ok(page);
        }
        self.scan_keys(start, &end_of(&prefix), true, |kv| {
            let (_, entity, _) = self.parse_key(&kv.key)?;
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

    fn rename_host(&self, old: &str, new: &str, merge: bool) -> Result<RenameReport> {
        super::refuse_same_host(old, new)?;
        self.retried(|| {
            let read = self.gateway.txn(
                &[],
                &[
                    range(&self.usage_key(old), None),
                    range(&self.usage_key(new), None),
                ],
                &[],
            )?;
            let (_, old_revision) = usage_of(&read.ranges[0].0)?;
            let (_, new_revision) = usage_of(&read.ranges[1].0)?;
            let moving = self.host_pairs(old)?;
            let mut merged = self.host_pairs(new)?;
            if !merged.is_empty() && !merge {
                return Err(super::host_taken(old, new, merged.len() as u64));
            }
            let overwritten = moving.keys().filter(|k| merged.contains_key(*k)).count() as u64;
            let entities = moving.keys().map(|(e, _)| e).collect::<BTreeSet<_>>().len() as u64;
            let mut ops: Vec<Op> = moving
                .iter()
                .map(|((entity, key), value)| Op::Put {
                    key: self.data_key(new, entity, key),
                    value: value.clone().into_bytes(),
                })
                .collect();
            let prefix = self.data_prefix(Some(old), None);
            ops.push(Op::Delete {
                end: Some(end_of(&prefix)),
                key: prefix,
            });
            ops.push(Op::Delete {
                key: self.usage_key(old),
                end: None,
            });
            merged.extend(moving.iter().map(|(k, v)| (k.clone(), v.clone())));
            let usage = merged
                .iter()
                .fold((0, 0), |(n, b), ((_, key), value)| (n + 1, b + size(key, value)));
            ops.push(Op::Put {
                key: self.usage_key(new),
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
                (self.usage_key(old), old_revision),
                (self.usage_key(new), new_revision),
            ];
            let done = self.gateway.txn(&unchanged, &ops, &[])?.succeeded;
            Ok(done.then_some(RenameReport {
                moved: moving.len() as u64,
                entities,
                overwritten,
            }))
        })
    }

    fn delete_entities(&self, host: &str, entities: &[String]) -> Result<u64> {
        // As many entities a transaction as fit one, with the usage key.
        let mut deleted = 0;
        for chunk in entities.chunks(self.max_txn_ops - 1) {
            deleted += self.retried(|| {
                let mut reads = vec![range(&self.usage_key(host), None)];
                for entity in chunk {
                    let prefix = self.data_prefix(Some(host), Some(entity));
                    reads.push(range(&prefix, Some(end_of(&prefix))));
                }
                let read = self.gateway.txn(&[], &reads, &[])?;
                let (mut usage, revision) = usage_of(&read.ranges[0].0)?;
                let mut gone = 0;
                let mut ops = Vec::new();
                for (entity, (kvs, _)) in chunk.iter().zip(&read.ranges[1..]) {
                    if kvs.is_empty() {
                        continue;
                    }
                    for kv in kvs {
                        let (_, _, key) = self.parse_key(&kv.key)?;
                        usage = (
                            usage.0.saturating_sub(1),
                            usage.1.saturating_sub(size(&key, &text(&kv.value)?)),
                        );
                        gone += 1;
                    }
                    let prefix = self.data_prefix(Some(host), Some(entity));
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
        let prefix = self.data_prefix(host, None);
        let start = match after {
            Some(a) => {
                let mut key = self.data_key(&a.host, &a.entity, &a.key);
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
            let (host, entity, key) = self.parse_key(&kv.key)?;
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

    fn put(&self, entries: &[Entry], quota_of: &dyn Fn(&str) -> Quota) -> Result<()> {
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
                let mut reads = vec![range(&self.usage_key(host), None)];
                reads.extend(
                    chunk
                        .iter()
                        .map(|((e, k), _)| range(&self.data_key(host, e, k), None)),
                );
                let read = self.gateway.txn(&[], &reads, &[])?;
                if before.is_none() {
                    let usage = usage_of(&read.ranges[0].0)?.0;
                    (before, after) = (Some(usage), usage);
                }
                for (((_, key), value), (kvs, _)) in chunk.iter().zip(&read.ranges[1..]) {
                    match kvs.first().map(|kv| text(&kv.value)).transpose()? {
                        Some(was) => after.1 = after.1 - was.len() as u64 + value.len() as u64,
                        None => after = (after.0 + 1, after.1 + size(key, value)),
                    }
                }
            }
            quota_of(host).check(host, before.unwrap_or_default(), after)?;
            // Then one transaction per chunk, each checked again with what
            // the chunks before it wrote.
            for chunk in latest.chunks(self.max_txn_ops - 1) {
                self.retried(|| {
                    let mut reads = vec![range(&self.usage_key(host), None)];
                    reads.extend(
                        chunk
                            .iter()
                            .map(|((e, k), _)| range(&self.data_key(host, e, k), None)),
                    );
                    let read = self.gateway.txn(&[], &reads, &[])?;
                    let (before, revision) = usage_of(&read.ranges[0].0)?;
                    let mut after = before;
                    let mut ops = Vec::new();
                    for (((entity, key), value), (kvs, _)) in chunk.iter().zip(&read.ranges[1..]) {
                        match kvs.first().map(|kv| text(&kv.value)).transpose()? {
                            Some(was) if was == *value => continue,
                            Some(was) => after.1 = after.1 - was.len() as u64 + value.len() as u64,
                            None => after = (after.0 + 1, after.1 + size(key, value)),
                        }
                        ops.push(Op::Put {
                            key: self.data_key(host, entity, key),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(url: &str) -> String {
        EtcdStorage::open(url, &StorageOptions::default())
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn urls_that_cannot_work_are_refused_before_connecting() {
        let msg = refusal("etcd://10.0.0.5:2379/privdata");
        assert!(
            msg.contains("not on this machine") && msg.contains("?sslmode=disable"),
            "{msg}"
        );
        assert!(refusal("etcd://127.0.0.1:2379").contains("names no prefix"));
        assert!(refusal("etcd://127.0.0.1:2379/").contains("names no prefix"));
        assert!(refusal("etcd://127.0.0.1/p").contains("is not HOST:PORT"));
        assert!(refusal("etcd://u:pw@127.0.0.1:2379/p").contains("passwords are not supported"));
        assert!(refusal("etcd://127.0.0.1:2379/p?max-txn-ops=2").contains("at least 4"));
        assert!(refusal("etcd://127.0.0.1:2379/p?timeout=3").contains("unknown parameter"));
        let audited = StorageOptions {
            audit: true,
            ..StorageOptions::default()
        };
        let msg = EtcdStorage::open("etcd://127.0.0.1:2379/p", &audited)
            .unwrap_err()
            .to_string();
        assert!(msg.contains("audit journal is not kept on etcd"), "{msg}");
    }

    #[test]
    fn a_prefix_range_ends_after_its_last_key() {
        assert_eq!(end_of(b"/p/d/h\0"), b"/p/d/h\x01");
        assert_eq!(end_of(b"a\xff"), b"b");
        assert_eq!(end_of(b"\xff"), b"\0");
    }
}
