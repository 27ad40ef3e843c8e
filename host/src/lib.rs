//! Host for sandboxed OpenStack Manila share drivers, with private data.
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
//! let share = Share {
//!     id: "3f2a6c1e-8d4b-4e0a-9c71-5b2f0e9d4a17".into(),
//!     name: "projects".into(),
//!     size_gib: 10,
//!     protocol: "NFS".into(),
//! };
//! let exports = alpha.create_share(&share)?;
//! println!("mount {}", exports[0].path);
//! // What the driver keeps about the share, as an operator may inspect it:
//! for (key, value) in alpha.private_data().get(&share.id, None)? {
//!     println!("{key} = {value}");
//! }
//! # Ok(())
//! # }
//! ```
#![deny(missing_docs)]

mod bindings;
mod cache;
pub mod config;
mod contract;
mod data;
pub mod error;
pub mod manager;
pub mod network;
mod private_data;
pub mod runtime;
mod sandbox;
pub mod store;
mod tls;
pub mod tools;
pub mod validate;

pub use bindings::{
    AccessLevel, AccessRule, AccessType, BackendStats, ExportLocation, Pool, RuleResult, RuleState, Share,
    Snapshot,
};
pub use config::{Config, HostLimits};
pub use data::{DataLimits, PrivateData};
pub use error::{DriverError, Error, Result};
pub use manager::{Backend, Manager};
pub use network::{Endpoint, Network, NetworkLimits};
pub use runtime::Runtime;
pub use sandbox::{DriverComponent, DriverInstance, Sandbox, SandboxLimits};
pub use store::Storage;
