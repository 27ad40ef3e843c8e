//! What the database-server backends (MariaDB/MySQL and PostgreSQL) share:
//! every operation, written once over a small [`Dialect`] that knows how to
//! connect, run one statement and wrap a transaction, plus a connection pool,
//! retries and schema migrations.
//!
//! Unlike SQLite (whose triggers keep `host_usage`), the servers keep what
//! each host holds explicitly: every write locks its host's usage row
//! first, reads what it replaces, checks the quota *before* writing, and
//! stores the new totals in the same transaction. Writes of one host are
//! therefore serialized by that row lock, on one server or a cluster; writes
//! of different hosts never wait for each other.
//!
//! A driver's update or delete does all of that in one round trip, through a
//! routine on the server (`privdata_update`, `privdata_delete`, created by
//! the migrations). With the audit journal on, or a write of more than
//! [`BATCH_ROWS`] keys (which the routines, taking their keys as one list,
//! would match row by row), the same steps run from here as a transaction
//! instead, one statement each.

mod migrations;
pub(crate) mod mysql;
mod pool;
pub(crate) mod postgres;
mod sql;
mod statements;
mod tls;

use super::usage::{remove_from, set_in};
use super::{
    EntitySummary, Entry, HistoryFilter, HostSummary, JournalEntry, Pair, Quota, RenameReport, Storage,
    StorageOptions, now,
};
use crate::error::Result;
use pool::Pool;
use sql::{BATCH_ROWS, Dialect, Fail, Param, RoutineUpdate, Sql, Tx, Value};
use statements::{Change, pairs_of};
use std::collections::{BTreeMap, BTreeSet, HashSet};

/// A database-server store: a pool of connections of one dialect.
pub(crate) struct ServerStorage<D: Dialect> {
    pool: Pool<D>,
    audit: bool,
}

impl<D: Dialect> std::fmt::Debug for ServerStorage<D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerStorage")
            .field("backend", &D::NAME)
            .field("url", &self.pool.url)
            .field("audit", &self.audit)
            .finish_non_exhaustive()
    }
}

impl<D: Dialect> ServerStorage<D> {
    /// Connect, bring the schema up to date and apply `options`.
    pub(crate) fn open(dialect: D, url: &str, options: &StorageOptions) -> Result<Self> {
        let store = ServerStorage {
            pool: Pool::new(dialect, url),
            audit: options.audit,
        };
        migrations::migrate(&store.pool)?;
        if let Some(days) = options.audit_retention_days {
            store.prune_history(now() - i64::from(days) * 86_400)?;
        }
        Ok(store)
    }

    /// Run `f` on a pooled connection: see [`Pool::run`].
    fn run<T>(&self, tx: bool, f: impl FnMut(&mut dyn Sql) -> Tx<T>) -> Result<T> {
        self.pool.run(tx, f)
    }
}

impl<D: Dialect> Storage for ServerStorage<D> {
    fn get(&self, host: &str, entity: &str, keys: Option<&[String]>) -> Result<Vec<Pair>> {
        let names: Vec<&str> = keys.unwrap_or_default().iter().map(String::as_str).collect();
        let lists = Self::key_lists(&names);
        // Several statements read one state inside a transaction.
        self.run(lists.len() > 1, |sql| {
            let rows = match keys {
                None => sql.query(
                    "SELECT \"key\", value FROM private_data WHERE host = ? AND entity_id = ? \
                     ORDER BY \"key\"",
                    &[Param::Text(host), Param::Text(entity)],
                )?,
                Some(_) => {
                    let mut rows = Vec::new();
                    for (condition, keys) in &lists {
                        let statement = format!(
                            "SELECT \"key\", value FROM private_data \
                             WHERE host = ? AND entity_id = ? AND {condition}"
                        );
                        let mut params = vec![Param::Text(host), Param::Text(entity)];
                        params.extend(keys.iter().copied());
                        rows.extend(sql.query(&statement, &params)?);
                    }
                    rows
                }
            };
            // BTreeMap orders by bytes, as the contract does.
            Ok(pairs_of(rows)?.into_iter().collect())
        })
    }

