//! The `Driver` trait and the macro that exports it.

use crate::{AccessRule, BackendStats, DriverError, ExportLocation, RuleResult, Share, Snapshot};
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;
use std::str::FromStr;

/// The backend's driver options from the host's configuration.
///
/// Read every option in [`Driver::setup`]: an option the driver never asked
/// for is taken for a misspelling, and setup fails naming it and the
/// options the driver does read.
#[derive(Debug, Clone, Default)]
pub struct Options {
    values: BTreeMap<String, String>,
    /// The keys asked for, shared by every clone: what the driver reads.
    asked: Rc<RefCell<BTreeSet<String>>>,
}

impl Options {
    /// The option `key`, if set.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.asked.borrow_mut().insert(key.to_string());
        self.values.get(key).map(String::as_str)
    }

    /// The option `key` parsed as `T`, or `default` if unset; an option that
    /// does not parse is a [`DriverError::Invalid`] naming it.
    pub fn parse_or<T: FromStr>(&self, key: &str, default: T) -> Result<T, DriverError> {
        match self.get(key) {
            None => Ok(default),
            Some(raw) => raw.parse().map_err(|_| {
                DriverError::Invalid(format!(
                    "option `{key}` = {raw:?} is not {}; fix it in the backend's options",
                    kind_of::<T>()
                ))
            }),
        }
    }

    /// Options set but never asked for, as an error naming them.
    #[doc(hidden)]
    pub fn __unknown(&self) -> Result<(), DriverError> {
        let asked = self.asked.borrow();
        let unknown: Vec<&str> = self
            .values
            .keys()
            .filter(|k| !asked.contains(*k))
            .map(String::as_str)
            .collect();
        if unknown.is_empty() {
            return Ok(());
        }
        let known: Vec<&str> = asked.iter().map(String::as_str).collect();
        Err(DriverError::Invalid(format!(
            "unknown option(s) `{}`: this driver reads {}; fix the spelling in the backend's options",
            unknown.join("`, `"),
            if known.is_empty() {
                "no options".to_string()
            } else {
                format!("`{}`", known.join("`, `"))
            }
        )))
    }
}

/// What a value of `T` is, in words an operator reads.
fn kind_of<T>() -> String {
    let name = std::any::type_name::<T>();
    match name {
        "u8" | "u16" | "u32" | "u64" | "u128" | "usize" => "a whole number of 0 or more".into(),
        "i8" | "i16" | "i32" | "i64" | "i128" | "isize" => "a whole number".into(),
        "f32" | "f64" => "a number".into(),
        "bool" => "true or false".into(),
        other => format!("a valid {}", other.rsplit("::").next().unwrap_or(other)),
    }
}

impl From<Vec<(String, String)>> for Options {
    fn from(pairs: Vec<(String, String)>) -> Self {
        Options {
            values: pairs.into_iter().collect(),
            asked: Rc::default(),
        }
    }
}

