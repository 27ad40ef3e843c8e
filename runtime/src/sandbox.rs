//! The sandbox of one driver instance: a store of its own, with the
//! backend's limits (each operation's time and network limits start afresh;
//! its memory limit holds for the instance's life), a WASI context that sees
//! only the backend's root, and the private data of the backend's host.

use crate::bindings::WitDriverError;
use crate::contract::{Call, Driver, DriverPre};
use crate::error::{DriverError, Error, Result};
use crate::metrics::{Metrics, Outcome, Refusal};
use crate::network::OverLimit;
use crate::network::{Network, NetworkView, Outbound};
use crate::output::{LogPipe, describe_trap};
use crate::private_data::{HasPrivateData, PrivateDataView};
use privdata_store::PrivateData;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use wasmtime::component::{Linker, ResourceTable};
use wasmtime::{Store, StoreLimits, StoreLimitsBuilder};
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
    /// Instances of the driver a backend keeps alive, each serving one
    /// operation at a time: how many of its operations run at once.
    pub max_instances: usize,
}

impl Default for SandboxLimits {
    fn default() -> Self {
        SandboxLimits {
            timeout: Duration::from_secs(10),
            max_memory_bytes: 64 << 20,
            max_resources: DEFAULT_MAX_RESOURCES,
            max_instances: DEFAULT_MAX_INSTANCES,
        }
    }
}

/// The default of [`SandboxLimits::max_instances`].
pub const DEFAULT_MAX_INSTANCES: usize = 2;

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
    /// The backend's section of manila.conf, passed to `setup` (empty when
    /// Manila does not run the backend).
    pub manila_conf: Vec<(String, String)>,
    /// Resource limits.
    pub limits: SandboxLimits,
    /// What the driver may reach on the network (by default, nothing).
    pub network: Network,
    /// The backend's counters, shared by its instances.
    pub metrics: Metrics,
}

/// The linker every driver is instantiated with: WASI (the sandbox's part
/// of it), `wasi:http`, the network calls the host bounds, and every
/// contract's `private-data`.
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
    crate::bindings::v0_2::Driver::add_to_linker::<State, HasPrivateData>(&mut linker, State::private_data)?;
    crate::bindings::v0_1::Driver::add_to_linker::<State, HasPrivateData>(&mut linker, State::private_data)?;
    Ok(linker)
}

/// The state of one instance's store.
#[allow(missing_debug_implementations, reason = "WasiCtx has no Debug")]
pub(crate) struct State {
    backend: String,
    private_data: PrivateData,
    metrics: Metrics,
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
            metrics: &self.metrics,
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

/// A compiled driver, ready to be instantiated cheaply.
#[derive(Clone)]
pub struct DriverComponent {
    pre: DriverPre<State>,
    path: PathBuf,
    sha256: String,
}

impl std::fmt::Debug for DriverComponent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DriverComponent")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl DriverComponent {
    pub(crate) fn new(pre: DriverPre<State>, path: &Path, sha256: String) -> Self {
        DriverComponent {
            pre,
            path: path.to_path_buf(),
            sha256,
        }
    }

    /// The file this driver was loaded from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The SHA-256 of the component's bytes as loaded, in lowercase hex:
    /// what an operator pins (`driver_sha256`).
    pub fn sha256(&self) -> &str {
        &self.sha256
    }

    /// The contract version the driver was built against: `0.2`, or `0.1`
    /// for drivers the host runs unchanged (what 0.2 added answers
    /// [`DriverError::Unsupported`] for them).
    pub fn contract(&self) -> &'static str {
        self.pre.contract()
    }

    /// A fresh instance of the driver in `sandbox`, before `setup`: a new
    /// store with the backend's limits and a WASI context that sees only the
    /// backend's root.
    pub fn instantiate(&self, sandbox: &Sandbox) -> Result<DriverInstance> {
        let (stdout, stderr) = (LogPipe::default(), LogPipe::default());
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
            metrics: sandbox.metrics.clone(),
            keep_alive: Default::default(),
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
                        let endpoint = format!("tcp://{addr}");
                        if listed {
                            tcp.metrics.request(&endpoint);
                        } else {
                            tcp.metrics.refused(&endpoint, Refusal::NotListed);
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
            metrics: sandbox.metrics.clone(),
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
        store.epoch_deadline_trap();
        let mut instance = DriverInstance {
            driver: None,
            store,
            stdout,
            stderr,
            sandbox: sandbox.clone(),
        };
        instance.start_operation();
        match self.pre.instantiate(&mut instance.store) {
            Ok(driver) => {
                instance.driver = Some(driver);
                Ok(instance)
            }
            Err(trap) => {
                let outcome = trap_outcome(&trap);
                let error = instance.trap("instantiate", trap);
                let took = sandbox.limits.timeout.saturating_sub(
                    instance
                        .store
                        .data()
                        .outbound
                        .deadline
                        .saturating_duration_since(Instant::now()),
                );
                sandbox.metrics.operation("instantiate", outcome, took);
                Err(error)
            }
        }
    }
}