    fn update(
        &self,
        host: &str,
        entity: &str,
        details: &[Pair],
        delete_existing: bool,
        quota: &Quota,
    ) -> Result<()> {
        let bytes: usize = details.iter().map(|(k, v)| k.len() + v.len()).sum();
        if !self.audit && details.len() <= BATCH_ROWS && bytes <= D::ROUTINE_MAX_BYTES {
            let limit = |max: u64| i64::try_from(max).unwrap_or(i64::MAX);
            let new = super::usage::of(details.iter().map(|(k, v)| (k.as_str(), v.as_str())));
            let write = RoutineUpdate {
                host,
                entity,
                details,
                delete_existing,
                new_entries: limit(new.0),
                new_bytes: limit(new.1),
                max_entries: limit(quota.max_entries),
                max_bytes: limit(quota.max_bytes),
                now: now(),
            };
            let row = self.run(false, |sql| Ok(self.pool.dialect.update_routine(sql, &write)?))?;
            let mut c = row.into_iter().map(|v| v.count());
            let mut next = || c.next().unwrap_or(Ok(0)).map_err(|e| self.pool.failure(e));
            let applied = next()? == 1;
            let (before, after) = ((next()?, next()?), (next()?, next()?));
            if !applied {
                quota.check(host, before, after)?;
                return Err(crate::error::Error::Storage(format!(
                    "{} at {}: privdata_update refused a write within the quota ({after:?} of \
                     {quota:?}); is the routine from another version of privdata?",
                    D::NAME,
                    self.pool.url
                )));
            }
            return Ok(());
        }
        self.run(true, |sql| {
            let (before, old) = self.lock_entity(sql, host, entity)?;
            let op = if delete_existing { "replace" } else { "update" };
            let mut after = before;
            let mut changes = Vec::new();
            let mut gone = Vec::new();
            let mut set = Vec::new();
            for (key, value) in details {
                let was = old.get(key).map(String::as_str);
                if was == Some(value.as_str()) {
                    continue;
                }
                set_in(&mut after, key, was, value);
                set.push((host, entity, key.as_str(), value.as_str()));
                changes.push(Change {
                    entity,
                    key,
                    operation: op,
                    old: was,
                    new: Some(value),
                });
            }
            if delete_existing {
                let kept: HashSet<&str> = details.iter().map(|(k, _)| k.as_str()).collect();
                for (key, value) in &old {
                    if !kept.contains(key.as_str()) {
                        gone.push(key.as_str());
                        remove_from(&mut after, key, value);
                        changes.push(Change {
                            entity,
                            key,
                            operation: op,
                            old: Some(value),
                            new: None,
                        });
                    }
                }
            }
            if changes.is_empty() {
                return Ok(());
            }
            quota.check(host, before, after)?;
            self.delete_keys(sql, host, entity, &gone)?;
            self.upsert(sql, &set)?;
            self.set_usage(sql, host, after)?;
            self.journal(sql, host, &changes)
        })
    }

