//! One backend: its driver component, run in its sandbox, bound to its
//! host, for each operation of the contract.

use crate::bindings::{AccessRule, BackendStats, ExportLocation, RuleResult, Share, Snapshot};
use crate::error::Result;
use crate::sandbox::{DriverComponent, Sandbox};
use privdata_store::PrivateData;

/// One backend: its driver, bound to its host, root and limits.
#[derive(Debug)]
pub struct Backend {
    driver: DriverComponent,
    sandbox: Sandbox,
}

impl Backend {
    /// A backend running `driver` in `sandbox`: what the manager builds from
    /// each section of the configuration, and what tools that need no
    /// configuration (the conformance kit, the benchmark) build directly.
    pub fn new(driver: DriverComponent, sandbox: Sandbox) -> Self {
        Backend { driver, sandbox }
    }

    /// Start the driver in its sandbox and run `setup` with the backend's
    /// options, and nothing else: what `privdata check-config` asks of
    /// every backend (a missing root, a refused option).
    pub fn check_setup(&self) -> Result<()> {
        let mut instance = self.driver.instantiate(&self.sandbox)?;
        let result = instance.setup();
        instance.finish();
        result
    }

    /// The backend's name.
    pub fn name(&self) -> &str {
        &self.sandbox.backend
    }

    /// The contract its driver was built against: `0.2`, or `0.1` (what
    /// 0.2 added answers [`DriverError::Unsupported`] for such drivers).
    ///
    /// [`DriverError::Unsupported`]: crate::DriverError::Unsupported
    pub fn contract(&self) -> &'static str {
        self.driver.contract()
    }

    /// The host its private data is bound to.
    pub fn host(&self) -> &str {
        self.sandbox.private_data.host()
    }

    /// The backend's private data, as its driver sees it.
    pub fn private_data(&self) -> &PrivateData {
        &self.sandbox.private_data
    }

    /// Create `share`; returns where clients mount it.
    pub fn create_share(&self, share: &Share) -> Result<Vec<ExportLocation>> {
        self.driver
            .call(&self.sandbox, "create-share", |s, d| d.create_share(s, share))
    }

    /// Delete `share` and its private data.
    pub fn delete_share(&self, share: &Share) -> Result<()> {
        self.driver
            .call(&self.sandbox, "delete-share", |s, d| d.delete_share(s, share))
    }

    /// Grow `share` to `new_size_gib`.
    pub fn extend_share(&self, share: &Share, new_size_gib: u64) -> Result<()> {
        self.driver.call(&self.sandbox, "extend-share", |s, d| {
            d.extend_share(s, share, new_size_gib)
        })
    }

    /// Make sure `share` is exported; returns its export locations.
    pub fn ensure_share(&self, share: &Share) -> Result<Vec<ExportLocation>> {
        self.driver
            .call(&self.sandbox, "ensure-share", |s, d| d.ensure_share(s, share))
    }

    /// Snapshot a share.
    pub fn create_snapshot(&self, snapshot: &Snapshot) -> Result<()> {
        self.driver.call(&self.sandbox, "create-snapshot", |s, d| {
            d.create_snapshot(s, snapshot)
        })
    }

    /// Delete a snapshot and its private data.
    pub fn delete_snapshot(&self, snapshot: &Snapshot) -> Result<()> {
        self.driver.call(&self.sandbox, "delete-snapshot", |s, d| {
            d.delete_snapshot(s, snapshot)
        })
    }

    /// Adopt the backend object `backend_name` as `share`; returns its size
    /// in GiB and export locations.
    pub fn manage_existing(&self, share: &Share, backend_name: &str) -> Result<(u64, Vec<ExportLocation>)> {
        self.driver.call(&self.sandbox, "manage-existing", |s, d| {
            d.manage_existing(s, share, backend_name)
        })
    }

    /// Stop managing `share`, leaving its data on the backend.
    pub fn unmanage(&self, share: &Share) -> Result<()> {
        self.driver
            .call(&self.sandbox, "unmanage", |s, d| d.unmanage(s, share))
    }

    /// Shrink `share` to `new_size_gib`; [`DriverError::Invalid`] if its
    /// data would not fit.
    ///
    /// [`DriverError::Invalid`]: crate::DriverError::Invalid
    pub fn shrink_share(&self, share: &Share, new_size_gib: u64) -> Result<()> {
        self.driver.call(&self.sandbox, "shrink-share", |s, d| {
            d.shrink_share(s, share, new_size_gib)
        })
    }

    /// Create `share` with the data of `snapshot`; returns where clients
    /// mount it.
    pub fn create_share_from_snapshot(
        &self,
        share: &Share,
        snapshot: &Snapshot,
    ) -> Result<Vec<ExportLocation>> {
        self.driver
            .call(&self.sandbox, "create-share-from-snapshot", |s, d| {
                d.create_share_from_snapshot(s, share, snapshot)
            })
    }

    /// Put the data of `snapshot` back into its share.
    pub fn revert_to_snapshot(&self, snapshot: &Snapshot) -> Result<()> {
        self.driver.call(&self.sandbox, "revert-to-snapshot", |s, d| {
            d.revert_to_snapshot(s, snapshot)
        })
    }

    /// Bring `share`'s access rules in line: apply `add_rules` and remove
    /// `delete_rules`, or, when both are empty, apply `access_rules` (the
    /// full list) as a whole. Returns the state of each rule.
    pub fn update_access(
        &self,
        share: &Share,
        access_rules: &[AccessRule],
        add_rules: &[AccessRule],
        delete_rules: &[AccessRule],
    ) -> Result<Vec<RuleResult>> {
        self.driver.call(&self.sandbox, "update-access", |s, d| {
            d.update_access(s, share, access_rules, add_rules, delete_rules)
        })
    }

    /// Adopt the backend snapshot `backend_name` as `snapshot`; returns its
    /// size in GiB.
    pub fn manage_existing_snapshot(&self, snapshot: &Snapshot, backend_name: &str) -> Result<u64> {
        self.driver
            .call(&self.sandbox, "manage-existing-snapshot", |s, d| {
                d.manage_existing_snapshot(s, snapshot, backend_name)
            })
    }

    /// Stop managing `snapshot`, leaving it on the backend.
    pub fn unmanage_snapshot(&self, snapshot: &Snapshot) -> Result<()> {
        self.driver.call(&self.sandbox, "unmanage-snapshot", |s, d| {
            d.unmanage_snapshot(s, snapshot)
        })
    }

    /// The backend's capacity and capabilities, for Manila's scheduler.
    pub fn get_stats(&self) -> Result<BackendStats> {
        self.driver
            .call(&self.sandbox, "get-stats", |s, d| d.get_stats(s))
    }
}
