//! The command line: what clap parses, and which command runs.

use crate::commands;
use anyhow::Result;
use clap::{Args, Parser, Subcommand};
use privdata_host::store::HistoryFilter;
use privdata_host::{Share, Snapshot};
use std::path::PathBuf;

/// Private data for sandboxed OpenStack Manila share drivers.
#[derive(Debug, Parser)]
#[command(name = "privdata", version)]
pub struct Cli {
    /// The configuration file (TOML, like manila.conf) [default:
    /// privdata.toml].
    #[arg(long, short, global = true, env = "PRIVDATA_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the three example drivers through a share lifecycle on a
    /// temporary SQLite store, and show their private data.
    #[cfg(feature = "demo")]
    Demo {
        /// Keep the demo's files in this directory instead of a temporary one.
        #[arg(long)]
        keep: Option<PathBuf>,
    },
    /// Run any driver through the standard lifecycle on a scratch backend
    /// and store; exit code 0 when it passes, 1 when it violates the contract.
    CheckDriver {
        /// The driver component.
        driver: PathBuf,
        /// A driver option, `key=value` (repeatable).
        #[arg(long = "option", value_parser = parse_option)]
        options: Vec<(String, String)>,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Move a host's private data to a new host name, atomically (after
    /// `manila-manage share update_host`).
    RenameHost {
        /// The current host, `hostname@backend`.
        old: String,
        /// The new host.
        new: String,
        /// Merge into a host that already holds data (OLD's values win).
        #[arg(long)]
        merge: bool,
        /// Count and check what would move, and change nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// List (or purge) private data whose entity no longer exists.
    Orphans {
        /// The backend host, `hostname@backend`.
        #[arg(long)]
        host: String,
        /// The entity ids that still exist, one a line; `-` for stdin.
        #[arg(long)]
        live: PathBuf,
        /// Delete the orphans, in one transaction per batch of 500. Refused
        /// when the live list is empty or would purge every entity of the
        /// host, unless --all.
        #[arg(long)]
        purge: bool,
        /// With --purge: purge even when that is every entity of the host.
        #[arg(long, requires = "purge")]
        all: bool,
        /// With --purge: list what would be purged, and delete nothing.
        #[arg(long, requires = "purge")]
        dry_run: bool,
    },
    /// Read the audit journal (`[audit] enabled = true` in the configuration).
    History {
        /// Only this host.
        #[arg(long)]
        host: Option<String>,
        /// Only this entity.
        #[arg(long)]
        entity: Option<String>,
        /// Only changes at or after this unix time.
        #[arg(long)]
        since: Option<i64>,
        /// Only changes before this unix time.
        #[arg(long)]
        until: Option<i64>,
        /// At most this many, the newest.
        #[arg(long)]
        limit: Option<usize>,
        /// Delete entries older than this many days instead of listing.
        #[arg(long)]
        prune_days: Option<u32>,
        #[command(flatten)]
        output: Output,
    },
    /// Write private data as JSON Lines, one entry a line, streaming.
    Export {
        /// Only this host (all hosts if omitted).
        #[arg(long)]
        host: Option<String>,
        /// The file to write; `-` for stdout.
        #[arg(long, default_value = "-")]
        output: PathBuf,
    },
    /// Read JSON Lines written by `export` into the store. Every line is
    /// checked first (nothing is imported if one is bad), then written 1,000
    /// entries a transaction within each host's limits. Safe to run again:
    /// entries are upserted.
    Import {
        /// The file to read; `-` for stdin.
        #[arg(long, default_value = "-")]
        input: PathBuf,
    },
    /// Copy every host's private data (or one host's) from one store to
    /// another, then verify counts and a checksum. Re-runnable: a second run
    /// writes only what is missing or different, so an interrupted migration
    /// resumes. Stop the share services first.
    Migrate {
        /// The store to read: sqlite://PATH, mysql://… or postgres://….
        #[arg(long, env = "PRIVDATA_MIGRATE_FROM", hide_env_values = true)]
        from: String,
        /// The store to write; its entries for the migrated hosts end equal
        /// to the source's (entries the source lacks are removed).
        #[arg(long, env = "PRIVDATA_MIGRATE_TO", hide_env_values = true)]
        to: String,
        /// Only this host.
        #[arg(long)]
        host: Option<String>,
    },
    /// Share operations on a backend's driver.
    #[command(subcommand)]
    Share(ShareCommand),
    /// Snapshot operations on a backend's driver.
    #[command(subcommand)]
    Snapshot(SnapshotCommand),
    /// List the hosts that hold private data, with counts.
    Hosts(Output),
    /// List the entities a host holds private data for.
    List {
        /// The backend host, `hostname@backend`.
        #[arg(long)]
        host: String,
        #[command(flatten)]
        output: Output,
    },
    /// Show the private data of one entity of a host.
    Get {
        /// The backend host, `hostname@backend`.
        #[arg(long)]
        host: String,
        /// The entity (share or snapshot) UUID.
        #[arg(long)]
        entity: String,
        /// Only these keys (repeatable); all keys if none.
        #[arg(long = "key")]
        keys: Vec<String>,
        #[command(flatten)]
        output: Output,
    },
}

#[derive(Debug, Args)]
struct Output {
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct ShareArgs {
    /// The backend (section name in the configuration).
    #[arg(long)]
    backend: String,
    /// The share UUID.
    #[arg(long)]
    id: String,
    /// The share's display name.
    #[arg(long, default_value = "")]
    name: String,
    /// Size in GiB.
    #[arg(long, default_value_t = 1)]
    size: u64,
    /// Protocol.
    #[arg(long, default_value = "NFS")]
    protocol: String,
}

impl ShareArgs {
    fn share(&self) -> Share {
        Share {
            id: self.id.clone(),
            name: self.name.clone(),
            size_gib: self.size,
            protocol: self.protocol.clone(),
        }
    }
}

#[derive(Debug, Subcommand)]
enum ShareCommand {
    /// Create a share; prints its export locations.
    Create(ShareArgs),
    /// Delete a share and its private data.
    Delete(ShareArgs),
    /// Grow a share.
    Extend {
        #[command(flatten)]
        share: ShareArgs,
        /// The new size in GiB.
        #[arg(long)]
        new_size: u64,
    },
    /// Make sure a share is exported; prints its export locations.
    Ensure(ShareArgs),
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

#[derive(Debug, Args)]
struct SnapshotArgs {
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
    #[arg(long, default_value_t = 1)]
    size: u64,
}

#[derive(Debug, Subcommand)]
enum SnapshotCommand {
    /// Snapshot a share.
    Create(SnapshotArgs),
    /// Delete a snapshot and its private data.
    Delete(SnapshotArgs),
}

/// Run one command.
pub fn run(cli: Cli) -> Result<()> {
    let config = cli
        .config
        .clone()
        .unwrap_or_else(|| PathBuf::from("privdata.toml"));
    match cli.command {
        #[cfg(feature = "demo")]
        Command::Demo { keep } => crate::demo::run(keep),
        Command::CheckDriver {
            driver,
            options,
            json,
        } => commands::check_driver(&driver, options, json),
        Command::RenameHost {
            old,
            new,
            merge,
            dry_run,
        } => commands::rename_host(&config, &old, &new, merge, dry_run),
        Command::Orphans {
            host,
            live,
            purge,
            all,
            dry_run,
        } => commands::orphans(&config, &host, &live, purge.then_some((all, dry_run))),
        Command::Export { host, output } => commands::export(&config, host.as_deref(), &output),
        Command::Import { input } => commands::import(&config, &input),
        Command::Migrate { from, to, host } => commands::migrate(
            &from,
            &to,
            host.as_deref(),
            &commands::migrate_limits(cli.config.as_deref())?,
        ),
        Command::History {
            host,
            entity,
            since,
            until,
            limit,
            prune_days,
            output,
        } => {
            let entity = entity
                .map(|e| privdata_host::validate::entity_id(&e))
                .transpose()?;
            let filter = HistoryFilter {
                host,
                entity,
                since,
                until,
                limit,
            };
            commands::history(&config, filter, prune_days, output.json)
        }
        Command::Share(cmd) => {
            let manager = commands::manager(&config)?;
            match cmd {
                ShareCommand::Create(a) => {
                    commands::print_exports(&manager.backend(&a.backend)?.create_share(&a.share())?)
                }
                ShareCommand::Delete(a) => manager.backend(&a.backend)?.delete_share(&a.share())?,
                ShareCommand::Extend { share, new_size } => manager
                    .backend(&share.backend)?
                    .extend_share(&share.share(), new_size)?,
                ShareCommand::Ensure(a) => {
                    commands::print_exports(&manager.backend(&a.backend)?.ensure_share(&a.share())?)
                }
                ShareCommand::Manage { share, backend_name } => {
                    let (size, exports) = manager
                        .backend(&share.backend)?
                        .manage_existing(&share.share(), &backend_name)?;
                    println!("size {size} GiB");
                    commands::print_exports(&exports);
                }
                ShareCommand::Unmanage(a) => manager.backend(&a.backend)?.unmanage(&a.share())?,
            }
            Ok(())
        }
        Command::Snapshot(cmd) => {
            let manager = commands::manager(&config)?;
            let (a, create) = match cmd {
                SnapshotCommand::Create(a) => (a, true),
                SnapshotCommand::Delete(a) => (a, false),
            };
            let snapshot = Snapshot {
                id: a.id.clone(),
                share_id: a.share_id.clone(),
                size_gib: a.size,
            };
            let backend = manager.backend(&a.backend)?;
            if create {
                backend.create_snapshot(&snapshot)?;
            } else {
                backend.delete_snapshot(&snapshot)?;
            }
            Ok(())
        }
        Command::Hosts(output) => commands::hosts(&config, output.json),
        Command::List { host, output } => commands::list(&config, &host, output.json),
        Command::Get {
            host,
            entity,
            keys,
            output,
        } => commands::get(&config, &host, &entity, keys, output.json),
    }
}

fn parse_option(s: &str) -> std::result::Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .ok_or_else(|| format!("{s:?} is not key=value"))
}