/// One live instance of a driver, bound to its sandbox. Dropping it frees
/// the instance; its output goes to the host log.
pub struct DriverInstance {
    driver: Option<Driver>,
    store: Store<State>,
    stdout: LogPipe,
    stderr: LogPipe,
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
        let manila_conf = std::mem::take(&mut self.sandbox.manila_conf);
        let result = self.call("setup", |store, driver| {
            driver.setup(store, &options, &manila_conf)
        });
        self.sandbox.options = options;
        self.sandbox.manila_conf = manila_conf;
        result
    }

    /// Call one export of the driver; `operation` names it in errors.
    pub(crate) fn call<R>(
        &mut self,
        operation: &'static str,
        op: impl FnOnce(&mut Store<State>, &Driver) -> Call<R>,
    ) -> Result<R> {
        if self.driver.is_none() {
            return Err(self.trap(operation, wasmtime::format_err!("the instance trapped before")));
        }
        self.start_operation();
        let Some(driver) = &self.driver else {
            unreachable!("checked above")
        };
        let started = Instant::now();
        let answer = op(&mut self.store, driver);
        let took = started.elapsed();
        if answer.is_ok() {
            self.log_output();
        }
        self.count_network_overrun();
        let (result, outcome) = match answer {
            Ok(Ok(value)) => (Ok(value), Outcome::Ok),
            Ok(Err(error)) => {
                let error: DriverError = error.into();
                let outcome = Outcome::Driver(error.kind());
                let error = Error::Driver {
                    backend: self.sandbox.backend.clone(),
                    operation,
                    error,
                };
                (Err(error), outcome)
            }
            Err(trap) => {
                // A trapped instance must not be entered again.
                self.driver = None;
                let outcome = trap_outcome(&trap);
                let error = self.trap(operation, trap);
                self.log_output();
                // The reason (a time limit, a host limit, the driver's last
                // words) in the host's log too: the caller may log only that
                // the operation failed.
                tracing::warn!(backend = %self.sandbox.backend, "{error}");
                (Err(error), outcome)
            }
        };
        self.sandbox.metrics.operation(operation, outcome, took);
        result
    }

    /// An operation that went past its network byte limit was refused
    /// there (once, however many of its reads and writes were).
    fn count_network_overrun(&self) {
        let outbound = &self.store.data().outbound;
        if outbound.usage.over_bytes(&outbound.network.limits) {
            self.sandbox.metrics.refused("", Refusal::MaxNetworkBytes);
        }
    }

    /// Free the instance now, logging what the driver printed.
    pub fn finish(self) {}

    /// Whether the instance may be called again: it has not trapped.
    pub fn is_usable(&self) -> bool {
        self.driver.is_some()
    }

    /// Write what the driver printed to the host log.
    fn log_output(&self) {
        self.stdout.log(&self.sandbox.backend, "stdout");
        self.stderr.log(&self.sandbox.backend, "stderr");
    }

    /// A new operation: its own time limit from now, and its own network
    /// limits.
    fn start_operation(&mut self) {
        let limits = self.sandbox.limits;
        let outbound = &mut self.store.data_mut().outbound;
        outbound.deadline = Instant::now() + limits.timeout;
        outbound.usage = Arc::default();
        // The epoch may advance just after this; one tick more guarantees
        // the driver at least its whole limit.
        let ticks = limits.timeout.as_millis().div_ceil(EPOCH_TICK.as_millis()) as u64 + 1;
        self.store.set_epoch_deadline(ticks);
    }

    fn trap(&self, operation: &'static str, trap: wasmtime::Error) -> Error {
        Error::DriverTrap {
            backend: self.sandbox.backend.clone(),
            operation,
            message: describe_trap(&trap, &self.sandbox.limits, &self.stderr),
        }
    }
}

/// How a trap ended an operation: its time limit, a limit of the host's
/// (resources, network bytes), or the driver itself.
fn trap_outcome(trap: &wasmtime::Error) -> Outcome {
    use wasmtime::component::ResourceTableError;
    if matches!(
        trap.downcast_ref::<wasmtime::Trap>(),
        Some(wasmtime::Trap::Interrupt)
    ) {
        return Outcome::Timeout;
    }
    let by_limit = trap.chain().any(|e| {
        e.is::<OverLimit>()
            || matches!(
                e.downcast_ref::<ResourceTableError>(),
                Some(ResourceTableError::Full)
            )
    });
    if by_limit { Outcome::Limit } else { Outcome::Trap }
}

impl Drop for DriverInstance {
    fn drop(&mut self) {
        self.log_output();
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
