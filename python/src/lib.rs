//! The native half of the `privdata` Python package: a store opened by its
//! URL, and the private-data contract bound to one backend host. The Python
//! half (`privdata/__init__.py`) re-exports it; `privdata/manila.py` builds
//! Manila's storage class on it.
//!
//! Every call that reaches the store releases the GIL: other Python threads
//! run while it waits on SQLite or a database server.

use privdata_host::store::{self, Durability, StorageOptions, StorageUrl};
use privdata_host::{Admin, Limits, PrivateData};
use pyo3::create_exception;
use pyo3::exceptions::{PyException, PyValueError};
use pyo3::prelude::*;
use std::sync::Arc;

mod backend;
mod log;
mod records;

create_exception!(
    privdata,
    Error,
    PyException,
    "Every privdata failure that is not bad input."
);
create_exception!(
    privdata,
    InvalidEntityId,
    PyValueError,
    "An entity id that is not a UUID."
);
create_exception!(
    privdata,
    InvalidKey,
    PyValueError,
    "A key that is empty, longer than 255 bytes, or given twice."
);
create_exception!(
    privdata,
    ValueTooLong,
    PyValueError,
    "A value longer than the host's limit."
);
create_exception!(privdata, InvalidHost, PyValueError, "A host no store can hold.");
create_exception!(
    privdata,
    QuotaExceeded,
    Error,
    "The host would hold more than its quota; nothing was written."
);
create_exception!(
    privdata,
    StorageUnavailable,
    Error,
    "The store is busy or unreachable; nothing was written, and the call may be retried."
);
create_exception!(
    privdata,
    StorageError,
    Error,
    "The store failed in a way retrying will not fix, or refused an operator's request."
);

/// The host's error as the Python exception of its kind, with its message.
fn raised(err: privdata_host::Error) -> PyErr {
    use privdata_host::Error as E;
    let message = err.to_string();
    match err {
        E::InvalidEntityId(_) => InvalidEntityId::new_err(message),
        E::InvalidKey(_) => InvalidKey::new_err(message),
        E::ValueTooLong(_) => ValueTooLong::new_err(message),
        E::InvalidHost(_) => InvalidHost::new_err(message),
        E::QuotaExceeded(_) => QuotaExceeded::new_err(message),
        E::StorageUnavailable(_) => StorageUnavailable::new_err(message),
        _ => StorageError::new_err(message),
    }
}

/// A store: an SQLite file, or a MariaDB/MySQL or PostgreSQL database,
/// named by its URL as in the `privdata` configuration.
#[pyclass(frozen, module = "privdata")]
struct Store {
    storage: Arc<dyn Admin>,
    url: StorageUrl,
}

#[pymethods]
impl Store {
    /// Open (a SQLite file: creating) the store `url` names.
    #[new]
    #[pyo3(signature = (url, durability = "full", audit = false))]
    fn new(py: Python<'_>, url: &str, durability: &str, audit: bool) -> PyResult<Store> {
        let durability = match durability {
            "full" => Durability::Full,
            "normal" => Durability::Normal,
            other => {
                return Err(PyValueError::new_err(format!(
                    "durability {other:?}: use \"full\" (survives power loss) or \"normal\" \
                     (survives a crash of the process)"
                )));
            }
        };
        let url = StorageUrl::parse(url).map_err(raised)?;
        let options = StorageOptions {
            durability,
            audit,
            ..StorageOptions::default()
        };
        let storage = py.detach(|| store::open_url(&url, &options)).map_err(raised)?;
        Ok(Store { storage, url })
    }

