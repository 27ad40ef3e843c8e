//! The `Driver` trait and the macro that exports it.

use crate::{
    AccessRule, BackendStats, DriverError, RuleResult, Share, ShareUpdate, ShareUsage, Snapshot,
    SnapshotUpdate,
};
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
    /// The backend's section of manila.conf, as written.
    manila_conf: Vec<(String, String)>,
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

    /// The backend's section of manila.conf, every option as written (empty
    /// when Manila does not run the backend): what Manila gives an in-tree
    /// driver as its configuration. Options here are not checked for
    /// misspellings: they belong to Manila.
    pub fn manila_conf(&self) -> &[(String, String)] {
        &self.manila_conf
    }

    #[doc(hidden)]
    pub fn __with_manila_conf(mut self, manila_conf: Vec<(String, String)>) -> Self {
        self.manila_conf = manila_conf;
        self
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
            manila_conf: Vec::new(),
            asked: Rc::default(),
        }
    }
}

/// An access rule change, as Manila asks for it: `add`, `delete` and
/// `update` are the change, or all three are empty and `all` (always the
/// full list) is to be applied as a whole (at start, or to recover).
#[derive(Debug, Clone, Copy)]
pub struct AccessChanges<'a> {
    /// Every rule the share (or snapshot) should have.
    pub all: &'a [AccessRule],
    /// Rules to add.
    pub add: &'a [AccessRule],
    /// Rules to remove.
    pub delete: &'a [AccessRule],
    /// Rules whose level or metadata changed.
    pub update: &'a [AccessRule],
}

impl AccessChanges<'_> {
    /// Whether this is a full sync: apply `all`, drop everything else.
    pub fn is_full_sync(&self) -> bool {
        self.add.is_empty() && self.delete.is_empty() && self.update.is_empty()
    }
}

