//! The operator's face of the SQLite store: every host's data, each call
//! one transaction.

use super::{DELETE_ALL, GET_ONE, SqliteStorage, UPSERT, current, journal, usage};
use crate::error::Result;
use crate::{
    Admin, EntitySummary, Entry, HistoryFilter, HostSummary, JournalEntry, Quota, RenameReport, now,
};
use rusqlite::{OptionalExtension, TransactionBehavior, params};

impl Admin for SqliteStorage {
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

    fn rename_host(&self, old: &str, new: &str, merge: bool) -> Result<RenameReport> {
        crate::refuse_same_host(old, new)?;
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let (held, _) = usage(&tx, new)?;
        if held > 0 && !merge {
            return Err(crate::host_taken(old, new, held));
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
