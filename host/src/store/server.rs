//! What the database-server backends (MariaDB/MySQL and PostgreSQL) share:
//! every operation, written once over a small [`Dialect`] that knows how to
//! connect, run one statement and wrap a transaction, plus a connection pool,
//! retries and schema migrations.
//!
//! Unlike SQLite (whose triggers keep `host_usage`), the servers keep what
//! each host holds in this code: every write locks its host's usage row
//! first, reads what it replaces, checks the quota *before* writing, and
//! stores the new totals in the same transaction. Writes of one host are
//! therefore serialized by that row lock, on one server or a cluster; writes
//! of different hosts never wait for each other.

use super::{
    EntitySummary, Entry, HistoryFilter, HostSummary, JournalEntry, Pair, Quota, RenameReport, Storage,
    StorageOptions, digest, now,
};
use crate::error::{Error, Result};
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How many times a transaction that hit a deadlock, a serialization
/// failure or a dropped connection is run again before giving up.
const MAX_ATTEMPTS: u32 = 6;
/// Connections one store keeps open at most.
const POOL_SIZE: usize = 16;
/// How long a call waits for a free connection.
const POOL_WAIT: Duration = Duration::from_secs(10);
/// Most rows one multi-row statement carries.
const BATCH_ROWS: usize = 200;
/// Most bytes of keys and values one statement carries: well under the
/// smallest default `max_allowed_packet` (MySQL's 4 MiB), whatever the
/// backend's value limit.
const BATCH_BYTES: usize = 2 << 20;

/// A statement parameter. `Bytes` marks keys and values: they are stored as
/// bytes (`VARBINARY`/`MEDIUMBLOB`, `BYTEA`), so they compare and sort
/// byte-wise like in SQLite and may hold any character.
#[derive(Debug, Clone, Copy)]
pub(crate) enum P<'a> {
    Text(&'a str),
    Bytes(&'a str),
    /// Keys as one array parameter (`BYTEA[]`), for [`KeyList::Array`].
    BytesList(&'a [&'a str]),
    Int(i64),
    /// A NULL text.
    Null,
}

/// How a statement names a list of keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyList {
    /// `"key" IN (?, ?, …)`, [`BATCH_ROWS`] keys a statement (MySQL plans
    /// each as a range of primary-key lookups).
    Placeholders,
    /// `"key" = ANY(?)` with every key in one array: one statement, and one
    /// pass over the entity whatever plan the server picks (PostgreSQL may
    /// read an entity's every row for each statement of a long `IN` list).
    Array,
}

/// A result column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum V {
    Null,
    Int(i64),
    Text(String),
}

impl V {
    fn text(self) -> std::result::Result<String, DbError> {
        match self {
            V::Text(s) => Ok(s),
            V::Int(i) => Ok(i.to_string()),
            V::Null => Err(DbError::fatal("unexpected NULL in a text column")),
        }
    }

    fn opt_text(self) -> std::result::Result<Option<String>, DbError> {
        match self {
            V::Null => Ok(None),
            v => v.text().map(Some),
        }
    }

    fn int(self) -> std::result::Result<i64, DbError> {
        match self {
            V::Int(i) => Ok(i),
            V::Null => Ok(0),
            V::Text(s) => s
                .parse()
                .map_err(|_| DbError::fatal(format!("expected a number, got {s:?}"))),
        }
    }

    fn count(self) -> std::result::Result<u64, DbError> {
        Ok(self.int()?.max(0) as u64)
    }
}

/// A failure reported by the database server or its connection.
#[derive(Debug)]
pub(crate) struct DbError {
    pub(crate) message: String,
    /// Deadlock or serialization failure: run the transaction again.
    pub(crate) retry: bool,
    /// The connection is gone: drop it, and run the transaction again on a
    /// new one.
    pub(crate) broken: bool,
}

impl DbError {
    pub(crate) fn fatal(message: impl Into<String>) -> Self {
        DbError {
            message: message.into(),
            retry: false,
            broken: false,
        }
    }
}

/// Why a transaction stopped: the database failed, or the operation refused
/// (quota, host already in use), which no retry changes.
#[derive(Debug)]
pub(crate) enum Fail {
    Db(DbError),
    Refused(Error),
}

