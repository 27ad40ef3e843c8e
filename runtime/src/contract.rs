//! A loaded driver's operations, whichever contract it was built against.
//!
//! Drivers built against the current contract (`wit/`) are called directly.
//! Drivers built against 0.1 (0.1.0 or 0.1.1) keep running unchanged: their
//! records are the same, and every operation 0.2 added answers
//! [`unsupported`](WitDriverError::Unsupported) for them.

use crate::bindings::{self, v0_1};
use crate::bindings::{
    AccessRule, BackendStats, ExportLocation, RuleResult, Share, Snapshot, WitDriverError,
};
use wasmtime::Store;
use wasmtime::component::InstancePre;

/// What a driver's export returns: the wasmtime layer (traps) around the
/// driver's own typed result.
pub(crate) type Call<R> = wasmtime::Result<Result<R, WitDriverError>>;

/// A driver compiled and linked for stores of `T`, ready to instantiate.
pub(crate) enum DriverPre<T: 'static> {
    Current(bindings::DriverPre<T>),
    V0_1(v0_1::DriverPre<T>),
}

impl<T> Clone for DriverPre<T> {
    fn clone(&self) -> Self {
        match self {
            DriverPre::Current(p) => DriverPre::Current(p.clone()),
            DriverPre::V0_1(p) => DriverPre::V0_1(p.clone()),
        }
    }
}

/// One instance's exports.
pub(crate) enum Driver {
    Current(bindings::Driver),
    V0_1(v0_1::Driver),
}

impl<T> DriverPre<T> {
    /// The contract `pre` exports, newest first; the error says what the
    /// host looked for.
    pub(crate) fn new(pre: InstancePre<T>) -> Result<Self, String> {
        let current = match bindings::DriverPre::new(pre.clone()) {
            Ok(p) => return Ok(DriverPre::Current(p)),
            Err(e) => e,
        };
        v0_1::DriverPre::new(pre).map(DriverPre::V0_1).map_err(|_| {
            format!(
                "the component exports neither manila:driver/share-driver@0.2 nor @0.1 \
                 ({current:#}); build it with the guest SDK"
            )
        })
    }

    pub(crate) fn engine(&self) -> &wasmtime::Engine {
        match self {
            DriverPre::Current(p) => p.engine(),
            DriverPre::V0_1(p) => p.engine(),
        }
    }

    pub(crate) fn instantiate(&self, store: &mut Store<T>) -> wasmtime::Result<Driver> {
        Ok(match self {
            DriverPre::Current(p) => Driver::Current(p.instantiate(store)?),
            DriverPre::V0_1(p) => Driver::V0_1(p.instantiate(store)?),
        })
    }

    /// The contract version, for logs and `check-driver`.
    pub(crate) fn contract(&self) -> &'static str {
        match self {
            DriverPre::Current(_) => "0.2",
            DriverPre::V0_1(_) => "0.1",
        }
    }
}

/// The operations of both contracts, in the order of `wit/share-driver.wit`.
impl Driver {
    pub(crate) fn setup<T>(&self, store: &mut Store<T>, options: &[(String, String)]) -> Call<()> {
        match self {
            Driver::Current(d) => d.manila_driver_share_driver().call_setup(store, options),
            Driver::V0_1(d) => Ok(d
                .manila_driver_share_driver()
                .call_setup(store, options)?
                .map_err(from_v0_1)),
        }
    }

    pub(crate) fn create_share<T>(&self, store: &mut Store<T>, share: &Share) -> Call<Vec<ExportLocation>> {
        match self {
            Driver::Current(d) => d.manila_driver_share_driver().call_create_share(store, share),
            Driver::V0_1(d) => Ok(d
                .manila_driver_share_driver()
                .call_create_share(store, &old_share(share))?
                .map(exports_from_v0_1)
                .map_err(from_v0_1)),
        }
    }

