//! The runtime: one wasmtime engine and linker shared by every driver, the
//! thread that counts CPU time in epochs, and drivers compiled (or loaded
//! from the cache) once.

use crate::contract::DriverPre;
use crate::error::{Error, Result};
use crate::sandbox::{DriverComponent, DriverLinker, EPOCH_TICK};
use std::path::{Path, PathBuf};
use wasmtime::component::Component;
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

/// The deepest wasm stack a driver may use, unless configured otherwise.
pub const DEFAULT_MAX_STACK: usize = 1024 * 1024;
/// The most memory any backend may allow its driver (the pool's slot size).
pub const MAX_MEMORY_LIMIT: usize = 1 << 30;
/// How many driver instances may be alive at once, across all backends.
const POOL_INSTANCES: u32 = 256;

/// The wasmtime engine and linker shared by every driver.
#[derive(Clone)]
pub struct Runtime {
    engine: Engine,
    linker: std::sync::Arc<DriverLinker>,
    cache_dir: Option<PathBuf>,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime").finish_non_exhaustive()
    }
}

impl Runtime {
    /// A new engine with epoch interruption, and a linker that offers
    /// drivers `private-data` plus WASI (no network, no environment).
    pub fn new() -> Result<Self> {
        Runtime::with_max_stack(DEFAULT_MAX_STACK)
    }

    /// [`Runtime::new`] with the deepest wasm stack a driver may use, in
    /// bytes. One engine serves every backend, so this limit is shared.
    pub fn with_max_stack(max_stack_bytes: usize) -> Result<Self> {
        let mut pool = PoolingAllocationConfig::default();
        // A Rust driver is a few core instances and tables; a Python one
        // (componentize-py) about a dozen of each, and two memories.
        pool.total_component_instances(POOL_INSTANCES)
            .total_core_instances(POOL_INSTANCES * 16)
            .total_memories(POOL_INSTANCES * 2)
            .total_tables(POOL_INSTANCES * 16)
            .total_stacks(POOL_INSTANCES)
            .max_memory_size(MAX_MEMORY_LIMIT)
            // A reused slot keeps up to 16 MiB of its pages mapped, and with
            // the PAGEMAP_SCAN ioctl (Linux 6.7 and later) only the pages an
            // instance wrote are reset. A Python driver then takes few page
            // faults per call (measured: a whole no-op call 1.02 ms with
            // 64 KiB kept and no scan, 0.88 ms with this).
            .linear_memory_keep_resident(16 << 20)
            .table_keep_resident(1 << 16)
            .pagemap_scan(wasmtime::Enabled::Auto);
        let mut config = Config::new();
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        config.epoch_interruption(true);
        config.max_wasm_stack(max_stack_bytes);
        let engine = Engine::new(&config).map_err(|e| Error::Engine(format!("wasmtime: {e:#}")))?;
        let linker = crate::sandbox::linker(&engine).map_err(|e| Error::Engine(format!("linker: {e:#}")))?;

        let weak = engine.weak();
        std::thread::Builder::new()
            .name("privdata-epoch".into())
            .spawn(move || {
                while let Some(engine) = weak.upgrade() {
                    engine.increment_epoch();
                    drop(engine);
                    std::thread::sleep(EPOCH_TICK);
                }
            })
            .map_err(|e| Error::Engine(format!("cannot start the epoch thread: {e}")))?;

        Ok(Runtime {
            engine,
            linker: std::sync::Arc::new(linker),
            cache_dir: None,
        })
    }