    fn delete(&self, host: &str, entity: &str, keys: Option<&[String]>) -> Result<()> {
        let named_keys = keys.unwrap_or_default();
        let bytes: usize = named_keys.iter().map(String::len).sum();
        if !self.audit && named_keys.len() <= BATCH_ROWS && bytes <= D::ROUTINE_MAX_BYTES {
            return self.run(false, |sql| {
                Ok(self.pool.dialect.delete_routine(sql, host, entity, keys)?)
            });
        }
        let named: Option<HashSet<&str>> = keys.map(|keys| keys.iter().map(String::as_str).collect());
        self.run(true, |sql| {
            let (mut usage, old) = self.lock_entity(sql, host, entity)?;
            let mut changes = Vec::new();
            let mut gone = Vec::new();
            for (key, value) in &old {
                if named.as_ref().is_none_or(|named| named.contains(key.as_str())) {
                    gone.push(key.as_str());
                    remove_from(&mut usage, key, value);
                    changes.push(Change {
                        entity,
                        key,
                        operation: "delete",
                        old: Some(value),
                        new: None,
                    });
                }
            }
            if gone.is_empty() {
                return Ok(());
            }
            if keys.is_none() {
                sql.exec(
                    "DELETE FROM private_data WHERE host = ? AND entity_id = ?",
                    &[Param::Text(host), Param::Text(entity)],
                )?;
            } else {
                self.delete_keys(sql, host, entity, &gone)?;
            }
            self.set_usage(sql, host, usage)?;
            self.journal(sql, host, &changes)
        })
    }

    fn hosts(&self) -> Result<Vec<HostSummary>> {
        self.run(false, |sql| {
            let rows = sql.query(
                "SELECT host, COUNT(DISTINCT entity_id), COUNT(*) FROM private_data \
                 GROUP BY host ORDER BY host",
                &[],
            )?;
            rows.into_iter()
                .map(|row| {
                    let mut c = row.into_iter();
                    Ok(HostSummary {
                        host: c.next().unwrap_or(Value::Null).text()?,
                        entities: c.next().unwrap_or(Value::Null).count()?,
                        entries: c.next().unwrap_or(Value::Null).count()?,
                    })
                })
                .collect()
        })
    }

    fn entity_summaries(&self, host: &str) -> Result<Vec<EntitySummary>> {
        self.run(false, |sql| {
            let rows = sql.query(
                "SELECT entity_id, COUNT(*) FROM private_data WHERE host = ? \
                 GROUP BY entity_id ORDER BY entity_id",
                &[Param::Text(host)],
            )?;
            rows.into_iter()
                .map(|row| {
                    let mut c = row.into_iter();
                    Ok(EntitySummary {
                        entity: c.next().unwrap_or(Value::Null).text()?,
                        entries: c.next().unwrap_or(Value::Null).count()?,
                    })
                })
                .collect()
        })
    }

    fn entity_page(&self, host: &str, after: Option<&str>, limit: usize) -> Result<Vec<String>> {
        self.run(false, |sql| {
            let rows = sql.query(
                "SELECT DISTINCT entity_id FROM private_data WHERE host = ? AND entity_id > ? \
                 ORDER BY entity_id LIMIT ?",
                &[
                    Param::Text(host),
                    Param::Text(after.unwrap_or("")),
                    Param::Int(limit as i64),
                ],
            )?;
            rows.into_iter()
                .map(|row| Ok(row.into_iter().next().unwrap_or(Value::Null).text()?))
                .collect()
        })
    }

