//! The one place the contract becomes Rust types for the host: the current
//! contract in `wit/` (0.3), and contracts 0.2 (`runtime/wit-0.2/`) and 0.1
//! (`runtime/wit-0.1/`), kept so that drivers built against them keep
//! running.

wasmtime::component::bindgen!({
    path: "../wit",
    world: "driver-core",
    additional_derives: [PartialEq, Eq, serde::Serialize, serde::Deserialize],
});

pub use exports::manila::driver::share_driver::{
    AccessLevel, AccessRule, AccessType, BackendStats, DriverError as WitDriverError, ExportLocation, Pool,
    Properties, RuleResult, RuleState, Share, ShareUpdate, ShareUsage, Snapshot, SnapshotUpdate,
};
pub use manila::driver::private_data;
/// The contract's world is `driver-core`: a driver's own imports and exports
/// (world `driver` adds the WASI interfaces, which the linker provides).
pub use {DriverCore as Driver, DriverCorePre as DriverPre};

/// Contract 0.2: the records Manila's share manager passed before 0.3 (a
/// share's display name, size and protocol), and `private-data` under its
/// 0.2 name.
pub mod v0_2 {
    wasmtime::component::bindgen!({
        path: "wit-0.2",
        world: "driver",
    });

    pub use exports::manila::driver::share_driver::{
        AccessLevel, AccessRule, AccessType, DriverError, ExportLocation, RuleState, Share, Snapshot,
    };
    pub use manila::driver::private_data;
}

/// Contract 0.1 (0.1.0 and 0.1.1): the eight share operations, the same
/// records as 0.2, and `private-data` under its 0.1 name.
pub mod v0_1 {
    wasmtime::component::bindgen!({
        path: "wit-0.1",
        world: "driver",
    });

    pub use exports::manila::driver::share_driver::{DriverError, ExportLocation, Share, Snapshot};
    pub use manila::driver::private_data;
}
