//! The embedded default: one SQLite file in WAL mode.
//!
//! Writes go through one connection, behind a mutex (SQLite has one writer
//! at a time anyway). Reads take a connection of their own from a small
//! pool: in WAL mode a reader sees the last commit and never waits for a
//! writer, so a share service's threads read side by side while one writes.

mod migrations;
mod readers;

pub use migrations::SCHEMA_VERSION;

use super::{
    Durability, EntitySummary, Entry, HistoryFilter, HostSummary, JournalEntry, Pair, Quota, RenameReport,
    Storage, StorageOptions, digest, now,
};
use crate::error::{Error, Result};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

/// How long a call waits for another writer before it reports
/// `storage-unavailable`.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Bytes of the database file read through a memory map.
const MMAP_SIZE: i64 = 1 << 30;
/// The page cache, in KiB (negative: SQLite's unit for KiB).
const CACHE_SIZE_KIB: i64 = -32 * 1024;

const GET_ONE: &str = "SELECT value FROM private_data WHERE host = ?1 AND entity_id = ?2 AND key = ?3";
const UPSERT: &str = "INSERT INTO private_data (host, entity_id, key, value, created_at, updated_at)
     VALUES (?1, ?2, ?3, ?4, ?5, ?5)
     ON CONFLICT (host, entity_id, key)
     DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at";
const DELETE_ALL: &str = "DELETE FROM private_data WHERE host = ?1 AND entity_id = ?2";
const DELETE_ONE: &str = "DELETE FROM private_data WHERE host = ?1 AND entity_id = ?2 AND key = ?3";

/// Private data in one SQLite file.
#[derive(Debug)]
pub struct SqliteStorage {
    path: PathBuf,
    durability: Durability,
    /// The one connection that writes.
    conn: Mutex<Connection>,
    /// Read-only connections not in use.
    readers: Mutex<Vec<Connection>>,
    audit: bool,
}

impl SqliteStorage {
    /// Open (creating if needed) the store at `path` with the default
    /// durability and bring its schema up to date. A file from a newer
    /// version of this program is refused, not touched.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        SqliteStorage::open_with(path, Durability::default())
    }

    /// [`SqliteStorage::open`] with a chosen durability.
    pub fn open_with(path: impl AsRef<Path>, durability: Durability) -> Result<Self> {
        SqliteStorage::open_with_options(
            path,
            &StorageOptions {
                durability,
                ..StorageOptions::default()
            },
        )
    }

    /// [`SqliteStorage::open`] with chosen options. With auditing and a
    /// retention, journal entries older than the retention are dropped now.
    pub fn open_with_options(path: impl AsRef<Path>, options: &StorageOptions) -> Result<Self> {
        let durability = options.durability;
        let path = path.as_ref().to_path_buf();
        lasting(&path.to_string_lossy()).map_err(Error::Refused)?;
        if path.is_dir() {
            return Err(Error::Storage(format!(
                "{} is a directory; name a file in it, e.g. {}",
                path.display(),
                path.join("privdata.db").display()
            )));
        }
        let fail = |what: &str, err: rusqlite::Error| {
            use rusqlite::ErrorCode::*;
            let fix = match err.sqlite_error_code() {
                Some(ReadOnly | PermissionDenied) => {
                    "the file or its directory is read-only: make both writable by this user"
                }
                Some(NotADatabase) => {
                    "it is not a SQLite database (is it a privdata store?): point [storage] url \
                     at a privdata store or a new file"
                }
                Some(CannotOpen) => "check that the directory exists and is writable",
                Some(DatabaseCorrupt) => "the file is corrupt: restore it from a backup",
                _ => "see the SQLite error",
            };
            Error::Storage(format!("{}: {what}: {err}; {fix}", path.display()))
        };
        let mut conn = Connection::open(&path).map_err(|e| fail("cannot open", e))?;
        configure(&conn, durability).map_err(|e| fail("cannot configure (WAL mode, pragmas)", e))?;
        migrations::migrate(&mut conn).map_err(|e| match e {
            Error::Storage(msg) | Error::StorageUnavailable(msg) => {
                Error::Storage(format!("{}: {msg}", path.display()))
            }
            other => other,
        })?;
        let store = SqliteStorage {
            path,
            durability,
            conn: Mutex::new(conn),
            readers: Mutex::new(Vec::new()),
            audit: options.audit,
        };
        if let Some(days) = options.audit_retention_days {
            store.prune_history(now() - i64::from(days) * 86_400)?;
        }
        Ok(store)
    }

    /// The file this store lives in.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave a transaction open
        // (rusqlite rolls back on drop), so a poisoned lock is still usable.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Refuse a path whose database could not outlive the process: empty