/// A share driver. The host makes an instance, calls [`Driver::setup`] once,
/// and then calls the instance's operations one at a time, as Manila calls a
/// driver object; state in memory (a session with the array, a cache) lives
/// as long as the instance. The host may run a few instances of one backend
/// side by side and replaces one that failed (a trap, a timeout) with a new
/// one, so keep what must last in [`PrivateStorage`](crate::PrivateStorage)
/// and on the backend.
///
/// Operations a driver does not support keep their default, which answers
/// [`DriverError::Unsupported`]; Manila then reports the operation as not
/// implemented by this backend.
pub trait Driver: Sized + Send + Sync + 'static {
    /// Build the driver from its options.
    fn setup(options: Options) -> Result<Self, DriverError>;

    /// The backend's identity and settings: when they are what they were at
    /// the last start, Manila skips ensuring every share. `None` (the
    /// default): Manila ensures them every time.
    fn get_backend_info(&self) -> Result<Option<Vec<(String, String)>>, DriverError> {
        Ok(None)
    }

    /// The backend's capacity and capabilities, for Manila's scheduler.
    fn get_stats(&self) -> Result<BackendStats, DriverError> {
        Err(unsupported("get-stats"))
    }

    /// Create `share`; returns its export locations at least
    /// (`ShareUpdate::exported`).
    fn create_share(&self, share: &Share) -> Result<ShareUpdate, DriverError>;

    /// Create `share` holding the data of `snapshot`. Keep what you need
    /// about the new share in private data, as [`Driver::create_share`]
    /// does; a status other than `available` says the copy goes on, and
    /// [`Driver::get_share_status`] is asked until it is done.
    fn create_share_from_snapshot(
        &self,
        share: &Share,
        snapshot: &Snapshot,
    ) -> Result<ShareUpdate, DriverError> {
        let _ = (share, snapshot);
        Err(unsupported("create-share-from-snapshot"))
    }

    /// Delete `share` and everything kept about it.
    fn delete_share(&self, share: &Share) -> Result<(), DriverError>;

    /// Grow `share` to `new_size_gib`.
    fn extend_share(&self, share: &Share, new_size_gib: u64) -> Result<(), DriverError> {
        let _ = (share, new_size_gib);
        Err(unsupported("extend-share"))
    }

    /// Shrink `share` to `new_size_gib`; [`DriverError::Invalid`] if its
    /// data would not fit.
    fn shrink_share(&self, share: &Share, new_size_gib: u64) -> Result<(), DriverError> {
        let _ = (share, new_size_gib);
        Err(unsupported("shrink-share"))
    }

    /// Make sure `share` is exported; returns its export locations
    /// (`ShareUpdate::exported`). [`DriverError::NotFound`] marks the share
    /// `error` in Manila; any other error fails the whole ensure.
    fn ensure_share(&self, share: &Share) -> Result<ShareUpdate, DriverError> {
        let _ = share;
        Err(unsupported("ensure-share"))
    }

    /// Make sure every share is exported: [`Driver::ensure_share`] for each,
    /// unless a driver does them at once.
    fn ensure_shares(&self, shares: &[Share]) -> Result<Vec<(String, ShareUpdate)>, DriverError> {
        let mut updates = Vec::with_capacity(shares.len());
        for share in shares {
            let update = match self.ensure_share(share) {
                Ok(update) => update,
                Err(DriverError::NotFound(why)) => {
                    eprintln!("share {} cannot be ensured: {why}", share.id);
                    ShareUpdate::status("error")
                }
                Err(e) => return Err(e),
            };
            updates.push((share.id.clone(), update));
        }
        Ok(updates)
    }

    /// Where work on `share` that went on after its call stands.
    fn get_share_status(&self, share: &Share) -> Result<ShareUpdate, DriverError> {
        let _ = share;
        Err(unsupported("get-share-status"))
    }

    /// How much of each share is in use.
    fn update_share_usage_size(&self, shares: &[Share]) -> Result<Vec<ShareUsage>, DriverError> {
        let _ = shares;
        Err(unsupported("update-share-usage-size"))
    }

    /// Snapshot a share.
    fn create_snapshot(&self, snapshot: &Snapshot) -> Result<SnapshotUpdate, DriverError> {
        let _ = snapshot;
        Err(unsupported("create-snapshot"))
    }

    /// Delete a snapshot and everything kept about it.
    fn delete_snapshot(&self, snapshot: &Snapshot) -> Result<(), DriverError> {
        let _ = snapshot;
        Err(unsupported("delete-snapshot"))
    }

    /// Put the data of `snapshot` back into the share it was taken of; the
    /// access rules of the share and of the snapshot are given. A new size
    /// goes in the update.
    fn revert_to_snapshot(
        &self,
        snapshot: &Snapshot,
        share_rules: &[AccessRule],
        snapshot_rules: &[AccessRule],
    ) -> Result<ShareUpdate, DriverError> {
        let _ = (snapshot, share_rules, snapshot_rules);
        Err(unsupported("revert-to-snapshot"))
    }

    /// Bring `share`'s access rules in line with `changes`. Return the
    /// state of rules that are not simply in force: a rule the backend
    /// cannot apply is [`RuleState::Error`](crate::RuleState::Error), not a
    /// failed call; a `cephx` rule's key comes back here.
    fn update_access(
        &self,
        share: &Share,
        changes: AccessChanges<'_>,
    ) -> Result<Vec<RuleResult>, DriverError> {
        let _ = (share, changes);
        Err(unsupported("update-access"))
    }

    /// The same for a snapshot that is mounted (`update` is always empty).
    fn snapshot_update_access(
        &self,
        snapshot: &Snapshot,
        changes: AccessChanges<'_>,
    ) -> Result<(), DriverError> {
        let _ = (snapshot, changes);
        Err(unsupported("snapshot-update-access"))
    }

    /// Adopt an existing backend object as `share`: the export location the
    /// administrator gave, or `driver_options`, say which ([`manage_target`]
    /// reads both). The update must carry its size and export locations.
    fn manage_existing(&self, share: &Share, driver_options: &Options) -> Result<ShareUpdate, DriverError> {
        let _ = (share, driver_options);
        Err(unsupported("manage-existing"))
    }

    /// Forget `share`, leaving its data on the backend.
    fn unmanage(&self, share: &Share) -> Result<(), DriverError> {
        let _ = share;
        Err(unsupported("unmanage"))
    }

    /// Adopt an existing backend snapshot as `snapshot`: its
    /// `provider_location`, or `driver_options`, say which. The update must
    /// carry its size.
    fn manage_existing_snapshot(
        &self,
        snapshot: &Snapshot,
        driver_options: &Options,
    ) -> Result<SnapshotUpdate, DriverError> {
        let _ = (snapshot, driver_options);
        Err(unsupported("manage-existing-snapshot"))
    }

    /// Forget `snapshot`, leaving it on the backend.
    fn unmanage_snapshot(&self, snapshot: &Snapshot) -> Result<(), DriverError> {
        let _ = snapshot;
        Err(unsupported("unmanage-snapshot"))
    }
}

