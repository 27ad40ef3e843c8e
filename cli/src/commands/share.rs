//! `privdata share …`: every share operation of the contract, through a
//! backend's driver, with the share record Manila would pass.

use super::Context;
use crate::output::{Done, Output, printable};
use anyhow::Result;
use clap::{Args, Subcommand};
use privdata_host::{
    AccessLevel, AccessRule, AccessType, ExportLocation, Properties, RuleResult, RuleState, Share as Record,
    Snapshot,
};

/// A share on one backend, as Manila hands it to a driver.
#[derive(Debug, Args)]
pub struct ShareArgs {
    /// The backend (section name in the configuration).
    #[arg(long)]
    pub backend: String,
    /// The share instance's UUID (what private data is kept under).
    #[arg(long)]
    pub id: String,
    /// The share's UUID; default: the instance's.
    #[arg(long)]
    pub share_id: Option<String>,
    /// Manila's name for it; default: `share-<id>`, as Manila's default
    /// `share_name_template` makes it.
    #[arg(long)]
    pub name: Option<String>,
    /// The name the tenant gave it.
    #[arg(long, default_value = "")]
    pub display_name: String,
    /// Size in GiB.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    pub size: u64,
    /// Protocol.
    #[arg(long, default_value = "NFS")]
    pub protocol: String,
    /// Where it lives, `host@backend#pool`.
    #[arg(long, default_value = "")]
    pub host: String,
    /// Its share type's id.
    #[arg(long)]
    pub share_type_id: Option<String>,
    /// An extra spec of its share type, `key=value` (repeat for more).
    #[arg(long = "extra-spec", value_parser = key_value)]
    pub extra_specs: Vec<(String, String)>,
    /// A metadata item, `key=value` (repeat for more).
    #[arg(long = "metadata", value_parser = key_value)]
    pub metadata: Vec<(String, String)>,
    /// An export location it has (repeat for more): what an administrator
    /// gives to manage a share.
    #[arg(long = "export-location")]
    pub export_locations: Vec<String>,
    /// What the driver said of it when it made it.
    #[arg(long)]
    pub provider_location: Option<String>,
    #[command(flatten)]
    pub output: Output,
}

/// `key=value`, for repeated options.
pub fn key_value(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(format!("{s:?} is not key=value")),
    }
}

impl ShareArgs {
    pub fn share(&self) -> Record {
        Record {
            share_id: self.share_id.clone().unwrap_or_else(|| self.id.clone()),
            name: self.name.clone().unwrap_or_else(|| format!("share-{}", self.id)),
            display_name: self.display_name.clone(),
            host: self.host.clone(),
            share_type_id: self.share_type_id.clone(),
            extra_specs: self.extra_specs.clone(),
            metadata: self.metadata.clone(),
            export_locations: self
                .export_locations
                .iter()
                .map(|p| ExportLocation::new(p))
                .collect(),
            provider_location: self.provider_location.clone(),
            ..Record::new(&self.id, self.size, &self.protocol)
        }
    }
}

/// One access rule, as Manila gives it to a driver.
#[derive(Debug, Args)]
pub struct RuleArgs {
    /// The access rule's id (Manila's UUID).
    #[arg(long)]
    rule_id: String,
    /// Who it lets in: ip, user, cert or cephx.
    #[arg(long = "type", value_parser = ["ip", "user", "cert", "cephx"])]
    access_type: String,
    /// The address or CIDR, user, certificate or Ceph client name.
    #[arg(long = "to")]
    access_to: String,
    /// What it allows: rw or ro.
    #[arg(long = "level", default_value = "rw", value_parser = ["rw", "ro"])]
    access_level: String,
}

impl RuleArgs {
    pub fn rule(&self) -> AccessRule {
        let access_type = match self.access_type.as_str() {
            "ip" => AccessType::Ip,
            "user" => AccessType::User,
            "cephx" => AccessType::Cephx,
            _ => AccessType::Cert,
        };
        let level = if self.access_level == "ro" {
            AccessLevel::Ro
        } else {
            AccessLevel::Rw
        };
        AccessRule::new(&self.rule_id, access_type, &self.access_to, level)
    }
}

/// The state of each rule the driver answered for.
pub fn print_rules(done: &Done<'_>, results: Vec<RuleResult>) -> Result<()> {
    done.value("rules", &results, |results| {
        for r in results {
            let state = if r.state == RuleState::Active {
                "active"
            } else {
                "error"
            };
            match &r.access_key {
                Some(key) => println!("rule {}: {state}, access key {}", r.id, printable(key)),
                None => println!("rule {}: {state}", r.id),
            }
        }
    })
}

