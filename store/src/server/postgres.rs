//! PostgreSQL (and what speaks its protocol), through the `postgres` crate.
//!
//! Keys and values are `BYTEA`: they compare and sort byte-wise exactly as
//! in SQLite and may hold any character, NUL included (which `TEXT`
//! refuses). Hosts and entity ids are `TEXT COLLATE "C"`. Statements are
//! prepared once per connection and reused.

mod schema;
mod writes;

use super::ServerStorage;
use super::sql::{DbError, Dialect, KeyList, OneTripUpdate, Param, Sql, Tx, Value, Written};
use crate::error::{Error, Result};
use crate::server_tls::Tls;
use crate::url::ServerUrl;
use crate::{Durability, StorageOptions};
use postgres::GenericClient;
use postgres::error::SqlState;
use postgres::types::{ToSql, Type};
use schema::{REVISED_ROUTINES, ROUTINES, TABLES};
use std::collections::HashMap;
use std::time::Duration;

/// Open a `postgres://USER:PASSWORD@HOST:PORT/DATABASE` store, with TLS as
/// `?sslmode=verify-full&sslrootcert=PATH` ask (see [`super::tls`]).
pub(crate) fn open(url: &ServerUrl, options: &StorageOptions) -> Result<ServerStorage<Postgres>> {
    let redacted = crate::url::redact(&url.written);
    let mut config: postgres::Config = url.client.parse().map_err(|e: postgres::Error| {
        Error::InvalidUrl(format!(
            "storage URL {redacted}: {}; the form is postgres://USER:PASSWORD@HOST:PORT/DATABASE",
            crate::url::scrub(&url.written, &e.to_string())
        ))
    })?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(Duration::from_secs(5));
    }
    let tls = match url.tls.clone() {
        Tls::Plain => None,
        Tls::Verified(ca) => {
            config.ssl_mode(postgres::config::SslMode::Require);
            let client = crate::tls::client_config(ca.as_deref())
                .map_err(|e| Error::Storage(format!("storage URL {redacted}: sslrootcert: {e}")))?;
            Some(tokio_postgres_rustls::MakeRustlsConnect::new(client))
        }
    };
    let dialect = Postgres {
        config,
        tls,
        // `normal`: an acknowledged commit survives a crash of the server
        // process but a power loss may undo the last ones, as in SQLite.
        relaxed: options.durability == Durability::Normal,
    };
    ServerStorage::open(dialect, &url.written, options)
}

/// The PostgreSQL dialect.
pub(crate) struct Postgres {
    config: postgres::Config,
    /// Verified TLS (rustls, checking the chain and the host's name), or
    /// plaintext.
    tls: Option<tokio_postgres_rustls::MakeRustlsConnect>,
    relaxed: bool,
}

/// A connection and the statements prepared on it.
pub(crate) struct Conn {
    client: postgres::Client,
    prepared: HashMap<String, postgres::Statement>,
}

/// Key of the advisory lock that serializes migrations.
const SCHEMA_LOCK: i64 = 0x7072_6976_6461_7461; // "privdata"

