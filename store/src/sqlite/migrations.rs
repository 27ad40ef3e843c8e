//! The SQLite schema, versioned: `PRAGMA user_version` counts how many of
//! the migrations below ran, and opening a store runs the rest in one
//! transaction.

use crate::error::{Error, Result};
use rusqlite::{Connection, TransactionBehavior};

/// Schema migrations, in order; `PRAGMA user_version` counts how many ran.
const MIGRATIONS: &[&str] = &[
    // 1: the private data, keyed the way every call addresses it.
    "CREATE TABLE private_data (
        host       TEXT NOT NULL,
        entity_id  TEXT NOT NULL,
        key        TEXT NOT NULL,
        value      TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (host, entity_id, key)
    ) WITHOUT ROWID;",
    // 2: what each host holds, kept by triggers in the same transaction as
    // every change, so quotas are checked with one lookup.
    "CREATE TABLE host_usage (
        host    TEXT PRIMARY KEY,
        entries INTEGER NOT NULL,
        bytes   INTEGER NOT NULL
    ) WITHOUT ROWID;
    INSERT INTO host_usage (host, entries, bytes)
        SELECT host, COUNT(*), SUM(octet_length(key) + octet_length(value))
        FROM private_data GROUP BY host;
    CREATE TRIGGER usage_insert AFTER INSERT ON private_data BEGIN
        INSERT INTO host_usage (host, entries, bytes)
        VALUES (NEW.host, 1, octet_length(NEW.key) + octet_length(NEW.value))
        ON CONFLICT (host) DO UPDATE SET entries = entries + 1, bytes = bytes + excluded.bytes;
    END;
    CREATE TRIGGER usage_delete AFTER DELETE ON private_data BEGIN
        UPDATE host_usage SET entries = entries - 1,
            bytes = bytes - octet_length(OLD.key) - octet_length(OLD.value)
        WHERE host = OLD.host;
    END;
    CREATE TRIGGER usage_update AFTER UPDATE OF value ON private_data BEGIN
        UPDATE host_usage SET bytes = bytes + octet_length(NEW.value) - octet_length(OLD.value)
        WHERE host = NEW.host;
    END;",
    // 3: the audit journal: digests of every change, written in the same
    // transaction as the change when auditing is on.
    "CREATE TABLE journal (
        id         INTEGER PRIMARY KEY,
        at         INTEGER NOT NULL,
        host       TEXT NOT NULL,
        entity_id  TEXT NOT NULL,
        key        TEXT NOT NULL,
        operation  TEXT NOT NULL,
        old_digest TEXT,
        new_digest TEXT
    );
    CREATE INDEX journal_by_host ON journal (host, entity_id, at);
    CREATE INDEX journal_by_time ON journal (at);",
];

/// The schema version this program writes.
pub const SCHEMA_VERSION: usize = MIGRATIONS.len();

pub(super) fn migrate(conn: &mut Connection) -> Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let version: usize = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if version > SCHEMA_VERSION {
        return Err(Error::Storage(format!(
            "the database has schema version {version}, newer than {SCHEMA_VERSION} which this \
             program knows; use the newer privdata that wrote it, or restore a backup"
        )));
    }
    for sql in &MIGRATIONS[version..] {
        tx.execute_batch(sql)?;
    }
    tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    tx.commit()?;
    Ok(())
}
