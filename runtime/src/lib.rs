//! Running sandboxed Manila share drivers: one wasmtime engine for every
//! driver ([`Runtime`]), each operation in a fresh instance in its backend's
//! [`Sandbox`] (its root directory, its limits, its network allow-list, its
//! host's private data), and the contract's operations on a [`Backend`].
#![deny(missing_docs)]

mod backend;
mod bindings;
mod cache;
mod contract;
mod engine;
pub mod network;
mod private_data;
mod sandbox;

use privdata_store::error;

pub use backend::Backend;
pub use bindings::{
    AccessLevel, AccessRule, AccessType, BackendStats, ExportLocation, Pool, RuleResult, RuleState, Share,
    Snapshot,
};
pub use engine::{DEFAULT_MAX_STACK, MAX_MEMORY_LIMIT, Runtime};
pub use network::{Endpoint, Network, NetworkLimits};
pub use sandbox::{DEFAULT_MAX_RESOURCES, DriverComponent, DriverInstance, Sandbox, SandboxLimits};