impl Dialect for Postgres {
    type Conn = Conn;
    const NAME: &'static str = "postgres";
    const MIGRATIONS: &'static [&'static [&'static str]] = &[TABLES, ROUTINES, REVISED_ROUTINES];
    const ONE_TRIP_MAX_BYTES: usize = usize::MAX;
    const UPSERT: &'static str =
        "INSERT INTO private_data (host, entity_id, \"key\", value, created_at, updated_at)
         VALUES {rows}
         ON CONFLICT (host, entity_id, \"key\")
         DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at";
    const CREATE_USAGE: &'static str =
        "INSERT INTO host_usage (host, entries, bytes) VALUES (?, 0, 0) ON CONFLICT (host) DO NOTHING";
    const KEY_LIST: KeyList = KeyList::Array;
    const LOCK_ENTITY: &'static str = "SELECT u.entries, u.bytes, p.\"key\", p.value FROM host_usage u
         LEFT JOIN private_data p ON p.host = u.host AND p.entity_id = ?
         WHERE u.host = ? FOR UPDATE OF u";
    const COPY_HOST: &'static str =
        "INSERT INTO private_data (host, entity_id, \"key\", value, created_at, updated_at)
         SELECT CAST(? AS TEXT), entity_id, \"key\", value, created_at, updated_at
         FROM private_data WHERE host = ?
         ON CONFLICT (host, entity_id, \"key\")
         DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at";
    const INIT_SCHEMA: &'static str =
        "INSERT INTO privdata_schema (id, version) VALUES (1, 0) ON CONFLICT (id) DO NOTHING";
    const USAGE_OF: &'static str = "SELECT COUNT(*),
         CAST(COALESCE(SUM(octet_length(\"key\") + octet_length(value)), 0) AS BIGINT)
         FROM private_data WHERE {where}";

    fn one_trip_update(&self, sql: &mut dyn Sql, w: &OneTripUpdate<'_>) -> Result<Vec<Value>, DbError> {
        let keys: Vec<&str> = w.details.iter().map(|(k, _)| k.as_str()).collect();
        let values: Vec<&str> = w.details.iter().map(|(_, v)| v.as_str()).collect();
        let statement = match w.delete_existing {
            true => writes::UPDATE_REPLACE,
            false => writes::UPDATE_MERGE,
        };
        let rows = sql.query(
            statement,
            &[
                Param::Text(w.host),
                Param::Text(w.entity),
                Param::BytesList(&keys),
                Param::BytesList(&values),
                Param::Int(w.new_entries),
                Param::Int(w.new_bytes),
                Param::Int(w.max_entries),
                Param::Int(w.max_bytes),
                Param::Int(w.now),
            ],
        )?;
        Ok(rows.into_iter().next().unwrap_or_default())
    }

    fn one_trip_delete(
        &self,
        sql: &mut dyn Sql,
        host: &str,
        entity: &str,
        keys: Option<&[String]>,
    ) -> Result<bool, DbError> {
        let keys: Option<Vec<&str>> = keys.map(|keys| keys.iter().map(String::as_str).collect());
        let rows = match &keys {
            Some(keys) => sql.query(
                writes::DELETE_KEYS,
                &[Param::Text(host), Param::Text(entity), Param::BytesList(keys)],
            )?,
            None => sql.query(writes::DELETE_ALL, &[Param::Text(host), Param::Text(entity)])?,
        };
        let answer = rows
            .into_iter()
            .next()
            .map(|row| super::sql::Row::from(row).int());
        Ok(matches!(answer.transpose()?, Some(Written::APPLIED)))
    }

    fn connect(&self) -> Result<Self::Conn, DbError> {
        let mut client = match &self.tls {
            Some(tls) => self.config.connect(tls.clone()),
            None => self.config.connect(postgres::NoTls),
        }
        .map_err(classify)?;
        if self.relaxed {
            client
                .batch_execute("SET synchronous_commit = off")
                .map_err(classify)?;
        }
        Ok(Conn {
            client,
            prepared: HashMap::new(),
        })
    }

    fn transaction<T>(&self, conn: &mut Self::Conn, f: &mut dyn FnMut(&mut dyn Sql) -> Tx<T>) -> Tx<T> {
        let mut tx = conn.client.transaction().map_err(classify)?;
        // On an error the transaction is dropped, which rolls it back.
        let value = f(&mut Session {
            client: &mut tx,
            prepared: &mut conn.prepared,
        })?;
        tx.commit().map_err(classify)?;
        Ok(value)
    }

    fn single<T>(&self, conn: &mut Self::Conn, f: &mut dyn FnMut(&mut dyn Sql) -> Tx<T>) -> Tx<T> {
        f(&mut Session {
            client: &mut conn.client,
            prepared: &mut conn.prepared,
        })
    }

    fn lock_schema(&self, sql: &mut dyn Sql, lock: bool) -> Result<(), DbError> {
        let statement = if lock {
            format!("SELECT pg_advisory_lock({SCHEMA_LOCK})")
        } else {
            format!("SELECT pg_advisory_unlock({SCHEMA_LOCK})")
        };
        sql.exec(&statement, &[]).map(drop)
    }
}

/// Statements on a connection or a transaction.
struct Session<'a, C: GenericClient> {
    client: &'a mut C,
    prepared: &'a mut HashMap<String, postgres::Statement>,
}

/// A parameter as the `postgres` crate takes it.
enum Arg<'a> {
    Text(&'a str),
    Bytes(&'a [u8]),
    BytesList(Vec<&'a [u8]>),
    Int(i64),
    Bool(bool),
    Null(Option<&'a str>),
}

impl<C: GenericClient> Session<'_, C> {
    fn prepare(&mut self, sql: &str) -> Result<postgres::Statement, DbError> {
        if let Some(statement) = self.prepared.get(sql) {
            return Ok(statement.clone());
        }
        // `?` placeholders become `$1`, `$2`, ... (no `?` appears in this
        // program's SQL otherwise).
        let mut numbered = String::with_capacity(sql.len() + 16);
        let mut n = 0;
        for c in sql.chars() {
            if c == '?' {
                n += 1;
                numbered.push_str(&format!("${n}"));
            } else {
                numbered.push(c);
            }
        }
        let statement = self.client.prepare(&numbered).map_err(classify)?;
        if self.prepared.len() >= 512 {
            // Statements built for long key lists are many; keep the cache
            // bounded.
            self.prepared.clear();
        }
        self.prepared.insert(sql.to_string(), statement.clone());
        Ok(statement)
    }

    fn run<T>(
        &mut self,
        sql: &str,
        params: &[Param<'_>],
        f: impl FnOnce(&mut C, &postgres::Statement, &[&(dyn ToSql + Sync)]) -> Result<T, postgres::Error>,
    ) -> Result<T, DbError> {
        let statement = self.prepare(sql)?;
        let args: Vec<Arg<'_>> = params
            .iter()
            .map(|p| match *p {
                Param::Text(s) => Arg::Text(s),
                Param::Bytes(s) => Arg::Bytes(s.as_bytes()),
                Param::BytesList(keys) => Arg::BytesList(keys.iter().map(|k| k.as_bytes()).collect()),
                Param::Int(i) => Arg::Int(i),
                Param::Bool(b) => Arg::Bool(b),
                Param::Null => Arg::Null(None),
            })
            .collect();
        let refs: Vec<&(dyn ToSql + Sync)> = args
            .iter()
            .map(|a| match a {
                Arg::Text(s) => s as &(dyn ToSql + Sync),
                Arg::Bytes(b) => b as &(dyn ToSql + Sync),
                Arg::BytesList(l) => l as &(dyn ToSql + Sync),
                Arg::Int(i) => i as &(dyn ToSql + Sync),
                Arg::Bool(b) => b as &(dyn ToSql + Sync),
                Arg::Null(n) => n as &(dyn ToSql + Sync),
            })
            .collect();
        f(self.client, &statement, &refs).map_err(classify)
    }
}

impl<C: GenericClient> Sql for Session<'_, C> {
    fn exec(&mut self, sql: &str, params: &[Param<'_>]) -> Result<u64, DbError> {
        if params.is_empty() {
            // Schema statements and locks: simple protocol.
            self.client.batch_execute(sql).map_err(classify)?;
            return Ok(0);
        }
        self.run(sql, params, |client, statement, args| {
            client.execute(statement, args)
        })
    }

    fn query(&mut self, sql: &str, params: &[Param<'_>]) -> Result<Vec<Vec<Value>>, DbError> {
        let rows = self.run(sql, params, |client, statement, args| {
            client.query(statement, args)
        })?;
        rows.iter()
            .map(|row| {
                (0..row.len())
                    .map(|i| {
                        let ty = row.columns()[i].type_();
                        let got = if *ty == Type::BYTEA {
                            row.try_get::<_, Option<Vec<u8>>>(i).map(|v| match v {
                                Some(b) => String::from_utf8(b)
                                    .map(Value::Text)
                                    .map_err(|_| DbError::fatal("a stored key or value is not valid UTF-8")),
                                None => Ok(Value::Null),
                            })
                        } else if *ty == Type::INT8 {
                            row.try_get::<_, Option<i64>>(i)
                                .map(|v| Ok(v.map_or(Value::Null, Value::Int)))
                        } else if *ty == Type::INT4 {
                            row.try_get::<_, Option<i32>>(i)
                                .map(|v| Ok(v.map_or(Value::Null, |v| Value::Int(v.into()))))
                        } else {
                            row.try_get::<_, Option<String>>(i)
                                .map(|v| Ok(v.map_or(Value::Null, Value::Text)))
                        };
                        got.map_err(classify)?
                    })
                    .collect()
            })
            .collect()
    }
}

/// Sort a failure: serialization failures (40001) and deadlocks (40P01) are
/// retried; a closed connection or a server shutting down is replaced.
fn classify(e: postgres::Error) -> DbError {
    let code = e.code().cloned();
    let message = match e.as_db_error() {
        Some(db) => format!("{} (SQLSTATE {})", db.message(), db.code().code()),
        // "error connecting to server" alone hides whether the connection
        // was refused or the host unknown: say the cause too.
        None => match std::error::Error::source(&e) {
            Some(cause) => format!("{e}: {cause}"),
            None => e.to_string(),
        },
    };
    let shutdown = matches!(
        code,
        Some(SqlState::ADMIN_SHUTDOWN | SqlState::CRASH_SHUTDOWN | SqlState::CANNOT_CONNECT_NOW)
    );
    let io = std::error::Error::source(&e).is_some_and(|s| s.is::<std::io::Error>());
    DbError {
        message,
        retry: matches!(
            code,
            Some(SqlState::T_R_SERIALIZATION_FAILURE | SqlState::T_R_DEADLOCK_DETECTED)
        ),
        broken: e.is_closed() || shutdown || io,
    }
}
