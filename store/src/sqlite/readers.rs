//! The store's read connections: read-only, opened as reads need them, and
//! kept in a small pool. In WAL mode each sees the last commit and never
//! waits for a writer.
//!
//! The pool is [`READERS`] slots of one connection each, on cache lines of
//! their own: a thread takes and gives back the connection of the slot its
//! id picks (the next free one if that is busy), so two threads reading at
//! once touch no lock or line in common, as two threads with a connection
//! each would not.

use super::{BUSY_TIMEOUT, CACHE_SIZE_KIB, MMAP_SIZE, SqliteStorage};
use crate::Durability;
use crate::error::{Error, Result};
use rusqlite::Connection;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Idle read connections kept open at most; more may be open while that
/// many threads read at once, and are closed when they finish.
pub(super) const READERS: usize = 8;

/// One idle read connection, or none, alone on its cache line.
#[derive(Debug, Default)]
#[repr(align(128))]
pub(super) struct Slot(Mutex<Option<Connection>>);

/// The slot this thread starts from: threads take them in turn, so the
/// first [`READERS`] threads that read each have one of their own.
fn home() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static HOME: usize = NEXT.fetch_add(1, Ordering::Relaxed) % READERS;
    }
    HOME.with(|h| *h)
}

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
        // A connection left inside a transaction (a panic mid-read) is
        // closed rather than reused; one no slot has room for, too.
        if !conn.is_autocommit() {
            return;
        }
        let home = home();
        for i in 0..READERS {
            if let Ok(mut slot) = self.store.readers[(home + i) % READERS].0.try_lock()
                && slot.is_none()
            {
                *slot = Some(conn);
                return;
            }
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
        let home = home();
        let idle = (0..READERS).find_map(|i| {
            self.readers[(home + i) % READERS]
                .0
                .try_lock()
                .ok()
                .and_then(|mut slot| slot.take())
        });
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