/// What the driver is asked to adopt: `--backend-name`, and any further
/// `--driver-option`.
#[derive(Debug, Args)]
pub struct ManageArgs {
    /// The object's name on the backend, passed as the `backend_name`
    /// driver option (else the export location says which).
    #[arg(long)]
    backend_name: Option<String>,
    /// A further driver option, `key=value` (repeat for more).
    #[arg(long = "driver-option", value_parser = key_value)]
    driver_options: Vec<(String, String)>,
}

impl ManageArgs {
    pub fn options(&self) -> Properties {
        let mut options = self.driver_options.clone();
        if let Some(name) = &self.backend_name {
            options.push(("backend_name".into(), name.clone()));
        }
        options
    }
}

#[derive(Debug, Subcommand)]
pub enum Share {
    /// Create a share; prints what Manila would record (export locations).
    Create(ShareArgs),
    /// Create a share holding a snapshot's data.
    CreateFromSnapshot {
        #[command(flatten)]
        share: ShareArgs,
        /// The snapshot instance's UUID.
        #[arg(long)]
        snapshot_id: String,
        /// The UUID of the share instance the snapshot is of.
        #[arg(long)]
        snapshot_share_id: String,
        /// What the driver said of the snapshot when it made it.
        #[arg(long)]
        snapshot_provider_location: Option<String>,
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
    /// Make sure a share is exported (ensure-shares, of this one share).
    Ensure(ShareArgs),
    /// Where work on a share that went on after its call stands.
    Status(ShareArgs),
    /// How much of the share is in use.
    Usage(ShareArgs),
    /// Let one access rule in (the share's only rule, as far as this call
    /// tells the driver); prints the state of rules the driver answers for.
    Allow {
        #[command(flatten)]
        share: ShareArgs,
        #[command(flatten)]
        rule: RuleArgs,
    },
    /// Take one access rule away.
    Deny {
        #[command(flatten)]
        share: ShareArgs,
        #[command(flatten)]
        rule: RuleArgs,
    },
    /// Adopt an existing backend object as a share: by `--export-location`
    /// as Manila does, or `--backend-name`.
    Manage {
        #[command(flatten)]
        share: ShareArgs,
        #[command(flatten)]
        manage: ManageArgs,
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
            Share::Ensure(a) => (a, "ensure-shares"),
            Share::Status(a) => (a, "get-share-status"),
            Share::Usage(a) => (a, "update-share-usage-size"),
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
        match &self {
            Share::Create(_) => done.share_update(&backend.create_share(&share)?),
            Share::CreateFromSnapshot {
                snapshot_id,
                snapshot_share_id,
                snapshot_provider_location,
                ..
            } => {
                let snapshot = Snapshot {
                    provider_location: snapshot_provider_location.clone(),
                    ..Snapshot::new(
                        snapshot_id,
                        Record::new(snapshot_share_id, share.size_gib, &share.protocol),
                    )
                };
                let share = Record {
                    snapshot_id: Some(snapshot_id.clone()),
                    status: "creating_from_snapshot".into(),
                    ..share.clone()
                };
                done.share_update(&backend.create_share_from_snapshot(&share, &snapshot)?)
            }
            Share::Ensure(_) => {
                let update = backend.ensure_share(&share)?;
                done.share_update(&update)?;
                // A share the backend does not have: Manila would record it
                // in error; the operator hears it as a failure.
                anyhow::ensure!(
                    update.status.as_deref() != Some("error"),
                    "share {} not found on backend {}: ensure-shares answered status \"error\"",
                    share.id,
                    args.backend
                );
                Ok(())
            }
            Share::Status(_) => done.share_update(&backend.get_share_status(&share)?),
            Share::Usage(_) => {
                let usage = backend.update_share_usage_size(std::slice::from_ref(&share))?;
                done.value("usage", &usage, |usage| {
                    for u in usage {
                        println!("share {}: {} GiB used", u.id, u.used_size_gib);
                    }
                })
            }
            Share::Manage { manage, .. } => {
                let share = Record {
                    status: "manage_starting".into(),
                    ..share.clone()
                };
                done.share_update(&backend.manage_existing(&share, &manage.options())?)
            }
            Share::Delete(_) => done.nothing(backend.delete_share(&share)?),
            Share::Extend { new_size, .. } => done.nothing(backend.extend_share(&share, *new_size)?),
            Share::Shrink { new_size, .. } => done.nothing(backend.shrink_share(&share, *new_size)?),
            Share::Allow { rule, .. } => {
                let rule = [rule.rule()];
                print_rules(&done, backend.update_access(&share, &rule, &rule, &[], &[])?)
            }
            Share::Deny { rule, .. } => print_rules(
                &done,
                backend.update_access(&share, &[], &[], &[rule.rule()], &[])?,
            ),
            Share::Unmanage(_) => done.nothing(backend.unmanage(&share)?),
        }
    }
}
