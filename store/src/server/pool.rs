//! A pool of connections to one server, and the loop that runs a
//! transaction again on a deadlock, a serialization failure or a lost
//! connection.

use super::sql::{DbError, Dialect, Fail, Sql, Tx};
use crate::error::{Error, Result};
use crate::url::{passwords, redact};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How many times a transaction that hit a deadlock, a serialization
/// failure or a dropped connection is run again before giving up.
const MAX_ATTEMPTS: u32 = 6;
/// Connections one store keeps open at most.
const POOL_SIZE: usize = 16;
/// How long a call waits for a free connection.
const POOL_WAIT: Duration = Duration::from_secs(10);
/// Connections of one dialect to one server.
pub(crate) struct Pool<D: Dialect> {
    pub(crate) dialect: D,
    /// The URL with its password masked.
    pub(crate) url: String,
    /// The password's forms, scrubbed from every message.
    secrets: Vec<String>,
    idle: Mutex<(Vec<D::Conn>, usize)>,
    freed: Condvar,
}

impl<D: Dialect> Pool<D> {
    /// A pool of connections to `url`, none open yet.
    pub(crate) fn new(dialect: D, url: &str) -> Self {
        Pool {
            dialect,
            url: redact(url),
            secrets: passwords(url),
            idle: Mutex::new((Vec::new(), 0)),
            freed: Condvar::new(),
        }
    }

    /// A message about this store, with the password scrubbed.
    pub(crate) fn scrub(&self, message: &str) -> String {
        self.secrets
            .iter()
            .fold(message.to_string(), |m, secret| m.replace(secret.as_str(), "***"))
    }

    pub(crate) fn failure(&self, e: DbError) -> Error {
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
                    let check = if message.to_lowercase().contains("certificate") {
                        "the server's TLS certificate was not accepted: check that the URL's CA \
                         file (ssl-ca, sslrootcert) is the CA that signed it, and that the URL's \
                         host is a name or address the certificate is for"
                    } else {
                        "check that the server is running and that [storage] url names it, its \
                         database, and a user allowed to connect"
                    };
                    Error::StorageUnavailable(format!(
                        "cannot connect to {} at {}: {message}; {check}",
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
    pub(crate) fn run<T>(&self, tx: bool, mut f: impl FnMut(&mut dyn Sql) -> Tx<T>) -> Result<T> {
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
}
