//! A share driver component run through the host, for Manila's share
//! manager: `privdata.Backend` and the driver's errors as Python exceptions.
//! Records cross as dicts with the contract's field names (`records.rs`).

use crate::records;
use crate::{Error, HostData, Store, raised};
use privdata_host::config::BackendConfig;
use privdata_host::{DriverError as Kind, Limits, Runtime};
use pyo3::create_exception;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{IntoPyDict, PyDict};
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

/// The key of `manila_conf` that tells a Manila driver's adapter in the
/// component the least level the host logs its lines at.
const LOG_LEVEL: &str = "privdata_log_level";

/// The least level Python's `logging` passes for a driver's lines (its
/// logger's effective level): a component of a Manila driver then formats
/// no line the host would drop, as an in-tree driver does not.
fn driver_log_level(py: Python<'_>) -> PyResult<i64> {
    py.import("logging")?
        .call_method1("getLogger", ("privdata.driver",))?
        .call_method0("getEffectiveLevel")?
        .extract()
}

/// A share driver component run in its sandbox, bound to one backend host:
/// the private data it keeps is that host's, the files it sees are `root`.
#[pyclass(frozen, module = "privdata")]
pub(crate) struct Backend {
    backend: privdata_host::Backend,
    sha256: String,
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
    /// `max_value_bytes` are three of them. `manila_conf` is the backend's
    /// section of manila.conf, passed to the driver's setup as Manila gives
    /// an in-tree driver its configuration, with `privdata_log_level`
    /// added: the level Python's `logging` passes for the driver's lines.
    /// With `driver_sha256`, a component whose SHA-256 differs is refused
    /// before it is compiled.
    #[new]
    #[pyo3(signature = (
        store, name, host, driver, root, options = None, timeout = None,
        max_memory_mib = None, max_value_bytes = None,
        cache_dir = None, allowed_outbound = None, ca_file = None, limits = None, manila_conf = None,
        driver_sha256 = None,
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
        manila_conf: Option<HashMap<String, String>>,
        driver_sha256: Option<String>,
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
        let mut config = BackendConfig::new(
            host,
            driver,
            root,
            options.unwrap_or_default().into_iter().collect(),
            set,
            &allowed_outbound.unwrap_or_default(),
            ca_file.as_deref(),
        )
        .map_err(PyValueError::new_err)?;
        if let Some(pin) = &driver_sha256 {
            config = config.pinned(pin).map_err(PyValueError::new_err)?;
        }
        let mut manila_conf = manila_conf.unwrap_or_default();
        if !manila_conf.is_empty() {
            manila_conf.insert(LOG_LEVEL.to_string(), driver_log_level(py)?.to_string());
        }
        config.manila_conf = manila_conf.into_iter().collect();
        let runtime = runtime(cache_dir)?;
        let component = py
            .detach(|| config.load_driver(&runtime))
            .map_err(driver_raised)?;
        Ok(Backend {
            sha256: component.sha256().to_string(),
            backend: config.backend(name, component, store.storage.clone()),
        })
    }

    /// The SHA-256 of the driver component it runs (lowercase hex).
    #[getter]
    fn driver_sha256(&self) -> &str {
        &self.sha256
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

    /// The contract the driver was built against (`"0.3"`, `"0.2"` or `"0.1"`).
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
    /// or a refused option shows here. The instance then serves the next
    /// operation.
    fn check_setup(&self, py: Python<'_>) -> PyResult<()> {
        py.detach(|| self.backend.check_setup()).map_err(driver_raised)
    }

    /// How many instances of the driver are alive, and how many were made
    /// (and set up) since the backend was loaded.
    #[getter]
    fn instances(&self) -> (usize, u64) {
        let stats = self.backend.instances();
        (stats.live, stats.made)
    }

    /// What the backend's driver has done, in Prometheus' text format:
    /// operations by outcome with their latency, private-data calls,
    /// network requests, bytes and refusals, instances, and the host's
    /// usage against its quota (docs/operating.md says what each means).
    fn metrics(&self, py: Python<'_>) -> String {
        py.detach(|| privdata_host::runtime::exposition(&[&self.backend]))
    }

    /// Write `metrics()` to `path` whole: to a temporary file beside it,
    /// then renamed over it, so a collector never reads half of one.
    fn write_metrics(&self, py: Python<'_>, path: PathBuf) -> PyResult<()> {
        py.detach(|| {
            let text = privdata_host::runtime::exposition(&[&self.backend]);
            let mut part = path.clone().into_os_string();
            part.push(format!(".{}.tmp", std::process::id()));
            std::fs::write(&part, text)?;
            std::fs::rename(&part, &path).inspect_err(|_| {
                let _ = std::fs::remove_file(&part);
            })
        })
        .map_err(|e| {
            pyo3::exceptions::PyOSError::new_err(format!("cannot write metrics to {}: {e}", path.display()))
        })
    }

    /// The backend's identity and settings as a dict, or None.
    fn get_backend_info<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let info = py
            .detach(|| self.backend.get_backend_info())
            .map_err(driver_raised)?;
        match info {
            Some(pairs) => Ok(pairs.into_py_dict(py)?.into_any()),
            None => Ok(py.None().into_bound(py)),
        }
    }

    /// The backend's capacity and capabilities (each capability's value as
    /// the driver sent it: JSON text).
    fn get_stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let stats = py.detach(|| self.backend.get_stats()).map_err(driver_raised)?;
        records::to_python(py, &stats)
    }

    /// What Manila should record of the new share.
    fn create_share<'py>(&self, py: Python<'py>, share: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        let share = records::share(share)?;
        let update = py
            .detach(|| self.backend.create_share(&share))
            .map_err(driver_raised)?;
        records::to_python(py, &update)
    }

    fn create_share_from_snapshot<'py>(
        &self,
        py: Python<'py>,
        share: &Bound<'py, PyAny>,
        snapshot: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (share, snapshot) = (records::share(share)?, records::snapshot(snapshot)?);
        let update = py
            .detach(|| self.backend.create_share_from_snapshot(&share, &snapshot))
            .map_err(driver_raised)?;
        records::to_python(py, &update)
    }

    fn delete_share(&self, py: Python<'_>, share: &Bound<'_, PyAny>) -> PyResult<()> {
        let share = records::share(share)?;
        py.detach(|| self.backend.delete_share(&share))
            .map_err(driver_raised)
    }

    fn extend_share(&self, py: Python<'_>, share: &Bound<'_, PyAny>, new_size_gib: u64) -> PyResult<()> {
        let share = records::share(share)?;
        py.detach(|| self.backend.extend_share(&share, new_size_gib))
            .map_err(driver_raised)
    }

    fn shrink_share(&self, py: Python<'_>, share: &Bound<'_, PyAny>, new_size_gib: u64) -> PyResult<()> {
        let share = records::share(share)?;
        py.detach(|| self.backend.shrink_share(&share, new_size_gib))
            .map_err(driver_raised)
    }

    /// What Manila should record of each share, by share instance id.
    fn ensure_shares<'py>(&self, py: Python<'py>, shares: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        let shares = records::shares(shares)?;
        let updates = py
            .detach(|| self.backend.ensure_shares(&shares))
            .map_err(driver_raised)?;
        let updates: std::collections::BTreeMap<String, _> = updates.into_iter().collect();
        records::to_python(py, &updates)
    }

    /// `ensure_shares` of one share: what Manila should record of it.
    fn ensure_share<'py>(&self, py: Python<'py>, share: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        let share = records::share(share)?;
        let update = py
            .detach(|| self.backend.ensure_share(&share))
            .map_err(driver_raised)?;
        records::to_python(py, &update)
    }

    fn get_share_status<'py>(
        &self,
        py: Python<'py>,
        share: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let share = records::share(share)?;
        let update = py
            .detach(|| self.backend.get_share_status(&share))
            .map_err(driver_raised)?;
        records::to_python(py, &update)
    }

    /// A list of `{"id", "used_size_gib", "gathered_at"}`.
    fn update_share_usage_size<'py>(
        &self,
        py: Python<'py>,
        shares: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let shares = records::shares(shares)?;
        let usage = py
            .detach(|| self.backend.update_share_usage_size(&shares))
            .map_err(driver_raised)?;
        records::to_python(py, &usage)
    }

    /// What Manila should record of the new snapshot.
    fn create_snapshot<'py>(
        &self,
        py: Python<'py>,
        snapshot: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let snapshot = records::snapshot(snapshot)?;
        let update = py
            .detach(|| self.backend.create_snapshot(&snapshot))
            .map_err(driver_raised)?;
        records::to_python(py, &update)
    }

    fn delete_snapshot(&self, py: Python<'_>, snapshot: &Bound<'_, PyAny>) -> PyResult<()> {
        let snapshot = records::snapshot(snapshot)?;
        py.detach(|| self.backend.delete_snapshot(&snapshot))
            .map_err(driver_raised)
    }

    /// What Manila should record of the share after the revert (a new size).
    #[pyo3(signature = (snapshot, share_access_rules = None, snapshot_access_rules = None))]
    fn revert_to_snapshot<'py>(
        &self,
        py: Python<'py>,
        snapshot: &Bound<'py, PyAny>,
        share_access_rules: Option<&Bound<'py, PyAny>>,
        snapshot_access_rules: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let snapshot = records::snapshot(snapshot)?;
        let share_rules = share_access_rules
            .map(records::rules)
            .transpose()?
            .unwrap_or_default();
        let snapshot_rules = snapshot_access_rules
            .map(records::rules)
            .transpose()?
            .unwrap_or_default();
        let update = py
            .detach(|| {
                self.backend
                    .revert_to_snapshot(&snapshot, &share_rules, &snapshot_rules)
            })
            .map_err(driver_raised)?;
        records::to_python(py, &update)
    }

    /// The state of the rules the driver answered for, by rule id:
    /// `{"state": "active" | "error", "access_key": ...}`.
    #[pyo3(signature = (share, access_rules, add_rules, delete_rules, update_rules = None))]
    fn update_access<'py>(
        &self,
        py: Python<'py>,
        share: &Bound<'py, PyAny>,
        access_rules: &Bound<'py, PyAny>,
        add_rules: &Bound<'py, PyAny>,
        delete_rules: &Bound<'py, PyAny>,
        update_rules: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let share = records::share(share)?;
        let (all, add, delete) = (
            records::rules(access_rules)?,
            records::rules(add_rules)?,
            records::rules(delete_rules)?,
        );
        let update = update_rules.map(records::rules).transpose()?.unwrap_or_default();
        let states = py
            .detach(|| self.backend.update_access(&share, &all, &add, &delete, &update))
            .map_err(driver_raised)?;
        records::rule_states(py, states)
    }

    fn snapshot_update_access(
        &self,
        py: Python<'_>,
        snapshot: &Bound<'_, PyAny>,
        access_rules: &Bound<'_, PyAny>,
        add_rules: &Bound<'_, PyAny>,
        delete_rules: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let snapshot = records::snapshot(snapshot)?;
        let (all, add, delete) = (
            records::rules(access_rules)?,
            records::rules(add_rules)?,
            records::rules(delete_rules)?,
        );
        py.detach(|| {
            self.backend
                .snapshot_update_access(&snapshot, &all, &add, &delete)
        })
        .map_err(driver_raised)
    }

    /// What Manila should record of the adopted share (its size included).
    #[pyo3(signature = (share, driver_options = None))]
    fn manage_existing<'py>(
        &self,
        py: Python<'py>,
        share: &Bound<'py, PyAny>,
        driver_options: Option<HashMap<String, String>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let share = records::share(share)?;
        let options: Vec<(String, String)> = driver_options.unwrap_or_default().into_iter().collect();
        let update = py
            .detach(|| self.backend.manage_existing(&share, &options))
            .map_err(driver_raised)?;
        records::to_python(py, &update)
    }

    fn unmanage(&self, py: Python<'_>, share: &Bound<'_, PyAny>) -> PyResult<()> {
        let share = records::share(share)?;
        py.detach(|| self.backend.unmanage(&share)).map_err(driver_raised)
    }

    /// What Manila should record of the adopted snapshot (its size
    /// included).
    #[pyo3(signature = (snapshot, driver_options = None))]
    fn manage_existing_snapshot<'py>(
        &self,
        py: Python<'py>,
        snapshot: &Bound<'py, PyAny>,
        driver_options: Option<HashMap<String, String>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let snapshot = records::snapshot(snapshot)?;
        let options: Vec<(String, String)> = driver_options.unwrap_or_default().into_iter().collect();
        let update = py
            .detach(|| self.backend.manage_existing_snapshot(&snapshot, &options))
            .map_err(driver_raised)?;
        records::to_python(py, &update)
    }

    fn unmanage_snapshot(&self, py: Python<'_>, snapshot: &Bound<'_, PyAny>) -> PyResult<()> {
        let snapshot = records::snapshot(snapshot)?;
        py.detach(|| self.backend.unmanage_snapshot(&snapshot))
            .map_err(driver_raised)
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
