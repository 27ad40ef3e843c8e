//! The HTTP connections a driver instance keeps open between its requests,
//! by endpoint, as a driver's own HTTP library does (requests' `Session`,
//! urllib3's pools): a request on one saves a TCP connection and a TLS
//! handshake, a round trip or three and the array's CPU. A connection goes
//! back to its endpoint's list when its response has been read to its end
//! (one whose body the driver drops unread closes). An idle connection
//! is kept at most [`IDLE`] (servers commonly close theirs after 5 s) and
//! at most [`PER_ENDPOINT`] of them an endpoint; all close with the
//! instance (or with the last response read from them). Its bytes count against the operation using it: its meter is
//! swapped for that operation's when it is taken.

use super::Meter;
use bytes::Bytes;
use http_body_util::combinators::UnsyncBoxBody;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use wasmtime_wasi_http::Error as HttpError;

/// How long an idle connection is kept.
const IDLE: Duration = Duration::from_secs(4);
/// Idle connections kept an endpoint.
const PER_ENDPOINT: usize = 4;
/// How long a connection whose last response was just read may take to
/// say it is ready for the next request before another is opened (it
/// says so at once, but on a loaded machine its task may wait its turn).
const SETTLING: Duration = Duration::from_millis(50);

pub(crate) type Sender = hyper::client::conn::http1::SendRequest<UnsyncBoxBody<Bytes, HttpError>>;

/// The task running a connection: dropping it stops it.
pub(crate) type ConnectionTask = wasmtime_wasi::runtime::AbortOnDropJoinHandle<Result<(), hyper::Error>>;

/// One instance's idle connections. Cloning shares them.
#[derive(Clone, Default)]
pub(crate) struct KeepAlive(Arc<Mutex<HashMap<String, Vec<Connection>>>>);

/// An open HTTP/1.1 connection to an endpoint.
pub(crate) struct Connection {
    pub(crate) sender: Sender,
    /// What its bytes count against: the operation using it.
    pub(crate) meter: Arc<Mutex<Meter>>,
    /// Held by the instance's list or by the response being read from it;
    /// the connection closes when neither holds it.
    _task: ConnectionTask,
    idle_since: Instant,
}

impl Connection {
    pub(crate) fn new(sender: Sender, meter: Arc<Mutex<Meter>>, task: ConnectionTask) -> Self {
        Connection {
            sender,
            meter,
            _task: task,
            idle_since: Instant::now(),
        }
    }

    fn fresh(&self) -> bool {
        !self.sender.is_closed() && self.idle_since.elapsed() < IDLE
    }
}

impl KeepAlive {
    /// An idle connection to `endpoint` that takes a request now, its bytes
    /// counted against `meter` from here on; the newest first.
    pub(crate) async fn take(&self, endpoint: &str, meter: &Meter) -> Option<Connection> {
        loop {
            let mut connection = self.lock().get_mut(endpoint)?.pop()?;
            if !connection.fresh() {
                continue;
            }
            let ready = tokio::time::timeout(SETTLING, connection.sender.ready()).await;
            if matches!(ready, Ok(Ok(()))) {
                *connection.meter.lock().unwrap_or_else(|e| e.into_inner()) = meter.clone();
                return Some(connection);
            }
        }
    }

    /// Keep `connection` for the next request to `endpoint`.
    pub(crate) fn give_back(&self, endpoint: &str, mut connection: Connection) {
        if connection.sender.is_closed() {
            return;
        }
        connection.idle_since = Instant::now();
        let mut all = self.lock();
        let idle = all.entry(endpoint.to_string()).or_default();
        idle.retain(Connection::fresh);
        if idle.len() >= PER_ENDPOINT {
            idle.remove(0);
        }
        idle.push(connection);
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Vec<Connection>>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}