impl From<DbError> for Fail {
    fn from(e: DbError) -> Self {
        Fail::Db(e)
    }
}

impl From<Error> for Fail {
    fn from(e: Error) -> Self {
        Fail::Refused(e)
    }
}

pub(crate) type R<T> = std::result::Result<T, Fail>;

/// Run statements on one connection (inside a transaction or not).
pub(crate) trait Sql {
    /// Run a statement; returns the rows it changed.
    fn exec(&mut self, sql: &str, params: &[P<'_>]) -> std::result::Result<u64, DbError>;
    /// Run a query; returns its rows.
    fn query(&mut self, sql: &str, params: &[P<'_>]) -> std::result::Result<Vec<Vec<V>>, DbError>;
}

/// What differs between the servers. SQL in this module is written with `?`
/// placeholders and `"key"` quoted the standard way; PostgreSQL numbers the
/// placeholders, and MySQL sessions run with `ANSI_QUOTES`.
pub(crate) trait Dialect: Send + Sync + 'static {
    /// One connection.
    type Conn: Send;
    /// `mysql` or `postgres`, for messages.
    const NAME: &'static str;
    /// The schema, one list of statements per version. Every statement must
    /// be safe to run again (`IF NOT EXISTS`): two hosts may start at once.
    const MIGRATIONS: &'static [&'static [&'static str]];
    /// Insert (host, entity, key, value, created, updated) rows, `{rows}`
    /// standing for the `(?, ?, ?, ?, ?, ?)` groups, replacing the value of
    /// an existing key.
    const UPSERT: &'static str;
    /// Create the usage row of a host (params: host) if it is missing,
    /// waiting for a concurrent creator instead of failing.
    const CREATE_USAGE: &'static str;
    /// How statements name a list of keys.
    const KEY_LIST: KeyList;
    /// Lock the usage row of host ?2 and return it with every pair of
    /// entity ?1 of that host: `entries, bytes, key, value` rows (one row
    /// with NULL key and value when the entity holds nothing; none when the
    /// usage row is missing).
    const LOCK_ENTITY: &'static str;
    /// Copy every row of host ?1 to host ?2, the copied value winning.
    const COPY_HOST: &'static str;
    /// Create the one row of `privdata_schema` (version 0) unless another
    /// host already did.
    const INIT_SCHEMA: &'static str;
    /// `COUNT(*)` and the byte total of the rows matching `{where}`, both
    /// as integers.
    const USAGE_OF: &'static str;

    /// Open a connection.
    fn connect(&self) -> std::result::Result<Self::Conn, DbError>;
    /// Run `f` as one transaction (read committed) and commit it.
    fn transaction<T>(&self, conn: &mut Self::Conn, f: &mut dyn FnMut(&mut dyn Sql) -> R<T>) -> R<T>;
    /// Run `f` outside a transaction (one statement is atomic by itself).
    fn single<T>(&self, conn: &mut Self::Conn, f: &mut dyn FnMut(&mut dyn Sql) -> R<T>) -> R<T>;
    /// Serialize schema migrations across hosts, if the server can.
    fn lock_schema(&self, sql: &mut dyn Sql, lock: bool) -> std::result::Result<(), DbError>;
}

/// `scheme://user:PASSWORD@host/...` with the password masked: what this
/// code ever prints of a storage URL.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (authority, tail) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    match authority.rsplit_once('@') {
        Some((userinfo, hostport)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{hostport}{tail}"),
            None => url.to_string(),
        },
        None => url.to_string(),
    }
}

/// `message` with `url` redacted and its password's every form masked.
pub(crate) fn scrub(url: &str, message: &str) -> String {
    passwords(url)
        .iter()
        .fold(message.replace(url, &redact(url)), |m, secret| {
            m.replace(secret.as_str(), "***")
        })
}

/// The password in a URL, as written and percent-decoded: the forms a
/// message could repeat, to scrub.
pub(crate) fn passwords(url: &str) -> Vec<String> {
    let Some(pass) = url
        .split_once("://")
        .and_then(|(_, rest)| rest.split('/').next())
        .and_then(|authority| authority.rsplit_once('@'))
        .and_then(|(userinfo, _)| userinfo.split_once(':'))
        .map(|(_, pass)| pass)
        .filter(|pass| !pass.is_empty())
    else {
        return Vec::new();
    };
    let bytes = pass.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(byte)) => {
                decoded.push(byte);
                i += 3;
            }
            (byte, _) => {
                decoded.push(byte);
                i += 1;
            }
        }
    }
    let decoded = String::from_utf8_lossy(&decoded).into_owned();
    let mut forms = vec![pass.to_string()];
    if decoded != pass {
        forms.push(decoded);
    }
    forms
}

