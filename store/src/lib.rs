//! The private data of Manila share drivers, bound to their backend hosts:
//! the [`Storage`] trait and its stores (SQLite, MariaDB/MySQL and
//! PostgreSQL, etcd), opened by URL, and [`PrivateData`], the calls a
//! driver reaches, validated, over one host's data.
//!
//! Stores get validated, canonical input from [`PrivateData`], so every one
//! of them gives the same semantics and the same errors.
#![deny(missing_docs)]
// A build without every store leaves parts of what they share unused.
#![cfg_attr(
    not(all(feature = "mysql", feature = "postgres", feature = "etcd")),
    allow(dead_code)
)]

mod change;
mod data;
pub mod error;
#[cfg(feature = "etcd")]
pub mod etcd;
#[cfg(any(feature = "mysql", feature = "postgres"))]
mod server;
mod server_tls;
pub mod sqlite;
pub mod tls;
pub mod url;
pub mod validate;

pub use data::{DataLimits, PrivateData};
pub use error::{Error, Result};
pub use url::{EtcdUrl, ServerUrl, StorageUrl, redact};

use std::sync::Arc;

/// One stored pair: `(key, value)`.
pub type Pair = (String, String);

/// The driver's face of a store: one entity of one host at a time, the
/// calls a driver reaches through [`PrivateData`]. Implementations get
/// validated, canonical input, and run each call as one transaction.
pub trait Storage: Send + Sync + std::fmt::Debug {
    /// Pairs of `entity` for `host`, sorted by key: all of them (`keys = None`)
    /// or only those found among `keys`.
    fn get(&self, host: &str, entity: &str, keys: Option<&[String]>) -> Result<Vec<Pair>>;

    /// Upsert `details`; with `delete_existing`, first remove every other key
    /// of the entity. One transaction, undone if it grows what `host` holds
    /// past `quota`.
    fn update(
        &self,
        host: &str,
        entity: &str,
        details: &[Pair],
        delete_existing: bool,
        quota: &Quota,
    ) -> Result<()>;

    /// Remove all pairs of `entity` (`keys = None`) or the listed keys.
    fn delete(&self, host: &str, entity: &str, keys: Option<&[String]>) -> Result<()>;

    /// Up to `limit` entity ids of `host` that sort after `after`, in order:
    /// one page of `entities-list`.
    fn entity_page(&self, host: &str, after: Option<&str>, limit: usize) -> Result<Vec<String>>;

    /// What `host` holds, as its quota counts it: (entries, bytes of keys
    /// and values).
    fn usage(&self, host: &str) -> Result<(u64, u64)>;
}

/// The operator's face of a store: every host's data, for the operator
/// operations (listing, rename, purge, the audit journal, export, import,
/// migration). What each call promises of transactions is said on the call:
/// etcd, which takes at most `max-txn-ops` operations a transaction, keeps
/// some of them in chunks.
pub trait Admin: Storage {
    /// Every host that holds data, with its entity and entry counts.
    fn hosts(&self) -> Result<Vec<HostSummary>>;

    /// Every entity of `host`, with its entry count, sorted by id.
    fn entity_summaries(&self, host: &str) -> Result<Vec<EntitySummary>>;

    /// Move every entry of host `old` to host `new`, in one transaction
    /// (on etcd, refused when that is more than one transaction takes).
    /// Refused if `new` holds data, unless `merge` (then `old`'s value wins
    /// where both have the same entity and key).
    fn rename_host(&self, old: &str, new: &str, merge: bool) -> Result<RenameReport>;

    /// Delete every entry of the given entities of `host`, in one
    /// transaction (on etcd, one per chunk of whole entities that fits one);
    /// returns how many entries went.
    fn delete_entities(&self, host: &str, entities: &[String]) -> Result<u64>;

    /// Journal entries matching `filter`, oldest first.
    fn history(&self, filter: &HistoryFilter) -> Result<Vec<JournalEntry>>;

    /// Delete journal entries older than `before` (unix seconds); returns
    /// how many went.
    fn prune_history(&self, before: i64) -> Result<u64>;

    /// Up to `limit` entries (of `host`, or of every host) that sort after
    /// `after` by (host, entity, key): one page of an export.
    fn scan(&self, host: Option<&str>, after: Option<&Entry>, limit: usize) -> Result<Vec<Entry>>;

