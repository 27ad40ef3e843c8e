//! Write OpenStack Manila share drivers as WebAssembly components.
//!
//! A driver implements [`Driver`], exports it with [`export_driver!`], and
//! keeps what it knows about each share or snapshot in [`PrivateStorage`]:
//! data that tenants never see and that no other backend can reach. The host
//! binds every driver instance to its backend, so there is no host argument
//! anywhere.
//!
//! ```no_run
//! use manila_driver_sdk::{Driver, DriverError, ExportLocation, Options, PrivateStorage, Share, ShareUpdate};
//!
//! struct Mine {
//!     private_storage: PrivateStorage,
//! }
//!
//! impl Driver for Mine {
//!     fn setup(_options: Options) -> Result<Self, DriverError> {
//!         Ok(Mine { private_storage: PrivateStorage })
//!     }
//!
//!     fn create_share(&self, share: &Share) -> Result<ShareUpdate, DriverError> {
//!         let volume = format!("vol-{}", manila_driver_sdk::random_hex(12));
//!         // ... create `volume` on the backend, then remember it:
//!         self.private_storage.update(&share.id, [("volume_id", &volume)])?;
//!         Ok(ShareUpdate::exported(vec![ExportLocation::new(format!("nas:/{volume}"))]))
//!     }
//!
//!     fn delete_share(&self, share: &Share) -> Result<(), DriverError> {
//!         if let Some(volume) = self.private_storage.get(&share.id, "volume_id")? {
//!             // ... delete `volume` on the backend ...
//!             # let _ = volume;
//!         }
//!         self.private_storage.delete_all(&share.id)?;
//!         Ok(())
//!     }
//! }
//!
//! manila_driver_sdk::export_driver!(Mine);
//! ```
#![deny(missing_docs)]

extern crate self as manila_driver_sdk;

mod driver;
#[cfg(feature = "http")]
pub mod http;
mod private_storage;

pub use driver::{__get, AccessChanges, Driver, Options, manage_target};
pub use private_storage::PrivateStorage;
pub use wit_bindgen;

/// The generated bindings; drivers use the re-exports instead.
#[doc(hidden)]
#[allow(missing_docs, unsafe_code, missing_debug_implementations)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../wit",
        world: "driver-core",
        runtime_path: "::manila_driver_sdk::wit_bindgen::rt",
        default_bindings_module: "::manila_driver_sdk::bindings",
        pub_export_macro: true,
        export_macro_name: "__export_driver_world",
    });
}

pub use bindings::exports::manila::driver::share_driver::{
    AccessLevel, AccessRule, AccessType, BackendStats, DriverError, ExportLocation, Pool, RuleResult,
    RuleState, Share, ShareUpdate, ShareUsage, Snapshot, SnapshotUpdate,
};
pub use bindings::manila::driver::private_data::Error as PrivateDataError;

impl ExportLocation {
    /// An export location clients see and need not prefer, with no
    /// metadata.
    pub fn new(path: impl Into<String>) -> Self {
        ExportLocation {
            path: path.into(),
            is_admin_only: false,
            preferred: false,
            metadata: Vec::new(),
        }
    }

    /// Seen by administrators only.
    pub fn admin_only(self) -> Self {
        ExportLocation {
            is_admin_only: true,
            ..self
        }
    }

    /// The one clients should prefer.
    pub fn preferred(self) -> Self {
        ExportLocation {
            preferred: true,
            ..self
        }
    }
}

/// Nothing to change: Manila keeps what it has.
impl Default for ShareUpdate {
    fn default() -> Self {
        ShareUpdate {
            export_locations: None,
            size_gib: None,
            provider_location: None,
            status: None,
            metadata: Vec::new(),
            reapply_access_rules: false,
        }
    }
}

impl ShareUpdate {
    /// The share is exported at `export_locations`.
    pub fn exported(export_locations: Vec<ExportLocation>) -> Self {
        ShareUpdate {
            export_locations: Some(export_locations),
            ..ShareUpdate::default()
        }
    }

    /// The share's status is now `status`.
    pub fn status(status: &str) -> Self {
        ShareUpdate {
            status: Some(status.to_string()),
            ..ShareUpdate::default()
        }
    }
}

/// Nothing to change: Manila keeps what it has.
impl Default for SnapshotUpdate {
    fn default() -> Self {
        SnapshotUpdate {
            provider_location: None,
            size_gib: None,
            export_locations: None,
            status: None,
        }
    }
}

/// A failed private-data call fails the operation with
/// [`DriverError::PrivateData`], so `?` works inside driver methods.
impl From<PrivateDataError> for DriverError {
    fn from(e: PrivateDataError) -> Self {
        let (kind, message) = match e {
            PrivateDataError::InvalidEntityId(m) => ("invalid entity id", m),
            PrivateDataError::InvalidKey(m) => ("invalid key", m),
            PrivateDataError::ValueTooLong(m) => ("value too long", m),
            PrivateDataError::QuotaExceeded(m) => ("quota exceeded", m),
            PrivateDataError::StorageUnavailable(m) => ("storage unavailable", m),
        };
        DriverError::PrivateData(format!("{kind}: {message}"))
    }
}

/// A backend failure (an `io::Error` from the driver's root directory)
/// becomes [`DriverError::Backend`].
impl From<std::io::Error> for DriverError {
    fn from(e: std::io::Error) -> Self {
        DriverError::Backend(e.to_string())
    }
}

/// `len` random lower-case hex digits, from the host's secure random source:
/// for names of backend objects a driver creates.
pub fn random_hex(len: usize) -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut out = String::with_capacity(len + 16);
    while out.len() < len {
        // std seeds RandomState from wasi:random; each one is fresh.
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_usize(out.len());
        out.push_str(&format!("{:016x}", h.finish()));
    }
    out.truncate(len);
    out
}
