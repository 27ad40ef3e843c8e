//! A share driver component run through the host, for Manila's share
//! manager: `privdata.Backend` and the driver's errors as Python exceptions.
//! Shares, snapshots and access rules come in as dicts with the contract's
//! field names; export locations, rule states and stats go back as dicts.

use crate::{Error, HostData, Store, raised};
use privdata_host::config::BackendConfig;
use privdata_host::{
    AccessLevel, AccessRule, AccessType, DriverError as Kind, ExportLocation, Limits, RuleState, Runtime,
    Share, Snapshot,
};
use pyo3::create_exception;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;

create_exception!(privdata, DriverError, Error, "A share driver's operation failed.");
create_exception!(
    privdata,
    DriverNotFound,
    DriverError,
    "The driver does not know the share or snapshot."
);
create_exception!(
    privdata,
    DriverInvalid,
    DriverError,
    "The driver refused the request as invalid."
);
create_exception!(
    privdata,
    DriverBackendError,
    DriverError,
    "The driver's storage backend failed."
);
create_exception!(
    privdata,
    DriverPrivateDataError,
    DriverError,
    "The driver's private-data calls were refused or failed."
);
create_exception!(
    privdata,
    DriverUnsupported,
    DriverError,
    "The driver does not implement the operation."
);
create_exception!(
    privdata,
    DriverTrapped,
    DriverError,
    "The driver trapped (timeout, out of memory, panic); its instance was discarded."
);

/// A driver's failure as the exception of its kind; other host errors (a
/// missing root, the store) as `raised` gives them.
fn driver_raised(err: privdata_host::Error) -> PyErr {
    use privdata_host::Error as E;
    let message = err.to_string();
    match err {
        E::Driver { error, .. } => match error {
            Kind::NotFound(_) => DriverNotFound::new_err(message),
            Kind::Invalid(_) => DriverInvalid::new_err(message),
            Kind::Backend(_) => DriverBackendError::new_err(message),
            Kind::PrivateData(_) => DriverPrivateDataError::new_err(message),
            Kind::Unsupported(_) => DriverUnsupported::new_err(message),
            _ => DriverError::new_err(message),
        },
        E::DriverTrap { .. } => DriverTrapped::new_err(message),
        E::DriverLoad { .. } | E::Root { .. } => DriverError::new_err(message),
        other => raised(other),
    }
}

/// One runtime (engine and epoch thread) per process and cache directory:
/// `manila-share` forks after import, and a thread does not cross a fork.
fn runtime(cache_dir: Option<PathBuf>) -> PyResult<Runtime> {
    /// The process id they were made in, and the runtimes by cache directory.
    type Runtimes = (u32, HashMap<Option<PathBuf>, Runtime>);
    static RUNTIMES: Mutex<Option<Runtimes>> = Mutex::new(None);
    let pid = std::process::id();
    let mut guard = RUNTIMES.lock().unwrap_or_else(|e| e.into_inner());
    if guard.as_ref().is_none_or(|(p, _)| *p != pid) {
        *guard = Some((pid, HashMap::new()));
    }
    let (_, runtimes) = guard.as_mut().expect("set above");
    if let Some(r) = runtimes.get(&cache_dir) {
        return Ok(r.clone());
    }
    let mut r = Runtime::new().map_err(driver_raised)?;
    if let Some(dir) = &cache_dir {
        r = r.with_cache_dir(dir);
    }
    runtimes.insert(cache_dir, r.clone());
    Ok(r)
}

#[derive(FromPyObject)]
#[pyo3(from_item_all)]
struct ShareArg {
    id: String,
    name: String,
    size_gib: u64,
    protocol: String,
}

#[derive(FromPyObject)]
#[pyo3(from_item_all)]
struct SnapshotArg {
    id: String,
    share_id: String,
    size_gib: u64,
}

#[derive(FromPyObject)]
#[pyo3(from_item_all)]
struct RuleArg {
    id: String,
    access_type: String,
    access_to: String,
    access_level: String,
}

impl From<ShareArg> for Share {
    fn from(s: ShareArg) -> Share {
        Share {
            id: s.id,
            name: s.name,
            size_gib: s.size_gib,
            protocol: s.protocol,
        }
    }
}

