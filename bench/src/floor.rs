//! The floor of each store: the least work its own client does for each
//! operation, on the same schema, with prepared statements. What the host's
//! figures are measured against.

use crate::FIVE;
use anyhow::{Context, Result, bail};
use rusqlite::{Connection, params};
use std::collections::HashMap;
use std::path::Path;

/// The least work a store can do for each op, on the bench's schema.
pub trait Floor {
    /// Every entity holds the five keys.
    fn prepare(&mut self, ids: &[String]) -> Result<()>;
    /// Let the store settle before a timed run (SQLite: checkpoint the log).
    fn settle(&mut self) -> Result<()>;
    /// Run `op` on every entity.
    fn op(&mut self, op: &str, ids: &[String]) -> Result<()>;
}

/// Plain rusqlite on the same file, schema and pragmas.
pub struct SqliteFloor {
    conn: Connection,
}

pub const FLOOR_HOST: &str = "bench@floor";

impl Floor for SqliteFloor {
    fn prepare(&mut self, ids: &[String]) -> Result<()> {
        self.conn.execute_batch("BEGIN")?;
        for id in ids {
            self.replace_five(id)?;
        }
        self.conn.execute_batch("COMMIT")?;
        Ok(())
    }

    fn settle(&mut self) -> Result<()> {
        self.conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        Ok(())
    }

    fn op(&mut self, op: &str, ids: &[String]) -> Result<()> {
        self.sqlite_op(op, ids)
    }
}

impl SqliteFloor {
    pub fn open(path: &Path) -> Result<SqliteFloor> {
        let conn = Connection::open(path)?;
        privdata_host::store::sqlite::configure(&conn, privdata_host::store::Durability::Normal)?;
        Ok(SqliteFloor { conn })
    }

    fn replace_five(&self, id: &str) -> Result<()> {
        self.conn
            .prepare_cached("DELETE FROM private_data WHERE host = ?1 AND entity_id = ?2")?
            .execute(params![FLOOR_HOST, id])?;
        let mut insert = self.conn.prepare_cached(
            "INSERT INTO private_data (host, entity_id, key, value, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
        )?;
        for (k, v) in FIVE {
            insert.execute(params![FLOOR_HOST, id, k, v, 0])?;
        }
        Ok(())
    }

    fn sqlite_op(&self, op: &str, ids: &[String]) -> Result<()> {
        let c = &self.conn;
        for (i, id) in ids.iter().enumerate() {
            match op {
                "get_one" => {
                    let v: Option<String> = c
                        .prepare_cached(
                            "SELECT value FROM private_data WHERE host = ?1 AND entity_id = ?2 AND key = ?3",
                        )?
                        .query_row(params![FLOOR_HOST, id, "k2"], |r| r.get(0))
                        .ok();
                    std::hint::black_box(v);
                }
                "get_all" => {
                    let mut stmt = c.prepare_cached(
                        "SELECT key, value FROM private_data WHERE host = ?1 AND entity_id = ?2 ORDER BY key",
                    )?;
                    let rows: Vec<(String, String)> = stmt
                        .query_map(params![FLOOR_HOST, id], |r| Ok((r.get(0)?, r.get(1)?)))?
                        .collect::<rusqlite::Result<_>>()?;
                    std::hint::black_box(rows);
                }
                "update_one" => {
                    let value = if i % 2 == 0 { "even" } else { "odd" };
                    c.prepare_cached(
                        "INSERT INTO private_data (host, entity_id, key, value, created_at, updated_at)
                         VALUES (?1, ?2, 'k1', ?3, ?4, ?4)
                         ON CONFLICT (host, entity_id, key) DO UPDATE SET value = excluded.value,
                         updated_at = excluded.updated_at",
                    )?
                    .execute(params![FLOOR_HOST, id, value, 0])?;
                }
                "replace_five" => {
                    c.execute_batch("BEGIN IMMEDIATE")?;
                    self.replace_five(id)?;
                    c.execute_batch("COMMIT")?;
                }
                "delete_one" => {
                    c.prepare_cached(
                        "DELETE FROM private_data WHERE host = ?1 AND entity_id = ?2 AND key = ?3",
                    )?
                    .execute(params![FLOOR_HOST, id, "k0"])?;
                }
                other => bail!("unknown op {other}"),
            }
        }
        Ok(())
    }
}

