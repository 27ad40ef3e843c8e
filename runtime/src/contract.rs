//! A loaded driver's operations, whichever contract it was built against.
//!
//! Drivers built against the current contract (`wit/`, 0.3) are called
//! directly. Drivers built against 0.2 or 0.1 keep running unchanged
//! (`contract/older.rs`): their records are a subset of 0.3's, and every
//! operation added since answers [`unsupported`](WitDriverError::Unsupported)
//! for them.

mod older;

use crate::bindings::{self, v0_1, v0_2};
use crate::bindings::{
    AccessRule, BackendStats, Properties, RuleResult, Share, ShareUpdate, ShareUsage, Snapshot,
    SnapshotUpdate, WitDriverError,
};
use wasmtime::Store;
use wasmtime::component::InstancePre;

/// What a driver's export returns: the wasmtime layer (traps) around the
/// driver's own typed result.
pub(crate) type Call<R> = wasmtime::Result<Result<R, WitDriverError>>;

/// A driver compiled and linked for stores of `T`, ready to instantiate.
pub(crate) enum DriverPre<T: 'static> {
    Current(bindings::DriverPre<T>),
    V0_2(v0_2::DriverPre<T>),
    V0_1(v0_1::DriverPre<T>),
}

impl<T> Clone for DriverPre<T> {
    fn clone(&self) -> Self {
        match self {
            DriverPre::Current(p) => DriverPre::Current(p.clone()),
            DriverPre::V0_2(p) => DriverPre::V0_2(p.clone()),
            DriverPre::V0_1(p) => DriverPre::V0_1(p.clone()),
        }
    }
}

/// One instance's exports.
pub(crate) enum Driver {
    Current(bindings::Driver),
    V0_2(v0_2::Driver),
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
        if let Ok(p) = v0_2::DriverPre::new(pre.clone()) {
            return Ok(DriverPre::V0_2(p));
        }
        v0_1::DriverPre::new(pre).map(DriverPre::V0_1).map_err(|_| {
            format!(
                "the component exports none of manila:driver/share-driver@0.3, @0.2 or @0.1 \
                 ({current:#}); build it with the guest SDK"
            )
        })
    }

    pub(crate) fn engine(&self) -> &wasmtime::Engine {
        match self {
            DriverPre::Current(p) => p.engine(),
            DriverPre::V0_2(p) => p.engine(),
            DriverPre::V0_1(p) => p.engine(),
        }
    }

    pub(crate) fn instantiate(&self, store: &mut Store<T>) -> wasmtime::Result<Driver> {
        Ok(match self {
            DriverPre::Current(p) => Driver::Current(p.instantiate(store)?),
            DriverPre::V0_2(p) => Driver::V0_2(p.instantiate(store)?),
            DriverPre::V0_1(p) => Driver::V0_1(p.instantiate(store)?),
        })
    }

    /// The contract version, for logs and `check-driver`.
    pub(crate) fn contract(&self) -> &'static str {
        match self {
            DriverPre::Current(_) => "0.3",
            DriverPre::V0_2(_) => "0.2",
            DriverPre::V0_1(_) => "0.1",
        }
    }
}

/// Call `$op` on a current driver, or its older form through `older.rs`.
macro_rules! dispatch {
    ($self:ident, $store:ident, $op:ident ($($arg:expr),*)) => {
        match $self {
            Driver::Current(d) => d.manila_driver_share_driver().$op($store, $($arg),*),
            Driver::V0_2(d) => older::$op(older::Older::V0_2(d), $store, $($arg),*),
            Driver::V0_1(d) => older::$op(older::Older::V0_1(d), $store, $($arg),*),
        }
    };
}

/// The operations of the contract, in the order of `wit/share-driver.wit`.
impl Driver {
    pub(crate) fn setup<T>(
        &self,
        store: &mut Store<T>,
        options: &Properties,
        manila_conf: &Properties,
    ) -> Call<()> {
        dispatch!(self, store, call_setup(options, manila_conf))
    }

    pub(crate) fn get_backend_info<T>(&self, store: &mut Store<T>) -> Call<Option<Properties>> {
        dispatch!(self, store, call_get_backend_info())
    }

    pub(crate) fn get_stats<T>(&self, store: &mut Store<T>) -> Call<BackendStats> {
        dispatch!(self, store, call_get_stats())
    }

