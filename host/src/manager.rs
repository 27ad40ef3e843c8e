//! Backends from the configuration, each driver bound to its own host.

use crate::config::Config;
use crate::error::{Error, Result};
use privdata_runtime::{Backend, DriverComponent, Runtime};
use privdata_store::{self as store, Admin};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The share service's view of its backends.
#[derive(Debug)]
pub struct Manager {
    storage: Arc<dyn Admin>,
    backends: BTreeMap<String, Backend>,
    /// Backends whose driver could not be loaded, with why.
    unavailable: BTreeMap<String, String>,
}

impl Manager {
    /// Read the configuration file at `path` and start every backend in it.
    pub fn from_config_file(path: &Path) -> Result<Self> {
        Manager::new(&Config::load(path)?)
    }

    /// Open the store and load every backend's driver. Drivers used by
    /// several backends are compiled once.
    pub fn new(config: &Config) -> Result<Self> {
        let storage = store::open_url(&config.storage_url, &config.storage_options)?;
        let mut runtime = Runtime::with_max_stack(config.max_stack_bytes)?;
        if let Some(dir) = &config.driver_cache {
            runtime = runtime.with_cache_dir(dir);
        }
        Manager::with_storage(config, storage, &runtime)
    }

    /// Like [`Manager::new`], over storage and a runtime the caller already has.
    ///
    /// A backend whose driver cannot be loaded does not stop the others: it
    /// is logged, and [`Manager::backend`] answers for it with
    /// [`Error::BackendUnavailable`]. Only when no backend can serve is the
    /// first such failure returned.
    pub fn with_storage(config: &Config, storage: Arc<dyn Admin>, runtime: &Runtime) -> Result<Self> {
        let mut compiled: HashMap<PathBuf, DriverComponent> = HashMap::new();
        let mut backends = BTreeMap::new();
        let (mut unavailable, mut first_failure) = (BTreeMap::new(), None);
        // A configuration built in code has not been through the file's
        // checks; this one guards the isolation of private data.
        config
            .check_hosts()
            .map_err(|message| Error::Config { path: None, message })?;
        for (name, b) in &config.backends {
            let loaded = match compiled.get(&b.driver) {
                Some(d) => b.check_pin(d).map(|()| d.clone()),
                None => b.load_driver(runtime).inspect(|d| {
                    compiled.insert(b.driver.clone(), d.clone());
                }),
            };
            let driver = match loaded {
                Ok(d) => d,
                Err(err) => {
                    tracing::error!(backend = %name, "backend not started: {err}");
                    unavailable.insert(name.clone(), err.to_string());
                    first_failure.get_or_insert(err);
                    continue;
                }
            };
            backends.insert(name.clone(), b.backend(name, driver, storage.clone()));
        }
        if backends.is_empty()
            && let Some(err) = first_failure
        {
            return Err(err);
        }
        Ok(Manager {
            storage,
            backends,
            unavailable,
        })
    }

    /// The backend called `name`.
    pub fn backend(&self, name: &str) -> Result<&Backend> {
        if let Some(message) = self.unavailable.get(name) {
            return Err(Error::BackendUnavailable {
                backend: name.to_string(),
                message: message.clone(),
            });
        }
        self.backends
            .get(name)
            .ok_or_else(|| Error::UnknownBackend(name.to_string()))
    }

    /// The configured backends that could not be started, with why.
    pub fn unavailable(&self) -> impl Iterator<Item = (&str, &str)> {
        self.unavailable.iter().map(|(n, m)| (n.as_str(), m.as_str()))
    }

    /// Every backend, by name.
    pub fn backends(&self) -> impl Iterator<Item = &Backend> {
        self.backends.values()
    }

    /// The store every backend's private data lives in.
    pub fn storage(&self) -> &Arc<dyn Admin> {
        &self.storage
    }
}
