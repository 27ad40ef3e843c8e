//! The sandbox: one shared engine, drivers compiled once, and a fresh,
//! limited instance for every operation.

use crate::bindings::{Driver, DriverPre, WitDriverError};
use crate::error::{DriverError, Error, Result};
use crate::store::PrivateData;
use std::path::{Path, PathBuf};
use std::time::Duration;
use wasmtime::component::{Component, HasSelf, Linker, ResourceTable};
use wasmtime::{
    Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store, StoreLimits,
    StoreLimitsBuilder, Trap,
};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

/// How often the engine's epoch advances; CPU limits are counted in these.
const EPOCH_TICK: Duration = Duration::from_millis(10);
/// How much a driver may print per operation before its output is cut.
const OUTPUT_CAPACITY: usize = 64 * 1024;
/// The deepest wasm stack a driver may use, unless configured otherwise.
pub const DEFAULT_MAX_STACK: usize = 1024 * 1024;
/// The most memory any backend may allow its driver (the pool's slot size).
pub const MAX_MEMORY_LIMIT: usize = 1 << 30;
/// How many driver instances may be alive at once, across all backends.
const POOL_INSTANCES: u32 = 256;

/// Per-backend limits on what a driver instance may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SandboxLimits {
    /// Wall-clock CPU time one operation may run, counting the private-data
    /// calls it makes.
    pub timeout: Duration,
    /// Linear memory one instance may grow to, in bytes.
    pub max_memory_bytes: usize,
}

impl Default for SandboxLimits {
    fn default() -> Self {
        SandboxLimits {
            timeout: Duration::from_secs(10),
            max_memory_bytes: 64 << 20,
        }
    }
}

/// The wasmtime engine and linker shared by every driver.
#[derive(Clone)]
pub struct Runtime {
    engine: Engine,
    linker: std::sync::Arc<Linker<State>>,
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
        pool.total_component_instances(POOL_INSTANCES)
            .total_core_instances(POOL_INSTANCES * 4)
            .total_memories(POOL_INSTANCES * 2)
            .total_tables(POOL_INSTANCES * 4)
            .total_stacks(POOL_INSTANCES)
            .max_memory_size(MAX_MEMORY_LIMIT)
            // Zero the first pages of a reused slot instead of unmapping
            // them: cheaper for small pages counts (measured: 64 KiB beats
            // both 0 and 1 MiB by ~10 µs a call).
            .linear_memory_keep_resident(64 << 10)
            .table_keep_resident(1 << 16);
        let mut config = Config::new();
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        config.epoch_interruption(true);
        config.max_wasm_stack(max_stack_bytes);
        let engine = Engine::new(&config).map_err(|e| Error::Storage(format!("wasmtime: {e:#}")))?;
        let mut linker = Linker::new(&engine);
        let link = |r: wasmtime::Result<()>| r.map_err(|e| Error::Storage(format!("linker: {e:#}")));
        link(wasmtime_wasi::p2::add_to_linker_sync(&mut linker))?;
        link(Driver::add_to_linker::<State, HasSelf<State>>(&mut linker, |s| s))?;

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
            .map_err(|e| Error::Storage(format!("cannot start the epoch thread: {e}")))?;

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
        let bytes = std::fs::read(path).map_err(|e| Error::DriverLoad {
            path: path.to_path_buf(),
            message: format!("cannot read the file: {e}"),
        })?;
        self.load_bytes(&bytes, path)
    }

    /// Compile (or load from the cache) a driver component from its bytes;
    /// `path` names it in errors.
    pub fn load_bytes(&self, wasm: &[u8], path: &Path) -> Result<DriverComponent> {
        let load_err = |message: String| Error::DriverLoad {
            path: path.to_path_buf(),
            message,
        };
        let component = match &self.cache_dir {
            Some(dir) => crate::cache::load(&self.engine, dir, wasm),
            None => Component::new(&self.engine, wasm),
        }
        .map_err(|e| {
            load_err(format!(
                "not a valid WebAssembly component ({e:#}); build drivers with \
                 `cargo build --target wasm32-wasip2`"
            ))
        })?;
        let pre = self.linker.instantiate_pre(&component).map_err(|e| {
            load_err(format!(
                "the component does not fit the manila:driver world: {e:#}"
            ))
        })?;
        let pre = DriverPre::new(pre).map_err(|e| {
            load_err(format!(
                "the component does not export manila:driver/share-driver: {e:#}"
            ))
        })?;
        Ok(DriverComponent {
            pre,
            path: path.to_path_buf(),
        })
    }
}

