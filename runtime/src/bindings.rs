//! The one place the contract becomes Rust types for the host: the current
//! contract in `wit/`, and contract 0.1 (`runtime/wit-0.1/`), kept so that
//! drivers built against it keep running.

wasmtime::component::bindgen!({
    path: "../wit",
    world: "driver-core",
    additional_derives: [PartialEq, Eq, serde::Serialize],
});

pub use exports::manila::driver::share_driver::{
    AccessLevel, AccessRule, AccessType, BackendStats, DriverError as WitDriverError, ExportLocation, Pool,
    RuleResult, RuleState, Share, Snapshot,
};
pub use manila::driver::private_data;
/// The contract's world is `driver-core`: a driver's own imports and exports
/// (world `driver` adds the WASI interfaces, which the linker provides).
pub use {DriverCore as Driver, DriverCorePre as DriverPre};

/// Contract 0.1 (0.1.0 and 0.1.1): the eight share operations, the same
/// records, and `private-data` under its 0.1 name.
pub mod v0_1 {
    wasmtime::component::bindgen!({
        path: "wit-0.1",
        world: "driver",
    });

    pub use exports::manila::driver::share_driver::{DriverError, ExportLocation, Share, Snapshot};
    pub use manila::driver::private_data;
}
