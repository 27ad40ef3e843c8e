//! The embedded default: one SQLite file in WAL mode.
//!
//! Writes go through one connection, behind a mutex (SQLite has one writer
//! at a time anyway). Reads take a connection of their own from a small
//! pool: in WAL mode a reader sees the last commit and never waits for a
//! writer, so a share service's threads read side by side while one writes.

mod admin;
mod migrations;
mod readers;

pub use migrations::SCHEMA_VERSION;

use super::{Admin, Durability, Pair, Quota, Storage, StorageOptions, digest, now};
use crate::change::EntityChange;
use crate::error::{Error, Result};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use std::collections::BTreeMap;
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
    readers: [readers::Slot; readers::READERS],
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
            readers: Default::default(),
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
fn current(conn: &Connection, host: &str, entity: &str) -> Result<BTreeMap<String, String>> {
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

/// Journal what a call is about to change, before it changes it.
fn journal_change(conn: &Connection, host: &str, entity: &str, change: &EntityChange<'_>) -> Result<()> {
    for c in &change.keys {
        journal(conn, host, entity, c.key, change.operation, c.old, c.new)?;
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
            let old = current(tx, host, entity)?;
            journal_change(
                tx,
                host,
                entity,
                &EntityChange::update((0, 0), &old, details, delete_existing),
            )?;
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
            journal_change(&tx, host, entity, &EntityChange::delete((0, 0), &old, keys))?;
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

    fn entity_page(&self, host: &str, after: Option<&str>, limit: usize) -> Result<Vec<String>> {
        let conn = self.reader()?;
        let mut stmt = conn.prepare_cached(
            "SELECT DISTINCT entity_id FROM private_data WHERE host = ?1 AND entity_id > ?2
             ORDER BY entity_id LIMIT ?3",
        )?;
        let rows = stmt.query_map(params![host, after.unwrap_or(""), limit as i64], |r| r.get(0))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn usage(&self, host: &str) -> Result<(u64, u64)> {
        usage(&*self.reader()?, host)
    }
}
