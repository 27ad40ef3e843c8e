//! The sandbox of one driver operation: a fresh instance in a store of its
//! own, with the backend's limits, a WASI context that sees only the
//! backend's root, and the private data of the backend's host.

use crate::bindings::WitDriverError;
use crate::contract::{Call, Driver, DriverPre};
use crate::error::{DriverError, Error, Result};
use crate::network::{Network, NetworkView, Outbound};
use crate::private_data::{HasPrivateData, PrivateDataView};
use privdata_store::PrivateData;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use wasmtime::component::{Linker, ResourceTable, ResourceTableError};
use wasmtime::{Store, StoreLimits, StoreLimitsBuilder, Trap};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::sockets::SocketAddrUse;
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

/// How often the engine's epoch advances (the runtime's thread ticks it);
/// CPU limits are counted in these.
pub(crate) const EPOCH_TICK: Duration = Duration::from_millis(10);
/// How many core wasm instances one driver component may hold: a Rust
/// driver has a few, a Python one (componentize-py: the interpreter, libc
/// and their adapters) about a dozen.
const MAX_CORE_INSTANCES: usize = 32;
/// How much a driver may print per operation before its output is cut.
const OUTPUT_CAPACITY: usize = 64 * 1024;
/// The largest header fields resource (names, values, and the map's own
/// bookkeeping) a driver may make; what it puts in counts against its
/// network bytes too.
const FIELD_SIZE_LIMIT: usize = 64 * 1024;

/// Per-backend limits on what a driver instance may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SandboxLimits {
    /// Wall-clock time one operation may take, waits on the network and
    /// the private-data calls it makes included.
    pub timeout: Duration,
    /// Linear memory one instance may grow to, in bytes.
    pub max_memory_bytes: usize,
    /// Host resources one instance may hold at once: open files and
    /// directories, streams, pollables, sockets, HTTP requests, responses,
    /// bodies and header fields.
    pub max_resources: usize,
}

impl Default for SandboxLimits {
    fn default() -> Self {
        SandboxLimits {
            timeout: Duration::from_secs(10),
            max_memory_bytes: 64 << 20,
            max_resources: DEFAULT_MAX_RESOURCES,
        }
    }
}

/// The default of [`SandboxLimits::max_resources`].
pub const DEFAULT_MAX_RESOURCES: usize = 256;

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
    /// What the driver may reach on the network (by default, nothing).
    pub network: Network,
}

/// The linker every driver is instantiated with: WASI (the sandbox's part
/// of it), `wasi:http`, the network calls the host bounds, and both
/// contracts' `private-data`.
pub(crate) type DriverLinker = Linker<State>;

/// A linker for `engine` with everything a driver may import.
pub(crate) fn linker(engine: &wasmtime::Engine) -> wasmtime::Result<DriverLinker> {
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_sync(&mut linker)?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_sync(&mut linker)?;
    crate::network::wait::add_to_linker(&mut linker)?;
    crate::network::tcp::add_to_linker(&mut linker)?;
    crate::network::add_handover_to_linker(&mut linker)?;
    crate::bindings::Driver::add_to_linker::<State, HasPrivateData>(&mut linker, State::private_data)?;
    crate::bindings::v0_1::Driver::add_to_linker::<State, HasPrivateData>(&mut linker, State::private_data)?;
    Ok(linker)
}

/// The state of one instance's store.
#[allow(missing_debug_implementations, reason = "WasiCtx has no Debug")]
pub(crate) struct State {
    backend: String,
    private_data: PrivateData,
    wasi: WasiCtx,
    http: WasiHttpCtx,
    outbound: Outbound,
    table: ResourceTable,
    limits: StoreLimits,
}

impl State {
    /// What the instance's `private-data` import reaches.
    fn private_data(&mut self) -> PrivateDataView<'_> {
        PrivateDataView {
            backend: &self.backend,
            data: &self.private_data,
        }
    }
}

impl NetworkView for State {
    fn outbound(&self) -> &Outbound {
        &self.outbound
    }

    fn table(&mut self) -> &mut ResourceTable {
        &mut self.table
    }
}

impl WasiHttpView for State {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.outbound,
        }
    }
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