    /// Upsert `entries` (an operator's import or migration, not a driver's
    /// write), in one transaction (on etcd, one per chunk, after the whole
    /// of `entries` is checked against the quotas). Undone if it grows what
    /// a host holds past `quota_of(host)`. Entries must be validated already.
    fn put(&self, entries: &[Entry], quota_of: &dyn Fn(&str) -> Quota) -> Result<()>;
}

/// One stored pair with its address: a line of an export.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Entry {
    /// The backend host.
    pub host: String,
    /// The canonical entity id.
    pub entity: String,
    /// The key.
    pub key: String,
    /// The value.
    pub value: String,
}

/// What a host rename did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RenameReport {
    /// Entries moved from the old host.
    pub moved: u64,
    /// Entities they belong to.
    pub entities: u64,
    /// Entries of the new host that the merge overwrote.
    pub overwritten: u64,
}

/// Which journal entries to read.
#[derive(Debug, Clone, Default)]
pub struct HistoryFilter {
    /// Only this host.
    pub host: Option<String>,
    /// Only this entity (canonical id).
    pub entity: Option<String>,
    /// Only at or after this time (unix seconds).
    pub since: Option<i64>,
    /// Only before this time (unix seconds).
    pub until: Option<i64>,
    /// At most this many (the newest), or all.
    pub limit: Option<usize>,
}

/// One change, as the audit journal keeps it: digests, never values.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct JournalEntry {
    /// When (unix seconds).
    pub at: i64,
    /// The host whose data changed.
    pub host: String,
    /// The entity.
    pub entity: String,
    /// The key.
    pub key: String,
    /// `update`, `replace`, `delete`, `rename-from`, `rename-to` or `purge`.
    pub operation: String,
    /// blake3 of the value before, if there was one.
    pub old_digest: Option<String>,
    /// blake3 of the value after, if there is one.
    pub new_digest: Option<String>,
}

/// How a store is opened.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StorageOptions {
    /// What an acknowledged write survives.
    pub durability: Durability,
    /// Keep an audit journal of every change, in the same transaction.
    pub audit: bool,
    /// Drop journal entries older than this many days when the store opens.
    pub audit_retention_days: Option<u32>,
}

/// What one host holds.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct HostSummary {
    /// The backend host, `hostname@backend`.
    pub host: String,
    /// How many entities it has data for.
    pub entities: u64,
    /// How many key/value pairs in all.
    pub entries: u64,
}

/// What one entity holds.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct EntitySummary {
    /// The canonical entity id.
    pub entity: String,
    /// How many key/value pairs.
    pub entries: u64,
}

/// How much private data one host may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    /// Key/value pairs, over all its entities.
    pub max_entries: u64,
    /// Bytes of keys and values, over all its entities.
    pub max_bytes: u64,
}

impl Default for Quota {
    /// A million entries and 1 GiB: far above what a share service keeps,
    /// low enough that a runaway driver cannot fill the disk.
    fn default() -> Self {
        Quota {
            max_entries: 1_000_000,
            max_bytes: 1 << 30,
        }
    }
}

impl Quota {
    /// No limit: for writes whose result was checked against the quota
    /// beforehand.
    pub const UNLIMITED: Quota = Quota {
        max_entries: u64::MAX,
        max_bytes: u64::MAX,
    };

    /// Whether a host holding (entries, bytes) is within the quota.
    pub fn allows(&self, (entries, bytes): (u64, u64)) -> bool {
        entries <= self.max_entries && bytes <= self.max_bytes
    }

    /// Refuse a change from `before` to `after` (entries, bytes) that grows
    /// past the quota. Storage implementations call this inside the
    /// transaction, before committing.
    pub fn check(&self, host: &str, before: (u64, u64), after: (u64, u64)) -> Result<()> {
        if after.0 > self.max_entries && after.0 > before.0 {
            return Err(crate::error::Error::QuotaExceeded(format!(
                "host {host} would hold {} entries; its quota is {} (delete entries it no longer \
                 needs, or raise limits.max_entries)",
                after.0, self.max_entries
            )));
        }
        if after.1 > self.max_bytes && after.1 > before.1 {
            return Err(crate::error::Error::QuotaExceeded(format!(
                "host {host} would hold {} bytes of private data; its quota is {} bytes (delete \
                 entries it no longer needs, or raise limits.max_bytes)",
                after.1, self.max_bytes
            )));
        }
        Ok(())
    }
}

