//! The configuration file, in the spirit of manila.conf: where the store is,
//! then one section per backend.
//!
//! ```toml
//! # The hostname part of every backend's host (`hostname@backend`);
//! # defaults to this machine's hostname, as in Manila.
//! host = "node1"
//!
//! # Compiled drivers are kept here so a restart need not compile them.
//! driver_cache = "cache"
//! # The deepest wasm stack any driver may use (one engine serves all).
//! max_stack_kib = 1024
//!
//! [storage]
//! url = "sqlite://privdata.db"      # relative to this file
//! durability = "full"               # or "normal"
//!
//! [audit]                           # optional: journal every change
//! enabled = true
//! retention_days = 90
//!
//! [backends.alpha]
//! driver = "drivers/generic_driver.wasm"
//! # optional: refuse any other file (`privdata check-config` prints it)
//! driver_sha256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
//! root = "/srv/alpha"
//! options = { export_host = "10.0.0.5" }
//! limits = { max_value_bytes = 1023, timeout_secs = 10, max_memory_mib = 64 }
//! # also: max_call_bytes, max_entries, max_bytes (the host's quota),
//! # max_connections and max_network_bytes (per operation)
//! # The network the driver may reach (default: none), and the CA that
//! # signed the array's certificate.
//! allowed_outbound = ["https://10.0.0.5:8443", "tcp://10.0.0.6:22"]
//! ca_file = "/etc/privdata/alpha-ca.pem"
//! ```

use crate::error::{Error, Result};
use crate::limits::Limits;
use privdata_store::{DataLimits, Durability, StorageOptions, StorageUrl};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

mod backend;
pub use backend::BackendConfig;

