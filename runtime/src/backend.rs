//! One backend: its driver component, run in its sandbox, bound to its
//! host, for each operation of the contract.

use crate::bindings::{
    AccessRule, BackendStats, Properties, RuleResult, Share, ShareUpdate, ShareUsage, Snapshot,
    SnapshotUpdate,
};
use crate::error::{DriverError, Error, Result};
use crate::pool::{InstancePool, PoolStats};
use crate::sandbox::{DriverComponent, Sandbox};
use privdata_store::PrivateData;

/// One backend: its driver, bound to its host, root and limits, and the
/// instances of it that serve its operations (see [`PoolStats`]).
#[derive(Debug)]
pub struct Backend {
    pool: InstancePool,
}

impl Backend {
    /// A backend running `driver` in `sandbox`: what the manager builds from
    /// each section of the configuration, and what tools that need no
    /// configuration (the conformance kit, the benchmark) build directly.
    pub fn new(driver: DriverComponent, sandbox: Sandbox) -> Self {
        Backend {
            pool: InstancePool::new(driver, sandbox),
        }
    }

    /// Start a new instance of the driver in its sandbox and run `setup`
    /// with the backend's options, and nothing else: what `privdata
    /// check-config` asks of every backend (a missing root, a refused
    /// option), and Manila's `check_for_setup_error`. The instance then
    /// serves the next operation, if the backend has room for it.
    pub fn check_setup(&self) -> Result<()> {
        self.pool.check_setup()
    }

    /// The backend's name.
    pub fn name(&self) -> &str {
        &self.pool.sandbox().backend
    }