    fn rename_host(&self, old: &str, new: &str, merge: bool) -> Result<RenameReport> {
        crate::refuse_same_host(old, new)?;
        self.run(true, |sql| {
            let usage = self.lock_usage(sql, &BTreeSet::from([old, new]))?;
            let held = usage[new].0;
            if held > 0 && !merge {
                return Err(Fail::Refused(crate::host_taken(old, new, held)));
            }
            let count = |sql: &mut dyn Sql, statement: &str| -> Tx<Vec<u64>> {
                let row = sql
                    .query(statement, &[Param::Text(old), Param::Text(new)])?
                    .into_iter()
                    .next()
                    .unwrap_or_default();
                row.into_iter().map(|v| Ok(v.count()?)).collect()
            };
            let moved = count(
                sql,
                "SELECT COUNT(*), COUNT(DISTINCT entity_id) FROM private_data \
                 WHERE host = ? AND host <> ?",
            )?;
            let overwritten = count(
                sql,
                "SELECT COUNT(*) FROM private_data o JOIN private_data n \
                 ON n.entity_id = o.entity_id AND n.\"key\" = o.\"key\" WHERE o.host = ? AND n.host = ?",
            )?;
            if self.audit {
                let mut moving: Vec<(String, String)> = Vec::new();
                for row in sql.query(
                    "SELECT entity_id, \"key\" FROM private_data WHERE host = ?",
                    &[Param::Text(old)],
                )? {
                    let mut c = row.into_iter();
                    moving.push((
                        c.next().unwrap_or(Value::Null).text()?,
                        c.next().unwrap_or(Value::Null).text()?,
                    ));
                }
                for (host, operation) in [(old, "rename-from"), (new, "rename-to")] {
                    let changes: Vec<Change<'_>> = moving
                        .iter()
                        .map(|(entity, key)| Change {
                            entity,
                            key,
                            operation,
                            old: None,
                            new: None,
                        })
                        .collect();
                    self.journal(sql, host, &changes)?;
                }
            }
            sql.exec(D::COPY_HOST, &[Param::Text(new), Param::Text(old)])?;
            sql.exec("DELETE FROM private_data WHERE host = ?", &[Param::Text(old)])?;
            let totals = count(sql, &D::USAGE_OF.replace("{where}", "host = ? OR host = ?"))?;
            self.set_usage(sql, new, (totals[0], totals[1]))?;
            sql.exec("DELETE FROM host_usage WHERE host = ?", &[Param::Text(old)])?;
            Ok(RenameReport {
                moved: moved[0],
                entities: moved[1],
                overwritten: overwritten[0],
            })
        })
    }

    fn delete_entities(&self, host: &str, entities: &[String]) -> Result<u64> {
        self.run(true, |sql| {
            let mut usage = self.lock_usage(sql, &BTreeSet::from([host]))?[host];
            let mut deleted = 0;
            for entity in entities {
                let old = self.pairs(sql, host, entity)?;
                if old.is_empty() {
                    continue;
                }
                let changes: Vec<Change<'_>> = old
                    .iter()
                    .map(|(key, value)| Change {
                        entity,
                        key,
                        operation: "purge",
                        old: Some(value),
                        new: None,
                    })
                    .collect();
                self.journal(sql, host, &changes)?;
                sql.exec(
                    "DELETE FROM private_data WHERE host = ? AND entity_id = ?",
                    &[Param::Text(host), Param::Text(entity)],
                )?;
                deleted += old.len() as u64;
                for (key, value) in &old {
                    remove_from(&mut usage, key, value);
                }
            }
            self.set_usage(sql, host, usage)?;
            Ok(deleted)
        })
    }