/// A share driver. The host creates a fresh instance for every operation
/// and calls [`Driver::setup`] first, so keep no state between calls other
/// than in [`PrivateStorage`](crate::PrivateStorage) and on the backend.
///
/// Operations a driver does not support keep their default, which answers
/// [`DriverError::Unsupported`]; Manila then reports the operation as not
/// implemented by this backend.
pub trait Driver: Sized + Send + Sync + 'static {
    /// Build the driver from its options.
    fn setup(options: Options) -> Result<Self, DriverError>;

    /// Create `share`; returns its export locations.
    fn create_share(&self, share: &Share) -> Result<Vec<ExportLocation>, DriverError>;

    /// Delete `share` and everything kept about it.
    fn delete_share(&self, share: &Share) -> Result<(), DriverError>;

    /// Grow `share` to `new_size_gib`.
    fn extend_share(&self, share: &Share, new_size_gib: u64) -> Result<(), DriverError> {
        let _ = (share, new_size_gib);
        Err(unsupported("extend-share"))
    }

    /// Make sure `share` is exported; returns its export locations.
    fn ensure_share(&self, share: &Share) -> Result<Vec<ExportLocation>, DriverError> {
        let _ = share;
        Err(unsupported("ensure-share"))
    }

    /// Snapshot a share.
    fn create_snapshot(&self, snapshot: &Snapshot) -> Result<(), DriverError> {
        let _ = snapshot;
        Err(unsupported("create-snapshot"))
    }

    /// Delete a snapshot and everything kept about it.
    fn delete_snapshot(&self, snapshot: &Snapshot) -> Result<(), DriverError> {
        let _ = snapshot;
        Err(unsupported("delete-snapshot"))
    }

    /// Adopt the backend object `backend_name` as `share`; returns its size
    /// in GiB and export locations.
    fn manage_existing(
        &self,
        share: &Share,
        backend_name: &str,
    ) -> Result<(u64, Vec<ExportLocation>), DriverError> {
        let _ = (share, backend_name);
        Err(unsupported("manage-existing"))
    }

    /// Forget `share`, leaving its data on the backend.
    fn unmanage(&self, share: &Share) -> Result<(), DriverError> {
        let _ = share;
        Err(unsupported("unmanage"))
    }

    /// Shrink `share` to `new_size_gib`; [`DriverError::Invalid`] if its
    /// data would not fit.
    fn shrink_share(&self, share: &Share, new_size_gib: u64) -> Result<(), DriverError> {
        let _ = (share, new_size_gib);
        Err(unsupported("shrink-share"))
    }

    /// Create `share` holding the data of `snapshot`; returns its export
    /// locations. Keep what you need about the new share in private data, as
    /// [`Driver::create_share`] does.
    fn create_share_from_snapshot(
        &self,
        share: &Share,
        snapshot: &Snapshot,
    ) -> Result<Vec<ExportLocation>, DriverError> {
        let _ = (share, snapshot);
        Err(unsupported("create-share-from-snapshot"))
    }

    /// Put the data of `snapshot` back into the share it was taken of.
    fn revert_to_snapshot(&self, snapshot: &Snapshot) -> Result<(), DriverError> {
        let _ = snapshot;
        Err(unsupported("revert-to-snapshot"))
    }

    /// Bring `share`'s access rules in line. `add_rules` and `delete_rules`
    /// are the change; when both are empty, apply `access_rules` (always the
    /// full list) as a whole. Return the state of each rule of
    /// `access_rules`: a rule the backend cannot apply is
    /// [`RuleState::Error`](crate::RuleState::Error), not a failed call.
    fn update_access(
        &self,
        share: &Share,
        access_rules: &[AccessRule],
        add_rules: &[AccessRule],
        delete_rules: &[AccessRule],
    ) -> Result<Vec<RuleResult>, DriverError> {
        let _ = (share, access_rules, add_rules, delete_rules);
        Err(unsupported("update-access"))
    }

    /// Adopt the backend snapshot `backend_name` as `snapshot`; returns its
    /// size in GiB.
    fn manage_existing_snapshot(&self, snapshot: &Snapshot, backend_name: &str) -> Result<u64, DriverError> {
        let _ = (snapshot, backend_name);
        Err(unsupported("manage-existing-snapshot"))
    }

    /// Forget `snapshot`, leaving it on the backend.
    fn unmanage_snapshot(&self, snapshot: &Snapshot) -> Result<(), DriverError> {
        let _ = snapshot;
        Err(unsupported("unmanage-snapshot"))
    }

    /// The backend's capacity and capabilities, for Manila's scheduler.
    fn get_stats(&self) -> Result<BackendStats, DriverError> {
        Err(unsupported("get-stats"))
    }
}

fn unsupported(op: &str) -> DriverError {
    DriverError::Unsupported(format!("this driver does not support {op}"))
}

#[doc(hidden)]
pub fn __get<T>(cell: &std::sync::OnceLock<T>) -> Result<&T, DriverError> {
    cell.get()
        .ok_or_else(|| DriverError::Invalid("the host called an operation before setup".into()))
}

