//! The statements' side of the server stores: parameters and result
//! values, the errors a server gives, and the [`Dialect`] each server
//! implements.

use crate::change::Usage;
use crate::error::Error;

/// Most rows one multi-row statement carries.
pub(crate) const BATCH_ROWS: usize = 200;
/// Most bytes of keys and values one statement carries: well under the
/// smallest default `max_allowed_packet` (MySQL's 4 MiB), whatever the
/// backend's value limit.
pub(crate) const BATCH_BYTES: usize = 2 << 20;

/// A statement parameter. `Bytes` marks keys and values: they are stored as
/// bytes (`VARBINARY`/`MEDIUMBLOB`, `BYTEA`), so they compare and sort
/// byte-wise like in SQLite and may hold any character.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Param<'a> {
    Text(&'a str),
    Bytes(&'a str),
    /// Keys as one array parameter (`BYTEA[]`), for [`KeyList::Array`].
    BytesList(&'a [&'a str]),
    Int(i64),
    Bool(bool),
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
pub(crate) enum Value {
    Null,
    Int(i64),
    Text(String),
}

impl Value {
    pub(crate) fn text(self) -> std::result::Result<String, DbError> {
        match self {
            Value::Text(s) => Ok(s),
            Value::Int(i) => Ok(i.to_string()),
            Value::Null => Err(DbError::fatal("unexpected NULL in a text column")),
        }
    }

    pub(crate) fn opt_text(self) -> std::result::Result<Option<String>, DbError> {
        match self {
            Value::Null => Ok(None),
            v => v.text().map(Some),
        }
    }

    pub(crate) fn int(self) -> std::result::Result<i64, DbError> {
        match self {
            Value::Int(i) => Ok(i),
            Value::Null => Ok(0),
            Value::Text(s) => s
                .parse()
                .map_err(|_| DbError::fatal(format!("expected a number, got {s:?}"))),
        }
    }

    pub(crate) fn count(self) -> std::result::Result<u64, DbError> {
        Ok(self.int()?.max(0) as u64)
    }
}

/// One result row, read column by column in order: the one decoder of
/// server rows. A missing column reads as NULL.
pub(crate) struct Row(std::vec::IntoIter<Value>);

impl From<Vec<Value>> for Row {
    fn from(columns: Vec<Value>) -> Self {
        Row(columns.into_iter())
    }
}

impl Row {
    fn next(&mut self) -> Value {
        self.0.next().unwrap_or(Value::Null)
    }

    /// The next column, as text (NULL is an error).
    pub(crate) fn text(&mut self) -> std::result::Result<String, DbError> {
        self.next().text()
    }

    /// The next column, as text or NULL.
    pub(crate) fn opt_text(&mut self) -> std::result::Result<Option<String>, DbError> {
        self.next().opt_text()
    }

    /// The next column, as a number (NULL is 0).
    pub(crate) fn int(&mut self) -> std::result::Result<i64, DbError> {
        self.next().int()
    }

    /// The next column, as a count (NULL and negatives are 0).
    pub(crate) fn count(&mut self) -> std::result::Result<u64, DbError> {
        self.next().count()
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

/// What a step of a transaction gives.
pub(crate) type Tx<T> = std::result::Result<T, Fail>;

/// Run statements on one connection (inside a transaction or not).
pub(crate) trait Sql {
    /// Run a statement; returns the rows it changed.
    fn exec(&mut self, sql: &str, params: &[Param<'_>]) -> std::result::Result<u64, DbError>;
    /// Run a query; returns its rows.
    fn query(&mut self, sql: &str, params: &[Param<'_>]) -> std::result::Result<Vec<Vec<Value>>, DbError>;
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

    /// Most bytes of keys and values a one-trip write takes; a larger
    /// write runs its steps as a transaction from here instead.
    const ONE_TRIP_MAX_BYTES: usize;

    /// Apply a driver's update in one round trip (a stored routine on
    /// MariaDB/MySQL, one statement on PostgreSQL): lock the host's usage
    /// row, read what the entity holds, check the quota (`max_entries`,
    /// `max_bytes`) and only then write and store the new usage, as one
    /// transaction. Returns one row: [`Written::APPLIED`],
    /// [`Written::REFUSED`] (by the quota; nothing written) or
    /// [`Written::RETRY`], then entries and bytes before, then after.
    fn one_trip_update(
        &self,
        sql: &mut dyn Sql,
        write: &OneTripUpdate<'_>,
    ) -> std::result::Result<Vec<Value>, DbError>;

    /// Delete `keys` (or, with `None`, every key) of an entity in one round
    /// trip: lock the host's usage row and lower it by what went, as one
    /// transaction. `false`: nothing was deleted; run it again with the
    /// usage row locked (see [`Written::Retry`]).
    fn one_trip_delete(
        &self,
        sql: &mut dyn Sql,
        host: &str,
        entity: &str,
        keys: Option<&[String]>,
    ) -> std::result::Result<bool, DbError>;

    /// Open a connection.
    fn connect(&self) -> std::result::Result<Self::Conn, DbError>;
    /// Run `f` as one transaction (read committed) and commit it.
    fn transaction<T>(&self, conn: &mut Self::Conn, f: &mut dyn FnMut(&mut dyn Sql) -> Tx<T>) -> Tx<T>;
    /// Run `f` outside a transaction (one statement is atomic by itself).
    fn single<T>(&self, conn: &mut Self::Conn, f: &mut dyn FnMut(&mut dyn Sql) -> Tx<T>) -> Tx<T>;
    /// Serialize schema migrations across hosts, if the server can.
    fn lock_schema(&self, sql: &mut dyn Sql, lock: bool) -> std::result::Result<(), DbError>;
}

/// What a one-trip write answered.
#[derive(Debug, PartialEq)]
pub(crate) enum Written {
    Applied,
    /// The quota refused it: what the host held before, and would after.
    Refused {
        before: Usage,
        after: Usage,
    },
    /// Nothing written: the write could not be sure it read the host's
    /// latest state (another writer of the host committed while it waited
    /// for the usage row), or the host has no usage row yet. Run it again
    /// in a transaction that has locked (or created) the usage row first.
    Retry,
}

impl Written {
    pub(crate) const REFUSED: i64 = 0;
    pub(crate) const APPLIED: i64 = 1;
    pub(crate) const RETRY: i64 = 2;

    /// Read [`Dialect::one_trip_update`]'s row; no row is [`Written::Retry`].
    pub(crate) fn of(row: Vec<Value>) -> std::result::Result<Written, DbError> {
        if row.is_empty() {
            return Ok(Written::Retry);
        }
        let mut c = Row::from(row);
        let answer = c.int()?;
        let (before, after) = ((c.count()?, c.count()?), (c.count()?, c.count()?));
        match answer {
            Written::APPLIED => Ok(Written::Applied),
            Written::REFUSED => Ok(Written::Refused { before, after }),
            Written::RETRY => Ok(Written::Retry),
            other => Err(DbError::fatal(format!(
                "a write answered {other}, which no version of privdata does"
            ))),
        }
    }
}

/// What [`Dialect::one_trip_update`] writes.
pub(crate) struct OneTripUpdate<'a> {
    pub(crate) host: &'a str,
    pub(crate) entity: &'a str,
    pub(crate) details: &'a [crate::Pair],
    pub(crate) delete_existing: bool,
    /// What `details` hold: entries, bytes.
    pub(crate) new_entries: i64,
    pub(crate) new_bytes: i64,
    /// The host's quota: entries, bytes.
    pub(crate) max_entries: i64,
    pub(crate) max_bytes: i64,
    /// `created_at`/`updated_at` of what it writes.
    pub(crate) now: i64,
}
