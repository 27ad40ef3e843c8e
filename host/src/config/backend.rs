//! One backend's section: its host, driver (and pin), root, options,
//! limits and network, checked; and the sandbox and backend it describes.

use crate::error::{Error, Result};
use crate::limits::Limits;
use privdata_runtime::network::{Endpoint, Network, NetworkLimits};
use privdata_runtime::{Backend, DriverComponent, Metrics, Sandbox, SandboxLimits};
use privdata_store::{DataLimits, PrivateData, Storage};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// One backend section.
#[derive(Debug, Clone, PartialEq)]
pub struct BackendConfig {
    /// The host its private data is bound to, `hostname@backend`.
    pub host: String,
    /// The driver component (`.wasm`).
    pub driver: PathBuf,
    /// The SHA-256 the driver must have (`driver_sha256`, lowercase hex):
    /// another file is refused before anything of it runs.
    pub driver_sha256: Option<String>,
    /// The directory the driver manages; it sees it as `/`.
    pub root: PathBuf,
    /// Options passed to the driver's `setup`.
    pub options: BTreeMap<String, String>,
    /// The backend's section of manila.conf, passed to the driver's `setup`
    /// (empty unless Manila runs the backend).
    pub manila_conf: BTreeMap<String, String>,
    /// Limits on the driver's private data.
    pub data_limits: DataLimits,
    /// Limits on the driver's sandbox.
    pub sandbox_limits: SandboxLimits,
    /// What the driver may reach on the network: `allowed_outbound`, the
    /// CA for TLS (`ca_file`), and the per-operation limits.
    pub network: Network,
}

impl BackendConfig {
    /// A backend's section, checked: the one way every backend is
    /// described, from the configuration file, Python (and so manila.conf),
    /// `check-driver` or the benchmark. The error says what is wrong.
    pub fn new(
        host: &str,
        driver: PathBuf,
        root: PathBuf,
        options: BTreeMap<String, String>,
        limits: Limits,
        allowed_outbound: &[String],
        ca_file: Option<&Path>,
    ) -> std::result::Result<BackendConfig, String> {
        privdata_store::validate::host(host).map_err(|e| e.to_string())?;
        limits.check()?;
        Ok(BackendConfig {
            host: host.to_string(),
            driver,
            driver_sha256: None,
            root,
            options,
            manila_conf: BTreeMap::new(),
            data_limits: limits.data,
            sandbox_limits: limits.sandbox,
            network: network(allowed_outbound, ca_file, limits.network)?,
        })
    }

    /// This backend, running only a driver whose SHA-256 is `sha256` (64
    /// hex digits, either case).
    pub fn pinned(mut self, sha256: &str) -> std::result::Result<BackendConfig, String> {
        let pin = sha256.trim().to_ascii_lowercase();
        if pin.len() != 64 || !pin.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(format!(
                "driver_sha256 = {sha256:?} is not a SHA-256 (64 hex digits); `privdata check-config` \
                 and `sha256sum` print the driver's"
            ));
        }
        self.driver_sha256 = Some(pin);
        Ok(self)
    }

    /// The backend's driver, loaded by `runtime` and checked against the
    /// pin, if any.
    pub fn load_driver(&self, runtime: &privdata_runtime::Runtime) -> Result<DriverComponent> {
        let driver = runtime.load_pinned(&self.driver, self.driver_sha256.as_deref())?;
        if self.driver_sha256.is_none() {
            tracing::info!(
                driver = %self.driver.display(),
                sha256 = driver.sha256(),
                "driver loaded, not pinned (driver_sha256 pins it)"
            );
        }
        Ok(driver)
    }

    /// Whether `driver` (loaded for another backend) may serve this one.
    pub fn check_pin(&self, driver: &DriverComponent) -> Result<()> {
        match &self.driver_sha256 {
            Some(pin) if pin != driver.sha256() => Err(Error::DriverLoad {
                path: self.driver.clone(),
                message: format!(
                    "its sha256 is {}, not the {pin} the backend pins (driver_sha256)",
                    driver.sha256()
                ),
            }),
            _ => Ok(()),
        }
    }

    /// The sandbox of the backend this section describes, named `name`,
    /// over `storage`: the one place a sandbox is put together.
    pub fn sandbox(&self, name: &str, storage: Arc<dyn Storage>) -> Sandbox {
        Sandbox {
            backend: name.to_string(),
            private_data: PrivateData::new(storage, &self.host, self.data_limits),
            root: self.root.clone(),
            options: self.options.clone().into_iter().collect(),
            manila_conf: self.manila_conf.clone().into_iter().collect(),
            limits: self.sandbox_limits,
            network: self.network.clone(),
            metrics: Metrics::new(),
        }
    }

    /// The backend this section describes, named `name`, running `driver`
    /// over `storage`.
    pub fn backend(&self, name: &str, driver: DriverComponent, storage: Arc<dyn Storage>) -> Backend {
        Backend::new(driver, self.sandbox(name, storage))
    }
}

/// A backend's network: its allow-list and CA, checked, with `limits`.
fn network(
    allowed_outbound: &[String],
    ca_file: Option<&Path>,
    limits: NetworkLimits,
) -> std::result::Result<Network, String> {
    let mut allowed = Vec::new();
    for text in allowed_outbound {
        let endpoint = Endpoint::parse(text.trim()).map_err(|e| format!("allowed_outbound: {e}"))?;
        if allowed.contains(&endpoint) {
            return Err(format!("allowed_outbound lists {endpoint} twice"));
        }
        allowed.push(endpoint);
    }
    if ca_file.is_some()
        && !allowed
            .iter()
            .any(|e| e.scheme == privdata_runtime::network::Scheme::Https)
    {
        return Err("ca_file is set but allowed_outbound lists no https:// endpoint to use it for".into());
    }
    Network::new(allowed, ca_file, limits).map_err(|e| e.to_string())
}