    /// The private data of `host` (`hostname@backend`), within its limits.
    #[pyo3(signature = (host, max_value_bytes = None, max_call_bytes = None, max_entries = None, max_bytes = None))]
    fn bind(
        &self,
        host: &str,
        max_value_bytes: Option<f64>,
        max_call_bytes: Option<f64>,
        max_entries: Option<f64>,
        max_bytes: Option<f64>,
    ) -> PyResult<HostData> {
        privdata_host::validate::host(host).map_err(raised)?;
        let given = [
            ("max_value_bytes", max_value_bytes),
            ("max_call_bytes", max_call_bytes),
            ("max_entries", max_entries),
            ("max_bytes", max_bytes),
        ];
        let limits = Limits::from_pairs(given.into_iter().filter_map(|(n, v)| v.map(|v| (n, v))))
            .map_err(PyValueError::new_err)?;
        Ok(HostData {
            data: PrivateData::new(self.storage.clone(), host, limits.data),
        })
    }

    /// Every host that holds data: `(host, entities, entries)`, sorted.
    fn hosts(&self, py: Python<'_>) -> PyResult<Vec<(String, u64, u64)>> {
        let hosts = py.detach(|| self.storage.hosts()).map_err(raised)?;
        Ok(hosts
            .into_iter()
            .map(|h| (h.host, h.entities, h.entries))
            .collect())
    }

    fn __repr__(&self) -> String {
        format!("Store({:?})", self.url.to_string())
    }
}

/// One host's private data: the contract's get, update and delete.
#[pyclass(frozen, module = "privdata")]
struct HostData {
    data: PrivateData,
}

#[pymethods]
impl HostData {
    /// The host this handle is bound to.
    #[getter]
    fn host(&self) -> &str {
        self.data.host()
    }

    /// `(key, value)` pairs of `entity_id`, sorted by key: all of them, or
    /// those of `keys` that are set.
    #[pyo3(signature = (entity_id, keys = None))]
    fn get(
        &self,
        py: Python<'_>,
        entity_id: &str,
        keys: Option<Vec<String>>,
    ) -> PyResult<Vec<(String, String)>> {
        py.detach(|| self.data.get(entity_id, keys.as_deref()))
            .map_err(raised)
    }

    /// Set `details` (`(key, value)` pairs); with `delete_existing`, first
    /// remove every other key. All or nothing.
    #[pyo3(signature = (entity_id, details, delete_existing = false))]
    fn update(
        &self,
        py: Python<'_>,
        entity_id: &str,
        details: Vec<(String, String)>,
        delete_existing: bool,
    ) -> PyResult<()> {
        py.detach(|| self.data.update(entity_id, &details, delete_existing))
            .map_err(raised)
    }

    /// Remove every key of `entity_id`, or those of `keys`.
    #[pyo3(signature = (entity_id, keys = None))]
    fn delete(&self, py: Python<'_>, entity_id: &str, keys: Option<Vec<String>>) -> PyResult<()> {
        py.detach(|| self.data.delete(entity_id, keys.as_deref()))
            .map_err(raised)
    }

    /// One page of the entity ids this host holds data for, and the cursor
    /// of the next page (`None` after the last).
    #[pyo3(signature = (cursor = None, limit = 1000))]
    fn entities(
        &self,
        py: Python<'_>,
        cursor: Option<String>,
        limit: u32,
    ) -> PyResult<(Vec<String>, Option<String>)> {
        py.detach(|| self.data.entities(cursor.as_deref(), limit))
            .map_err(raised)
    }

    fn __repr__(&self) -> String {
        format!("HostData({:?})", self.data.host())
    }
}

#[pymodule]
fn _privdata(m: &Bound<'_, PyModule>) -> PyResult<()> {
    log::install();
    let py = m.py();
    m.add_class::<Store>()?;
    m.add_class::<HostData>()?;
    m.add("Error", py.get_type::<Error>())?;
    m.add("InvalidEntityId", py.get_type::<InvalidEntityId>())?;
    m.add("InvalidKey", py.get_type::<InvalidKey>())?;
    m.add("ValueTooLong", py.get_type::<ValueTooLong>())?;
    m.add("InvalidHost", py.get_type::<InvalidHost>())?;
    m.add("QuotaExceeded", py.get_type::<QuotaExceeded>())?;
    m.add("StorageUnavailable", py.get_type::<StorageUnavailable>())?;
    m.add("StorageError", py.get_type::<StorageError>())?;
    backend::add(m)?;
    Ok(())
}