/// A database-server store: a pool of connections of one dialect.
pub(crate) struct ServerStorage<D: Dialect> {
    dialect: D,
    /// The URL with its password masked.
    url: String,
    /// The password's forms, scrubbed from every message.
    secrets: Vec<String>,
    audit: bool,
    idle: Mutex<(Vec<D::Conn>, usize)>,
    freed: Condvar,
}

impl<D: Dialect> std::fmt::Debug for ServerStorage<D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerStorage")
            .field("backend", &D::NAME)
            .field("url", &self.url)
            .field("audit", &self.audit)
            .finish_non_exhaustive()
    }
}

fn size((key, value): (&str, &str)) -> u64 {
    (key.len() + value.len()) as u64
}

/// `?, ?, ?` for `n` values.
fn marks(n: usize) -> String {
    vec!["?"; n].join(", ")
}

/// A change the journal records.
struct Change<'a> {
    entity: &'a str,
    key: &'a str,
    operation: &'a str,
    old: Option<&'a str>,
    new: Option<&'a str>,
}

impl<D: Dialect> ServerStorage<D> {
    /// Connect, bring the schema up to date and apply `options`.
    pub(crate) fn open(dialect: D, url: &str, options: &StorageOptions) -> Result<Self> {
        let store = ServerStorage {
            dialect,
            url: redact(url),
            secrets: passwords(url),
            audit: options.audit,
            idle: Mutex::new((Vec::new(), 0)),
            freed: Condvar::new(),
        };
        store.migrate()?;
        if let Some(days) = options.audit_retention_days {
            store.prune_history(now() - i64::from(days) * 86_400)?;
        }
        Ok(store)
    }

    /// A message about this store, with the password scrubbed.
    fn scrub(&self, message: &str) -> String {
        self.secrets
            .iter()
            .fold(message.to_string(), |m, secret| m.replace(secret.as_str(), "***"))
    }

    fn failure(&self, e: DbError) -> Error {
        let message = self.scrub(&e.message);
        if e.retry || e.broken {
            Error::StorageUnavailable(format!("{} at {}: {message}", D::NAME, self.url))
        } else {
            Error::Storage(format!("{} at {}: {message}", D::NAME, self.url))
        }
    }