    fn history(&self, filter: &HistoryFilter) -> Result<Vec<JournalEntry>> {
        self.run(false, |sql| {
            let mut conditions = vec!["1 = 1"];
            let mut params = Vec::new();
            if let Some(host) = &filter.host {
                conditions.push("host = ?");
                params.push(Param::Text(host));
            }
            if let Some(entity) = &filter.entity {
                conditions.push("entity_id = ?");
                params.push(Param::Text(entity));
            }
            if let Some(since) = filter.since {
                conditions.push("at >= ?");
                params.push(Param::Int(since));
            }
            if let Some(until) = filter.until {
                conditions.push("at < ?");
                params.push(Param::Int(until));
            }
            let limit = match filter.limit {
                Some(limit) => {
                    params.push(Param::Int(limit as i64));
                    "LIMIT ?"
                }
                None => "",
            };
            let statement = format!(
                "SELECT at, host, entity_id, \"key\", operation, old_digest, new_digest FROM (
                     SELECT * FROM journal WHERE {} ORDER BY id DESC {limit}) newest
                 ORDER BY id",
                conditions.join(" AND ")
            );
            sql.query(&statement, &params)?
                .into_iter()
                .map(|row| {
                    let mut c = row.into_iter();
                    let mut next = || c.next().unwrap_or(Value::Null);
                    Ok(JournalEntry {
                        at: next().int()?,
                        host: next().text()?,
                        entity: next().text()?,
                        key: next().text()?,
                        operation: next().text()?,
                        old_digest: next().opt_text()?,
                        new_digest: next().opt_text()?,
                    })
                })
                .collect()
        })
    }

    fn prune_history(&self, before: i64) -> Result<u64> {
        self.run(false, |sql| {
            Ok(sql.exec("DELETE FROM journal WHERE at < ?", &[Param::Int(before)])?)
        })
    }

    fn scan(&self, host: Option<&str>, after: Option<&Entry>, limit: usize) -> Result<Vec<Entry>> {
        self.run(false, |sql| {
            let (mut conditions, mut params) = (vec!["1 = 1"], Vec::new());
            if let Some(h) = host {
                conditions.push("host = ?");
                params.push(Param::Text(h));
            }
            if let Some(a) = after {
                // The row comparison spelled out, which every server serves
                // from the primary key.
                conditions
                    .push("(host > ? OR (host = ? AND (entity_id > ? OR (entity_id = ? AND \"key\" > ?))))");
                params.extend([
                    Param::Text(&a.host),
                    Param::Text(&a.host),
                    Param::Text(&a.entity),
                    Param::Text(&a.entity),
                    Param::Bytes(&a.key),
                ]);
            }
            params.push(Param::Int(limit as i64));
            let statement = format!(
                "SELECT host, entity_id, \"key\", value FROM private_data WHERE {} \
                 ORDER BY host, entity_id, \"key\" LIMIT ?",
                conditions.join(" AND ")
            );
            sql.query(&statement, &params)?
                .into_iter()
                .map(|row| {
                    let mut c = row.into_iter();
                    let mut next = || c.next().unwrap_or(Value::Null);
                    Ok(Entry {
                        host: next().text()?,
                        entity: next().text()?,
                        key: next().text()?,
                        value: next().text()?,
                    })
                })
                .collect()
        })
    }

    fn put(&self, entries: &[Entry], quota_of: &dyn Fn(&str) -> Quota) -> Result<()> {
        if entries.is_empty() {
            return Ok(());
        }
        self.run(true, |sql| {
            let hosts: BTreeSet<&str> = entries.iter().map(|e| e.host.as_str()).collect();
            let mut usage = self.lock_usage(sql, &hosts)?;
            let before = usage.clone();
            let mut set = Vec::new();
            let mut changes: BTreeMap<&str, Vec<Change<'_>>> = BTreeMap::new();
            // Entries are grouped by entity to read what they replace with
            // one query per entity.
            let mut by_entity: BTreeMap<(&str, &str), BTreeMap<&str, &str>> = BTreeMap::new();
            for e in entries {
                // The last line for a key wins, as if applied one by one.
                by_entity
                    .entry((&e.host, &e.entity))
                    .or_default()
                    .insert(&e.key, &e.value);
            }
            let mut olds = Vec::with_capacity(by_entity.len());
            for (host, entity) in by_entity.keys() {
                olds.push(self.pairs(sql, host, entity)?);
            }
            for (((host, entity), latest), old) in by_entity.iter().zip(&olds) {
                let held = usage.get_mut(*host).expect("locked above");
                for (key, value) in latest {
                    let was = old.get(*key).map(String::as_str);
                    if was == Some(*value) {
                        continue;
                    }
                    set_in(held, key, was, value);
                    set.push((*host, *entity, *key, *value));
                    changes.entry(host).or_default().push(Change {
                        entity,
                        key,
                        operation: "import",
                        old: was,
                        new: Some(value),
                    });
                }
            }
            for (host, totals) in &usage {
                quota_of(host)
                    .check(host, before[host], *totals)
                    .map_err(Fail::Refused)?;
            }
            self.upsert(sql, &set)?;
            for (host, totals) in &usage {
                self.set_usage(sql, host, *totals)?;
            }
            for (host, changes) in &changes {
                self.journal(sql, host, changes)?;
            }
            Ok(())
        })
    }
}
