//! MariaDB and MySQL (and Galera clusters of them), through the `mysql`
//! crate without its C dependencies.
//!
//! Hosts, ids, keys and values are stored as bytes (`VARBINARY`,
//! `MEDIUMBLOB`): they compare and sort byte-wise exactly as in SQLite, `"a"`
//! and `"a "` or `"A"` are different keys, and any Unicode text (utf8mb4 and
//! beyond) round-trips. Sessions use `ANSI_QUOTES` (so `"key"` quotes the
//! reserved word), strict mode, and `READ COMMITTED`.

use super::ServerStorage;
use super::sql::{BATCH_BYTES, DbError, Dialect, KeyList, OneTripUpdate, Param, Sql, Tx, Value};
use crate::error::{Error, Result};
use crate::server_tls::Tls;
use crate::url::ServerUrl;
use crate::{Durability, StorageOptions};
use mysql::prelude::Queryable;
use std::time::Duration;

/// Open a `mysql://USER:PASSWORD@HOST:PORT/DATABASE` store, with TLS as
/// `?ssl-mode=VERIFY_IDENTITY&ssl-ca=PATH` ask (see [`super::tls`]).
pub(crate) fn open(url: &ServerUrl, options: &StorageOptions) -> Result<ServerStorage<MySql>> {
    let redacted = crate::url::redact(&url.written);
    let bad = |why: String| {
        Error::InvalidUrl(format!(
            "storage URL {redacted}: {why}; the form is mysql://USER:PASSWORD@HOST:PORT/DATABASE"
        ))
    };
    if options.durability == Durability::Normal {
        return Err(Error::Storage(format!(
            "storage {redacted}: durability = \"normal\" cannot be chosen per connection on \
             MariaDB/MySQL; remove it, and set innodb_flush_log_at_trx_commit = 2 on the server \
             for the same promise"
        )));
    }
    let opts = mysql::Opts::from_url(&url.client)
        .map_err(|e| bad(crate::url::scrub(&url.written, &e.to_string())))?;
    let opts = mysql::OptsBuilder::from_opts(opts)
        .init(vec![
            "SET SESSION sql_mode = CONCAT_WS(',', NULLIF(@@SESSION.sql_mode, ''), 'ANSI_QUOTES', \
             'STRICT_ALL_TABLES')",
            "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED",
            "SET NAMES utf8mb4",
        ])
        .stmt_cache_size(256)
        .tcp_connect_timeout(Some(Duration::from_secs(5)))
        .read_timeout(Some(Duration::from_secs(60)))
        .write_timeout(Some(Duration::from_secs(60)));
    let opts = match url.tls.clone() {
        Tls::Plain => opts,
        // Never moved to the server's Unix socket: TLS is what was asked.
        Tls::Verified(ca) => opts
            .prefer_socket(false)
            .ssl_opts(mysql::SslOpts::default().with_root_cert_path(ca)),
    };
    ServerStorage::open(MySql { opts: opts.into() }, &url.written, options)
}

/// The MariaDB/MySQL dialect.
pub(crate) struct MySql {
    opts: mysql::Opts,
}

// Every string is bytes (`VARBINARY`): compared and sorted byte-wise as in
// SQLite and PostgreSQL's `"C"` collation, never case- or pad-insensitively.
const TABLES: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS private_data (
        host       VARBINARY(255) NOT NULL,
        entity_id  VARBINARY(36) NOT NULL,
        \"key\"      VARBINARY(255) NOT NULL,
        value      MEDIUMBLOB NOT NULL,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL,
        PRIMARY KEY (host, entity_id, \"key\")
    ) ENGINE = InnoDB",
    "CREATE TABLE IF NOT EXISTS host_usage (
        host    VARBINARY(255) NOT NULL PRIMARY KEY,
        entries BIGINT NOT NULL,
        bytes   BIGINT NOT NULL
    ) ENGINE = InnoDB",
    "CREATE TABLE IF NOT EXISTS journal (
        id         BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
        at         BIGINT NOT NULL,
        host       VARBINARY(255) NOT NULL,
        entity_id  VARBINARY(36) NOT NULL,
        \"key\"      VARBINARY(255) NOT NULL,
        operation  VARCHAR(16) CHARACTER SET ascii NOT NULL,
        old_digest CHAR(64) CHARACTER SET ascii,
        new_digest CHAR(64) CHARACTER SET ascii,
        KEY journal_by_host (host, entity_id, at),
        KEY journal_by_time (at)
    ) ENGINE = InnoDB",
];

