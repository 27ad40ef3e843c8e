//! The operator's face of the server stores: every host's data, each call
//! one transaction (a page of an import or a migration is one too).

use super::ServerStorage;
use super::sql::{Dialect, Fail, Param, Row, Sql, Tx};
use super::statements::Change;
use crate::change::{remove_from, set_in};
use crate::error::Result;
use crate::{Admin, EntitySummary, Entry, HistoryFilter, HostSummary, JournalEntry, Quota, RenameReport};
use std::collections::{BTreeMap, BTreeSet};

impl<D: Dialect> Admin for ServerStorage<D> {
    fn hosts(&self) -> Result<Vec<HostSummary>> {
        self.run(false, |sql| {
            let rows = sql.query(
                "SELECT host, COUNT(DISTINCT entity_id), COUNT(*) FROM private_data \
                 GROUP BY host ORDER BY host",
                &[],
            )?;
            rows.into_iter()
                .map(|row| {
                    let mut c = Row::from(row);
                    Ok(HostSummary {
                        host: c.text()?,
                        entities: c.count()?,
                        entries: c.count()?,
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
                    let mut c = Row::from(row);
                    Ok(EntitySummary {
                        entity: c.text()?,
                        entries: c.count()?,
                    })
                })
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
                    let mut c = Row::from(row);
                    moving.push((c.text()?, c.text()?));
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
                    let mut c = Row::from(row);
                    Ok(JournalEntry {
                        at: c.int()?,
                        host: c.text()?,
                        entity: c.text()?,
                        key: c.text()?,
                        operation: c.text()?,
                        old_digest: c.opt_text()?,
                        new_digest: c.opt_text()?,
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
                    let mut c = Row::from(row);
                    Ok(Entry {
                        host: c.text()?,
                        entity: c.text()?,
                        key: c.text()?,
                        value: c.text()?,
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