/// What one driver instance is bound to: its backend, its data, its root.
#[derive(Debug, Clone)]
pub struct Sandbox {
    /// The backend name, for logs and errors.
    pub backend: String,
    /// The backend's private data, bound to its host.
    pub private_data: PrivateData,
    /// The directory the driver sees as `/`.
    pub root: PathBuf,
    /// The driver options passed to `setup`.
    pub options: Vec<(String, String)>,
    /// Resource limits.
    pub limits: SandboxLimits,
}

/// The state of one instance's store.
#[allow(missing_debug_implementations, reason = "WasiCtx has no Debug")]
pub struct State {
    pub(crate) backend: String,
    pub(crate) private_data: PrivateData,
    wasi: WasiCtx,
    table: ResourceTable,
    limits: StoreLimits,
}

impl WasiView for State {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// A compiled driver, ready to be instantiated cheaply per operation.
#[derive(Clone)]
pub struct DriverComponent {
    pre: DriverPre<State>,
    path: PathBuf,
}

impl std::fmt::Debug for DriverComponent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DriverComponent")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// The result of a driver's export: the wasmtime layer (traps) around the
/// driver's own typed result.
type Call<R> = wasmtime::Result<std::result::Result<R, WitDriverError>>;

impl DriverComponent {
    /// The file this driver was loaded from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Instantiate the driver in `sandbox`, call `setup` with its options and
    /// then `op`. The instance is discarded afterwards, so a trap never
    /// leaves state behind.
    pub fn call<R>(
        &self,
        sandbox: &Sandbox,
        operation: &'static str,
        op: impl FnOnce(&mut Store<State>, &Driver) -> Call<R>,
    ) -> Result<R> {
        let mut instance = self.instantiate(sandbox)?;
        let result = instance.setup().and_then(|()| instance.call(operation, op));
        instance.finish();
        result
    }

    /// A fresh instance of the driver in `sandbox`, before `setup`: a new
    /// store with the backend's limits and a WASI context that sees only the
    /// backend's root.
    pub fn instantiate(&self, sandbox: &Sandbox) -> Result<DriverInstance> {
        let stdout = MemoryOutputPipe::new(OUTPUT_CAPACITY);
        let stderr = MemoryOutputPipe::new(OUTPUT_CAPACITY);
        let mut wasi = WasiCtxBuilder::new();
        wasi.stdout(stdout.clone()).stderr(stderr.clone());
        wasi.preopened_dir(&sandbox.root, "/", FsPerms::ReadWrite)
            .map_err(|e| Error::DriverLoad {
                path: sandbox.root.clone(),
                message: format!(
                    "cannot open the root directory of backend `{}`: {e:#}; create it or fix \
                     `root` in the configuration",
                    sandbox.backend
                ),
            })?;
        let state = State {
            backend: sandbox.backend.clone(),
            private_data: sandbox.private_data.clone(),
            wasi: wasi.build(),
            table: ResourceTable::new(),
            limits: StoreLimitsBuilder::new()
                .memory_size(sandbox.limits.max_memory_bytes)
                .instances(8)
                .build(),
        };
        let mut store = Store::new(self.pre.engine(), state);
        store.limiter(|s| &mut s.limits);
        // The epoch may advance just after this; one tick more guarantees
        // the driver at least its whole limit.
        let ticks = sandbox
            .limits
            .timeout
            .as_millis()
            .div_ceil(EPOCH_TICK.as_millis()) as u64
            + 1;
        store.set_epoch_deadline(ticks);
        store.epoch_deadline_trap();
        let mut instance = DriverInstance {
            driver: None,
            store,
            stdout,
            stderr,
            sandbox: sandbox.clone(),
        };
        match self.pre.instantiate(&mut instance.store) {
            Ok(driver) => {
                instance.driver = Some(driver);
                Ok(instance)
            }
            Err(trap) => Err(instance.trap("instantiate", trap)),
        }
    }
}

/// One live instance of a driver, bound to its sandbox. Dropping it frees
/// the instance; its output goes to the host log.
pub struct DriverInstance {
    driver: Option<Driver>,
    store: Store<State>,
    stdout: MemoryOutputPipe,
    stderr: MemoryOutputPipe,
    sandbox: Sandbox,
}

impl std::fmt::Debug for DriverInstance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DriverInstance")
            .field("backend", &self.sandbox.backend)
            .finish_non_exhaustive()
    }
}