// The write routines: one round trip per driver write (see
// `Dialect::one_trip_update`). Keys and values come as JSON arrays of hex
// strings, `UNHEX`ed here, so any bytes pass unchanged. Each routine is its
// own transaction, rolled back on any error (which then reaches the caller,
// deadlocks and Galera's certification failures included, to be retried).
const ROUTINES: &[&str] = &[
    "CREATE PROCEDURE IF NOT EXISTS privdata_update(
        IN h VARBINARY(255), IN e VARBINARY(36), IN pairs LONGTEXT, IN replace_all BOOLEAN,
        IN new_e BIGINT, IN new_b BIGINT, IN max_entries BIGINT, IN max_bytes BIGINT,
        IN now_s BIGINT)
    MODIFIES SQL DATA
    BEGIN
        DECLARE e0, b0, e1, b1, gone_e, gone_b BIGINT;
        DECLARE EXIT HANDLER FOR SQLEXCEPTION BEGIN ROLLBACK; RESIGNAL; END;
        START TRANSACTION;
        SELECT entries, bytes INTO e0, b0 FROM host_usage WHERE host = h FOR UPDATE;
        IF e0 IS NULL THEN
            INSERT INTO host_usage (host, entries, bytes) VALUES (h, 0, 0)
                ON DUPLICATE KEY UPDATE entries = entries;
            SELECT entries, bytes INTO e0, b0 FROM host_usage WHERE host = h FOR UPDATE;
        END IF;
        SELECT COUNT(*), COALESCE(SUM(LENGTH(p.\"key\") + LENGTH(p.value)), 0) INTO gone_e, gone_b
            FROM private_data p WHERE p.host = h AND p.entity_id = e AND (replace_all OR p.\"key\" IN
                (SELECT UNHEX(n.k) FROM JSON_TABLE(pairs, '$[*]' COLUMNS (k TEXT PATH '$[0]')) n));
        SET e1 = e0 - gone_e + new_e, b1 = b0 - gone_b + new_b;
        IF (e1 > max_entries AND e1 > e0) OR (b1 > max_bytes AND b1 > b0) THEN
            ROLLBACK;
            SELECT 0, e0, b0, e1, b1;
        ELSE
            IF replace_all AND gone_e > 0 THEN
                DELETE FROM private_data WHERE host = h AND entity_id = e AND \"key\" NOT IN
                    (SELECT UNHEX(n.k) FROM JSON_TABLE(pairs, '$[*]' COLUMNS (k TEXT PATH '$[0]')) n);
            END IF;
            INSERT INTO private_data (host, entity_id, \"key\", value, created_at, updated_at)
                SELECT h, e, UNHEX(n.k), UNHEX(n.v), now_s, now_s
                FROM JSON_TABLE(pairs, '$[*]' COLUMNS (k TEXT PATH '$[0]', v LONGTEXT PATH '$[1]')) n
                ON DUPLICATE KEY UPDATE
                    updated_at = IF(value = VALUES(value), updated_at, VALUES(updated_at)),
                    value = VALUES(value);
            IF e1 <> e0 OR b1 <> b0 THEN
                UPDATE host_usage SET entries = e1, bytes = b1 WHERE host = h;
            END IF;
            COMMIT;
            SELECT 1, e0, b0, e1, b1;
        END IF;
    END",
    "CREATE PROCEDURE IF NOT EXISTS privdata_delete(
        IN h VARBINARY(255), IN e VARBINARY(36), IN ks LONGTEXT)
    MODIFIES SQL DATA
    BEGIN
        DECLARE locked, gone_e, gone_b BIGINT;
        DECLARE EXIT HANDLER FOR SQLEXCEPTION BEGIN ROLLBACK; RESIGNAL; END;
        START TRANSACTION;
        SELECT COUNT(*) INTO locked FROM host_usage WHERE host = h FOR UPDATE;
        SELECT COUNT(*), COALESCE(SUM(LENGTH(\"key\") + LENGTH(value)), 0) INTO gone_e, gone_b
            FROM private_data WHERE host = h AND entity_id = e AND (ks IS NULL OR \"key\" IN
                (SELECT UNHEX(n.k) FROM JSON_TABLE(ks, '$[*]' COLUMNS (k TEXT PATH '$')) n));
        IF gone_e > 0 THEN
            DELETE FROM private_data WHERE host = h AND entity_id = e AND (ks IS NULL OR \"key\" IN
                (SELECT UNHEX(n.k) FROM JSON_TABLE(ks, '$[*]' COLUMNS (k TEXT PATH '$')) n));
            UPDATE host_usage SET entries = GREATEST(entries - gone_e, 0),
                bytes = GREATEST(bytes - gone_b, 0) WHERE host = h;
        END IF;
        COMMIT;
    END",
];

// The same two routines for a write that names one key (or, deleting,
// none: the whole entity), the common case: the key and value are plain
// parameters, with no JSON to take apart. Measured with the server on one
// CPU, reading the keys out of `JSON_TABLE` cost more than every other
// statement of the routine together.
const ONE_KEY_ROUTINES: &[&str] = &[
    "CREATE PROCEDURE IF NOT EXISTS privdata_update_one(
        IN h VARBINARY(255), IN e VARBINARY(36), IN k VARBINARY(255), IN v MEDIUMBLOB,
        IN replace_all BOOLEAN, IN new_e BIGINT, IN new_b BIGINT, IN max_entries BIGINT,
        IN max_bytes BIGINT, IN now_s BIGINT)
    MODIFIES SQL DATA
    BEGIN
        DECLARE e0, b0, e1, b1, gone_e, gone_b BIGINT;
        DECLARE EXIT HANDLER FOR SQLEXCEPTION BEGIN ROLLBACK; RESIGNAL; END;
        START TRANSACTION;
        SELECT entries, bytes INTO e0, b0 FROM host_usage WHERE host = h FOR UPDATE;
        IF e0 IS NULL THEN
            INSERT INTO host_usage (host, entries, bytes) VALUES (h, 0, 0)
                ON DUPLICATE KEY UPDATE entries = entries;
            SELECT entries, bytes INTO e0, b0 FROM host_usage WHERE host = h FOR UPDATE;
        END IF;
        SELECT COUNT(*), COALESCE(SUM(LENGTH(p.\"key\") + LENGTH(p.value)), 0) INTO gone_e, gone_b
            FROM private_data p WHERE p.host = h AND p.entity_id = e AND (replace_all OR p.\"key\" = k);
        SET e1 = e0 - gone_e + new_e, b1 = b0 - gone_b + new_b;
        IF (e1 > max_entries AND e1 > e0) OR (b1 > max_bytes AND b1 > b0) THEN
            ROLLBACK;
            SELECT 0, e0, b0, e1, b1;
        ELSE
            IF replace_all AND gone_e > 0 THEN
                DELETE FROM private_data WHERE host = h AND entity_id = e AND \"key\" <> k;
            END IF;
            INSERT INTO private_data (host, entity_id, \"key\", value, created_at, updated_at)
                VALUES (h, e, k, v, now_s, now_s)
                ON DUPLICATE KEY UPDATE
                    updated_at = IF(value = VALUES(value), updated_at, VALUES(updated_at)),
                    value = VALUES(value);
            IF e1 <> e0 OR b1 <> b0 THEN
                UPDATE host_usage SET entries = e1, bytes = b1 WHERE host = h;
            END IF;
            COMMIT;
            SELECT 1, e0, b0, e1, b1;
        END IF;
    END",
    "CREATE PROCEDURE IF NOT EXISTS privdata_delete_one(
        IN h VARBINARY(255), IN e VARBINARY(36), IN k VARBINARY(255))
    MODIFIES SQL DATA
    BEGIN
        DECLARE locked, gone_e, gone_b BIGINT;
        DECLARE EXIT HANDLER FOR SQLEXCEPTION BEGIN ROLLBACK; RESIGNAL; END;
        START TRANSACTION;
        SELECT COUNT(*) INTO locked FROM host_usage WHERE host = h FOR UPDATE;
        SELECT COUNT(*), COALESCE(SUM(LENGTH(\"key\") + LENGTH(value)), 0) INTO gone_e, gone_b
            FROM private_data WHERE host = h AND entity_id = e AND (k IS NULL OR \"key\" = k);
        IF gone_e > 0 THEN
            DELETE FROM private_data WHERE host = h AND entity_id = e AND (k IS NULL OR \"key\" = k);
            UPDATE host_usage SET entries = GREATEST(entries - gone_e, 0),
                bytes = GREATEST(bytes - gone_b, 0) WHERE host = h;
        END IF;
        COMMIT;
    END",
];

/// `s` in lowercase hex, quoted: a JSON string the routines `UNHEX`.
fn hex(json: &mut String, s: &str) {
    use std::fmt::Write;
    json.push('"');
    for b in s.as_bytes() {
        let _ = write!(json, "{b:02x}");
    }
    json.push('"');
}

impl Dialect for MySql {
    type Conn = mysql::Conn;
    const NAME: &'static str = "mysql";
    const MIGRATIONS: &'static [&'static [&'static str]] = &[TABLES, ROUTINES, ONE_KEY_ROUTINES];
    // Hex doubles every byte: what fits one statement well under the
    // smallest `max_allowed_packet`.
    const ONE_TRIP_MAX_BYTES: usize = BATCH_BYTES / 2;
    const UPSERT: &'static str =
        "INSERT INTO private_data (host, entity_id, \"key\", value, created_at, updated_at)
         VALUES {rows}
         ON DUPLICATE KEY UPDATE value = VALUES(value), updated_at = VALUES(updated_at)";
    const CREATE_USAGE: &'static str = "INSERT INTO host_usage (host, entries, bytes) VALUES (?, 0, 0)
         ON DUPLICATE KEY UPDATE entries = entries";
    const KEY_LIST: KeyList = KeyList::Placeholders;
    // Locks the entity's rows too: the ones the write changes.
    const LOCK_ENTITY: &'static str = "SELECT u.entries, u.bytes, p.\"key\", p.value FROM host_usage u
         LEFT JOIN private_data p ON p.host = u.host AND p.entity_id = ?
         WHERE u.host = ? FOR UPDATE";
    const COPY_HOST: &'static str =
        "INSERT INTO private_data (host, entity_id, \"key\", value, created_at, updated_at)
         SELECT ?, entity_id, \"key\", value, created_at, updated_at FROM private_data WHERE host = ?
         ON DUPLICATE KEY UPDATE value = VALUES(value), updated_at = VALUES(updated_at)";
    const INIT_SCHEMA: &'static str = "INSERT IGNORE INTO privdata_schema (id, version) VALUES (1, 0)";
    const USAGE_OF: &'static str =
        "SELECT COUNT(*), CAST(COALESCE(SUM(LENGTH(\"key\") + LENGTH(value)), 0) AS SIGNED)
         FROM private_data WHERE {where}";

    fn one_trip_update(&self, sql: &mut dyn Sql, w: &OneTripUpdate<'_>) -> Result<Vec<Value>, DbError> {
        let pairs;
        let (call, data) = if let [(key, value)] = w.details {
            (
                "CALL privdata_update_one(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                vec![Param::Text(key), Param::Text(value)],
            )
        } else {
            let mut json = String::from("[");
            for (i, (key, value)) in w.details.iter().enumerate() {
                json.push_str(if i == 0 { "[" } else { ",[" });
                hex(&mut json, key);
                json.push(',');
                hex(&mut json, value);
                json.push(']');
            }
            json.push(']');
            pairs = json;
            (
                "CALL privdata_update(?, ?, ?, ?, ?, ?, ?, ?, ?)",
                vec![Param::Text(&pairs)],
            )
        };
        let mut params = vec![Param::Text(w.host), Param::Text(w.entity)];
        params.extend(data);
        params.extend([
            Param::Bool(w.delete_existing),
            Param::Int(w.new_entries),
            Param::Int(w.new_bytes),
            Param::Int(w.max_entries),
            Param::Int(w.max_bytes),
            Param::Int(w.now),
        ]);
        let rows = sql.query(call, &params)?;
        Ok(rows.into_iter().next().unwrap_or_default())
    }

    fn one_trip_delete(
        &self,
        sql: &mut dyn Sql,
        host: &str,
        entity: &str,
        keys: Option<&[String]>,
    ) -> Result<bool, DbError> {
        if let None | Some([_]) = keys {
            let key = keys.and_then(<[String]>::first);
            sql.exec(
                "CALL privdata_delete_one(?, ?, ?)",
                &[
                    Param::Text(host),
                    Param::Text(entity),
                    key.map_or(Param::Null, |k| Param::Text(k)),
                ],
            )?;
            return Ok(true);
        }
        let keys = keys.map(|keys| {
            let mut json = String::from("[");
            for (i, key) in keys.iter().enumerate() {
                if i > 0 {
                    json.push(',');
                }
                hex(&mut json, key);
            }
            json.push(']');
            json
        });
        sql.exec(
            "CALL privdata_delete(?, ?, ?)",
            &[
                Param::Text(host),
                Param::Text(entity),
                keys.as_deref().map_or(Param::Null, Param::Text),
            ],
        )?;
        Ok(true)
    }

    fn connect(&self) -> Result<Self::Conn, DbError> {
        let mut conn = mysql::Conn::new(self.opts.clone()).map_err(classify)?;
        // On a Galera node, reads wait until the node has applied every
        // write the cluster acknowledged before them, so a driver reads its
        // own writes whichever node a proxy sends it to.
        let galera: Option<(String, String)> = conn
            .query_first("SHOW VARIABLES LIKE 'wsrep_on'")
            .map_err(classify)?;
        if galera.is_some_and(|(_, on)| on == "ON") {
            conn.query_drop("SET SESSION wsrep_sync_wait = 1")
                .map_err(classify)?;
        }
        Ok(conn)
    }

    fn transaction<T>(&self, conn: &mut Self::Conn, f: &mut dyn FnMut(&mut dyn Sql) -> Tx<T>) -> Tx<T> {
        let mut tx = conn
            .start_transaction(mysql::TxOpts::default())
            .map_err(classify)?;
        // On an error the transaction is dropped, which rolls it back.
        let value = f(&mut Session(&mut tx))?;
        tx.commit().map_err(classify)?;
        Ok(value)
    }

    fn single<T>(&self, conn: &mut Self::Conn, f: &mut dyn FnMut(&mut dyn Sql) -> Tx<T>) -> Tx<T> {
        f(&mut Session(conn))
    }

    fn lock_schema(&self, _: &mut dyn Sql, _: bool) -> Result<(), DbError> {
        // GET_LOCK does not replicate in a Galera cluster; the migrations
        // are idempotent instead.
        Ok(())
    }
}

/// Statements on a connection or a transaction.
struct Session<'a, Q: Queryable>(&'a mut Q);

fn params(params: &[Param<'_>]) -> Result<mysql::Params, DbError> {
    if params.is_empty() {
        return Ok(mysql::Params::Empty);
    }
    let values = params
        .iter()
        .map(|p| match p {
            Param::Text(s) | Param::Bytes(s) => Ok(mysql::Value::Bytes(s.as_bytes().to_vec())),
            Param::Int(i) => Ok(mysql::Value::Int(*i)),
            Param::Bool(b) => Ok(mysql::Value::Int(i64::from(*b))),
            Param::Null => Ok(mysql::Value::NULL),
            Param::BytesList(_) => Err(DbError::fatal("MySQL has no array parameters")),
        })
        .collect::<Result<_, _>>()?;
    Ok(mysql::Params::Positional(values))
}

fn value(v: mysql::Value) -> Result<Value, DbError> {
    Ok(match v {
        mysql::Value::NULL => Value::Null,
        mysql::Value::Int(i) => Value::Int(i),
        mysql::Value::UInt(u) => Value::Int(i64::try_from(u).unwrap_or(i64::MAX)),
        mysql::Value::Bytes(b) => Value::Text(
            String::from_utf8(b).map_err(|_| DbError::fatal("a stored key or value is not valid UTF-8"))?,
        ),
        other => Value::Text(other.as_sql(true)),
    })
}

impl<Q: Queryable> Sql for Session<'_, Q> {
    fn exec(&mut self, sql: &str, args: &[Param<'_>]) -> Result<u64, DbError> {
        if args.is_empty() {
            // Schema statements go through the text protocol.
            let result = self.0.query_iter(sql).map_err(classify)?;
            return Ok(result.affected_rows());
        }
        let result = self.0.exec_iter(sql, params(args)?).map_err(classify)?;
        Ok(result.affected_rows())
    }

    fn query(&mut self, sql: &str, args: &[Param<'_>]) -> Result<Vec<Vec<Value>>, DbError> {
        let rows: Vec<mysql::Row> = self.0.exec(sql, params(args)?).map_err(classify)?;
        rows.into_iter()
            .map(|row| row.unwrap().into_iter().map(value).collect())
            .collect()
    }
}

/// Sort a failure: deadlocks (1213, also how Galera reports a certification
/// conflict) and lock wait timeouts (1205) are retried; a lost connection is
/// replaced.
fn classify(e: mysql::Error) -> DbError {
    match &e {
        mysql::Error::MySqlError(m) => DbError {
            message: format!("{} (error {})", m.message, m.code),
            retry: matches!(m.code, 1205 | 1213),
            // Server shutting down, connection killed, node not ready
            // (Galera), gone away, lost.
            broken: matches!(m.code, 1047 | 1053 | 1927 | 2006 | 2013),
        },
        mysql::Error::IoError(_) | mysql::Error::CodecError(_) | mysql::Error::DriverError(_) => DbError {
            // The variant's own message, not the enum's Debug-like wrapper.
            message: match &e {
                mysql::Error::IoError(io) => io.to_string(),
                mysql::Error::CodecError(codec) => codec.to_string(),
                mysql::Error::DriverError(driver) => driver.to_string(),
                _ => unreachable!(),
            },
            retry: false,
            broken: true,
        },
        _ => DbError::fatal(e.to_string()),
    }
}