    pub(crate) fn delete_share<T>(&self, store: &mut Store<T>, share: &Share) -> Call<()> {
        match self {
            Driver::Current(d) => d.manila_driver_share_driver().call_delete_share(store, share),
            Driver::V0_1(d) => Ok(d
                .manila_driver_share_driver()
                .call_delete_share(store, &old_share(share))?
                .map_err(from_v0_1)),
        }
    }

    pub(crate) fn extend_share<T>(&self, store: &mut Store<T>, share: &Share, new_size_gib: u64) -> Call<()> {
        match self {
            Driver::Current(d) => {
                d.manila_driver_share_driver()
                    .call_extend_share(store, share, new_size_gib)
            }
            Driver::V0_1(d) => Ok(d
                .manila_driver_share_driver()
                .call_extend_share(store, &old_share(share), new_size_gib)?
                .map_err(from_v0_1)),
        }
    }

    pub(crate) fn ensure_share<T>(&self, store: &mut Store<T>, share: &Share) -> Call<Vec<ExportLocation>> {
        match self {
            Driver::Current(d) => d.manila_driver_share_driver().call_ensure_share(store, share),
            Driver::V0_1(d) => Ok(d
                .manila_driver_share_driver()
                .call_ensure_share(store, &old_share(share))?
                .map(exports_from_v0_1)
                .map_err(from_v0_1)),
        }
    }

    pub(crate) fn create_snapshot<T>(&self, store: &mut Store<T>, snapshot: &Snapshot) -> Call<()> {
        match self {
            Driver::Current(d) => d
                .manila_driver_share_driver()
                .call_create_snapshot(store, snapshot),
            Driver::V0_1(d) => Ok(d
                .manila_driver_share_driver()
                .call_create_snapshot(store, &old_snapshot(snapshot))?
                .map_err(from_v0_1)),
        }
    }

    pub(crate) fn delete_snapshot<T>(&self, store: &mut Store<T>, snapshot: &Snapshot) -> Call<()> {
        match self {
            Driver::Current(d) => d
                .manila_driver_share_driver()
                .call_delete_snapshot(store, snapshot),
            Driver::V0_1(d) => Ok(d
                .manila_driver_share_driver()
                .call_delete_snapshot(store, &old_snapshot(snapshot))?
                .map_err(from_v0_1)),
        }
    }

    pub(crate) fn manage_existing<T>(
        &self,
        store: &mut Store<T>,
        share: &Share,
        backend_name: &str,
    ) -> Call<(u64, Vec<ExportLocation>)> {
        match self {
            Driver::Current(d) => {
                d.manila_driver_share_driver()
                    .call_manage_existing(store, share, backend_name)
            }
            Driver::V0_1(d) => Ok(d
                .manila_driver_share_driver()
                .call_manage_existing(store, &old_share(share), backend_name)?
                .map(|(size, e)| (size, exports_from_v0_1(e)))
                .map_err(from_v0_1)),
        }
    }

    pub(crate) fn unmanage<T>(&self, store: &mut Store<T>, share: &Share) -> Call<()> {
        match self {
            Driver::Current(d) => d.manila_driver_share_driver().call_unmanage(store, share),
            Driver::V0_1(d) => Ok(d
                .manila_driver_share_driver()
                .call_unmanage(store, &old_share(share))?
                .map_err(from_v0_1)),
        }
    }

    pub(crate) fn shrink_share<T>(&self, store: &mut Store<T>, share: &Share, new_size_gib: u64) -> Call<()> {
        match self {
            Driver::Current(d) => {
                d.manila_driver_share_driver()
                    .call_shrink_share(store, share, new_size_gib)
            }
            Driver::V0_1(_) => Ok(Err(added_in_0_2("shrink-share"))),
        }
    }

    pub(crate) fn create_share_from_snapshot<T>(
        &self,
        store: &mut Store<T>,
        share: &Share,
        snapshot: &Snapshot,
    ) -> Call<Vec<ExportLocation>> {
        match self {
            Driver::Current(d) => d
                .manila_driver_share_driver()
                .call_create_share_from_snapshot(store, share, snapshot),
            Driver::V0_1(_) => Ok(Err(added_in_0_2("create-share-from-snapshot"))),
        }
    }