impl From<SnapshotArg> for Snapshot {
    fn from(s: SnapshotArg) -> Snapshot {
        Snapshot {
            id: s.id,
            share_id: s.share_id,
            size_gib: s.size_gib,
        }
    }
}

fn rules(rules: Vec<RuleArg>) -> PyResult<Vec<AccessRule>> {
    rules
        .into_iter()
        .map(|r| {
            let access_type = match r.access_type.as_str() {
                "ip" => AccessType::Ip,
                "user" => AccessType::User,
                "cert" => AccessType::Cert,
                other => {
                    return Err(PyValueError::new_err(format!(
                        "access rule {}: access_type {other:?} is not one of \"ip\", \"user\", \"cert\"",
                        r.id
                    )));
                }
            };
            let access_level = match r.access_level.as_str() {
                "rw" => AccessLevel::Rw,
                "ro" => AccessLevel::Ro,
                other => {
                    return Err(PyValueError::new_err(format!(
                        "access rule {}: access_level {other:?} is not \"rw\" or \"ro\"",
                        r.id
                    )));
                }
            };
            Ok(AccessRule {
                id: r.id,
                access_type,
                access_to: r.access_to,
                access_level,
            })
        })
        .collect()
}

fn exports<'py>(py: Python<'py>, exports: Vec<ExportLocation>) -> PyResult<Vec<Bound<'py, PyDict>>> {
    exports
        .into_iter()
        .map(|e| {
            let d = PyDict::new(py);
            d.set_item("path", e.path)?;
            d.set_item("is_admin_only", e.is_admin_only)?;
            Ok(d)
        })
        .collect()
}

/// A share driver component run in its sandbox, bound to one backend host:
/// the private data it keeps is that host's, the files it sees are `root`.
#[pyclass(frozen, module = "privdata")]
pub(crate) struct Backend {
    backend: privdata_host::Backend,
}