/// A parsed configuration with every path made absolute. Its `Debug`
/// output masks the storage URL's password.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Where the private data lives: `sqlite://PATH`, `mysql://…` or
    /// `postgres://…`.
    pub storage_url: StorageUrl,
    /// Durability and auditing of the store.
    pub storage_options: StorageOptions,
    /// Where compiled drivers are cached, if anywhere.
    pub driver_cache: Option<PathBuf>,
    /// The deepest wasm stack a driver may use, in bytes.
    pub max_stack_bytes: usize,
    /// The backends, by name.
    pub backends: BTreeMap<String, BackendConfig>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    host: Option<String>,
    driver_cache: Option<PathBuf>,
    max_stack_kib: Option<usize>,
    storage: StorageSection,
    #[serde(default)]
    audit: AuditSection,
    #[serde(default)]
    backends: BTreeMap<String, BackendSection>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct AuditSection {
    #[serde(default)]
    enabled: bool,
    retention_days: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StorageSection {
    url: String,
    #[serde(default)]
    durability: Durability,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BackendSection {
    host: Option<String>,
    driver: PathBuf,
    driver_sha256: Option<String>,
    root: PathBuf,
    #[serde(default)]
    options: BTreeMap<String, toml::Value>,
    #[serde(default)]
    limits: BTreeMap<String, toml::Value>,
    #[serde(default)]
    allowed_outbound: Vec<String>,
    ca_file: Option<PathBuf>,
}

/// The data limits of each backend host in a configuration; a host no
/// backend is bound to gets the defaults. Operator commands that write
/// entries themselves (import, migrate, rename-host) keep these, as the
/// host's driver would.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HostLimits(BTreeMap<String, DataLimits>);

impl HostLimits {
    /// The limits of `host`.
    pub fn of(&self, host: &str) -> DataLimits {
        self.0.get(host).copied().unwrap_or_default()
    }
}

impl Config {
    /// Read and check the configuration file at `path`: the store and at
    /// least one backend.
    pub fn load(path: &Path) -> Result<Config> {
        Config::read(path, true)
    }

    /// Read the configuration for operator commands, which need only the
    /// store: `[storage]`, and the backends if there are any (for their
    /// hosts' limits). Their drivers are not loaded.
    pub fn load_store(path: &Path) -> Result<Config> {
        Config::read(path, false)
    }

    fn read(path: &Path, need_backends: bool) -> Result<Config> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::Config {
            path: Some(path.to_path_buf()),
            message: format!(
                "cannot read it: {e} (name the file with --config or $PRIVDATA_CONFIG; \
                 `privdata demo --keep DIR` writes a working one)"
            ),
        })?;
        // Relative paths in the file are taken from its directory, made
        // absolute so that messages name whole paths.
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let base = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
        let base = base.as_path();
        Config::parse_file(&text, base, need_backends).map_err(|message| Error::Config {
            path: Some(path.to_path_buf()),
            message,
        })
    }

    /// Refuse two backends bound to one host: they would share private
    /// data.
    pub fn check_hosts(&self) -> std::result::Result<(), String> {
        let mut hosts: BTreeMap<&str, &str> = BTreeMap::new();
        for (name, b) in &self.backends {
            if let Some(other) = hosts.insert(&b.host, name) {
                return Err(format!(
                    "[backends.{other}] and [backends.{name}] are both bound to host `{}`; each \
                     backend needs its own host (set `host` in one of them) or they would share \
                     private data",
                    b.host
                ));
            }
        }
        Ok(())
    }

    /// The data limits of every backend's host.
    pub fn host_limits(&self) -> HostLimits {
        HostLimits(
            self.backends
                .values()
                .map(|b| (b.host.clone(), b.data_limits))
                .collect(),
        )
    }

    /// Parse configuration text; relative paths are taken from `base`.
    pub fn parse(text: &str, base: &Path) -> std::result::Result<Config, String> {
        Config::parse_file(text, base, true)
    }

    fn parse_file(text: &str, base: &Path, need_backends: bool) -> std::result::Result<Config, String> {
        let file: File = toml::from_str(text).map_err(|e| e.to_string())?;
        let hostname = match file.host {
            Some(h) if h.is_empty() || h.contains('@') || h.chars().any(char::is_control) => {
                return Err(format!(
                    "host = {h:?}: the hostname part of every backend's host must be non-empty \
                     and without `@` or control characters, like \"node1\" (each backend's host \
                     is `host@backend`); leave it out for this machine's hostname"
                ));
            }
            Some(h) => h,
            None => system_hostname(),
        };
        let absolute = |p: &Path| {
            if p.is_absolute() {
                p.to_path_buf()
            } else {
                base.join(p)
            }
        };
        let storage_url = StorageUrl::parse(&file.storage.url)
            .map_err(|e| format!("[storage] url: {e}"))?
            .relative_to(base);
        let max_stack_bytes = match file.max_stack_kib {
            None => privdata_runtime::DEFAULT_MAX_STACK,
            Some(kib) if (64..=16 * 1024).contains(&kib) => kib << 10,
            Some(kib) => return Err(format!("max_stack_kib = {kib}; use 64 to 16384")),
        };
        if need_backends && file.backends.is_empty() {
            return Err("no backends: add a section like [backends.alpha] with driver and root".into());
        }
        let mut backends = BTreeMap::new();
        for (name, mut b) in file.backends {
            let bad = |what: String| format!("[backends.{name}]: {what}");
            if name.is_empty() || name.contains('@') {
                return Err(bad("a backend name must be non-empty and without `@`".into()));
            }
            let mut options = BTreeMap::new();
            for (k, v) in std::mem::take(&mut b.options) {
                let v = match v {
                    toml::Value::String(s) => s,
                    toml::Value::Integer(_) | toml::Value::Float(_) | toml::Value::Boolean(_) => {
                        v.to_string()
                    }
                    _ => return Err(bad(format!("option `{k}` must be a string, number or boolean"))),
                };
                options.insert(k, v);
            }
            let mut limits = Limits::default();
            for (limit, value) in &b.limits {
                let value = match value {
                    toml::Value::Integer(n) => *n as f64,
                    toml::Value::Float(x) => *x,
                    other => return Err(bad(format!("limits.{limit} = {other}: give a number"))),
                };
                limits.set(limit, value).map_err(|e| bad(format!("limits.{e}")))?;
            }
            limits.check().map_err(|e| bad(format!("limits: {e}")))?;
            let ca_file = b.ca_file.as_deref().map(absolute);
            let host = b.host.unwrap_or_else(|| format!("{hostname}@{name}"));
            let backend = BackendConfig::new(
                &host,
                absolute(&b.driver),
                absolute(&b.root),
                options,
                limits,
                &b.allowed_outbound,
                ca_file.as_deref(),
            )
            .map_err(bad)?;
            let backend = match &b.driver_sha256 {
                Some(pin) => backend.pinned(pin).map_err(bad)?,
                None => backend,
            };
            backends.insert(name, backend);
        }
        let config = Config {
            storage_url,
            storage_options: StorageOptions {
                durability: file.storage.durability,
                audit: file.audit.enabled,
                audit_retention_days: file.audit.retention_days,
            },
            driver_cache: file.driver_cache.as_deref().map(absolute),
            max_stack_bytes,
            backends,
        };
        config.check_hosts()?;
        Ok(config)
    }
}

