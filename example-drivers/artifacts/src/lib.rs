//! The example drivers (and, with the `test-drivers` feature, the test
//! drivers) as WebAssembly components, built from source by this crate's
//! build script (nothing prebuilt is committed).
#![allow(missing_docs)]

include!(concat!(env!("OUT_DIR"), "/drivers.rs"));