/// (SQLite's private temporary database), `:memory:`, or a `file:` URI,
/// which may name an in-memory database. Private data kept there would be
/// gone when the process ends, with the volumes it points to left behind.
pub(crate) fn lasting(path: &str) -> std::result::Result<(), String> {
    let why = if path.trim().is_empty() {
        "is empty, which SQLite takes for a temporary database deleted when the process ends"
    } else if path == ":memory:" {
        "is SQLite's in-memory database, gone when the process ends"
    } else if path.starts_with("file:") {
        "is a SQLite URI, which may name an in-memory database"
    } else {
        return Ok(());
    };
    Err(format!(
        "the SQLite store path {path:?} {why}; private data must outlive the process: \
         name a file, e.g. url = \"sqlite:///var/lib/privdata/privdata.db\""
    ))
}

/// What every connection to a store is set to, outside migrations: WAL, the
/// durability's `synchronous`, the busy timeout, reads through a memory map
/// and a larger page cache (they keep point lookups flat as the store grows:
/// no read() per B-tree page). The benchmark's floor uses the same.
pub fn configure(conn: &Connection, durability: Durability) -> rusqlite::Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", durability.synchronous())?;
    conn.pragma_update(None, "mmap_size", MMAP_SIZE)?;
    conn.pragma_update(None, "cache_size", CACHE_SIZE_KIB)
}

fn delete_in(conn: &Connection, host: &str, entity: &str, keys: Option<&[String]>) -> Result<()> {
    match keys {
        None => {
            conn.prepare_cached(DELETE_ALL)?.execute(params![host, entity])?;
        }
        Some(keys) => {
            let mut stmt = conn.prepare_cached(DELETE_ONE)?;
            for key in keys {
                stmt.execute(params![host, entity, key])?;
            }
        }
    }
    Ok(())
}

/// Every pair `entity` of `host` holds now.
fn current(conn: &Connection, host: &str, entity: &str) -> Result<Vec<Pair>> {
    let mut stmt =
        conn.prepare_cached("SELECT key, value FROM private_data WHERE host = ?1 AND entity_id = ?2")?;
    let rows = stmt.query_map(params![host, entity], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

fn journal(
    conn: &Connection,
    host: &str,
    entity: &str,
    key: &str,
    operation: &str,
    old: Option<&str>,
    new: Option<&str>,
) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO journal (at, host, entity_id, key, operation, old_digest, new_digest)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        now(),
        host,
        entity,
        key,
        operation,
        old.map(digest),
        new.map(digest)
    ])?;
    Ok(())
}

/// Journal what an update is about to change: every key it sets whose value
/// differs, and with `delete_existing` every key it drops.
fn journal_update(
    conn: &Connection,
    host: &str,
    entity: &str,
    details: &[Pair],
    delete_existing: bool,
) -> Result<()> {
    let op = if delete_existing { "replace" } else { "update" };
    let old: std::collections::HashMap<String, String> = current(conn, host, entity)?.into_iter().collect();
    for (key, value) in details {
        let before = old.get(key).map(String::as_str);
        if before != Some(value.as_str()) {
            journal(conn, host, entity, key, op, before, Some(value))?;
        }
    }
    if delete_existing {
        let kept: HashSet<&str> = details.iter().map(|(k, _)| k.as_str()).collect();
        for (key, value) in &old {
            if !kept.contains(key.as_str()) {
                journal(conn, host, entity, key, op, Some(value), None)?;
            }
        }
    }
    Ok(())
}