/// The same ops through the server's own client, each one statement in
/// autocommit (`replace_five`: one transaction), on the schema the store
/// created: one round trip where the host takes several, to lock the host's
/// usage row, check its quota and keep the counts.
pub enum ServerFloor {
    Mysql(mysql::Conn),
    /// The client, and its statements prepared once (as the mysql crate's
    /// statement cache does on the other side).
    Postgres(Box<postgres::Client>, HashMap<&'static str, postgres::Statement>),
}

/// `sql` prepared on `client` once.
fn prepared(
    client: &mut postgres::Client,
    cache: &mut HashMap<&'static str, postgres::Statement>,
    sql: &'static str,
) -> Result<postgres::Statement> {
    if let Some(statement) = cache.get(sql) {
        return Ok(statement.clone());
    }
    let statement = client.prepare(sql)?;
    cache.insert(sql, statement.clone());
    Ok(statement)
}

impl ServerFloor {
    pub fn open(url: &str) -> Result<ServerFloor> {
        let label = privdata_host::store::redact(url);
        let floor = match url.split_once("://").map(|(scheme, _)| scheme) {
            Some("mysql" | "mariadb") => {
                use mysql::prelude::Queryable;
                let opts = mysql::Opts::from_url(&url.replacen("mariadb://", "mysql://", 1))
                    .with_context(|| format!("{label}: not a MySQL URL"))?;
                let mut conn =
                    mysql::Conn::new(opts).with_context(|| format!("cannot connect to {label}"))?;
                conn.query_drop(
                    "SET SESSION sql_mode = CONCAT_WS(',', NULLIF(@@sql_mode, ''), 'ANSI_QUOTES')",
                )?;
                ServerFloor::Mysql(conn)
            }
            Some("postgres" | "postgresql") => {
                let mut client = postgres::Client::connect(url, postgres::NoTls)
                    .with_context(|| format!("cannot connect to {label}"))?;
                client.batch_execute("SET synchronous_commit = off")?;
                ServerFloor::Postgres(Box::new(client), HashMap::new())
            }
            _ => bail!("{label}: the bench's servers are mysql://… or postgres://… URLs"),
        };
        Ok(floor)
    }

    pub fn kind(&self) -> &'static str {
        match self {
            ServerFloor::Mysql(_) => "mysql",
            ServerFloor::Postgres(..) => "postgres",
        }
    }

    fn replace_five(&mut self, id: &str) -> Result<()> {
        match self {
            ServerFloor::Mysql(c) => {
                use mysql::prelude::Queryable;
                let mut tx = c.start_transaction(mysql::TxOpts::default())?;
                tx.exec_drop(
                    "DELETE FROM private_data WHERE host = ? AND entity_id = ?",
                    (FLOOR_HOST, id),
                )?;
                let mut params: Vec<mysql::Value> = Vec::new();
                for (k, v) in FIVE {
                    params.extend([
                        FLOOR_HOST.into(),
                        id.into(),
                        k.into(),
                        v.into(),
                        0.into(),
                        0.into(),
                    ]);
                }
                tx.exec_drop(
                    "INSERT INTO private_data (host, entity_id, \"key\", value, created_at, updated_at) \
                     VALUES (?, ?, ?, ?, ?, ?), (?, ?, ?, ?, ?, ?), (?, ?, ?, ?, ?, ?), \
                     (?, ?, ?, ?, ?, ?), (?, ?, ?, ?, ?, ?)",
                    params,
                )?;
                tx.commit()?;
            }
            ServerFloor::Postgres(c, cache) => {
                let delete = prepared(
                    c,
                    cache,
                    "DELETE FROM private_data WHERE host = $1 AND entity_id = $2",
                )?;
                let insert = prepared(
                    c,
                    cache,
                    "INSERT INTO private_data (host, entity_id, \"key\", value, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $5), ($6, $7, $8, $9, $10, $10), \
                     ($11, $12, $13, $14, $15, $15), ($16, $17, $18, $19, $20, $20), \
                     ($21, $22, $23, $24, $25, $25)",
                )?;
                let mut tx = c.transaction()?;
                tx.execute(&delete, &[&FLOOR_HOST, &id])?;
                type Param<'a> = &'a (dyn postgres::types::ToSql + Sync);
                let mut params: Vec<Param<'_>> = Vec::new();
                let five: Vec<(&[u8], &[u8])> =
                    FIVE.iter().map(|(k, v)| (k.as_bytes(), v.as_bytes())).collect();
                let (host, zero) = (FLOOR_HOST, 0i64);
                for (k, v) in &five {
                    let row: [Param<'_>; 5] = [&host, &id, k, v, &zero];
                    params.extend(row);
                }
                tx.execute(&insert, &params)?;
                tx.commit()?;
            }
        }
        Ok(())
    }
}

impl Floor for ServerFloor {
    fn prepare(&mut self, ids: &[String]) -> Result<()> {
        for id in ids {
            self.replace_five(id)?;
        }
        Ok(())
    }

