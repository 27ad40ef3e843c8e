//! The statements every server operation is built from: locking and
//! storing what a host holds, reading an entity's pairs, writing rows in
//! batches that fit the server's limits, matching key lists, journaling.

use super::ServerStorage;
use super::sql::{BATCH_BYTES, BATCH_ROWS, Dialect, KeyList, Param, Row, Sql, Tx, Value};
use crate::change::{EntityChange, Usage};
use crate::{digest, now};
use std::collections::{BTreeMap, BTreeSet};

/// `?, ?, ?` for `n` values.
fn marks(n: usize) -> String {
    vec!["?"; n].join(", ")
}

/// A change the journal records.
pub(super) struct Change<'a> {
    pub(super) entity: &'a str,
    pub(super) key: &'a str,
    pub(super) operation: &'a str,
    pub(super) old: Option<&'a str>,
    pub(super) new: Option<&'a str>,
}

impl<'a> Change<'a> {
    /// The journal's rows for what one call does to `entity`.
    pub(super) fn rows(entity: &'a str, change: &EntityChange<'a>) -> Vec<Change<'a>> {
        change
            .keys
            .iter()
            .map(|c| Change {
                entity,
                key: c.key,
                operation: change.operation,
                old: c.old,
                new: c.new,
            })
            .collect()
    }
}

impl<D: Dialect> ServerStorage<D> {
    /// Lock the usage rows of `hosts` (in order, so two transactions never
    /// wait for each other in a cycle) and return what each holds.
    pub(super) fn lock_usage(
        &self,
        sql: &mut dyn Sql,
        hosts: &BTreeSet<&str>,
    ) -> Tx<BTreeMap<String, Usage>> {
        let mut usage = BTreeMap::new();
        for host in hosts {
            let select = "SELECT entries, bytes FROM host_usage WHERE host = ? FOR UPDATE";
            let mut rows = sql.query(select, &[Param::Text(host)])?;
            if rows.is_empty() {
                sql.exec(D::CREATE_USAGE, &[Param::Text(host)])?;
                rows = sql.query(select, &[Param::Text(host)])?;
            }
            let mut row = Row::from(rows.into_iter().next().unwrap_or_default());
            let entries = row.count()?;
            let bytes = row.count()?;
            usage.insert(host.to_string(), (entries, bytes));
        }
        Ok(usage)
    }

    pub(super) fn set_usage(&self, sql: &mut dyn Sql, host: &str, (entries, bytes): Usage) -> Tx<()> {
        sql.exec(
            "UPDATE host_usage SET entries = ?, bytes = ? WHERE host = ?",
            &[
                Param::Int(entries as i64),
                Param::Int(bytes as i64),
                Param::Text(host),
            ],
        )?;
        Ok(())
    }

    /// Lock the usage row of `host` and read what it holds and what
    /// `entity` holds, in one round trip: the start of every driver write.
    pub(super) fn lock_entity(
        &self,
        sql: &mut dyn Sql,
        host: &str,
        entity: &str,
    ) -> Tx<((u64, u64), BTreeMap<String, String>)> {
        let select = D::LOCK_ENTITY;
        let params = [Param::Text(entity), Param::Text(host)];
        let mut rows = sql.query(select, &params)?;
        if rows.is_empty() {
            sql.exec(D::CREATE_USAGE, &[Param::Text(host)])?;
            rows = sql.query(select, &params)?;
        }
        let mut usage = (0, 0);
        let mut pairs = BTreeMap::new();
        for row in rows {
            let mut c = Row::from(row);
            usage = (c.count()?, c.count()?);
            // The entity's pairs, joined to the usage row: none when it holds
            // nothing.
            if let Some(key) = c.opt_text()? {
                pairs.insert(key, c.text()?);
            }
        }
        Ok((usage, pairs))
    }

    /// Every pair `entity` of `host` holds, by key.
    pub(super) fn pairs(&self, sql: &mut dyn Sql, host: &str, entity: &str) -> Tx<BTreeMap<String, String>> {
        let rows = sql.query(
            "SELECT \"key\", value FROM private_data WHERE host = ? AND entity_id = ?",
            &[Param::Text(host), Param::Text(entity)],
        )?;
        pairs_of(rows)
    }

