//! `privdata snapshot …`: every snapshot operation of the contract, through
//! a backend's driver.

use super::Context;
use crate::output::{Done, Output};
use anyhow::Result;
use clap::{Args, Subcommand};
use privdata_host::Snapshot as Record;

/// A snapshot on one backend.
#[derive(Debug, Args)]
pub struct SnapshotArgs {
    /// The backend (section name in the configuration).
    #[arg(long)]
    backend: String,
    /// The snapshot UUID.
    #[arg(long)]
    id: String,
    /// The UUID of the share it is of.
    #[arg(long)]
    share_id: String,
    /// Size in GiB.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    size: u64,
    #[command(flatten)]
    output: Output,
}

#[derive(Debug, Subcommand)]
pub enum Snapshot {
    /// Snapshot a share.
    Create(SnapshotArgs),
    /// Delete a snapshot and its private data.
    Delete(SnapshotArgs),
    /// Bring the snapshot's share back to the snapshot's data.
    Revert(SnapshotArgs),
    /// Adopt an existing backend snapshot; prints its size.
    Manage {
        #[command(flatten)]
        snapshot: SnapshotArgs,
        /// The snapshot's name on the backend.
        #[arg(long)]
        backend_name: String,
    },
    /// Stop managing a snapshot; it stays on the backend.
    Unmanage(SnapshotArgs),
}

impl Snapshot {
    pub fn execute(self, context: &Context) -> Result<()> {
        let (args, operation) = match &self {
            Snapshot::Create(a) => (a, "create-snapshot"),
            Snapshot::Delete(a) => (a, "delete-snapshot"),
            Snapshot::Revert(a) => (a, "revert-to-snapshot"),
            Snapshot::Manage { snapshot, .. } => (snapshot, "manage-existing-snapshot"),
            Snapshot::Unmanage(a) => (a, "unmanage-snapshot"),
        };
        let snapshot = Record {
            id: args.id.clone(),
            share_id: args.share_id.clone(),
            size_gib: args.size,
        };
        let manager = context.manager()?;
        let backend = manager.backend(&args.backend)?;
        let done = Done {
            operation,
            backend: &args.backend,
            id: &snapshot.id,
            json: args.output.json,
        };
        match &self {
            Snapshot::Create(_) => done.nothing(backend.create_snapshot(&snapshot)?),
            Snapshot::Delete(_) => done.nothing(backend.delete_snapshot(&snapshot)?),
            Snapshot::Revert(_) => done.nothing(backend.revert_to_snapshot(&snapshot)?),
            Snapshot::Manage { backend_name, .. } => {
                done.size(backend.manage_existing_snapshot(&snapshot, backend_name)?)
            }
            Snapshot::Unmanage(_) => done.nothing(backend.unmanage_snapshot(&snapshot)?),
        }
    }
}