fn system_hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use privdata_runtime::network::Network;

    const GOOD: &str = r#"
        host = "node1"
        driver_cache = "cache"
        [storage]
        url = "data/privdata.db"
        durability = "normal"
        [audit]
        enabled = true
        retention_days = 30
        [backends.alpha]
        driver = "drivers/generic.wasm"
        root = "/srv/alpha"
        options = { export_host = "10.0.0.5", replicas = 2 }
        limits = { max_value_bytes = 4096, timeout_secs = 2.5 }
        [backends.beta]
        host = "other@beta"
        driver = "/opt/d.wasm"
        root = "beta"
    "#;

    #[test]
    fn a_full_file_parses_with_paths_made_absolute() {
        let c = Config::parse(GOOD, Path::new("/etc/privdata")).unwrap();
        assert_eq!(
            c.storage_url.to_string(),
            "sqlite:///etc/privdata/data/privdata.db"
        );
        assert_eq!(c.storage_options.durability, Durability::Normal);
        assert!(c.storage_options.audit);
        assert_eq!(c.storage_options.audit_retention_days, Some(30));
        assert_eq!(c.driver_cache.as_deref(), Some(Path::new("/etc/privdata/cache")));
        let a = &c.backends["alpha"];
        assert_eq!(a.host, "node1@alpha");
        assert_eq!(a.driver, Path::new("/etc/privdata/drivers/generic.wasm"));
        assert_eq!(a.options["replicas"], "2");
        assert_eq!(a.data_limits.max_value_bytes, 4096);
        assert_eq!(a.sandbox_limits.timeout, std::time::Duration::from_millis(2500));
        let b = &c.backends["beta"];
        assert_eq!(b.host, "other@beta");
        assert_eq!(b.root, Path::new("/etc/privdata/beta"));
        assert_eq!(b.data_limits, DataLimits::default());
    }

    #[test]
    fn mistakes_are_named() {
        let cases = [
            ("[storage]\nurl='x'\n", "no backends"),
            (
                "[storage]\nurl='x'\n[backends.a]\ndriver='d'\nroot='r'\nlimits={max_value_bytes=0}",
                "max_value_bytes = 0",
            ),
            (
                "[storage]\nurl='x'\n[backends.a]\ndriver='d'\nrot='r'",
                "unknown field `rot`",
            ),
            (
                "[storage]\nurl='x'\n[backends.a]\ndriver='d'",
                "missing field `root`",
            ),
            (
                "[storage]\nurl='x'\n[backends.a]\ndriver='d'\nroot='r'\noptions={x=[1]}",
                "option `x`",
            ),
            ("[storage\nurl='x'", "line 1, column 9"),
            (
                "host = ''\n[storage]\nurl='x'\n[backends.a]\ndriver='d'\nroot='r'",
                "host = \"\"",
            ),
            (
                "host = 'a@b'\n[storage]\nurl='x'\n[backends.a]\ndriver='d'\nroot='r'",
                "without `@`",
            ),
            (
                "[storage]\nurl='x'\ndurability='fast'\n[backends.a]\ndriver='d'\nroot='r'",
                "unknown variant `fast`",
            ),
        ];
        for (text, want) in cases {
            let err = Config::parse(text, Path::new("/")).unwrap_err();
            assert!(err.contains(want), "{text:?}: {err}");
        }
    }

    #[test]
    fn errors_name_the_file_and_the_section() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("privdata.toml");
        std::fs::write(
            &path,
            "[storage]\nurl = 'x.db'\n[backends.alpha]\ndriver = 'd.wasm'\nroot = 'r'\n\
             limits = { max_value_bytes = 0 }\n",
        )
        .unwrap();
        let err = Config::load(&path).unwrap_err().to_string();
        assert!(
            err.contains(&path.display().to_string())
                && err.contains("[backends.alpha]")
                && err.contains("max_value_bytes = 0; use 1 to 1048576"),
            "{err}"
        );
        std::fs::write(
            &path,
            "[storage]\nurl = 'x.db'\n[backends.a]\ndriver = 'd.wasm'\nroot = 'r'\nhost = 'n@x'\n\
             [backends.b]\ndriver = 'd.wasm'\nroot = 'r'\nhost = 'n@x'\n",
        )
        .unwrap();
        let err = Config::load(&path).unwrap_err().to_string();
        assert!(
            err.contains(&path.display().to_string())
                && err.contains("[backends.a] and [backends.b] are both bound to host `n@x`"),
            "{err}"
        );
    }

    #[test]
    fn a_backends_network_is_checked_naming_the_section() {
        let section = |extra: &str| {
            format!("[storage]\nurl = 'x.db'\n[backends.nas]\ndriver = 'd.wasm'\nroot = 'r'\n{extra}\n")
        };
        let base = Path::new("/etc/privdata");
        let config = Config::parse(
            &section("allowed_outbound = ['https://10.0.0.5:8443', 'tcp://10.0.0.6:22']"),
            base,
        )
        .unwrap();
        let network = &config.backends["nas"].network;
        assert_eq!(
            network.describe(),
            "allowed_outbound = [\"https://10.0.0.5:8443\", \"tcp://10.0.0.6:22\"]"
        );
        assert_eq!(
            Config::parse(&section(""), base).unwrap().backends["nas"].network,
            Network::none(),
            "no network unless listed"
        );
        for (extra, says) in [
            ("allowed_outbound = ['10.0.0.5:8443']", "has no scheme"),
            (
                "allowed_outbound = ['https://10.0.0.5:1', 'https://10.0.0.5:1']",
                "twice",
            ),
            (
                "allowed_outbound = ['http://10.0.0.5:80']\nca_file = 'ca.pem'",
                "no https:// endpoint",
            ),
            (
                "allowed_outbound = ['https://10.0.0.5:1']\nca_file = 'missing.pem'",
                "/etc/privdata/missing.pem: cannot read it",
            ),
            (
                "limits = { max_connections = 0 }",
                "max_connections = 0; use 1 to 10000",
            ),
        ] {
            let err = Config::parse(&section(extra), base).unwrap_err();
            assert!(
                err.contains("[backends.nas]") && err.contains(says),
                "{extra}: {err}"
            );
        }
    }

    #[test]
    fn load_names_the_file() {
        let err = Config::load(Path::new("/nonexistent/privdata.toml")).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/privdata.toml"), "{err}");
    }
}
