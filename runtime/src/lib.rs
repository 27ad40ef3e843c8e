//! Running sandboxed Manila share drivers: one wasmtime engine for every
//! driver ([`Runtime`]), its instances in their backend's [`Sandbox`] (its
//! root directory, its limits, its network allow-list, its host's private
//! data), kept alive across operations as Manila keeps its drivers, and the
//! contract's operations on a [`Backend`].
#![deny(missing_docs)]

mod backend;
mod bindings;
mod cache;
mod contract;
mod engine;
mod metrics;
pub mod network;
mod output;
mod pool;
mod private_data;
mod records;
mod sandbox;

use privdata_store::error;

pub use backend::Backend;
pub use bindings::{
    AccessLevel, AccessRule, AccessType, BackendStats, ExportLocation, Pool, Properties, RuleResult,
    RuleState, Share, ShareUpdate, ShareUsage, Snapshot, SnapshotUpdate,
};
pub use engine::{DEFAULT_MAX_STACK, MAX_MEMORY_LIMIT, Runtime, sha256_hex};
pub use metrics::Metrics;
pub use metrics::exposition::{Exposition, exposition};
pub use network::{Endpoint, Network, NetworkLimits};
pub use pool::PoolStats;
pub use sandbox::{
    DEFAULT_MAX_INSTANCES, DEFAULT_MAX_RESOURCES, DriverComponent, DriverInstance, Sandbox, SandboxLimits,
};