    pub(super) fn upsert(&self, sql: &mut dyn Sql, rows: &[(&str, &str, &str, &str)]) -> Tx<()> {
        let now = now();
        let mut rest = rows;
        while !rest.is_empty() {
            // As many rows as fit the limits, and always at least one.
            let mut n = 0;
            let mut bytes = 0;
            while n < rest.len() && n < BATCH_ROWS {
                let (_, _, key, value) = rest[n];
                bytes += key.len() + value.len();
                if n > 0 && bytes > BATCH_BYTES {
                    break;
                }
                n += 1;
            }
            let (chunk, tail) = rest.split_at(n);
            rest = tail;
            let groups = vec!["(?, ?, ?, ?, ?, ?)"; chunk.len()].join(", ");
            let statement = D::UPSERT.replace("{rows}", &groups);
            let mut params = Vec::with_capacity(chunk.len() * 6);
            for (host, entity, key, value) in chunk {
                params.extend([
                    Param::Text(host),
                    Param::Text(entity),
                    Param::Bytes(key),
                    Param::Bytes(value),
                    Param::Int(now),
                    Param::Int(now),
                ]);
            }
            sql.exec(&statement, &params)?;
        }
        Ok(())
    }

    /// `"key"` matched against `keys`: a condition and its parameters for
    /// each statement it takes.
    pub(super) fn key_lists<'k>(keys: &'k [&'k str]) -> Vec<(String, Vec<Param<'k>>)> {
        match D::KEY_LIST {
            // One key, the common call: an equality every plan serves from
            // the primary key.
            _ if keys.len() == 1 => vec![("\"key\" = ?".to_string(), vec![Param::Bytes(keys[0])])],
            KeyList::Array if !keys.is_empty() => {
                vec![("\"key\" = ANY(?)".to_string(), vec![Param::BytesList(keys)])]
            }
            _ => keys
                .chunks(BATCH_ROWS)
                .map(|chunk| {
                    (
                        format!("\"key\" IN ({})", marks(chunk.len())),
                        chunk.iter().map(|k| Param::Bytes(k)).collect(),
                    )
                })
                .collect(),
        }
    }

    pub(super) fn delete_keys(&self, sql: &mut dyn Sql, host: &str, entity: &str, keys: &[&str]) -> Tx<()> {
        for (condition, keys) in Self::key_lists(keys) {
            let statement =
                format!("DELETE FROM private_data WHERE host = ? AND entity_id = ? AND {condition}");
            let mut params = vec![Param::Text(host), Param::Text(entity)];
            params.extend(keys);
            sql.exec(&statement, &params)?;
        }
        Ok(())
    }

    pub(super) fn journal(&self, sql: &mut dyn Sql, host: &str, changes: &[Change<'_>]) -> Tx<()> {
        if !self.audit {
            return Ok(());
        }
        let at = now();
        for chunk in changes.chunks(BATCH_ROWS) {
            let statement = format!(
                "INSERT INTO journal (at, host, entity_id, \"key\", operation, old_digest, new_digest) \
                 VALUES {}",
                vec!["(?, ?, ?, ?, ?, ?, ?)"; chunk.len()].join(", ")
            );
            let digests: Vec<(Option<String>, Option<String>)> = chunk
                .iter()
                .map(|c| (c.old.map(digest), c.new.map(digest)))
                .collect();
            let mut params = Vec::with_capacity(chunk.len() * 7);
            for (c, (old, new)) in chunk.iter().zip(&digests) {
                params.extend([
                    Param::Int(at),
                    Param::Text(host),
                    Param::Text(c.entity),
                    Param::Bytes(c.key),
                    Param::Text(c.operation),
                ]);
                params.push(old.as_deref().map_or(Param::Null, Param::Text));
                params.push(new.as_deref().map_or(Param::Null, Param::Text));
            }
            sql.exec(&statement, &params)?;
        }
        Ok(())
    }
}

pub(super) fn pairs_of(rows: Vec<Vec<Value>>) -> Tx<BTreeMap<String, String>> {
    let mut map = BTreeMap::new();
    for row in rows {
        let mut cols = Row::from(row);
        let key = cols.text()?;
        let value = cols.text()?;
        map.insert(key, value);
    }
    Ok(map)
}
