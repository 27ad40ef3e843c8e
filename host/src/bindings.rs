//! The one place the contract in `wit/` becomes Rust types for the host.

wasmtime::component::bindgen!({
    path: "../wit",
    world: "driver",
    additional_derives: [PartialEq, Eq, serde::Serialize],
});

pub use exports::manila::driver::share_driver::{
    DriverError as WitDriverError, ExportLocation, Share, Snapshot,
};
pub use manila::driver::private_data;