/// The backend object an administrator asks to manage: the `backend_name`
/// driver option, else the last part of the export path they gave
/// (`10.0.0.5:/volumes/vol-1` names `vol-1`).
pub fn manage_target(share: &Share, driver_options: &Options) -> Result<String, DriverError> {
    if let Some(name) = driver_options.get("backend_name").filter(|n| !n.is_empty()) {
        return Ok(name.to_string());
    }
    let path = share
        .export_locations
        .first()
        .map(|e| e.path.trim_end_matches(['/', '\\']))
        .unwrap_or("");
    match path.rsplit(['/', '\\', ':']).next() {
        Some(name) if !name.is_empty() => Ok(name.to_string()),
        _ => Err(DriverError::Invalid(
            "say what to manage: give the export path, or `backend_name` in the driver options".into(),
        )),
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
/// #     fn create_share(&self, _: &Share) -> Result<ShareUpdate, DriverError> { Ok(ShareUpdate::default()) }
/// #     fn delete_share(&self, _: &Share) -> Result<(), DriverError> { Ok(()) }
/// # }
/// manila_driver_sdk::export_driver!(MyDriver);
/// ```
#[macro_export]
macro_rules! export_driver {
    ($driver:ty) => {
        const _: () = {
            use $crate::bindings::exports::manila::driver::share_driver::{Guest, Properties};
            use $crate::{
                AccessChanges, AccessRule, BackendStats, Driver as _, DriverError, Options, RuleResult,
                Share, ShareUpdate, ShareUsage, Snapshot, SnapshotUpdate,
            };

            static DRIVER: ::std::sync::OnceLock<$driver> = ::std::sync::OnceLock::new();

            fn driver() -> Result<&'static $driver, DriverError> {
                $crate::__get(&DRIVER)
            }

            struct Export;

            impl Guest for Export {
                fn setup(options: Properties, manila_conf: Properties) -> Result<(), DriverError> {
                    let options = Options::from(options).__with_manila_conf(manila_conf);
                    let driver = <$driver>::setup(options.clone())?;
                    options.__unknown()?;
                    let _ = DRIVER.set(driver);
                    Ok(())
                }
                fn get_backend_info() -> Result<Option<Properties>, DriverError> {
                    driver()?.get_backend_info()
                }
                fn get_stats() -> Result<BackendStats, DriverError> {
                    driver()?.get_stats()
                }
                fn create_share(share: Share) -> Result<ShareUpdate, DriverError> {
                    driver()?.create_share(&share)
                }
                fn create_share_from_snapshot(
                    share: Share,
                    snapshot: Snapshot,
                ) -> Result<ShareUpdate, DriverError> {
                    driver()?.create_share_from_snapshot(&share, &snapshot)
                }
                fn delete_share(share: Share) -> Result<(), DriverError> {
                    driver()?.delete_share(&share)
                }
                fn extend_share(share: Share, new_size_gib: u64) -> Result<(), DriverError> {
                    driver()?.extend_share(&share, new_size_gib)
                }
                fn shrink_share(share: Share, new_size_gib: u64) -> Result<(), DriverError> {
                    driver()?.shrink_share(&share, new_size_gib)
                }
                fn ensure_shares(shares: Vec<Share>) -> Result<Vec<(String, ShareUpdate)>, DriverError> {
                    driver()?.ensure_shares(&shares)
                }
                fn get_share_status(share: Share) -> Result<ShareUpdate, DriverError> {
                    driver()?.get_share_status(&share)
                }
                fn update_share_usage_size(shares: Vec<Share>) -> Result<Vec<ShareUsage>, DriverError> {
                    driver()?.update_share_usage_size(&shares)
                }
                fn create_snapshot(snapshot: Snapshot) -> Result<SnapshotUpdate, DriverError> {
                    driver()?.create_snapshot(&snapshot)
                }
                fn delete_snapshot(snapshot: Snapshot) -> Result<(), DriverError> {
                    driver()?.delete_snapshot(&snapshot)
                }
                fn revert_to_snapshot(
                    snapshot: Snapshot,
                    share_rules: Vec<AccessRule>,
                    snapshot_rules: Vec<AccessRule>,
                ) -> Result<ShareUpdate, DriverError> {
                    driver()?.revert_to_snapshot(&snapshot, &share_rules, &snapshot_rules)
                }
                fn update_access(
                    share: Share,
                    all: Vec<AccessRule>,
                    add: Vec<AccessRule>,
                    delete: Vec<AccessRule>,
                    update: Vec<AccessRule>,
                ) -> Result<Vec<RuleResult>, DriverError> {
                    let changes = AccessChanges {
                        all: &all,
                        add: &add,
                        delete: &delete,
                        update: &update,
                    };
                    driver()?.update_access(&share, changes)
                }
                fn snapshot_update_access(
                    snapshot: Snapshot,
                    all: Vec<AccessRule>,
                    add: Vec<AccessRule>,
                    delete: Vec<AccessRule>,
                ) -> Result<(), DriverError> {
                    let changes = AccessChanges {
                        all: &all,
                        add: &add,
                        delete: &delete,
                        update: &[],
                    };
                    driver()?.snapshot_update_access(&snapshot, changes)
                }
                fn manage_existing(
                    share: Share,
                    driver_options: Properties,
                ) -> Result<ShareUpdate, DriverError> {
                    driver()?.manage_existing(&share, &Options::from(driver_options))
                }
                fn unmanage(share: Share) -> Result<(), DriverError> {
                    driver()?.unmanage(&share)
                }
                fn manage_existing_snapshot(
                    snapshot: Snapshot,
                    driver_options: Properties,
                ) -> Result<SnapshotUpdate, DriverError> {
                    driver()?.manage_existing_snapshot(&snapshot, &Options::from(driver_options))
                }
                fn unmanage_snapshot(snapshot: Snapshot) -> Result<(), DriverError> {
                    driver()?.unmanage_snapshot(&snapshot)
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
