//! etcd's v3 API over gRPC, as its maintained clients speak it: one HTTP/2
//! connection to each member, the process's requests multiplexed on it
//! (`etcdserverpb.KV/Range` and `/Txn`, messages in `messages.rs`). A call
//! goes to the member that answered last; when a member is down or has no
//! leader, the next one is tried, a little later each time. The store's
//! calls are synchronous: each waits for its answer on the caller's thread,
//! the connections being driven by one thread of the client's own.

use super::messages::{
    Compare, DeleteRangeRequest, KeyValue, PutRequest, RangeRequest, RangeResponse, Request, RequestOp,
    Response, TxnRequest, TxnResponse,
};
use crate::error::{Error, Result};
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tonic::codegen::http::uri::PathAndQuery;
use tonic::transport::{Channel, Endpoint};

/// How long a call keeps trying the members before it reports the cluster
/// unavailable: longer than an election takes.
const RETRY_FOR: Duration = Duration::from_secs(15);
/// One request's limit.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest answer taken: a page of a range holds at most 1,000 keys,
/// each value at most what the cluster accepts in a request.
const MAX_MESSAGE: usize = 256 << 20;

/// One key as a range returns it.
#[derive(Debug, Clone)]
pub(super) struct Kv {
    pub(super) key: Vec<u8>,
    pub(super) value: Vec<u8>,
    /// The revision of its last change (0: the key does not exist).
    pub(super) mod_revision: i64,
}

/// One operation of a transaction.
#[derive(Debug, Clone)]
pub(super) enum Op {
    /// Keys from `key` up to `end` (just `key` without one), at most
    /// `limit` (0: all).
    Range {
        key: Vec<u8>,
        end: Option<Vec<u8>>,
        limit: usize,
        keys_only: bool,
    },
    Put {
        key: Vec<u8>,
        value: Vec<u8>,
    },
    Delete {
        key: Vec<u8>,
        end: Option<Vec<u8>>,
    },
}

/// What a transaction did: whether its comparisons held, and each range's
/// keys (with whether more were left) in the order of the operations run.
#[derive(Debug)]
pub(super) struct TxnResult {
    pub(super) succeeded: bool,
    pub(super) ranges: Vec<(Vec<Kv>, bool)>,
}

/// The members of one cluster.
#[derive(Debug)]
pub(super) struct Client {
    /// `http://host:port` of each member, and its connection.
    members: Vec<(String, Channel)>,
    /// The member to ask first: the last that answered.
    current: AtomicUsize,
    /// Drives the connections.
    runtime: tokio::runtime::Runtime,
    /// The store's URL, for messages.
    label: String,
}

