//! `privdata snapshot …`: every snapshot operation of the contract, through
//! a backend's driver.

use super::Context;
use super::share::{ManageArgs, RuleArgs};
use crate::output::{Done, Output};
use anyhow::Result;
use clap::{Args, Subcommand};
use privdata_host::{Share, Snapshot as Record};

/// A snapshot on one backend, as Manila hands it to a driver.
#[derive(Debug, Args)]
pub struct SnapshotArgs {
    /// The backend (section name in the configuration).
    #[arg(long)]
    backend: String,
    /// The snapshot instance's UUID (what private data is kept under).
    #[arg(long)]
    id: String,
    /// The UUID of the share instance it is of.
    #[arg(long)]
    share_id: String,
    /// Manila's name for it; default: `share-snapshot-<id>`.
    #[arg(long)]
    name: Option<String>,
    /// Size in GiB (the share's too).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    size: u64,
    /// The share's protocol.
    #[arg(long, default_value = "NFS")]
    protocol: String,
    /// What the driver said of it when it made it (what an administrator
    /// gives to manage a snapshot).
    #[arg(long)]
    provider_location: Option<String>,
    #[command(flatten)]
    output: Output,
}

#[derive(Debug, Subcommand)]
pub enum Snapshot {
    /// Snapshot a share; prints what Manila would record.
    Create(SnapshotArgs),
    /// Delete a snapshot and its private data.
    Delete(SnapshotArgs),
    /// Bring the snapshot's share back to the snapshot's data (the share's
    /// and snapshot's rules are passed empty); prints a new size, if any.
    Revert(SnapshotArgs),
    /// Let one access rule in to a mounted snapshot.
    Allow {
        #[command(flatten)]
        snapshot: SnapshotArgs,
        #[command(flatten)]
        rule: RuleArgs,
    },
    /// Take one access rule away from a mounted snapshot.
    Deny {
        #[command(flatten)]
        snapshot: SnapshotArgs,
        #[command(flatten)]
        rule: RuleArgs,
    },
    /// Adopt an existing backend snapshot: by `--provider-location` as
    /// Manila does, or `--backend-name`; prints its size.
    Manage {
        #[command(flatten)]
        snapshot: SnapshotArgs,
        #[command(flatten)]
        manage: ManageArgs,
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
            Snapshot::Allow { snapshot, .. } | Snapshot::Deny { snapshot, .. } => {
                (snapshot, "snapshot-update-access")
            }
            Snapshot::Manage { snapshot, .. } => (snapshot, "manage-existing-snapshot"),
            Snapshot::Unmanage(a) => (a, "unmanage-snapshot"),
        };
        let snapshot = Record {
            name: args
                .name
                .clone()
                .unwrap_or_else(|| format!("share-snapshot-{}", args.id)),
            provider_location: args.provider_location.clone(),
            ..Record::new(&args.id, Share::new(&args.share_id, args.size, &args.protocol))
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
            Snapshot::Create(_) => done.snapshot_update(&backend.create_snapshot(&snapshot)?),
            Snapshot::Delete(_) => done.nothing(backend.delete_snapshot(&snapshot)?),
            Snapshot::Revert(_) => done.share_update(&backend.revert_to_snapshot(&snapshot, &[], &[])?),
            Snapshot::Allow { rule, .. } => {
                let rule = [rule.rule()];
                done.nothing(backend.snapshot_update_access(&snapshot, &rule, &rule, &[])?)
            }
            Snapshot::Deny { rule, .. } => {
                done.nothing(backend.snapshot_update_access(&snapshot, &[], &[], &[rule.rule()])?)
            }
            Snapshot::Manage { manage, .. } => {
                done.snapshot_update(&backend.manage_existing_snapshot(&snapshot, &manage.options())?)
            }
            Snapshot::Unmanage(_) => done.nothing(backend.unmanage_snapshot(&snapshot)?),
        }
    }
}