    pub(crate) fn revert_to_snapshot<T>(&self, store: &mut Store<T>, snapshot: &Snapshot) -> Call<()> {
        match self {
            Driver::Current(d) => d
                .manila_driver_share_driver()
                .call_revert_to_snapshot(store, snapshot),
            Driver::V0_1(_) => Ok(Err(added_in_0_2("revert-to-snapshot"))),
        }
    }

    pub(crate) fn update_access<T>(
        &self,
        store: &mut Store<T>,
        share: &Share,
        access_rules: &[AccessRule],
        add_rules: &[AccessRule],
        delete_rules: &[AccessRule],
    ) -> Call<Vec<RuleResult>> {
        match self {
            Driver::Current(d) => d.manila_driver_share_driver().call_update_access(
                store,
                share,
                access_rules,
                add_rules,
                delete_rules,
            ),
            Driver::V0_1(_) => Ok(Err(added_in_0_2("update-access"))),
        }
    }

    pub(crate) fn manage_existing_snapshot<T>(
        &self,
        store: &mut Store<T>,
        snapshot: &Snapshot,
        backend_name: &str,
    ) -> Call<u64> {
        match self {
            Driver::Current(d) => {
                d.manila_driver_share_driver()
                    .call_manage_existing_snapshot(store, snapshot, backend_name)
            }
            Driver::V0_1(_) => Ok(Err(added_in_0_2("manage-existing-snapshot"))),
        }
    }

    pub(crate) fn unmanage_snapshot<T>(&self, store: &mut Store<T>, snapshot: &Snapshot) -> Call<()> {
        match self {
            Driver::Current(d) => d
                .manila_driver_share_driver()
                .call_unmanage_snapshot(store, snapshot),
            Driver::V0_1(_) => Ok(Err(added_in_0_2("unmanage-snapshot"))),
        }
    }

    pub(crate) fn get_stats<T>(&self, store: &mut Store<T>) -> Call<BackendStats> {
        match self {
            Driver::Current(d) => d.manila_driver_share_driver().call_get_stats(store),
            Driver::V0_1(_) => Ok(Err(added_in_0_2("get-stats"))),
        }
    }
}

fn added_in_0_2(operation: &str) -> WitDriverError {
    WitDriverError::Unsupported(format!(
        "{operation} came in contract 0.2; this driver was built against 0.1: rebuild it with \
         the current guest SDK to support it"
    ))
}

fn old_share(share: &Share) -> v0_1::Share {
    v0_1::Share {
        id: share.id.clone(),
        name: share.name.clone(),
        size_gib: share.size_gib,
        protocol: share.protocol.clone(),
    }
}

fn old_snapshot(snapshot: &Snapshot) -> v0_1::Snapshot {
    v0_1::Snapshot {
        id: snapshot.id.clone(),
        share_id: snapshot.share_id.clone(),
        size_gib: snapshot.size_gib,
    }
}

fn exports_from_v0_1(exports: Vec<v0_1::ExportLocation>) -> Vec<ExportLocation> {
    exports
        .into_iter()
        .map(|e| ExportLocation {
            path: e.path,
            is_admin_only: e.is_admin_only,
        })
        .collect()
}

/// A 0.1 driver's error. 0.1 had no `unsupported`: its SDK answered
/// `invalid("this driver does not support …")`, which is what it meant.
fn from_v0_1(error: v0_1::DriverError) -> WitDriverError {
    use v0_1::DriverError as Old;
    match error {
        Old::NotFound(m) => WitDriverError::NotFound(m),
        Old::Invalid(m) if m.starts_with("this driver does not support ") => WitDriverError::Unsupported(m),
        Old::Invalid(m) => WitDriverError::Invalid(m),
        Old::Backend(m) => WitDriverError::Backend(m),
        Old::PrivateData(m) => WitDriverError::PrivateData(m),
    }
}