    /// Keep compiled drivers in `dir`, so that later starts load them instead
    /// of compiling again. Each artifact is keyed on the driver's hash and
    /// the engine's compatibility hash and carries its own checksum: a stale,
    /// foreign or damaged artifact is compiled anew, never trusted.
    pub fn with_cache_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cache_dir = Some(dir.into());
        self
    }

    /// Compile (or load from the cache) the driver component at `path`.
    pub fn load(&self, path: &Path) -> Result<DriverComponent> {
        self.load_pinned(path, None)
    }

    /// [`Runtime::load`], refusing the file unless its SHA-256 is `sha256`
    /// (hex, either case): checked before anything of it is compiled or run.
    pub fn load_pinned(&self, path: &Path, sha256: Option<&str>) -> Result<DriverComponent> {
        self.check_cache(path)?;
        // A start that finds the driver and its digest in the cache reads
        // the file in pieces, for its key; anything else reads it whole.
        if let Some(dir) = &self.cache_dir
            && let Ok(entry) = crate::cache::Entry::of_file(&self.engine, dir, path)
            && let Some(digest) = entry.recorded_sha256()
        {
            let actual = hex(&digest);
            check_pin(path, &actual, sha256)?;
            if let Some(component) = entry.cached(&self.engine) {
                return self.driver(component, path, actual);
            }
        }
        let bytes = std::fs::read(path).map_err(|e| Error::DriverLoad {
            path: path.to_path_buf(),
            message: format!("cannot read the file: {e}"),
        })?;
        self.load_checked(&bytes, path, sha256)
    }

    /// Compile (or load from the cache) a driver component from its bytes;
    /// `path` names it in errors.
    pub fn load_bytes(&self, wasm: &[u8], path: &Path) -> Result<DriverComponent> {
        self.check_cache(path)?;
        self.load_checked(wasm, path, None)
    }

    /// Refuse a cache others could write (its files are native code the
    /// host runs); `path` is the driver the error names.
    fn check_cache(&self, path: &Path) -> Result<()> {
        match &self.cache_dir {
            Some(dir) => crate::cache::check_owner_only(dir).map_err(|message| Error::DriverLoad {
                path: path.to_path_buf(),
                message,
            }),
            None => Ok(()),
        }
    }

    /// [`Runtime::load_bytes`] after [`Runtime::check_cache`].
    fn load_checked(&self, wasm: &[u8], path: &Path, pinned: Option<&str>) -> Result<DriverComponent> {
        let load_err = |message: String| Error::DriverLoad {
            path: path.to_path_buf(),
            message,
        };
        if !wasm.starts_with(b"\0asm") {
            let start: String = String::from_utf8_lossy(&wasm[..wasm.len().min(16)])
                .chars()
                .map(|c| if c.is_control() { '.' } else { c })
                .collect();
            return Err(load_err(format!(
                "not a WebAssembly file (it starts with {start:?}, not the wasm magic \\0asm); \
                 build drivers with `cargo build --target wasm32-wasip2`"
            )));
        }
        let cached =
            (self.cache_dir.as_deref()).map(|dir| crate::cache::Entry::of_bytes(&self.engine, dir, wasm));
        let actual = hex(&cached.as_ref().map_or_else(|| sha256(wasm), |c| c.sha256(wasm)));
        check_pin(path, &actual, pinned)?;
        let component = match &cached {
            Some(entry) => entry.component(&self.engine, wasm),
            None => Component::new(&self.engine, wasm),
        }
        .map_err(|e| {
            load_err(format!(
                "not a valid WebAssembly component ({e:#}); build drivers with \
                 `cargo build --target wasm32-wasip2`"
            ))
        })?;
        self.driver(component, path, actual)
    }

    /// The loaded driver, linked: ready to be instantiated.
    fn driver(&self, component: Component, path: &Path, sha256: String) -> Result<DriverComponent> {
        let load_err = |message: String| Error::DriverLoad {
            path: path.to_path_buf(),
            message,
        };
        let pre = self.linker.instantiate_pre(&component).map_err(|e| {
            load_err(format!(
                "the component does not fit the manila:driver world: {e:#}"
            ))
        })?;
        let pre = DriverPre::new(pre).map_err(load_err)?;
        Ok(DriverComponent::new(pre, path, sha256))
    }
}

/// Refuse the driver at `path`, whose SHA-256 is `actual`, unless it is
/// `pinned` (or nothing is).
fn check_pin(path: &Path, actual: &str, pinned: Option<&str>) -> Result<()> {
    match pinned {
        Some(pinned) if !actual.eq_ignore_ascii_case(pinned.trim()) => Err(Error::DriverLoad {
            path: path.to_path_buf(),
            message: format!(
                "its sha256 is {actual}, not the {pinned} the backend pins (driver_sha256): \
                 the file changed since it was pinned; check the new component, then pin its \
                 digest"
            ),
        }),
        _ => Ok(()),
    }
}

/// The SHA-256 of `bytes`, in lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&sha256(bytes))
}

pub(crate) fn sha256(bytes: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).into()
}

fn hex(digest: &[u8]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}