/// What an acknowledged write survives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Durability {
    /// Every acknowledged write survives a crash of the process, the
    /// operating system or the power (SQLite `synchronous=FULL`: the log is
    /// synced at each commit). The default.
    #[default]
    Full,
    /// Every acknowledged write survives a crash of the process; a power
    /// loss or OS crash may roll back the last writes, but never leaves a
    /// write half-applied or the file corrupt (`synchronous=NORMAL` in WAL
    /// mode). The fastest setting that is still crash-safe.
    Normal,
}

impl Durability {
    /// The SQLite `synchronous` pragma for this setting.
    pub fn synchronous(self) -> &'static str {
        match self {
            Durability::Full => "FULL",
            Durability::Normal => "NORMAL",
        }
    }
}

/// A host renamed onto itself: with a merge, the copy and the delete of the
/// old host would be the same rows, and the data would be gone.
pub fn refuse_same_host(old: &str, new: &str) -> Result<()> {
    if old == new {
        return Err(crate::error::Error::Refused(format!(
            "rename-host {old} {new}: the old and the new host are the same; nothing to move"
        )));
    }
    Ok(())
}

/// The refusal of a rename onto a host that holds data, without a merge.
pub fn host_taken(old: &str, new: &str, held: u64) -> crate::error::Error {
    crate::error::Error::Refused(format!(
        "host {new} already holds {held} entries; pass --merge to merge {old} into it \
         ({old}'s values win on the same entity and key), or pick another name"
    ))
}

/// Now, in unix seconds: the stores' `created_at`, `updated_at` and
/// journal times.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// What the audit journal keeps of a value: its blake3, in hex.
pub(crate) fn digest(value: &str) -> String {
    blake3::hash(value.as_bytes()).to_hex().to_string()
}

/// Open the storage a URL names with the default options: `sqlite://PATH`
/// (or a plain file path), `mysql://USER:PASSWORD@HOST:PORT/DATABASE`
/// (MariaDB or MySQL), `postgres://USER:PASSWORD@HOST:PORT/DATABASE` or
/// `etcd://HOST:PORT[,HOST:PORT...]/PREFIX`.
pub fn open(url: &str) -> Result<Arc<dyn Admin>> {
    open_url(&StorageUrl::parse(url)?, &StorageOptions::default())
}

/// [`open`] with chosen options.
pub fn open_with(url: &str, options: &StorageOptions) -> Result<Arc<dyn Admin>> {
    open_url(&StorageUrl::parse(url)?, options)
}

/// Open the store `url` names. A server's database must exist; its tables
/// are created or brought up to date. A SQLite file is created if missing.
pub fn open_url(url: &StorageUrl, options: &StorageOptions) -> Result<Arc<dyn Admin>> {
    Ok(match url {
        StorageUrl::Sqlite(path) => Arc::new(sqlite::SqliteStorage::open_with_options(path, options)?),
        #[cfg(feature = "mysql")]
        StorageUrl::Mysql(url) => Arc::new(server::mysql::open(url, options)?),
        #[cfg(feature = "postgres")]
        StorageUrl::Postgres(url) => Arc::new(server::postgres::open(url, options)?),
        #[cfg(feature = "etcd")]
        StorageUrl::Etcd(url) => Arc::new(etcd::EtcdStorage::open(url, options)?),
        #[allow(unreachable_patterns, reason = "with every store's feature on, none is left")]
        other => {
            return Err(crate::error::Error::InvalidUrl(format!(
                "{other}: this build of privdata has no store of that kind; build privdata-store \
                 with its feature (mysql, postgres, etcd)"
            )));
        }
    })
}

/// Like [`open_url`], but a SQLite file that does not exist is an error
/// instead of a new empty store: what commands that only read, or only
/// change what is there, use, so that a mistyped path is not taken for an
/// empty store.
pub fn open_existing(url: &StorageUrl, options: &StorageOptions) -> Result<Arc<dyn Admin>> {
    if let Some(path) = url.sqlite_path()
        && !path.is_file()
    {
        return Err(crate::error::Error::Storage(format!(
            "{}: no such file, so no store there (a typo in the path?); this command only \
             reads or changes an existing store and never creates one",
            path.display()
        )));
    }
    open_url(url, options)
}
