//! Host for sandboxed OpenStack Manila share drivers, with private data:
//! the configuration ([`Config`]), the backends it describes started over
//! one store ([`Manager`]), and what operators run against a store
//! ([`ops`]). The store and the runtime are crates of their own,
//! re-exported here: [`store`] and [`runtime`].
//!
//! Drivers are WebAssembly components (the `manila:driver` world in `wit/`).
//! Each backend's driver runs in its own sandbox, bound to its backend host:
//! the private data it reads and writes is that host's alone, and the only
//! files it sees are its backend's root directory.
//!
//! ```no_run
//! use privdata_host::{Manager, Share};
//!
//! # fn main() -> Result<(), privdata_host::Error> {
//! let manager = Manager::from_config_file("privdata.toml".as_ref())?;
//! let alpha = manager.backend("alpha")?;
//! // A share instance as Manila hands it over: id, size in GiB, protocol.
//! let share = Share::new("3f2a6c1e-8d4b-4e0a-9c71-5b2f0e9d4a17", 10, "NFS");
//! let update = alpha.create_share(&share)?;
//! println!("mount {}", update.exports()[0].path);
//! // What the driver keeps about the share, as an operator may inspect it:
//! for (key, value) in alpha.private_data().get(&share.id, None)? {
//!     println!("{key} = {value}");
//! }
//! # Ok(())
//! # }
//! ```
#![deny(missing_docs)]

pub mod config;
pub mod limits;
pub mod manager;
pub mod ops;

pub use privdata_runtime as runtime;
pub use privdata_store as store;

pub use config::{Config, HostLimits};
pub use limits::{LIMITS, Limit, Limits};
pub use manager::Manager;
pub use privdata_runtime::{
    AccessLevel, AccessRule, AccessType, Backend, BackendStats, DriverComponent, DriverInstance, Endpoint,
    ExportLocation, Exposition, Metrics, Network, NetworkLimits, Pool, PoolStats, Properties, RuleResult,
    RuleState, Runtime, Sandbox, SandboxLimits, Share, ShareUpdate, ShareUsage, Snapshot, SnapshotUpdate,
};
pub use privdata_store::error::{self, DriverError, Error, Result};
pub use privdata_store::{Admin, DataLimits, PrivateData, Storage, validate};