    pub(crate) fn create_share<T>(&self, store: &mut Store<T>, share: &Share) -> Call<ShareUpdate> {
        dispatch!(self, store, call_create_share(share))
    }

    pub(crate) fn create_share_from_snapshot<T>(
        &self,
        store: &mut Store<T>,
        share: &Share,
        snapshot: &Snapshot,
    ) -> Call<ShareUpdate> {
        dispatch!(self, store, call_create_share_from_snapshot(share, snapshot))
    }

    pub(crate) fn delete_share<T>(&self, store: &mut Store<T>, share: &Share) -> Call<()> {
        dispatch!(self, store, call_delete_share(share))
    }

    pub(crate) fn extend_share<T>(&self, store: &mut Store<T>, share: &Share, new_size_gib: u64) -> Call<()> {
        dispatch!(self, store, call_extend_share(share, new_size_gib))
    }

    pub(crate) fn shrink_share<T>(&self, store: &mut Store<T>, share: &Share, new_size_gib: u64) -> Call<()> {
        dispatch!(self, store, call_shrink_share(share, new_size_gib))
    }

    pub(crate) fn ensure_shares<T>(
        &self,
        store: &mut Store<T>,
        shares: &[Share],
    ) -> Call<Vec<(String, ShareUpdate)>> {
        dispatch!(self, store, call_ensure_shares(shares))
    }

    pub(crate) fn get_share_status<T>(&self, store: &mut Store<T>, share: &Share) -> Call<ShareUpdate> {
        dispatch!(self, store, call_get_share_status(share))
    }

    pub(crate) fn update_share_usage_size<T>(
        &self,
        store: &mut Store<T>,
        shares: &[Share],
    ) -> Call<Vec<ShareUsage>> {
        dispatch!(self, store, call_update_share_usage_size(shares))
    }

    pub(crate) fn create_snapshot<T>(
        &self,
        store: &mut Store<T>,
        snapshot: &Snapshot,
    ) -> Call<SnapshotUpdate> {
        dispatch!(self, store, call_create_snapshot(snapshot))
    }

    pub(crate) fn delete_snapshot<T>(&self, store: &mut Store<T>, snapshot: &Snapshot) -> Call<()> {
        dispatch!(self, store, call_delete_snapshot(snapshot))
    }

    pub(crate) fn revert_to_snapshot<T>(
        &self,
        store: &mut Store<T>,
        snapshot: &Snapshot,
        share_rules: &[AccessRule],
        snapshot_rules: &[AccessRule],
    ) -> Call<ShareUpdate> {
        dispatch!(
            self,
            store,
            call_revert_to_snapshot(snapshot, share_rules, snapshot_rules)
        )
    }

    pub(crate) fn update_access<T>(
        &self,
        store: &mut Store<T>,
        share: &Share,
        rules: [&[AccessRule]; 4],
    ) -> Call<Vec<RuleResult>> {
        let [all, add, delete, update] = rules;
        dispatch!(self, store, call_update_access(share, all, add, delete, update))
    }

    pub(crate) fn snapshot_update_access<T>(
        &self,
        store: &mut Store<T>,
        snapshot: &Snapshot,
        rules: [&[AccessRule]; 3],
    ) -> Call<()> {
        let [all, add, delete] = rules;
        dispatch!(
            self,
            store,
            call_snapshot_update_access(snapshot, all, add, delete)
        )
    }

    pub(crate) fn manage_existing<T>(
        &self,
        store: &mut Store<T>,
        share: &Share,
        options: &Properties,
    ) -> Call<ShareUpdate> {
        dispatch!(self, store, call_manage_existing(share, options))
    }

    pub(crate) fn unmanage<T>(&self, store: &mut Store<T>, share: &Share) -> Call<()> {
        dispatch!(self, store, call_unmanage(share))
    }

    pub(crate) fn manage_existing_snapshot<T>(
        &self,
        store: &mut Store<T>,
        snapshot: &Snapshot,
        options: &Properties,
    ) -> Call<SnapshotUpdate> {
        dispatch!(self, store, call_manage_existing_snapshot(snapshot, options))
    }

    pub(crate) fn unmanage_snapshot<T>(&self, store: &mut Store<T>, snapshot: &Snapshot) -> Call<()> {
        dispatch!(self, store, call_unmanage_snapshot(snapshot))
    }
}