    fn settle(&mut self) -> Result<()> {
        Ok(())
    }

    fn op(&mut self, op: &str, ids: &[String]) -> Result<()> {
        use mysql::prelude::Queryable;
        for (i, id) in ids.iter().enumerate() {
            let value = if i % 2 == 0 { "even" } else { "odd" };
            match (op, &mut *self) {
                ("replace_five", _) => self.replace_five(id)?,
                ("get_one", ServerFloor::Mysql(c)) => {
                    let v: Option<Vec<u8>> = c.exec_first(
                        "SELECT value FROM private_data WHERE host = ? AND entity_id = ? AND \"key\" = ?",
                        (FLOOR_HOST, id, "k2"),
                    )?;
                    std::hint::black_box(v);
                }
                ("get_one", ServerFloor::Postgres(c, cache)) => {
                    let statement = prepared(
                        c,
                        cache,
                        "SELECT value FROM private_data WHERE host = $1 AND entity_id = $2 AND \"key\" = $3",
                    )?;
                    let row = c.query_opt(&statement, &[&FLOOR_HOST, id, &b"k2".as_slice()])?;
                    std::hint::black_box(row.map(|r| r.get::<_, Vec<u8>>(0)));
                }
                ("get_all", ServerFloor::Mysql(c)) => {
                    let rows: Vec<(Vec<u8>, Vec<u8>)> = c.exec(
                        "SELECT \"key\", value FROM private_data WHERE host = ? AND entity_id = ? ORDER BY \"key\"",
                        (FLOOR_HOST, id),
                    )?;
                    std::hint::black_box(rows);
                }
                ("get_all", ServerFloor::Postgres(c, cache)) => {
                    let statement = prepared(
                        c,
                        cache,
                        "SELECT \"key\", value FROM private_data WHERE host = $1 AND entity_id = $2 ORDER BY \"key\"",
                    )?;
                    let rows = c.query(&statement, &[&FLOOR_HOST, id])?;
                    let pairs: Vec<(Vec<u8>, Vec<u8>)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
                    std::hint::black_box(pairs);
                }
                ("update_one", ServerFloor::Mysql(c)) => c.exec_drop(
                    "INSERT INTO private_data (host, entity_id, \"key\", value, created_at, updated_at) \
                     VALUES (?, ?, 'k1', ?, 0, 0) ON DUPLICATE KEY UPDATE value = VALUES(value)",
                    (FLOOR_HOST, id, value),
                )?,
                ("update_one", ServerFloor::Postgres(c, cache)) => {
                    let statement = prepared(
                        c,
                        cache,
                        "INSERT INTO private_data (host, entity_id, \"key\", value, created_at, updated_at) \
                         VALUES ($1, $2, 'k1', $3, 0, 0) \
                         ON CONFLICT (host, entity_id, \"key\") DO UPDATE SET value = excluded.value",
                    )?;
                    c.execute(&statement, &[&FLOOR_HOST, id, &value.as_bytes()])?;
                }
                ("delete_one", ServerFloor::Mysql(c)) => c.exec_drop(
                    "DELETE FROM private_data WHERE host = ? AND entity_id = ? AND \"key\" = 'k0'",
                    (FLOOR_HOST, id),
                )?,
                ("delete_one", ServerFloor::Postgres(c, cache)) => {
                    let statement = prepared(
                        c,
                        cache,
                        "DELETE FROM private_data WHERE host = $1 AND entity_id = $2 AND \"key\" = 'k0'",
                    )?;
                    c.execute(&statement, &[&FLOOR_HOST, id])?;
                }
                (other, _) => bail!("unknown op {other}"),
            }
        }
        Ok(())
    }
}