    fn checkout(&self) -> Result<D::Conn> {
        let deadline = std::time::Instant::now() + POOL_WAIT;
        let mut pool = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if let Some(conn) = pool.0.pop() {
                return Ok(conn);
            }
            if pool.1 < POOL_SIZE {
                pool.1 += 1;
                drop(pool);
                return self.dialect.connect().map_err(|e| {
                    self.release(None);
                    let message = self.scrub(&e.message);
                    Error::StorageUnavailable(format!(
                        "cannot connect to {} at {}: {message}; check that the server is running \
                         and that [storage] url names it, its database, and a user allowed to \
                         connect",
                        D::NAME,
                        self.url
                    ))
                });
            }
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return Err(Error::StorageUnavailable(format!(
                    "all {POOL_SIZE} connections to {} stayed busy for {POOL_WAIT:?}",
                    self.url
                )));
            }
            pool = self
                .freed
                .wait_timeout(pool, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    /// Return a connection to the pool, or (`None`) forget a broken one.
    fn release(&self, conn: Option<D::Conn>) {
        let mut pool = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        match conn {
            Some(conn) => pool.0.push(conn),
            None => pool.1 -= 1,
        }
        self.freed.notify_one();
    }

    /// Close every idle connection.
    fn flush_idle(&self) {
        let mut pool = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        let idle = std::mem::take(&mut pool.0);
        pool.1 -= idle.len();
        drop(pool);
        drop(idle);
    }

    /// Run `f` on a pooled connection (as one transaction if `tx`), again
    /// on a deadlock, a serialization failure or a lost connection.
    fn run<T>(&self, tx: bool, mut f: impl FnMut(&mut dyn Sql) -> R<T>) -> Result<T> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut conn = self.checkout()?;
            let outcome = if tx {
                self.dialect.transaction(&mut conn, &mut f)
            } else {
                self.dialect.single(&mut conn, &mut f)
            };
            match outcome {
                Ok(value) => {
                    self.release(Some(conn));
                    return Ok(value);
                }
                Err(Fail::Refused(err)) => {
                    self.release(Some(conn));
                    return Err(err);
                }
                Err(Fail::Db(e)) => {
                    if e.broken {
                        // The server restarted or dropped us: the idle
                        // connections are most likely gone too.
                        self.release(None);
                        self.flush_idle();
                    } else {
                        self.release(Some(conn));
                    }
                    if (e.retry || e.broken) && attempt < MAX_ATTEMPTS {
                        // Back off a little more each time, with jitter, so
                        // two colliding writers do not collide again.
                        let jitter = u64::from(
                            SystemTime::now()
                                .duration_since(UNIX_EPOCH)
                                .map_or(0, |d| d.subsec_nanos() % 1000),
                        );
                        std::thread::sleep(Duration::from_micros((1000 << attempt) + jitter));
                        continue;
                    }
                    return Err(self.failure(e));
                }
            }
        }
    }

    fn migrate(&self) -> Result<()> {
        let known = D::MIGRATIONS.len() as i64;
        self.run(false, |sql| {
            self.dialect.lock_schema(sql, true)?;
            let outcome = (|| -> R<()> {
                sql.exec(
                    "CREATE TABLE IF NOT EXISTS privdata_schema (id INTEGER PRIMARY KEY, version BIGINT NOT NULL)",
                    &[],
                )?;
                sql.exec(D::INIT_SCHEMA, &[])?;
                let rows = sql.query("SELECT version FROM privdata_schema WHERE id = 1", &[])?;
                let version = rows
                    .into_iter()
                    .next()
                    .and_then(|row| row.into_iter().next())
                    .unwrap_or(V::Null)
                    .int()?;
                if version > known {
                    return Err(Fail::Refused(Error::Storage(format!(
                        "{}: the database has schema version {version}, newer than {known} which \
                         this program knows; use the newer privdata that wrote it",
                        self.url
                    ))));
                }
                for (i, statements) in D::MIGRATIONS.iter().enumerate().skip(version as usize) {
                    for statement in *statements {
                        sql.exec(statement, &[])?;
                    }
                    sql.exec(
                        "UPDATE privdata_schema SET version = ? WHERE id = 1 AND version = ?",
                        &[P::Int(i as i64 + 1), P::Int(i as i64)],
                    )?;
                }
                Ok(())
            })();
            self.dialect.lock_schema(sql, false)?;
            outcome
        })
    }

    /// Lock the usage rows of `hosts` (in order, so two transactions never
    /// wait for each other in a cycle) and return what each holds.
    fn lock_usage(&self, sql: &mut dyn Sql, hosts: &BTreeSet<&str>) -> R<BTreeMap<String, (u64, u64)>> {
        let mut usage = BTreeMap::new();
        for host in hosts {
            let select = "SELECT entries, bytes FROM host_usage WHERE host = ? FOR UPDATE";
            let mut rows = sql.query(select, &[P::Text(host)])?;
            if rows.is_empty() {
                sql.exec(D::CREATE_USAGE, &[P::Text(host)])?;
                rows = sql.query(select, &[P::Text(host)])?;
            }
            let mut row = rows.into_iter().next().unwrap_or_default().into_iter();
            let entries = row.next().unwrap_or(V::Null).count()?;
            let bytes = row.next().unwrap_or(V::Null).count()?;
            usage.insert(host.to_string(), (entries, bytes));
        }
        Ok(usage)
    }

    fn set_usage(&self, sql: &mut dyn Sql, host: &str, (entries, bytes): (u64, u64)) -> R<()> {
        sql.exec(
            "UPDATE host_usage SET entries = ?, bytes = ? WHERE host = ?",
            &[P::Int(entries as i64), P::Int(bytes as i64), P::Text(host)],
        )?;
        Ok(())
    }

    /// Lock the usage row of `host` and read what it holds and what
    /// `entity` holds, in one round trip: the start of every driver write.
    fn lock_entity(
        &self,
        sql: &mut dyn Sql,
        host: &str,
        entity: &str,
    ) -> R<((u64, u64), BTreeMap<String, String>)> {
        let select = D::LOCK_ENTITY;
        let params = [P::Text(entity), P::Text(host)];
        let mut rows = sql.query(select, &params)?;
        if rows.is_empty() {
            sql.exec(D::CREATE_USAGE, &[P::Text(host)])?;
            rows = sql.query(select, &params)?;
        }
        let mut usage = (0, 0);
        let mut pairs = BTreeMap::new();
        for row in rows {
            let mut c = row.into_iter();
            let mut next = || c.next().unwrap_or(V::Null);
            usage = (next().count()?, next().count()?);
            if let (key @ V::Text(_), value) = (next(), next()) {
                pairs.insert(key.text()?, value.text()?);
            }
        }
        Ok((usage, pairs))
    }

    /// Every pair `entity` of `host` holds, by key.
    fn pairs(&self, sql: &mut dyn Sql, host: &str, entity: &str) -> R<BTreeMap<String, String>> {
        let rows = sql.query(
            "SELECT \"key\", value FROM private_data WHERE host = ? AND entity_id = ?",
            &[P::Text(host), P::Text(entity)],
        )?;
        pairs_of(rows)
    }

    fn upsert(&self, sql: &mut dyn Sql, rows: &[(&str, &str, &str, &str)]) -> R<()> {
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
                    P::Text(host),
                    P::Text(entity),
                    P::Bytes(key),
                    P::Bytes(value),
                    P::Int(now),
                    P::Int(now),
                ]);
            }
            sql.exec(&statement, &params)?;
        }
        Ok(())
    }

    /// `"key"` matched against `keys`: a condition and its parameters for
    /// each statement it takes.
    fn key_lists<'k>(keys: &'k [&'k str]) -> Vec<(String, Vec<P<'k>>)> {
        match D::KEY_LIST {
            // One key, the common call: an equality every plan serves from
            // the primary key.
            _ if keys.len() == 1 => vec![("\"key\" = ?".to_string(), vec![P::Bytes(keys[0])])],
            KeyList::Array if !keys.is_empty() => {
                vec![("\"key\" = ANY(?)".to_string(), vec![P::BytesList(keys)])]
            }
            _ => keys
                .chunks(BATCH_ROWS)
                .map(|chunk| {
                    (
                        format!("\"key\" IN ({})", marks(chunk.len())),
                        chunk.iter().map(|k| P::Bytes(k)).collect(),
                    )
                })
                .collect(),
        }
    }

    fn delete_keys(&self, sql: &mut dyn Sql, host: &str, entity: &str, keys: &[&str]) -> R<()> {
        for (condition, keys) in Self::key_lists(keys) {
            let statement =
                format!("DELETE FROM private_data WHERE host = ? AND entity_id = ? AND {condition}");
            let mut params = vec![P::Text(host), P::Text(entity)];
            params.extend(keys);
            sql.exec(&statement, &params)?;
        }
        Ok(())
    }

    fn journal(&self, sql: &mut dyn Sql, host: &str, changes: &[Change<'_>]) -> R<()> {
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
                    P::Int(at),
                    P::Text(host),
                    P::Text(c.entity),
                    P::Bytes(c.key),
                    P::Text(c.operation),
                ]);
                params.push(old.as_deref().map_or(P::Null, P::Text));
                params.push(new.as_deref().map_or(P::Null, P::Text));
            }
            sql.exec(&statement, &params)?;
        }
        Ok(())
    }
}

