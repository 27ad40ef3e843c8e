//! The servers' schema, versioned: `privdata_schema` holds how many of the
//! dialect's migrations ran, and each host that opens the store runs the
//! rest, one at a time.

use super::pool::Pool;
use super::sql::{Dialect, Fail, Param, Row, Tx};
use crate::error::{Error, Result};

/// Bring the schema of the pool's database up to date; a schema newer than
/// this program's is refused, untouched.
pub(crate) fn migrate<D: Dialect>(pool: &Pool<D>) -> Result<()> {
    let known = D::MIGRATIONS.len() as i64;
    pool.run(false, |sql| {
        pool.dialect.lock_schema(sql, true)?;
        let outcome = (|| -> Tx<()> {
            sql.exec(
                "CREATE TABLE IF NOT EXISTS privdata_schema (id INTEGER PRIMARY KEY, version BIGINT NOT NULL)",
                &[],
            )?;
            sql.exec(D::INIT_SCHEMA, &[])?;
            let rows = sql.query("SELECT version FROM privdata_schema WHERE id = 1", &[])?;
            let version = Row::from(rows.into_iter().next().unwrap_or_default()).int()?;
            if version > known {
                return Err(Fail::Refused(Error::Storage(format!(
                    "{}: the database has schema version {version}, newer than {known} which \
                     this program knows; use the newer privdata that wrote it",
                    pool.url
                ))));
            }
            for (i, statements) in D::MIGRATIONS.iter().enumerate().skip(version as usize) {
                for statement in *statements {
                    sql.exec(statement, &[])?;
                }
                sql.exec(
                    "UPDATE privdata_schema SET version = ? WHERE id = 1 AND version = ?",
                    &[Param::Int(i as i64 + 1), Param::Int(i as i64)],
                )?;
            }
            Ok(())
        })();
        pool.dialect.lock_schema(sql, false)?;
        outcome
    })
}