    /// The contract its driver was built against: `0.3`, or `0.2` or `0.1`
    /// (what came later answers [`DriverError::Unsupported`] for such
    /// drivers).
    ///
    /// [`DriverError::Unsupported`]: crate::DriverError::Unsupported
    pub fn contract(&self) -> &'static str {
        self.pool.driver().contract()
    }

    /// The host its private data is bound to.
    pub fn host(&self) -> &str {
        self.pool.sandbox().private_data.host()
    }

    /// The backend's private data, as its driver sees it.
    pub fn private_data(&self) -> &PrivateData {
        &self.pool.sandbox().private_data
    }

    /// What the backend's driver has done: see [`crate::exposition`].
    pub fn metrics(&self) -> &crate::Metrics {
        &self.pool.sandbox().metrics
    }

    /// How many instances of the driver are alive, and how many were made.
    pub fn instances(&self) -> PoolStats {
        self.pool.stats()
    }

    /// The backend's identity and settings, if the driver has them: when
    /// they are what they were at the last start, Manila skips ensuring
    /// every share.
    pub fn get_backend_info(&self) -> Result<Option<Properties>> {
        self.pool.call("get-backend-info", |s, d| d.get_backend_info(s))
    }

    /// The backend's capacity and capabilities, for Manila's scheduler.
    pub fn get_stats(&self) -> Result<BackendStats> {
        self.pool.call("get-stats", |s, d| d.get_stats(s))
    }

    /// Create `share`; returns what Manila should record of it (its export
    /// locations first).
    pub fn create_share(&self, share: &Share) -> Result<ShareUpdate> {
        self.pool.call("create-share", |s, d| d.create_share(s, share))
    }

    /// Create `share` with the data of `snapshot`.
    pub fn create_share_from_snapshot(&self, share: &Share, snapshot: &Snapshot) -> Result<ShareUpdate> {
        self.pool.call("create-share-from-snapshot", |s, d| {
            d.create_share_from_snapshot(s, share, snapshot)
        })
    }

    /// Delete `share` and its private data.
    pub fn delete_share(&self, share: &Share) -> Result<()> {
        self.pool.call("delete-share", |s, d| d.delete_share(s, share))
    }

    /// Grow `share` to `new_size_gib`.
    pub fn extend_share(&self, share: &Share, new_size_gib: u64) -> Result<()> {
        self.pool
            .call("extend-share", |s, d| d.extend_share(s, share, new_size_gib))
    }

    /// Shrink `share` to `new_size_gib`; [`DriverError::Invalid`] if its
    /// data would not fit.
    ///
    /// [`DriverError::Invalid`]: crate::DriverError::Invalid
    pub fn shrink_share(&self, share: &Share, new_size_gib: u64) -> Result<()> {
        self.pool
            .call("shrink-share", |s, d| d.shrink_share(s, share, new_size_gib))
    }

    /// Make sure each of `shares` is exported; what Manila should record of
    /// each, by share instance id.
    pub fn ensure_shares(&self, shares: &[Share]) -> Result<Vec<(String, ShareUpdate)>> {
        self.pool.call("ensure-shares", |s, d| d.ensure_shares(s, shares))
    }

    /// Make sure `share` is exported: [`Backend::ensure_shares`] of it
    /// alone; an answer that leaves it out is an error naming it.
    pub fn ensure_share(&self, share: &Share) -> Result<ShareUpdate> {
        let updates = self.ensure_shares(std::slice::from_ref(share))?;
        match updates.into_iter().find(|(id, _)| *id == share.id) {
            Some((_, update)) => Ok(update),
            None => Err(Error::Driver {
                backend: self.name().to_string(),
                operation: "ensure-shares",
                error: DriverError::Backend(format!("the driver's answer leaves out share {}", share.id)),
            }),
        }
    }

    /// Where work on `share` that went on after its call stands.
    pub fn get_share_status(&self, share: &Share) -> Result<ShareUpdate> {
        self.pool
            .call("get-share-status", |s, d| d.get_share_status(s, share))
    }

    /// How much of each of `shares` is in use.
    pub fn update_share_usage_size(&self, shares: &[Share]) -> Result<Vec<ShareUsage>> {
        self.pool.call("update-share-usage-size", |s, d| {
            d.update_share_usage_size(s, shares)
        })
    }

    /// Snapshot a share.
    pub fn create_snapshot(&self, snapshot: &Snapshot) -> Result<SnapshotUpdate> {
        self.pool
            .call("create-snapshot", |s, d| d.create_snapshot(s, snapshot))
    }

    /// Delete a snapshot and its private data.
    pub fn delete_snapshot(&self, snapshot: &Snapshot) -> Result<()> {
        self.pool
            .call("delete-snapshot", |s, d| d.delete_snapshot(s, snapshot))
    }

    /// Put the data of `snapshot` back into its share; the access rules of
    /// the share and of the snapshot are given.
    pub fn revert_to_snapshot(
        &self,
        snapshot: &Snapshot,
        share_rules: &[AccessRule],
        snapshot_rules: &[AccessRule],
    ) -> Result<ShareUpdate> {
        self.pool.call("revert-to-snapshot", |s, d| {
            d.revert_to_snapshot(s, snapshot, share_rules, snapshot_rules)
        })
    }

    /// Bring `share`'s access rules in line: `add`, `delete` and `update`
    /// are the change, or all are empty and `all` (always the full list) is
    /// to be applied as a whole. Returns the state of rules that are not
    /// simply in force.
    pub fn update_access(
        &self,
        share: &Share,
        all: &[AccessRule],
        add: &[AccessRule],
        delete: &[AccessRule],
        update: &[AccessRule],
    ) -> Result<Vec<RuleResult>> {
        self.pool.call("update-access", |s, d| {
            d.update_access(s, share, [all, add, delete, update])
        })
    }

    /// The same for a mounted snapshot.
    pub fn snapshot_update_access(
        &self,
        snapshot: &Snapshot,
        all: &[AccessRule],
        add: &[AccessRule],
        delete: &[AccessRule],
    ) -> Result<()> {
        self.pool.call("snapshot-update-access", |s, d| {
            d.snapshot_update_access(s, snapshot, [all, add, delete])
        })
    }

    /// Adopt an existing backend object as `share` (its export location, or
    /// `options`, say which); the update carries its size.
    pub fn manage_existing(&self, share: &Share, options: &Properties) -> Result<ShareUpdate> {
        self.pool
            .call("manage-existing", |s, d| d.manage_existing(s, share, options))
    }

    /// Stop managing `share`, leaving its data on the backend.
    pub fn unmanage(&self, share: &Share) -> Result<()> {
        self.pool.call("unmanage", |s, d| d.unmanage(s, share))
    }

    /// Adopt an existing backend snapshot as `snapshot`.
    pub fn manage_existing_snapshot(
        &self,
        snapshot: &Snapshot,
        options: &Properties,
    ) -> Result<SnapshotUpdate> {
        self.pool.call("manage-existing-snapshot", |s, d| {
            d.manage_existing_snapshot(s, snapshot, options)
        })
    }

    /// Stop managing `snapshot`, leaving it on the backend.
    pub fn unmanage_snapshot(&self, snapshot: &Snapshot) -> Result<()> {
        self.pool
            .call("unmanage-snapshot", |s, d| d.unmanage_snapshot(s, snapshot))
    }
}