fn pairs_of(rows: Vec<Vec<V>>) -> R<BTreeMap<String, String>> {
    let mut map = BTreeMap::new();
    for row in rows {
        let mut cols = row.into_iter();
        let key = cols.next().unwrap_or(V::Null).text()?;
        let value = cols.next().unwrap_or(V::Null).text()?;
        map.insert(key, value);
    }
    Ok(map)
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
                    &[P::Text(host), P::Text(entity)],
                )?,
                Some(_) => {
                    let mut rows = Vec::new();
                    for (condition, keys) in &lists {
                        let statement = format!(
                            "SELECT \"key\", value FROM private_data \
                             WHERE host = ? AND entity_id = ? AND {condition}"
                        );
                        let mut params = vec![P::Text(host), P::Text(entity)];
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
        self.run(true, |sql| {
            let (before, old) = self.lock_entity(sql, host, entity)?;
            let op = if delete_existing { "replace" } else { "update" };
            let (mut entries, mut bytes) = before;
            let mut changes = Vec::new();
            let mut gone = Vec::new();
            let mut set = Vec::new();
            for (key, value) in details {
                let was = old.get(key).map(String::as_str);
                if was == Some(value.as_str()) {
                    continue;
                }
                match was {
                    Some(was) => bytes = bytes.saturating_sub(was.len() as u64) + value.len() as u64,
                    None => {
                        entries += 1;
                        bytes += size((key, value));
                    }
                }
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
                        entries = entries.saturating_sub(1);
                        bytes = bytes.saturating_sub(size((key, value)));
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
            quota.check(host, before, (entries, bytes))?;
            self.delete_keys(sql, host, entity, &gone)?;
            self.upsert(sql, &set)?;
            self.set_usage(sql, host, (entries, bytes))?;
            self.journal(sql, host, &changes)
        })
    }

    fn delete(&self, host: &str, entity: &str, keys: Option<&[String]>) -> Result<()> {
        let named: Option<HashSet<&str>> = keys.map(|keys| keys.iter().map(String::as_str).collect());
        self.run(true, |sql| {
            let ((mut entries, mut bytes), old) = self.lock_entity(sql, host, entity)?;
            let mut changes = Vec::new();
            let mut gone = Vec::new();
            for (key, value) in &old {
                if named.as_ref().is_none_or(|named| named.contains(key.as_str())) {
                    gone.push(key.as_str());
                    entries = entries.saturating_sub(1);
                    bytes = bytes.saturating_sub(size((key, value)));
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
                    &[P::Text(host), P::Text(entity)],
                )?;
            } else {
                self.delete_keys(sql, host, entity, &gone)?;
            }
            self.set_usage(sql, host, (entries, bytes))?;
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
                        host: c.next().unwrap_or(V::Null).text()?,
                        entities: c.next().unwrap_or(V::Null).count()?,
                        entries: c.next().unwrap_or(V::Null).count()?,
                    })
                })
                .collect()
        })
    }

    fn entities(&self, host: &str) -> Result<Vec<EntitySummary>> {
        self.run(false, |sql| {
            let rows = sql.query(
                "SELECT entity_id, COUNT(*) FROM private_data WHERE host = ? \
                 GROUP BY entity_id ORDER BY entity_id",
                &[P::Text(host)],
            )?;
            rows.into_iter()
                .map(|row| {
                    let mut c = row.into_iter();
                    Ok(EntitySummary {
                        entity: c.next().unwrap_or(V::Null).text()?,
                        entries: c.next().unwrap_or(V::Null).count()?,
                    })
                })
                .collect()
        })
    }

    fn list_entities(&self, host: &str, after: Option<&str>, limit: usize) -> Result<Vec<String>> {
        self.run(false, |sql| {
            let rows = sql.query(
                "SELECT DISTINCT entity_id FROM private_data WHERE host = ? AND entity_id > ? \
                 ORDER BY entity_id LIMIT ?",
                &[P::Text(host), P::Text(after.unwrap_or("")), P::Int(limit as i64)],
            )?;
            rows.into_iter()
                .map(|row| Ok(row.into_iter().next().unwrap_or(V::Null).text()?))
                .collect()
        })
    }

    fn rename_host(&self, old: &str, new: &str, merge: bool) -> Result<RenameReport> {
        super::refuse_same_host(old, new)?;
        self.run(true, |sql| {
            let usage = self.lock_usage(sql, &BTreeSet::from([old, new]))?;
            let held = usage[new].0;
            if held > 0 && !merge {
                return Err(Fail::Refused(super::host_taken(old, new, held)));
            }
            let count = |sql: &mut dyn Sql, statement: &str| -> R<Vec<u64>> {
                let row = sql
                    .query(statement, &[P::Text(old), P::Text(new)])?
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
                    &[P::Text(old)],
                )? {
                    let mut c = row.into_iter();
                    moving.push((
                        c.next().unwrap_or(V::Null).text()?,
                        c.next().unwrap_or(V::Null).text()?,
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
            sql.exec(D::COPY_HOST, &[P::Text(new), P::Text(old)])?;
            sql.exec("DELETE FROM private_data WHERE host = ?", &[P::Text(old)])?;
            let totals = count(sql, &D::USAGE_OF.replace("{where}", "host = ? OR host = ?"))?;
            self.set_usage(sql, new, (totals[0], totals[1]))?;
            sql.exec("DELETE FROM host_usage WHERE host = ?", &[P::Text(old)])?;
            Ok(RenameReport {
                moved: moved[0],
                entities: moved[1],
                overwritten: overwritten[0],
            })
        })
    }

    fn delete_entities(&self, host: &str, entities: &[String]) -> Result<u64> {
        self.run(true, |sql| {
            let (mut entries, mut bytes) = self.lock_usage(sql, &BTreeSet::from([host]))?[host];
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
                    &[P::Text(host), P::Text(entity)],
                )?;
                deleted += old.len() as u64;
                entries = entries.saturating_sub(old.len() as u64);
                bytes = bytes.saturating_sub(old.iter().map(|(k, v)| size((k, v))).sum::<u64>());
            }
            self.set_usage(sql, host, (entries, bytes))?;
            Ok(deleted)
        })
    }

    fn history(&self, filter: &HistoryFilter) -> Result<Vec<JournalEntry>> {
        self.run(false, |sql| {
            let mut conditions = vec!["1 = 1"];
            let mut params = Vec::new();
            if let Some(host) = &filter.host {
                conditions.push("host = ?");
                params.push(P::Text(host));
            }
            if let Some(entity) = &filter.entity {
                conditions.push("entity_id = ?");
                params.push(P::Text(entity));
            }
            if let Some(since) = filter.since {
                conditions.push("at >= ?");
                params.push(P::Int(since));
            }
            if let Some(until) = filter.until {
                conditions.push("at < ?");
                params.push(P::Int(until));
            }
            let limit = match filter.limit {
                Some(limit) => {
                    params.push(P::Int(limit as i64));
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
                    let mut next = || c.next().unwrap_or(V::Null);
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
            Ok(sql.exec("DELETE FROM journal WHERE at < ?", &[P::Int(before)])?)
        })
    }

    fn scan(&self, host: Option<&str>, after: Option<&Entry>, limit: usize) -> Result<Vec<Entry>> {
        self.run(false, |sql| {
            let (mut conditions, mut params) = (vec!["1 = 1"], Vec::new());
            if let Some(h) = host {
                conditions.push("host = ?");
                params.push(P::Text(h));
            }
            if let Some(a) = after {
                // The row comparison spelled out, which every server serves
                // from the primary key.
                conditions
                    .push("(host > ? OR (host = ? AND (entity_id > ? OR (entity_id = ? AND \"key\" > ?))))");
                params.extend([
                    P::Text(&a.host),
                    P::Text(&a.host),
                    P::Text(&a.entity),
                    P::Text(&a.entity),
                    P::Bytes(&a.key),
                ]);
            }
            params.push(P::Int(limit as i64));
            let statement = format!(
                "SELECT host, entity_id, \"key\", value FROM private_data WHERE {} \
                 ORDER BY host, entity_id, \"key\" LIMIT ?",
                conditions.join(" AND ")
            );
            sql.query(&statement, &params)?
                .into_iter()
                .map(|row| {
                    let mut c = row.into_iter();
                    let mut next = || c.next().unwrap_or(V::Null);
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
                let (entries, bytes) = usage.get_mut(*host).expect("locked above");
                for (key, value) in latest {
                    let was = old.get(*key).map(String::as_str);
                    if was == Some(*value) {
                        continue;
                    }
                    match was {
                        Some(was) => *bytes = bytes.saturating_sub(was.len() as u64) + value.len() as u64,
                        None => {
                            *entries += 1;
                            *bytes += size((key, value));
                        }
                    }
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