#[pymethods]
impl Backend {
    /// Load (compile, or take from `cache_dir`) the component `driver` and
    /// bind it to `host` (`hostname@backend`) in `store`, with `root` as the
    /// directory it manages and `options` passed to its setup. The driver
    /// may reach only the endpoints in `allowed_outbound`
    /// (`https://10.0.0.5:8443`, `tcp://10.0.0.6:22`), with TLS verified
    /// against the CA certificates in `ca_file`. `limits` sets any limit of
    /// `privdata.LIMITS` by name; `timeout`, `max_memory_mib` and
    /// `max_value_bytes` are three of them.
    #[new]
    #[pyo3(signature = (
        store, name, host, driver, root, options = None, timeout = None,
        max_memory_mib = None, max_value_bytes = None,
        cache_dir = None, allowed_outbound = None, ca_file = None, limits = None,
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        store: &Store,
        name: &str,
        host: &str,
        driver: PathBuf,
        root: PathBuf,
        options: Option<HashMap<String, String>>,
        timeout: Option<f64>,
        max_memory_mib: Option<f64>,
        max_value_bytes: Option<f64>,
        cache_dir: Option<PathBuf>,
        allowed_outbound: Option<Vec<String>>,
        ca_file: Option<PathBuf>,
        limits: Option<HashMap<String, f64>>,
    ) -> PyResult<Backend> {
        let mut set = Limits::default();
        let named = [
            ("timeout_secs", timeout),
            ("max_memory_mib", max_memory_mib),
            ("max_value_bytes", max_value_bytes),
        ];
        for (limit, value) in named
            .into_iter()
            .filter_map(|(n, v)| v.map(|v| (n.to_string(), v)))
            .chain(limits.unwrap_or_default())
        {
            set.set(&limit, value).map_err(PyValueError::new_err)?;
        }
        let config = BackendConfig::new(
            host,
            driver,
            root,
            options.unwrap_or_default().into_iter().collect(),
            set,
            &allowed_outbound.unwrap_or_default(),
            ca_file.as_deref(),
        )
        .map_err(PyValueError::new_err)?;
        let runtime = runtime(cache_dir)?;
        let component = py
            .detach(|| runtime.load(&config.driver))
            .map_err(driver_raised)?;
        Ok(Backend {
            backend: config.backend(name, component, store.storage.clone()),
        })
    }

    /// The backend's name.
    #[getter]
    fn name(&self) -> &str {
        self.backend.name()
    }

    /// The host its private data is bound to.
    #[getter]
    fn host(&self) -> &str {
        self.backend.host()
    }

    /// The contract the driver was built against (`"0.2"` or `"0.1"`).
    #[getter]
    fn contract(&self) -> &'static str {
        self.backend.contract()
    }

    /// The driver's private data, as `Store.bind(host)` gives it.
    #[getter]
    fn private_data(&self) -> HostData {
        HostData {
            data: self.backend.private_data().clone(),
        }
    }

    /// Start the driver and run its setup, and nothing else: a missing root
    /// or a refused option shows here.
    fn check_setup(&self, py: Python<'_>) -> PyResult<()> {
        py.detach(|| self.backend.check_setup()).map_err(driver_raised)
    }

    fn create_share<'py>(&self, py: Python<'py>, share: ShareArg) -> PyResult<Vec<Bound<'py, PyDict>>> {
        let share = share.into();
        let created = py
            .detach(|| self.backend.create_share(&share))
            .map_err(driver_raised)?;
        exports(py, created)
    }

    fn delete_share(&self, py: Python<'_>, share: ShareArg) -> PyResult<()> {
        let share = share.into();
        py.detach(|| self.backend.delete_share(&share))
            .map_err(driver_raised)
    }

    fn extend_share(&self, py: Python<'_>, share: ShareArg, new_size_gib: u64) -> PyResult<()> {
        let share = share.into();
        py.detach(|| self.backend.extend_share(&share, new_size_gib))
            .map_err(driver_raised)
    }

    fn shrink_share(&self, py: Python<'_>, share: ShareArg, new_size_gib: u64) -> PyResult<()> {
        let share = share.into();
        py.detach(|| self.backend.shrink_share(&share, new_size_gib))
            .map_err(driver_raised)
    }

    fn ensure_share<'py>(&self, py: Python<'py>, share: ShareArg) -> PyResult<Vec<Bound<'py, PyDict>>> {
        let share = share.into();
        let ensured = py
            .detach(|| self.backend.ensure_share(&share))
            .map_err(driver_raised)?;
        exports(py, ensured)
    }

    fn create_snapshot(&self, py: Python<'_>, snapshot: SnapshotArg) -> PyResult<()> {
        let snapshot = snapshot.into();
        py.detach(|| self.backend.create_snapshot(&snapshot))
            .map_err(driver_raised)
    }

    fn delete_snapshot(&self, py: Python<'_>, snapshot: SnapshotArg) -> PyResult<()> {
        let snapshot = snapshot.into();
        py.detach(|| self.backend.delete_snapshot(&snapshot))
            .map_err(driver_raised)
    }

    fn create_share_from_snapshot<'py>(
        &self,
        py: Python<'py>,
        share: ShareArg,
        snapshot: SnapshotArg,
    ) -> PyResult<Vec<Bound<'py, PyDict>>> {
        let (share, snapshot) = (share.into(), snapshot.into());
        let created = py
            .detach(|| self.backend.create_share_from_snapshot(&share, &snapshot))
            .map_err(driver_raised)?;
        exports(py, created)
    }

    fn revert_to_snapshot(&self, py: Python<'_>, snapshot: SnapshotArg) -> PyResult<()> {
        let snapshot = snapshot.into();
        py.detach(|| self.backend.revert_to_snapshot(&snapshot))
            .map_err(driver_raised)
    }

    /// The state (`"active"` or `"error"`) of each rule, by rule id.
    fn update_access(
        &self,
        py: Python<'_>,
        share: ShareArg,
        access_rules: Vec<RuleArg>,
        add_rules: Vec<RuleArg>,
        delete_rules: Vec<RuleArg>,
    ) -> PyResult<HashMap<String, &'static str>> {
        let share = share.into();
        let (all, add, delete) = (rules(access_rules)?, rules(add_rules)?, rules(delete_rules)?);
        let states = py
            .detach(|| self.backend.update_access(&share, &all, &add, &delete))
            .map_err(driver_raised)?;
        Ok(states
            .into_iter()
            .map(|r| {
                let state = match r.state {
                    RuleState::Active => "active",
                    RuleState::Error => "error",
                };
                (r.id, state)
            })
            .collect())
    }

    /// `(size_gib, export locations)` of the adopted share.
    fn manage_existing<'py>(
        &self,
        py: Python<'py>,
        share: ShareArg,
        backend_name: &str,
    ) -> PyResult<(u64, Vec<Bound<'py, PyDict>>)> {
        let share = share.into();
        let (size, managed) = py
            .detach(|| self.backend.manage_existing(&share, backend_name))
            .map_err(driver_raised)?;
        Ok((size, exports(py, managed)?))
    }

    fn unmanage(&self, py: Python<'_>, share: ShareArg) -> PyResult<()> {
        let share = share.into();
        py.detach(|| self.backend.unmanage(&share)).map_err(driver_raised)
    }

    /// The adopted snapshot's size in GiB.
    fn manage_existing_snapshot(
        &self,
        py: Python<'_>,
        snapshot: SnapshotArg,
        backend_name: &str,
    ) -> PyResult<u64> {
        let snapshot = snapshot.into();
        py.detach(|| self.backend.manage_existing_snapshot(&snapshot, backend_name))
            .map_err(driver_raised)
    }

    fn unmanage_snapshot(&self, py: Python<'_>, snapshot: SnapshotArg) -> PyResult<()> {
        let snapshot = snapshot.into();
        py.detach(|| self.backend.unmanage_snapshot(&snapshot))
            .map_err(driver_raised)
    }

    /// The backend's capacity and capabilities.
    fn get_stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let stats = py.detach(|| self.backend.get_stats()).map_err(driver_raised)?;
        let d = PyDict::new(py);
        d.set_item("backend_name", stats.backend_name)?;
        d.set_item("protocols", stats.protocols)?;
        d.set_item("total_capacity_gib", stats.total_capacity_gib)?;
        d.set_item("free_capacity_gib", stats.free_capacity_gib)?;
        d.set_item("thin_provisioning", stats.thin_provisioning)?;
        let pools = stats
            .pools
            .into_iter()
            .map(|p| {
                let pool = PyDict::new(py);
                pool.set_item("name", p.name)?;
                pool.set_item("total_capacity_gib", p.total_capacity_gib)?;
                pool.set_item("free_capacity_gib", p.free_capacity_gib)?;
                Ok(pool)
            })
            .collect::<PyResult<Vec<_>>>()?;
        d.set_item("pools", pools)?;
        Ok(d)
    }

    fn __repr__(&self) -> String {
        format!(
            "Backend({:?}, host={:?})",
            self.backend.name(),
            self.backend.host()
        )
    }
}

