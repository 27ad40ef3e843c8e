//! The store's read connections: read-only, opened as reads need them, and
//! kept in a small pool. In WAL mode each sees the last commit and never
//! waits for a writer.

use super::{BUSY_TIMEOUT, CACHE_SIZE_KIB, MMAP_SIZE, SqliteStorage};
use crate::Durability;
use crate::error::{Error, Result};
use rusqlite::Connection;

/// Idle read connections kept open at most; more may be open while that
/// many threads read at once, and are closed when they finish.
const IDLE_READERS: usize = 8;

/// A read connection, back to the pool when dropped.
pub(super) struct Reader<'a> {
    store: &'a SqliteStorage,
    conn: Option<Connection>,
}

impl std::ops::Deref for Reader<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        self.conn.as_ref().expect("taken only on drop")
    }
}

impl std::ops::DerefMut for Reader<'_> {
    fn deref_mut(&mut self) -> &mut Connection {
        self.conn.as_mut().expect("taken only on drop")
    }
}

impl Drop for Reader<'_> {
    fn drop(&mut self) {
        let Some(conn) = self.conn.take() else { return };
        let mut idle = self.store.readers.lock().unwrap_or_else(|p| p.into_inner());
        // A connection left inside a transaction (a panic mid-read) is
        // closed rather than reused.
        if idle.len() < IDLE_READERS && conn.is_autocommit() {
            idle.push(conn);
        }
    }
}

impl SqliteStorage {
    /// A new read-only connection to the store's file.
    fn open_reader(&self) -> rusqlite::Result<Connection> {
        use rusqlite::OpenFlags;
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        configure_reader(&conn, self.durability)?;
        Ok(conn)
    }

    /// A read-only connection of the pool, opened if none is idle.
    pub(super) fn reader(&self) -> Result<Reader<'_>> {
        let idle = self.readers.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let conn = match idle {
            Some(conn) => conn,
            None => self.open_reader().map_err(|e| {
                Error::Storage(format!(
                    "{}: cannot open a read connection: {e}",
                    self.path.display()
                ))
            })?,
        };
        Ok(Reader {
            store: self,
            conn: Some(conn),
        })
    }
}

/// [`super::configure`] for a read-only connection: the file is in WAL mode
/// already, which a read-only connection could not set.
fn configure_reader(conn: &Connection, durability: Durability) -> rusqlite::Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.pragma_update(None, "synchronous", durability.synchronous())?;
    conn.pragma_update(None, "mmap_size", MMAP_SIZE)?;
    conn.pragma_update(None, "cache_size", CACHE_SIZE_KIB)
}
