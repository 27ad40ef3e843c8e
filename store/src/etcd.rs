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

mod client;
mod floor;
mod keys;
mod messages;
mod operator;

use super::change::{EntityChange, Usage};
use super::{EtcdUrl, Pair, Quota, Storage, StorageOptions};
use crate::error::{Error, Result};
use client::{Client, Kv, Op};
pub use floor::Floor;
use keys::{Keys, end_of};
use std::collections::{BTreeMap, HashSet};

/// Keys read by one range of a scan.
const PAGE: usize = 1000;
/// Times a write that lost the race to another writer of its host is read
/// and tried again.
const MAX_ATTEMPTS: usize = 64;

/// Private data in an etcd cluster.
#[derive(Debug)]
pub struct EtcdStorage {
    client: Client,
    keys: Keys,
    max_txn_ops: usize,
}

impl EtcdStorage {
    /// Open the store `url` names; the cluster must answer.
    pub fn open(url: &EtcdUrl, options: &StorageOptions) -> Result<Self> {
        if options.audit {
            return Err(Error::Storage(format!(
                "storage {}: the audit journal is not kept on etcd; turn [audit] off, or use a \
                 SQLite, MariaDB/MySQL or PostgreSQL store",
                url.written
            )));
        }
        let endpoints = url.members.iter().map(|m| format!("http://{m}")).collect();
        let store = EtcdStorage {
            client: Client::new(endpoints, url.written.clone())?,
            keys: Keys {
                prefix: url.prefix.clone(),
            },
            max_txn_ops: url.max_txn_ops,
        };
        store.check_schema()?;
        Ok(store)
    }

    /// Mark the prefix as this layout's (version 1), or refuse a newer one.
    fn check_schema(&self) -> Result<()> {
        let key = self.keys.schema();
        let read = self.client.txn(
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
                    self.client.label(),
                    self.keys.prefix,
                    version.unwrap_or_default()
                )));
            }
        }
        Ok(())
    }

    /// The host's usage and its revision, and the entity's pairs, as one
    /// reading: `local`, from the member asked without a round of the
    /// cluster (a write's first reading: if it was behind, the write's
    /// comparison of the usage key fails and it reads again, not locally),
    /// or linearizable.
    fn read_entity(
        &self,
        host: &str,
        entity: &str,
        local: bool,
    ) -> Result<(Usage, i64, BTreeMap<String, String>)> {
        let prefix = self.keys.data(Some(host), Some(entity));
        let ranges = [
            range(&self.keys.usage(host), None),
            range(&prefix, Some(end_of(&prefix))),
        ];
        let read = if local {
            self.client.read_local(&ranges)?
        } else {
            self.client.txn(&[], &ranges, &[])?
        };
        let (usage, revision) = usage_of(&read.ranges[0].0)?;
        let mut pairs = BTreeMap::new();
        for kv in &read.ranges[1].0 {
            let (_, _, key) = self.keys.parse(&kv.key)?;
            pairs.insert(key, text(&kv.value)?);
        }
        Ok((usage, revision, pairs))
    }

    /// Commit `ops` and the host's new usage if its usage key is still at
    /// `revision`; false if another write of the host came first.
    fn commit(&self, host: &str, revision: i64, mut ops: Vec<Op>, usage: Usage) -> Result<bool> {
        ops.push(Op::Put {
            key: self.keys.usage(host),
            value: format!("{} {}", usage.0, usage.1).into_bytes(),
        });
        self.fits(ops.len())?;
        Ok(self
            .client
            .txn(&[(self.keys.usage(host), revision)], &ops, &[])?
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
            let (kvs, more) = self.client.range(&start, end, PAGE, keys_only)?;
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
        let prefix = self.keys.data(Some(host), None);
        let mut pairs = BTreeMap::new();
        self.scan_keys(prefix.clone(), &end_of(&prefix), false, |kv| {
            let (_, entity, key) = self.keys.parse(&kv.key)?;
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
            self.client.label()
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

impl Storage for EtcdStorage {
    fn get(&self, host: &str, entity: &str, keys: Option<&[String]>) -> Result<Vec<Pair>> {
        if let Some([key]) = keys {
            let key = self.keys.pair(host, entity, key);
            let read = self.client.txn(&[], &[range(&key, None)], &[])?;
            let found = read.ranges[0].0.first().map(|kv| text(&kv.value)).transpose()?;
            return Ok(found
                .map(|v| (keys.unwrap_or_default()[0].clone(), v))
                .into_iter()
                .collect());
        }
        let prefix = self.keys.data(Some(host), Some(entity));
        let (kvs, _) = self.client.range(&prefix, &end_of(&prefix), 0, false)?;
        let wanted: Option<HashSet<&str>> = keys.map(|keys| keys.iter().map(String::as_str).collect());
        let mut pairs = Vec::new();
        for kv in &kvs {
            let (_, _, key) = self.keys.parse(&kv.key)?;
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
        let mut local = true;
        self.retried(|| {
            // A local reading is checked by the commit; where there is no
            // commit (nothing to change, or over the quota), the answer
            // rests on a linearizable reading.
            let first = std::mem::replace(&mut local, false);
            let (before, revision, old) = self.read_entity(host, entity, first)?;
            let change = EntityChange::update(before, &old, details, delete_existing);
            if change.is_empty() {
                return Ok((!first).then_some(()));
            }
            if let Err(refused) = quota.check(host, before, change.after) {
                return if first { Ok(None) } else { Err(refused) };
            }
            let ops = change
                .keys
                .iter()
                .map(|c| match c.new {
                    Some(value) => Op::Put {
                        key: self.keys.pair(host, entity, c.key),
                        value: value.as_bytes().to_vec(),
                    },
                    None => Op::Delete {
                        key: self.keys.pair(host, entity, c.key),
                        end: None,
                    },
                })
                .collect();
            Ok(self.commit(host, revision, ops, change.after)?.then_some(()))
        })
    }

    fn delete(&self, host: &str, entity: &str, keys: Option<&[String]>) -> Result<()> {
        let mut local = true;
        self.retried(|| {
            let first = std::mem::replace(&mut local, false);
            let (before, revision, old) = self.read_entity(host, entity, first)?;
            let change = EntityChange::delete(before, &old, keys);
            if change.is_empty() {
                return Ok((!first).then_some(()));
            }
            let ops = match keys {
                None => {
                    let prefix = self.keys.data(Some(host), Some(entity));
                    vec![Op::Delete {
                        end: Some(end_of(&prefix)),
                        key: prefix,
                    }]
                }
                Some(_) => change
                    .gone()
                    .map(|key| Op::Delete {
                        key: self.keys.pair(host, entity, key),
                        end: None,
                    })
                    .collect(),
            };
            Ok(self.commit(host, revision, ops, change.after)?.then_some(()))
        })
    }

    fn entity_page(&self, host: &str, after: Option<&str>, limit: usize) -> Result<Vec<String>> {
        self.page_of_entities(host, after, limit)
    }

    fn usage(&self, host: &str) -> Result<(u64, u64)> {
        let read = self
            .client
            .txn(&[], &[range(&self.keys.usage(host), None)], &[])?;
        Ok(usage_of(&read.ranges[0].0)?.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(url: &str) -> String {
        crate::open(url).unwrap_err().to_string()
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
        let msg = crate::open_with("etcd://127.0.0.1:2379/p", &audited)
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