impl Client {
    pub(super) fn new(members: Vec<String>, label: String) -> Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("privdata-etcd")
            .enable_all()
            .build()
            .map_err(|e| Error::Storage(format!("etcd at {label}: cannot start its client: {e}")))?;
        // Connections open at the first request, and again after a member
        // comes back.
        let _in_runtime = runtime.enter();
        let members = members
            .into_iter()
            .map(|url| {
                let endpoint = Endpoint::from_shared(url.clone())
                    .map_err(|e| Error::InvalidUrl(format!("etcd member {url}: {e}")))?
                    .connect_timeout(Duration::from_secs(2))
                    .timeout(REQUEST_TIMEOUT)
                    .tcp_nodelay(true);
                Ok((url, endpoint.connect_lazy()))
            })
            .collect::<Result<Vec<_>>>()?;
        drop(_in_runtime);
        Ok(Client {
            members,
            current: AtomicUsize::new(0),
            runtime,
            label,
        })
    }

    /// The store's URL, for messages.
    pub(super) fn label(&self) -> &str {
        &self.label
    }

    /// Run one transaction: `success` if every key of `unchanged` still has
    /// the revision given (0: the key does not exist), else `failure`.
    pub(super) fn txn(
        &self,
        unchanged: &[(Vec<u8>, i64)],
        success: &[Op],
        failure: &[Op],
    ) -> Result<TxnResult> {
        let request = TxnRequest {
            compare: unchanged
                .iter()
                .map(|(key, revision)| Compare::mod_revision_is(key.clone(), *revision))
                .collect(),
            success: success.iter().map(request_op).collect(),
            failure: failure.iter().map(request_op).collect(),
        };
        Ok(txn_result(self.call("/etcdserverpb.KV/Txn", request)?))
    }

    /// `ranges` (of [`Op::Range`]) read together, as the member asked has
    /// applied them: no round of the cluster, but possibly behind its last
    /// commits. For a reading that a write then checks (its comparison
    /// fails if the reading was behind).
    pub(super) fn read_local(&self, ranges: &[Op]) -> Result<TxnResult> {
        let success = ranges
            .iter()
            .map(|op| {
                let mut op = request_op(op);
                if let Some(Request::Range(range)) = &mut op.request {
                    range.serializable = true;
                }
                op
            })
            .collect();
        let request = TxnRequest {
            compare: Vec::new(),
            success,
            failure: Vec::new(),
        };
        Ok(txn_result(self.call("/etcdserverpb.KV/Txn", request)?))
    }

    /// One range, outside a transaction (a linearizable read).
    pub(super) fn range(
        &self,
        key: &[u8],
        end: &[u8],
        limit: usize,
        keys_only: bool,
    ) -> Result<(Vec<Kv>, bool)> {
        let request = range_request(key, Some(end), limit, keys_only);
        let answer: RangeResponse = self.call("/etcdserverpb.KV/Range", request)?;
        Ok(range_of(answer))
    }

    /// `request` to the method at `path` of a member that answers.
    fn call<Q, A>(&self, path: &'static str, request: Q) -> Result<A>
    where
        Q: prost::Message + Clone + Send + 'static,
        A: prost::Message + Default + Send + 'static,
    {
        let start = Instant::now();
        let mut attempt = 0u32;
        loop {
            let member = self.current.load(Ordering::Relaxed) % self.members.len();
            let (url, channel) = &self.members[member];
            let status = match self.wait(unary(channel.clone(), path, request.clone())) {
                Ok(answer) => return Ok(answer),
                Err(status) => status,
            };
            if !retryable(&status) {
                return Err(self.refused(status.message()));
            }
            let why = format!("{url}: {}", status.message());
            // This member is down, or has no leader: the next one.
            self.current
                .compare_exchange(member, member + 1, Ordering::Relaxed, Ordering::Relaxed)
                .ok();
            attempt += 1;
            if start.elapsed() >= RETRY_FOR {
                return Err(Error::StorageUnavailable(format!(
                    "etcd at {}: no member answered for {RETRY_FOR:?} ({attempt} tries); last: \
                     {why}; check that a majority of the cluster is up and that [storage] url \
                     lists its members",
                    self.label
                )));
            }
            // Once round the members at once, then a little later each time.
            if attempt as usize >= self.members.len() {
                std::thread::sleep(Duration::from_millis(50 << attempt.min(5)));
            }
        }
    }

    /// `f`'s outcome, waited for on this thread (or, from inside another
    /// async runtime, which may not be blocked in place, on a thread of its
    /// own).
    fn wait<F: Future + Send>(&self, f: F) -> F::Output
    where
        F::Output: Send,
    {
        if tokio::runtime::Handle::try_current().is_ok() {
            std::thread::scope(|s| {
                s.spawn(|| self.runtime.block_on(f))
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
        } else {
            self.runtime.block_on(f)
        }
    }

    /// A request etcd refused, with what to change.
    fn refused(&self, message: &str) -> Error {
        let fix = if message.contains("too many operations") {
            "; a call's keys must fit one transaction: raise --max-txn-ops on every member and \
             max-txn-ops in [storage] url together"
        } else if message.contains("too large") {
            "; a call must fit one request: raise --max-request-bytes on every member"
        } else if message.contains("space exceeded") {
            "; the cluster's database is full (--quota-backend-bytes): compact and defragment \
             it, or raise the quota"
        } else {
            ""
        };
        Error::Storage(format!("etcd at {}: {message}{fix}", self.label))
    }
}

/// Unavailable, DeadlineExceeded, Aborted, a connection that failed (a
/// member killed mid-request: `transport error`), or no leader: another
/// member, or the same one later, may answer. (A write that was applied
/// before its connection failed is safe to send again: every write compares
/// the host's usage key, and reads again when it changed.)
fn retryable(status: &tonic::Status) -> bool {
    use tonic::Code;
    let message = status.message();
    matches!(
        status.code(),
        Code::Unavailable | Code::DeadlineExceeded | Code::Aborted | Code::Cancelled
    ) || (status.code() == Code::Unknown && message.contains("transport error"))
        || message.contains("leader")
}

async fn unary<Q, A>(
    channel: Channel,
    path: &'static str,
    request: Q,
) -> std::result::Result<A, tonic::Status>
where
    Q: prost::Message + Send + 'static,
    A: prost::Message + Default + Send + 'static,
{
    let mut grpc = tonic::client::Grpc::new(channel)
        .max_decoding_message_size(MAX_MESSAGE)
        .max_encoding_message_size(MAX_MESSAGE);
    grpc.ready()
        .await
        .map_err(|e| tonic::Status::unavailable(e.to_string()))?;
    let codec = tonic_prost::ProstCodec::<Q, A>::default();
    let answer = grpc
        .unary(
            tonic::Request::new(request),
            PathAndQuery::from_static(path),
            codec,
        )
        .await?;
    Ok(answer.into_inner())
}

fn range_request(key: &[u8], end: Option<&[u8]>, limit: usize, keys_only: bool) -> RangeRequest {
    RangeRequest {
        key: key.to_vec(),
        range_end: end.map(<[u8]>::to_vec).unwrap_or_default(),
        limit: i64::try_from(limit).unwrap_or(i64::MAX),
        serializable: false,
        keys_only,
    }
}

fn request_op(op: &Op) -> RequestOp {
    let request = match op {
        Op::Range {
            key,
            end,
            limit,
            keys_only,
        } => Request::Range(range_request(key, end.as_deref(), *limit, *keys_only)),
        Op::Put { key, value } => Request::Put(PutRequest {
            key: key.clone(),
            value: value.clone(),
        }),
        Op::Delete { key, end } => Request::DeleteRange(DeleteRangeRequest {
            key: key.clone(),
            range_end: end.clone().unwrap_or_default(),
        }),
    };
    RequestOp {
        request: Some(request),
    }
}

/// Whether a transaction's comparisons held, and its ranges' keys.
fn txn_result(answer: TxnResponse) -> TxnResult {
    let ranges = answer
        .responses
        .into_iter()
        .filter_map(|r| match r.response {
            Some(Response::Range(range)) => Some(range_of(range)),
            _ => None,
        })
        .collect();
    TxnResult {
        succeeded: answer.succeeded,
        ranges,
    }
}

fn range_of(range: RangeResponse) -> (Vec<Kv>, bool) {
    let kvs = range
        .kvs
        .into_iter()
        .map(
            |KeyValue {
                 key,
                 value,
                 mod_revision,
             }| Kv {
                key,
                value,
                mod_revision,
            },
        )
        .collect();
    (kvs, range.more)
}