/// Export a [`Driver`] as this component's `share-driver`.
///
/// ```no_run
/// # use manila_driver_sdk::*;
/// # struct MyDriver;
/// # impl Driver for MyDriver {
/// #     fn setup(_: Options) -> Result<Self, DriverError> { Ok(MyDriver) }
/// #     fn create_share(&self, _: &Share) -> Result<Vec<ExportLocation>, DriverError> { Ok(vec![]) }
/// #     fn delete_share(&self, _: &Share) -> Result<(), DriverError> { Ok(()) }
/// # }
/// manila_driver_sdk::export_driver!(MyDriver);
/// ```
#[macro_export]
macro_rules! export_driver {
    ($driver:ty) => {
        const _: () = {
            use $crate::bindings::exports::manila::driver::share_driver::Guest;
            use $crate::{
                AccessRule, BackendStats, Driver as _, DriverError, ExportLocation, RuleResult, Share,
                Snapshot,
            };

            static DRIVER: ::std::sync::OnceLock<$driver> = ::std::sync::OnceLock::new();

            struct Export;

            impl Guest for Export {
                fn setup(options: ::std::vec::Vec<(String, String)>) -> Result<(), DriverError> {
                    let options = $crate::Options::from(options);
                    let driver = <$driver>::setup(options.clone())?;
                    options.__unknown()?;
                    let _ = DRIVER.set(driver);
                    Ok(())
                }
                fn create_share(share: Share) -> Result<Vec<ExportLocation>, DriverError> {
                    $crate::__get(&DRIVER)?.create_share(&share)
                }
                fn delete_share(share: Share) -> Result<(), DriverError> {
                    $crate::__get(&DRIVER)?.delete_share(&share)
                }
                fn extend_share(share: Share, new_size_gib: u64) -> Result<(), DriverError> {
                    $crate::__get(&DRIVER)?.extend_share(&share, new_size_gib)
                }
                fn ensure_share(share: Share) -> Result<Vec<ExportLocation>, DriverError> {
                    $crate::__get(&DRIVER)?.ensure_share(&share)
                }
                fn create_snapshot(snapshot: Snapshot) -> Result<(), DriverError> {
                    $crate::__get(&DRIVER)?.create_snapshot(&snapshot)
                }
                fn delete_snapshot(snapshot: Snapshot) -> Result<(), DriverError> {
                    $crate::__get(&DRIVER)?.delete_snapshot(&snapshot)
                }
                fn manage_existing(
                    share: Share,
                    backend_name: String,
                ) -> Result<(u64, Vec<ExportLocation>), DriverError> {
                    $crate::__get(&DRIVER)?.manage_existing(&share, &backend_name)
                }
                fn unmanage(share: Share) -> Result<(), DriverError> {
                    $crate::__get(&DRIVER)?.unmanage(&share)
                }
                fn shrink_share(share: Share, new_size_gib: u64) -> Result<(), DriverError> {
                    $crate::__get(&DRIVER)?.shrink_share(&share, new_size_gib)
                }
                fn create_share_from_snapshot(
                    share: Share,
                    snapshot: Snapshot,
                ) -> Result<Vec<ExportLocation>, DriverError> {
                    $crate::__get(&DRIVER)?.create_share_from_snapshot(&share, &snapshot)
                }
                fn revert_to_snapshot(snapshot: Snapshot) -> Result<(), DriverError> {
                    $crate::__get(&DRIVER)?.revert_to_snapshot(&snapshot)
                }
                fn update_access(
                    share: Share,
                    access_rules: Vec<AccessRule>,
                    add_rules: Vec<AccessRule>,
                    delete_rules: Vec<AccessRule>,
                ) -> Result<Vec<RuleResult>, DriverError> {
                    $crate::__get(&DRIVER)?.update_access(&share, &access_rules, &add_rules, &delete_rules)
                }
                fn manage_existing_snapshot(
                    snapshot: Snapshot,
                    backend_name: String,
                ) -> Result<u64, DriverError> {
                    $crate::__get(&DRIVER)?.manage_existing_snapshot(&snapshot, &backend_name)
                }
                fn unmanage_snapshot(snapshot: Snapshot) -> Result<(), DriverError> {
                    $crate::__get(&DRIVER)?.unmanage_snapshot(&snapshot)
                }
                fn get_stats() -> Result<BackendStats, DriverError> {
                    $crate::__get(&DRIVER)?.get_stats()
                }
            }

            // Component exports only mean something in a wasm component; a
            // native build (clippy, doc tests) must not export them.
            #[cfg(target_family = "wasm")]
    $crate::bindings::__export_driver_world!(Export with_types_in $crate::bindings);
            #[cfg(not(target_family = "wasm"))]
            let _ = [<Export as Guest>::setup];
        };
    };
}
