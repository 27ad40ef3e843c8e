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
//! A driver's update or delete does all of that in one round trip: on
//! MariaDB/MySQL through a stored routine the migrations create, on
//! PostgreSQL as one statement (see `postgres::writes`, and
//! [`Written::Retry`] for the second round trip a write that waited behind
//! another writer of its host takes there). With the audit journal on, or a
//! write of more than [`BATCH_ROWS`] keys (which a one-trip write, taking
//! its keys as one list, would match row by row), the same steps run from
//! here as a transaction instead, one statement each.

mod admin;
mod migrations;
#[cfg(feature = "mysql")]
pub(crate) mod mysql;
mod pool;
#[cfg(feature = "postgres")]
pub(crate) mod postgres;
mod sql;
mod statements;

use super::change::EntityChange;
use super::{Admin, Pair, Quota, Storage, StorageOptions, now};
use crate::error::Result;
use pool::Pool;
use sql::{BATCH_ROWS, Dialect, OneTripUpdate, Param, Row, Sql, Tx, Written};
use statements::{Change, pairs_of};
use std::collections::BTreeSet;

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

    /// A one-trip write answered what this program never asks for: the
    /// server's schema is likely another version's.
    fn foreign_schema(&self, what: impl std::fmt::Display) -> crate::error::Error {
        crate::error::Error::Storage(format!(
            "{} at {}: the server {what}; is its schema from another version of privdata?",
            D::NAME,
            self.pool.url
        ))
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
        if !self.audit && details.len() <= BATCH_ROWS && bytes <= D::ONE_TRIP_MAX_BYTES {
            let limit = |max: u64| i64::try_from(max).unwrap_or(i64::MAX);
            let new = super::change::of(details.iter().map(|(k, v)| (k.as_str(), v.as_str())));
            let write = OneTripUpdate {
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
            let one_trip = |sql: &mut dyn Sql| -> Tx<Written> {
                Ok(Written::of(self.pool.dialect.one_trip_update(sql, &write)?)?)
            };
            let mut written = self.run(false, one_trip)?;
            if written == Written::Retry {
                written = self.run(true, |sql| {
                    self.lock_usage(sql, &BTreeSet::from([host]))?;
                    one_trip(sql)
                })?;
            }
            return match written {
                Written::Applied => Ok(()),
                Written::Refused { before, after } => {
                    quota.check(host, before, after)?;
                    Err(self.foreign_schema(format!(
                        "refused a write within the quota ({after:?} of {quota:?})"
                    )))
                }
                Written::Retry => {
                    Err(self.foreign_schema("asked to retry a write with the usage row locked"))
                }
            };
        }
        self.run(true, |sql| {
            let (before, old) = self.lock_entity(sql, host, entity)?;
            let change = EntityChange::update(before, &old, details, delete_existing);
            if change.is_empty() {
                return Ok(());
            }
            quota.check(host, before, change.after)?;
            self.delete_keys(sql, host, entity, &change.gone().collect::<Vec<_>>())?;
            let set: Vec<_> = change.set().map(|(k, v)| (host, entity, k, v)).collect();
            self.upsert(sql, &set)?;
            self.set_usage(sql, host, change.after)?;
            self.journal(sql, host, &Change::rows(entity, &change))
        })
    }

    fn delete(&self, host: &str, entity: &str, keys: Option<&[String]>) -> Result<()> {
        let named_keys = keys.unwrap_or_default();
        let bytes: usize = named_keys.iter().map(String::len).sum();
        if !self.audit && named_keys.len() <= BATCH_ROWS && bytes <= D::ONE_TRIP_MAX_BYTES {
            let one_trip = |sql: &mut dyn Sql| -> Tx<bool> {
                Ok(self.pool.dialect.one_trip_delete(sql, host, entity, keys)?)
            };
            if self.run(false, one_trip)? {
                return Ok(());
            }
            let done = self.run(true, |sql| {
                self.lock_usage(sql, &BTreeSet::from([host]))?;
                one_trip(sql)
            })?;
            return match done {
                true => Ok(()),
                false => Err(self.foreign_schema("asked to retry a delete with the usage row locked")),
            };
        }
        self.run(true, |sql| {
            let (before, old) = self.lock_entity(sql, host, entity)?;
            let change = EntityChange::delete(before, &old, keys);
            if change.is_empty() {
                return Ok(());
            }
            if keys.is_none() {
                sql.exec(
                    "DELETE FROM private_data WHERE host = ? AND entity_id = ?",
                    &[Param::Text(host), Param::Text(entity)],
                )?;
            } else {
                self.delete_keys(sql, host, entity, &change.gone().collect::<Vec<_>>())?;
            }
            self.set_usage(sql, host, change.after)?;
            self.journal(sql, host, &Change::rows(entity, &change))
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
            rows.into_iter().map(|row| Ok(Row::from(row).text()?)).collect()
        })
    }

    fn usage(&self, host: &str) -> Result<(u64, u64)> {
        self.run(false, |sql| {
            let rows = sql.query(
                "SELECT entries, bytes FROM host_usage WHERE host = ?",
                &[Param::Text(host)],
            )?;
            match rows.into_iter().next() {
                Some(row) => {
                    let mut c = Row::from(row);
                    Ok((c.count()?, c.count()?))
                }
                None => Ok((0, 0)),
            }
        })
    }
}