/// (entries, bytes) that `host` holds.
fn usage(conn: &Connection, host: &str) -> Result<(u64, u64)> {
    let row = conn
        .prepare_cached("SELECT entries, bytes FROM host_usage WHERE host = ?1")?
        .query_row([host], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    Ok(row.unwrap_or((0, 0)))
}

impl SqliteStorage {
    /// The rows of an update, inside the caller's transaction.
    fn write_rows(
        &self,
        tx: &Connection,
        host: &str,
        entity: &str,
        details: &[Pair],
        delete_existing: bool,
    ) -> Result<()> {
        if self.audit {
            journal_update(tx, host, entity, details, delete_existing)?;
        }
        if delete_existing {
            tx.prepare_cached(DELETE_ALL)?.execute(params![host, entity])?;
        }
        let mut stmt = tx.prepare_cached(UPSERT)?;
        let now = now();
        for (key, value) in details {
            stmt.execute(params![host, entity, key, value, now])?;
        }
        Ok(())
    }
}

impl Storage for SqliteStorage {
    fn get(&self, host: &str, entity: &str, keys: Option<&[String]>) -> Result<Vec<Pair>> {
        let mut conn = self.reader()?;
        if let Some([key]) = keys {
            // One statement is atomic by itself; no transaction to pay for.
            let mut stmt = conn.prepare_cached(GET_ONE)?;
            let value = stmt
                .query_row(params![host, entity, key], |r| r.get(0))
                .optional()?;
            return Ok(value.map(|v| (key.clone(), v)).into_iter().collect());
        }
        let mut pairs = Vec::new();
        match keys {
            None => {
                // One statement: a consistent snapshot without a transaction.
                let mut stmt = conn.prepare_cached(
                    "SELECT key, value FROM private_data
                     WHERE host = ?1 AND entity_id = ?2 ORDER BY key",
                )?;
                let rows = stmt.query_map(params![host, entity], |r| Ok((r.get(0)?, r.get(1)?)))?;
                for row in rows {
                    pairs.push(row?);
                }
            }
            Some(keys) => {
                // Several lookups read one snapshot inside a transaction.
                let tx = conn.transaction()?;
                {
                    let mut stmt = tx.prepare_cached(GET_ONE)?;
                    for key in keys {
                        if let Some(value) = stmt
                            .query_row(params![host, entity, key], |r| r.get(0))
                            .optional()?
                        {
                            pairs.push((key.clone(), value));
                        }
                    }
                }
                drop(tx);
                pairs.sort_unstable_by(|a, b| a.0.cmp(&b.0));
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
        let mut conn = self.conn();
        // The common case pays for one usage lookup: only a write that ends
        // over the quota is undone and looked at again.
        let over = {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            self.write_rows(&tx, host, entity, details, delete_existing)?;
            let after = usage(&tx, host)?;
            if quota.allows(after) {
                tx.commit()?;
                return Ok(());
            }
            after
        };
        // Over the quota: refused if it grew what the host holds. A host over
        // a lowered quota may still shrink, so such a write is applied again.
        let before = usage(&conn, host)?;
        quota.check(host, before, over)?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        self.write_rows(&tx, host, entity, details, delete_existing)?;
        quota.check(host, before, usage(&tx, host)?)?;
        tx.commit()?;
        Ok(())
    }

    fn delete(&self, host: &str, entity: &str, keys: Option<&[String]>) -> Result<()> {
        let mut conn = self.conn();
        if self.audit {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let old = current(&tx, host, entity)?;
            let named: Option<HashSet<&str>> = keys.map(|keys| keys.iter().map(String::as_str).collect());
            let gone: Vec<&Pair> = old
                .iter()
                .filter(|(k, _)| named.as_ref().is_none_or(|named| named.contains(k.as_str())))
                .collect();
            for (key, value) in &gone {
                journal(&tx, host, entity, key, "delete", Some(value), None)?;
            }
            delete_in(&tx, host, entity, keys)?;
            tx.commit()?;
            return Ok(());
        }
        match keys {
            None | Some([_]) => delete_in(&conn, host, entity, keys)?,
            Some(_) => {
                let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
                delete_in(&tx, host, entity, keys)?;
                tx.commit()?;
            }
        }
        Ok(())
    }

    fn hosts(&self) -> Result<Vec<HostSummary>> {
        let conn = self.reader()?;
        let mut stmt = conn.prepare_cached(
            "SELECT host, COUNT(DISTINCT entity_id), COUNT(*) FROM private_data
             GROUP BY host ORDER BY host",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(HostSummary {
                host: r.get(0)?,
                entities: r.get(1)?,
                entries: r.get(2)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn entity_summaries(&self, host: &str) -> Result<Vec<EntitySummary>> {
        let conn = self.reader()?;
        let mut stmt = conn.prepare_cached(
            "SELECT entity_id, COUNT(*) FROM private_data WHERE host = ?1
             GROUP BY entity_id ORDER BY entity_id",
        )?;
        let rows = stmt.query_map([host], |r| {
            Ok(EntitySummary {
                entity: r.get(0)?,
                entries: r.get(1)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn entity_page(&self, host: &str, after: Option<&str>, limit: usize) -> Result<Vec<String>> {
        let conn = self.reader()?;
        let mut stmt = conn.prepare_cached(
            "SELECT DISTINCT entity_id FROM private_data WHERE host = ?1 AND entity_id > ?2
             ORDER BY entity_id LIMIT ?3",
        )?;
        let rows = stmt.query_map(params![host, after.unwrap_or(""), limit as i64], |r| r.get(0))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn rename_host(&self, old: &str, new: &str, merge: bool) -> Result<RenameReport> {
        super::refuse_same_host(old, new)?;
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let (held, _) = usage(&tx, new)?;
        if held > 0 && !merge {
            return Err(super::host_taken(old, new, held));
        }
        let (moved, entities): (u64, u64) = tx.query_row(
            "SELECT COUNT(*), COUNT(DISTINCT entity_id) FROM private_data WHERE host = ?1",
            [old],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        let overwritten: u64 = tx.query_row(
            "SELECT COUNT(*) FROM private_data o JOIN private_data n
             ON n.host = ?2 AND n.entity_id = o.entity_id AND n.key = o.key WHERE o.host = ?1",
            [old, new],
            |r| r.get(0),
        )?;
        if self.audit {
            tx.execute(
                "INSERT INTO journal (at, host, entity_id, key, operation, old_digest, new_digest)
                 SELECT ?3, host, entity_id, key, 'rename-from', NULL, NULL FROM private_data WHERE host = ?1
                 UNION ALL
                 SELECT ?3, ?2, entity_id, key, 'rename-to', NULL, NULL FROM private_data WHERE host = ?1",
                params![old, new, now()],
            )?;
        }
        tx.execute(
            "INSERT INTO private_data (host, entity_id, key, value, created_at, updated_at)
             SELECT ?2, entity_id, key, value, created_at, updated_at FROM private_data WHERE host = ?1
             ON CONFLICT (host, entity_id, key)
             DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
            [old, new],
        )?;
        tx.execute("DELETE FROM private_data WHERE host = ?1", [old])?;
        tx.execute("DELETE FROM host_usage WHERE host = ?1 AND entries = 0", [old])?;
        tx.commit()?;
        Ok(RenameReport {
            moved,
            entities,
            overwritten,
        })
    }

    fn delete_entities(&self, host: &str, entities: &[String]) -> Result<u64> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut deleted = 0;
        for entity in entities {
            if self.audit {
                for (key, value) in current(&tx, host, entity)? {
                    journal(&tx, host, entity, &key, "purge", Some(&value), None)?;
                }
            }
            deleted += tx.prepare_cached(DELETE_ALL)?.execute(params![host, entity])? as u64;
        }
        tx.commit()?;
        Ok(deleted)
    }

    fn history(&self, filter: &HistoryFilter) -> Result<Vec<JournalEntry>> {
        let conn = self.reader()?;
        let mut stmt = conn.prepare_cached(
            "SELECT at, host, entity_id, key, operation, old_digest, new_digest FROM (
                 SELECT * FROM journal
                 WHERE (?1 IS NULL OR host = ?1) AND (?2 IS NULL OR entity_id = ?2)
                   AND (?3 IS NULL OR at >= ?3) AND (?4 IS NULL OR at < ?4)
                 ORDER BY id DESC LIMIT ?5)
             ORDER BY id",
        )?;
        let limit = filter.limit.map_or(-1, |l| l as i64);
        let rows = stmt.query_map(
            params![filter.host, filter.entity, filter.since, filter.until, limit],
            |r| {
                Ok(JournalEntry {
                    at: r.get(0)?,
                    host: r.get(1)?,
                    entity: r.get(2)?,
                    key: r.get(3)?,
                    operation: r.get(4)?,
                    old_digest: r.get(5)?,
                    new_digest: r.get(6)?,
                })
            },
        )?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn prune_history(&self, before: i64) -> Result<u64> {
        let conn = self.conn();
        Ok(conn.execute("DELETE FROM journal WHERE at < ?1", [before])? as u64)
    }

    fn scan(&self, host: Option<&str>, after: Option<&Entry>, limit: usize) -> Result<Vec<Entry>> {
        let conn = self.reader()?;
        let mut stmt = conn.prepare_cached(
            "SELECT host, entity_id, key, value FROM private_data
             WHERE (?1 IS NULL OR host = ?1) AND (host, entity_id, key) > (?2, ?3, ?4)
             ORDER BY host, entity_id, key LIMIT ?5",
        )?;
        let (h, e, k) = after.map_or(("", "", ""), |a| {
            (a.host.as_str(), a.entity.as_str(), a.key.as_str())
        });
        let rows = stmt.query_map(params![host, h, e, k, limit as i64], |r| {
            Ok(Entry {
                host: r.get(0)?,
                entity: r.get(1)?,
                key: r.get(2)?,
                value: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn put(&self, entries: &[Entry], quota_of: &dyn Fn(&str) -> Quota) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let hosts: std::collections::BTreeSet<&str> = entries.iter().map(|e| e.host.as_str()).collect();
        let mut before = Vec::with_capacity(hosts.len());
        for host in &hosts {
            before.push(usage(&tx, host)?);
        }
        {
            let mut upsert = tx.prepare_cached(UPSERT)?;
            let now = now();
            for e in entries {
                if self.audit {
                    let old: Option<String> = tx
                        .prepare_cached(GET_ONE)?
                        .query_row(params![e.host, e.entity, e.key], |r| r.get(0))
                        .optional()?;
                    if old.as_deref() != Some(e.value.as_str()) {
                        journal(
                            &tx,
                            &e.host,
                            &e.entity,
                            &e.key,
                            "import",
                            old.as_deref(),
                            Some(&e.value),
                        )?;
                    }
                }
                upsert.execute(params![e.host, e.entity, e.key, e.value, now])?;
            }
        }
        for (host, before) in hosts.iter().zip(before) {
            quota_of(host).check(host, before, usage(&tx, host)?)?;
        }
        tx.commit()?;
        Ok(())
    }
}
