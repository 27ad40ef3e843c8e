//! The errors an embedder sees.

use std::path::PathBuf;

/// Everything that can go wrong in the host, as seen by embedding code.
///
/// The first five variants are also what a driver sees through the
/// `private-data` interface (see [`Error::to_guest`]); their messages never
/// carry a host path, SQL text or connection string.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An entity id that is not a UUID.
    #[error("{0}")]
    InvalidEntityId(String),
    /// A key that is empty, too long, or repeated within one call.
    #[error("{0}")]
    InvalidKey(String),
    /// A value longer than the backend's limit.
    #[error("{0}")]
    ValueTooLong(String),
    /// The backend's quota of private data would be exceeded.
    #[error("{0}")]
    QuotaExceeded(String),
    /// The store is busy or unreachable; the call wrote nothing and may be
    /// retried.
    #[error("storage unavailable: {0}")]
    StorageUnavailable(String),
    /// The store failed in a way that retrying will not fix (corrupt file,
    /// schema from a newer version, ...).
    #[error("storage error: {0}")]
    Storage(String),
    /// An operator command was refused because it would lose or overwrite
    /// data, or its input cannot be what the operator meant (an empty live
    /// list, a rename onto the same host, a store that cannot outlive the
    /// process). Nothing was changed.
    #[error("refused: {0}")]
    Refused(String),
    /// An operator's input is bad (a line of an import or a live list, an
    /// entry of a store to migrate): `at` says where, `message` what is
    /// wrong. Nothing was changed.
    #[error("{at}: {message}; nothing was changed")]
    BadInput {
        /// Where: a file and line, or a store.
        at: String,
        /// What is wrong and what the limit is.
        message: String,
    },
    /// An import stopped part-way on a store's refusal or failure: the
    /// entries before it are in the store, none after.
    #[error(
        "{cause}; the first {imported} entries (through line {through_line}) were imported, \
         nothing after them: fix the cause and run the same import again"
    )]
    ImportStopped {
        /// Entries imported before it stopped.
        imported: u64,
        /// The last line whose entry was imported (0: none).
        through_line: u64,
        /// Why it stopped.
        cause: Box<Error>,
    },
    /// A purge stopped part-way on a store's refusal or failure: the
    /// batches before it are purged, the failed batch and those after it are
    /// untouched.
    #[error(
        "{cause}; {entities} entities ({entries} entries) were purged before it, in whole \
         batches, and nothing after them: fix the cause and run the same purge again"
    )]
    PurgeStopped {
        /// Entities purged before it stopped.
        entities: u64,
        /// Their entries.
        entries: u64,
        /// Why it stopped.
        cause: Box<Error>,
    },
    /// Reading or writing an operator's file failed.
    #[error("{what}: {source}")]
    Io {
        /// The file and what was being done.
        what: String,
        /// The failure.
        source: std::io::Error,
    },
    /// The wasmtime engine, its linker or its epoch thread could not be set
    /// up: the host cannot run drivers at all.
    #[error("cannot start the driver runtime: {0}")]
    Engine(String),
    /// A migration copied everything but the two stores then differed:
    /// something wrote to one of them meanwhile.
    #[error("verification failed: {0}")]
    VerificationFailed(String),
    /// A store URL of an unknown scheme, or not of its scheme's form.
    #[error("{0}")]
    InvalidUrl(String),
    /// A backend host name no store can hold (empty, over 255 bytes, or
    /// with control characters).
    #[error("{0}")]
    InvalidHost(String),
    /// The configuration is invalid.
    #[error(
        "configuration{}: {message}",
        path.as_ref().map(|p| format!(" {}", p.display())).unwrap_or_default()
    )]
    Config {
        /// The file that was read, if it came from one.
        path: Option<PathBuf>,
        /// What was wrong and how to fix it.
        message: String,
    },
    /// A driver component could not be loaded.
    #[error("driver {path}: {message}")]
    DriverLoad {
        /// The component file.
        path: PathBuf,
        /// What was wrong.
        message: String,
    },
    /// A backend's network settings cannot be used (a bad CA file, say).
    #[error("network: {message}")]
    Network {
        /// What is wrong, and what to fix.
        message: String,
    },
    /// A backend's root directory cannot be opened for its driver.
    #[error("cannot open the root directory of backend `{backend}`, {}: {message}", path.display())]
    Root {
        /// The backend.
        backend: String,
        /// Its root directory.
        path: PathBuf,
        /// Why, and what to fix.
        message: String,
    },
    /// A driver trapped (panicked, ran out of time or memory, ...). The
    /// instance was discarded; the host and other backends are unaffected.
    #[error("driver of backend `{backend}` trapped in {operation}: {message}")]
    DriverTrap {
        /// The backend whose driver trapped.
        backend: String,
        /// The operation that was running.
        operation: &'static str,
        /// The trap, as wasmtime reports it.
        message: String,
    },
    /// A driver returned its own typed error.
    #[error("driver of backend `{backend}` failed {operation}: {error}")]
    Driver {
        /// The backend.
        backend: String,
        /// The operation.
        operation: &'static str,
        /// The driver's error.
        error: DriverError,
    },
    /// The backend is configured but could not be started (its driver is
    /// missing or invalid); the other backends serve.
    #[error("backend `{backend}` is not serving: {message}")]
    BackendUnavailable {
        /// The backend.
        backend: String,
        /// Why it could not be started, and what to fix.
        message: String,
    },
    /// No backend of that name is configured.
    #[error("no backend named `{0}` in the configuration")]
    UnknownBackend(String),
}

/// A typed error returned by a driver's share operation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DriverError {
    /// The entity is unknown to the driver.
    #[error("not found: {0}")]
    NotFound(String),
    /// The request is invalid for this driver.
    #[error("invalid: {0}")]
    Invalid(String),
    /// The driver's backend failed.
    #[error("backend: {0}")]
    Backend(String),
    /// The driver's private-data calls failed.
    #[error("private data: {0}")]
    PrivateData(String),
    /// The driver does not implement the operation.
    #[error("unsupported: {0}")]
    Unsupported(String),
}

impl DriverError {
    /// The kind, as metrics name it: `not_found`, `invalid`, `backend`,
    /// `private_data`, `unsupported`.
    pub fn kind(&self) -> &'static str {
        match self {
            DriverError::NotFound(_) => "not_found",
            DriverError::Invalid(_) => "invalid",
            DriverError::Backend(_) => "backend",
            DriverError::PrivateData(_) => "private_data",
            DriverError::Unsupported(_) => "unsupported",
        }
    }
}

/// Shorthand for results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<rusqlite::Error> for Error {
    fn from(err: rusqlite::Error) -> Self {
        use rusqlite::ErrorCode::{DatabaseBusy, DatabaseLocked};
        match err.sqlite_error_code() {
            Some(DatabaseBusy | DatabaseLocked) => Error::StorageUnavailable(
                "the database stayed locked by another writer past the busy timeout".into(),
            ),
            _ => Error::Storage(err.to_string()),
        }
    }
}
