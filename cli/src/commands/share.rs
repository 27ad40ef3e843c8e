//! `privdata share …`: every share operation of the contract, through a
//! backend's driver.

use super::Context;
use crate::output::{Done, Output};
use anyhow::Result;
use clap::{Args, Subcommand};
use privdata_host::{AccessLevel, AccessRule, AccessType, RuleState, Share as Record, Snapshot};

/// A share on one backend.
#[derive(Debug, Args)]
pub struct ShareArgs {
    /// The backend (section name in the configuration).
    #[arg(long)]
    pub backend: String,
    /// The share UUID.
    #[arg(long)]
    pub id: String,
    /// The share's display name.
    #[arg(long, default_value = "")]
    pub name: String,
    /// Size in GiB.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    pub size: u64,
    /// Protocol.
    #[arg(long, default_value = "NFS")]
    pub protocol: String,
    #[command(flatten)]
    pub output: Output,
}

impl ShareArgs {
    fn share(&self) -> Record {
        Record {
            id: self.id.clone(),
            name: self.name.clone(),
            size_gib: self.size,
            protocol: self.protocol.clone(),
        }
    }
}

/// One access rule, as Manila gives it to a driver.
#[derive(Debug, Args)]
pub struct RuleArgs {
    /// The access rule's id (Manila's UUID).
    #[arg(long)]
    rule_id: String,
    /// Who it lets in: ip, user or cert.
    #[arg(long = "type", value_parser = ["ip", "user", "cert"])]
    access_type: String,
    /// The address or CIDR, user, or certificate name.
    #[arg(long = "to")]
    access_to: String,
    /// What it allows: rw or ro.
    #[arg(long = "level", default_value = "rw", value_parser = ["rw", "ro"])]
    access_level: String,
}

impl RuleArgs {
    fn rule(&self) -> AccessRule {
        AccessRule {
            id: self.rule_id.clone(),
            access_type: match self.access_type.as_str() {
                "ip" => AccessType::Ip,
                "user" => AccessType::User,
                _ => AccessType::Cert,
            },
            access_to: self.access_to.clone(),
            access_level: if self.access_level == "ro" {
                AccessLevel::Ro
            } else {
                AccessLevel::Rw
            },
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum Share {
    /// Create a share; prints its export locations.
    Create(ShareArgs),
    /// Create a share holding a snapshot's data; prints its export locations.
    CreateFromSnapshot {
        #[command(flatten)]
        share: ShareArgs,
        /// The snapshot UUID.
        #[arg(long)]
        snapshot_id: String,
        /// The UUID of the share the snapshot is of.
        #[arg(long)]
        snapshot_share_id: String,
    },
    /// Delete a share and its private data.
    Delete(ShareArgs),
    /// Grow a share.
    Extend {
        #[command(flatten)]
        share: ShareArgs,
        /// The new size in GiB.
        #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
        new_size: u64,
    },
    /// Shrink a share; refused by the driver when its data would not fit.
    Shrink {
        #[command(flatten)]
        share: ShareArgs,
        /// The new size in GiB.
        #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
        new_size: u64,
    },
    /// Make sure a share is exported; prints its export locations.
    Ensure(ShareArgs),
    /// Let one access rule in (the share's only rule, as far as this call
    /// tells the driver); prints its state.
    Allow {
        #[command(flatten)]
        share: ShareArgs,
        #[command(flatten)]
        rule: RuleArgs,
    },
    /// Take one access rule away; prints its state.
    Deny {
        #[command(flatten)]
        share: ShareArgs,
        #[command(flatten)]
        rule: RuleArgs,
    },
    /// Adopt an existing backend object as a share.
    Manage {
        #[command(flatten)]
        share: ShareArgs,
        /// The object's name on the backend.
        #[arg(long)]
        backend_name: String,
    },
    /// Stop managing a share; its data stays on the backend.
    Unmanage(ShareArgs),
}

impl Share {
    pub fn execute(self, context: &Context) -> Result<()> {
        let (args, operation) = match &self {
            Share::Create(a) => (a, "create-share"),
            Share::CreateFromSnapshot { share, .. } => (share, "create-share-from-snapshot"),
            Share::Delete(a) => (a, "delete-share"),
            Share::Extend { share, .. } => (share, "extend-share"),
            Share::Shrink { share, .. } => (share, "shrink-share"),
            Share::Ensure(a) => (a, "ensure-share"),
            Share::Allow { share, .. } | Share::Deny { share, .. } => (share, "update-access"),
            Share::Manage { share, .. } => (share, "manage-existing"),
            Share::Unmanage(a) => (a, "unmanage"),
        };
        let manager = context.manager()?;
        let backend = manager.backend(&args.backend)?;
        let share = args.share();
        let done = Done {
            operation,
            backend: &args.backend,
            id: &share.id,
            json: args.output.json,
        };
        let rules = |results: Vec<privdata_host::RuleResult>| {
            done.value("rules", &results, |results| {
                for r in results {
                    let state = if r.state == RuleState::Active {
                        "active"
                    } else {
                        "error"
                    };
                    println!("rule {}: {state}", r.id);
                }
            })
        };
        match &self {
            Share::Create(_) => done.exports(None, &backend.create_share(&share)?),
            Share::CreateFromSnapshot {
                snapshot_id,
                snapshot_share_id,
                ..
            } => {
                let snapshot = Snapshot {
                    id: snapshot_id.clone(),
                    share_id: snapshot_share_id.clone(),
                    size_gib: share.size_gib,
                };
                done.exports(None, &backend.create_share_from_snapshot(&share, &snapshot)?)
            }
            Share::Ensure(_) => done.exports(None, &backend.ensure_share(&share)?),
            Share::Manage { backend_name, .. } => {
                let (size, exports) = backend.manage_existing(&share, backend_name)?;
                done.exports(Some(size), &exports)
            }
            Share::Delete(_) => done.nothing(backend.delete_share(&share)?),
            Share::Extend { new_size, .. } => done.nothing(backend.extend_share(&share, *new_size)?),
            Share::Shrink { new_size, .. } => done.nothing(backend.shrink_share(&share, *new_size)?),
            Share::Allow { rule, .. } => {
                let rule = rule.rule();
                rules(backend.update_access(
                    &share,
                    std::slice::from_ref(&rule),
                    std::slice::from_ref(&rule),
                    &[],
                )?)
            }
            Share::Deny { rule, .. } => rules(backend.update_access(&share, &[], &[], &[rule.rule()])?),
            Share::Unmanage(_) => done.nothing(backend.unmanage(&share)?),
        }
    }
}