/// Add the class and its exceptions to the module.
pub(crate) fn add(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add_class::<Backend>()?;
    m.add("DriverError", py.get_type::<DriverError>())?;
    m.add("DriverNotFound", py.get_type::<DriverNotFound>())?;
    m.add("DriverInvalid", py.get_type::<DriverInvalid>())?;
    m.add("DriverBackendError", py.get_type::<DriverBackendError>())?;
    m.add("DriverPrivateDataError", py.get_type::<DriverPrivateDataError>())?;
    m.add("DriverUnsupported", py.get_type::<DriverUnsupported>())?;
    m.add("DriverTrapped", py.get_type::<DriverTrapped>())?;
    // Every per-backend limit, for manila.conf's options (privdata.manila).
    let limits = privdata_host::LIMITS
        .iter()
        .map(|l| {
            let d = PyDict::new(py);
            d.set_item("name", l.name)?;
            d.set_item("option", l.option)?;
            d.set_item("help", l.help)?;
            d.set_item("default", l.default)?;
            d.set_item("min", l.min)?;
            d.set_item("max", l.max)?;
            d.set_item("fractional", l.fractional)?;
            Ok(d)
        })
        .collect::<PyResult<Vec<_>>>()?;
    m.add("LIMITS", limits)?;
    Ok(())
}
