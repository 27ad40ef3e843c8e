//! etcd's v3 API through its JSON gateway (`POST /v3/kv/range`, `/v3/kv/txn`
//! on each member's client port): plain HTTP and JSON, keys and values in
//! base64. A call goes to the member that answered last; when a member is
//! down or has no leader, the next one is tried, a little later each time.

use crate::error::{Error, Result};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Value, json};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// How long a call keeps trying the members before it reports the cluster
/// unavailable: longer than an election takes.
const RETRY_FOR: Duration = Duration::from_secs(15);
/// One request's limit.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

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
pub(super) struct Gateway {
    /// `http://host:port` of each member.
    members: Vec<String>,
    /// The member to ask first: the last that answered.
    current: AtomicUsize,
    agent: ureq::Agent,
    /// The store's URL, for messages.
    label: String,
}

impl Gateway {
    pub(super) fn new(members: Vec<String>, label: String) -> Self {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(REQUEST_TIMEOUT))
            .http_status_as_error(false)
            .build()
            .into();
        Gateway {
            members,
            current: AtomicUsize::new(0),
            agent,
            label,
        }
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
        let compare: Vec<Value> = unchanged
            .iter()
            .map(|(key, revision)| {
                json!({"key": B64.encode(key), "result": "EQUAL", "target": "MOD",
                       "mod_revision": revision.to_string()})
            })
            .collect();
        let body = json!({
            "compare": compare,
            "success": success.iter().map(op).collect::<Vec<_>>(),
            "failure": failure.iter().map(op).collect::<Vec<_>>(),
        });
        let answer = self.call("/v3/kv/txn", &body)?;
        let mut ranges = Vec::new();
        for response in answer["responses"].as_array().into_iter().flatten() {
            if let Some(range) = response.get("response_range") {
                ranges.push(range_of(range)?);
            }
        }
        Ok(TxnResult {
            succeeded: answer["succeeded"].as_bool().unwrap_or(false),
            ranges,
        })
    }

    /// One range, outside a transaction (a linearizable read).
    pub(super) fn range(
        &self,
        key: &[u8],
        end: &[u8],
        limit: usize,
        keys_only: bool,
    ) -> Result<(Vec<Kv>, bool)> {
        let request = op(&Op::Range {
            key: key.to_vec(),
            end: Some(end.to_vec()),
            limit,
            keys_only,
        });
        range_of(&self.call("/v3/kv/range", &request["request_range"])?)
    }

    /// POST `body` to `path` of a member that answers.
    fn call(&self, path: &str, body: &Value) -> Result<Value> {
        let body = body.to_string();
        let start = Instant::now();
        let mut attempt = 0u32;
        loop {
            let member = self.current.load(Ordering::Relaxed) % self.members.len();
            let url = format!("{}{path}", self.members[member]);
            let why = match self.post(&url, &body) {
                Ok(answer) => return Ok(answer),
                Err(Failure::Refused(message)) => return Err(self.refused(&message)),
                Err(Failure::Unavailable(why)) => why,
            };
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

    fn post(&self, url: &str, body: &str) -> std::result::Result<Value, Failure> {
        let mut response = self
            .agent
            .post(url)
            .header("content-type", "application/json")
            .send(body)
            .map_err(|e| Failure::Unavailable(format!("{url}: {e}")))?;
        let status = response.status().as_u16();
        let text = response
            .body_mut()
            .with_config()
            .limit(u64::MAX)
            .read_to_string()
            .map_err(|e| Failure::Unavailable(format!("{url}: {e}")))?;
        let answer: Value = serde_json::from_str(&text)
            .map_err(|_| Failure::Unavailable(format!("{url}: HTTP {status}, not JSON: {text:.200}")))?;
        if status == 200 {
            return Ok(answer);
        }
        let message = answer["message"]
            .as_str()
            .or(answer["error"].as_str())
            .unwrap_or("no message")
            .to_string();
        // gRPC's Unavailable, DeadlineExceeded, Aborted, or a server error:
        // another member, or the same one later, may answer.
        let code = answer["code"].as_i64().unwrap_or(0);
        if matches!(code, 4 | 10 | 14) || status >= 500 || message.contains("leader") {
            Err(Failure::Unavailable(format!("{url}: {message}")))
        } else {
            Err(Failure::Refused(message))
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

/// Why a request to one member failed.
enum Failure {
    /// The member or the cluster cannot serve now.
    Unavailable(String),
    /// The cluster refused the request itself.
    Refused(String),
}

fn op(op: &Op) -> Value {
    match op {
        Op::Range {
            key,
            end,
            limit,
            keys_only,
        } => {
            let mut range =
                json!({"key": B64.encode(key), "limit": limit.to_string(), "keys_only": keys_only});
            if let Some(end) = end {
                range["range_end"] = json!(B64.encode(end));
            }
            json!({"request_range": range})
        }
        Op::Put { key, value } => {
            json!({"request_put": {"key": B64.encode(key), "value": B64.encode(value)}})
        }
        Op::Delete { key, end } => {
            let mut delete = json!({"key": B64.encode(key)});
            if let Some(end) = end {
                delete["range_end"] = json!(B64.encode(end));
            }
            json!({"request_delete_range": delete})
        }
    }
}

fn range_of(range: &Value) -> Result<(Vec<Kv>, bool)> {
    let bytes = |v: &Value| -> Result<Vec<u8>> {
        B64.decode(v.as_str().unwrap_or(""))
            .map_err(|e| Error::Storage(format!("etcd answered a key or value that is not base64: {e}")))
    };
    let mut kvs = Vec::new();
    for kv in range["kvs"].as_array().into_iter().flatten() {
        kvs.push(Kv {
            key: bytes(&kv["key"])?,
            value: bytes(&kv["value"])?,
            mod_revision: kv["mod_revision"]
                .as_str()
                .and_then(|r| r.parse().ok())
                .unwrap_or(0),
        });
    }
    Ok((kvs, range["more"].as_bool().unwrap_or(false)))
}