impl DriverInstance {
    /// Call the driver's `setup` with the backend's options.
    pub fn setup(&mut self) -> Result<()> {
        let options = std::mem::take(&mut self.sandbox.options);
        let result = self.call("setup", |store, driver| {
            driver.manila_driver_share_driver().call_setup(store, &options)
        });
        self.sandbox.options = options;
        result
    }

    /// Call one export of the driver; `operation` names it in errors.
    pub fn call<R>(
        &mut self,
        operation: &'static str,
        op: impl FnOnce(&mut Store<State>, &Driver) -> Call<R>,
    ) -> Result<R> {
        let Some(driver) = &self.driver else {
            return Err(self.trap(operation, wasmtime::format_err!("the instance trapped before")));
        };
        match op(&mut self.store, driver) {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => Err(Error::Driver {
                backend: self.sandbox.backend.clone(),
                operation,
                error: error.into(),
            }),
            Err(trap) => {
                // A trapped instance must not be entered again.
                self.driver = None;
                Err(self.trap(operation, trap))
            }
        }
    }

    /// Free the instance now, logging what the driver printed.
    pub fn finish(self) {}

    fn trap(&self, operation: &'static str, trap: wasmtime::Error) -> Error {
        Error::DriverTrap {
            backend: self.sandbox.backend.clone(),
            operation,
            message: describe_trap(&trap, &self.sandbox.limits, &self.stderr),
        }
    }
}

impl Drop for DriverInstance {
    fn drop(&mut self) {
        log_output(&self.sandbox.backend, "stdout", &self.stdout);
        log_output(&self.sandbox.backend, "stderr", &self.stderr);
    }
}

fn log_output(backend: &str, stream: &str, pipe: &MemoryOutputPipe) {
    let bytes = pipe.contents();
    for line in String::from_utf8_lossy(&bytes).lines() {
        tracing::info!(target: "privdata::driver", backend, stream, "{line}");
    }
}

/// Say what happened in words an operator can act on; a panic's message
/// is on the driver's stderr, so the last line of it is included.
fn describe_trap(err: &wasmtime::Error, limits: &SandboxLimits, stderr: &MemoryOutputPipe) -> String {
    let what = match err.downcast_ref::<Trap>() {
        Some(Trap::Interrupt) => format!(
            "timed out: the operation ran longer than its limit of {:?}",
            limits.timeout
        ),
        Some(Trap::StackOverflow) => "stack overflow: the driver recursed too deeply".to_string(),
        Some(Trap::UnreachableCodeReached) => "the driver aborted (panic or out of memory)".into(),
        Some(trap) => format!("trap: {trap}"),
        None => format!("{err:#}"),
    };
    let stderr = stderr.contents();
    let stderr = String::from_utf8_lossy(&stderr);
    let mut last: Vec<&str> = stderr
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("note: run with `RUST_BACKTRACE"))
        .rev()
        .take(2)
        .collect();
    last.reverse();
    if last.is_empty() {
        what
    } else {
        format!("{what}; driver's last words: {}", last.join(" "))
    }
}

impl From<WitDriverError> for DriverError {
    fn from(e: WitDriverError) -> Self {
        match e {
            WitDriverError::NotFound(m) => DriverError::NotFound(m),
            WitDriverError::Invalid(m) => DriverError::Invalid(m),
            WitDriverError::Backend(m) => DriverError::Backend(m),
            WitDriverError::PrivateData(m) => DriverError::PrivateData(m),
        }
    }
}