impl DriverComponent {
    pub(crate) fn new(pre: DriverPre<State>, path: &Path) -> Self {
        DriverComponent {
            pre,
            path: path.to_path_buf(),
        }
    }

    /// The file this driver was loaded from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The contract version the driver was built against: `0.2`, or `0.1`
    /// for drivers the host runs unchanged (what 0.2 added answers
    /// [`DriverError::Unsupported`] for them).
    pub fn contract(&self) -> &'static str {
        self.pre.contract()
    }

    /// Instantiate the driver in `sandbox`, call `setup` with its options and
    /// then `op`. The instance is discarded afterwards, so a trap never
    /// leaves state behind.
    pub(crate) fn call<R>(
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
            .map_err(|e| Error::Root {
                backend: sandbox.backend.clone(),
                path: sandbox.root.clone(),
                message: format!("{e:#}; create it or fix `root` in the configuration"),
            })?;
        let outbound = Outbound {
            backend: sandbox.backend.clone(),
            network: sandbox.network.clone(),
            deadline: Instant::now() + sandbox.limits.timeout,
            timeout: sandbox.limits.timeout,
            usage: Arc::default(),
        };
        // Raw TCP only to the listed tcp:// endpoints (and the implicit
        // bind a connect makes); no UDP, no name lookups.
        wasi.allow_udp(false).allow_ip_name_lookup(false);
        if sandbox.network.has_tcp() {
            let tcp = outbound.clone();
            wasi.allow_tcp(true).socket_addr_check(move |addr, usage| {
                let allowed = match usage {
                    SocketAddrUse::TcpConnect => {
                        let listed = tcp.network.allows_tcp(addr);
                        if !listed {
                            tracing::warn!(
                                target: "privdata::network",
                                "backend `{}`: tcp://{addr} is not an endpoint this backend may reach ({})",
                                tcp.backend,
                                tcp.network.describe()
                            );
                        }
                        // The socket counted against max_connections when
                        // it was made (network/tcp.rs).
                        listed
                    }
                    SocketAddrUse::TcpBind => addr.ip().is_unspecified() && addr.port() == 0,
                    _ => false,
                };
                Box::pin(async move { allowed })
            });
        } else {
            wasi.allow_tcp(false);
        }
        let mut table = ResourceTable::new();
        table.set_max_capacity(sandbox.limits.max_resources);
        let mut http = WasiHttpCtx::new();
        http.set_field_size_limit(FIELD_SIZE_LIMIT);
        let state = State {
            backend: sandbox.backend.clone(),
            private_data: sandbox.private_data.clone(),
            wasi: wasi.build(),
            http,
            outbound,
            table,
            limits: StoreLimitsBuilder::new()
                .memory_size(sandbox.limits.max_memory_bytes)
                .instances(MAX_CORE_INSTANCES)
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
        let result = self.call("setup", |store, driver| driver.setup(store, &options));
        self.sandbox.options = options;
        result
    }

    /// Call one export of the driver; `operation` names it in errors.
    pub(crate) fn call<R>(
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

/// Lines a language runtime adds around the driver's own last words: Rust's
/// backtrace hint, and componentize-py's panic after a Python exception
/// (whose traceback, printed before, is what says what went wrong).
fn is_runtime_noise(line: &str) -> bool {
    line.starts_with("note: run with `RUST_BACKTRACE")
        || line == "Python function threw an unexpected exception"
        || (line.starts_with("thread '") && line.contains("runtime/src/lib.rs"))
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
        None if err.chain().any(|e| {
            matches!(
                e.downcast_ref::<ResourceTableError>(),
                Some(ResourceTableError::Full)
            )
        }) =>
        {
            format!(
                "the driver holds more host resources (files, streams, sockets, HTTP requests, \
                 fields, ...) than its limit of {} (limits.max_resources)",
                limits.max_resources
            )
        }
        // The host's own reason, without the wasm backtrace around it.
        None => err.root_cause().to_string(),
    };
    let stderr = stderr.contents();
    let stderr = String::from_utf8_lossy(&stderr);
    let mut last: Vec<&str> = stderr
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !is_runtime_noise(l))
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
            WitDriverError::Unsupported(m) => DriverError::Unsupported(m),
        }
    }
}
