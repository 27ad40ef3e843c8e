//! The command line: what clap parses, and which command runs.

use crate::commands;
use anyhow::Result;
use clap::parser::ValueSource;
use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};
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
    /// Whether --config was given on the command line (not only in the
    /// environment).
    #[arg(skip)]
    config_given: bool,
    #[command(subcommand)]
    command: Command,
}

impl Cli {
    /// The command line of this process; exits with clap's message when it
    /// is wrong.
    pub fn from_args() -> Cli {
        let matches = Cli::command().get_matches();
        let given = |m: &clap::ArgMatches| m.value_source("config") == Some(ValueSource::CommandLine);
        let config_given = given(&matches) || matches.subcommand().is_some_and(|(_, m)| given(m));
        let mut cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
        cli.config_given = config_given;
        cli
    }
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
        /// An endpoint the driver may reach, as in `allowed_outbound`:
        /// `https://10.0.0.5:8443`, `tcp://10.0.0.6:22` (repeatable).
        #[arg(long = "allow-outbound", value_name = "ENDPOINT", value_parser = privdata_host::Endpoint::parse)]
        allowed_outbound: Vec<privdata_host::Endpoint>,
        /// The CA certificates (PEM) the driver's TLS endpoints are verified
        /// against, as `ca_file` in a backend's configuration.
        #[arg(long, value_name = "FILE")]
        ca_file: Option<PathBuf>,
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
        #[command(flatten)]
        output: Output,
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
        #[command(flatten)]
        output: Output,
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
        /// Only changes at or after this time: a date (2026-11-25), a UTC
        /// time (2026-11-25T10:00:00Z) or unix seconds.
        #[arg(long, value_parser = parse_time)]
        since: Option<i64>,
        /// Only changes before this time (same forms).
        #[arg(long, value_parser = parse_time)]
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
    /// Load every backend of the configuration and run its driver's setup
    /// with its options: a missing driver or root, a misspelled option, a
    /// store that cannot be reached. Exit code 0 when all is well.
    CheckConfig(Output),
    /// Set one key of an entity's private data by hand (journaled, within
    /// the host's limits).
    Set {
        #[command(flatten)]
        at: KeyAt,
        /// The value.
        #[arg(long)]
        value: String,
    },
    /// Delete one key of an entity's private data by hand (journaled);
    /// refused when the entity holds no such key.
    Unset(KeyAt),
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

/// One key of one entity of one host.
#[derive(Debug, Args)]
struct KeyAt {
    /// The backend host, `hostname@backend`.
    #[arg(long)]
    host: String,
    /// The entity (share or snapshot) UUID.
    #[arg(long)]
    entity: String,
    /// The key.
    #[arg(long)]
    key: String,
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
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    size: u64,
    /// Protocol.
    #[arg(long, default_value = "NFS")]
    protocol: String,
    #[command(flatten)]
    output: Output,
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
        #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
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
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    size: u64,
    #[command(flatten)]
    output: Output,
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
    let no_config = |command: &str, why: &str| {
        anyhow::ensure!(
            !cli.config_given,
            "{command} reads no configuration ({why}); drop --config"
        );
        Ok(())
    };
    match cli.command {
        #[cfg(feature = "demo")]
        Command::Demo { keep } => {
            no_config("demo", "it writes its own; --keep DIR keeps it")?;
            crate::demo::run(keep)
        }
        Command::CheckDriver {
            driver,
            options,
            allowed_outbound,
            ca_file,
            json,
        } => {
            no_config(
                "check-driver",
                "it runs the driver on a scratch store; give options with --option",
            )?;
            let allowed: Vec<String> = allowed_outbound.iter().map(ToString::to_string).collect();
            commands::check_driver(&driver, options, &allowed, ca_file.as_deref(), json)
        }
        Command::CheckConfig(output) => commands::check_config(&config, output.json),
        Command::Set { at, value } => commands::set(&config, &at.host, &at.entity, &at.key, &value),
        Command::Unset(at) => commands::unset(&config, &at.host, &at.entity, &at.key),
        Command::RenameHost {
            old,
            new,
            merge,
            dry_run,
            output,
        } => commands::rename_host(&config, &old, &new, merge, dry_run, output.json),
        Command::Orphans {
            host,
            live,
            purge,
            all,
            dry_run,
            output,
        } => commands::orphans(
            &config,
            &host,
            &live,
            purge.then_some((all, dry_run)),
            output.json,
        ),
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
            let (a, operation) = match &cmd {
                ShareCommand::Create(a) => (a, "create-share"),
                ShareCommand::Delete(a) => (a, "delete-share"),
                ShareCommand::Extend { share, .. } => (share, "extend-share"),
                ShareCommand::Ensure(a) => (a, "ensure-share"),
                ShareCommand::Manage { share, .. } => (share, "manage-existing"),
                ShareCommand::Unmanage(a) => (a, "unmanage"),
            };
            let backend = manager.backend(&a.backend)?;
            let share = a.share();
            let done = commands::Done {
                operation,
                backend: &a.backend,
                id: &share.id,
                json: a.output.json,
            };
            match &cmd {
                ShareCommand::Create(_) => done.exports(None, &backend.create_share(&share)?),
                ShareCommand::Ensure(_) => done.exports(None, &backend.ensure_share(&share)?),
                ShareCommand::Manage { backend_name, .. } => {
                    let (size, exports) = backend.manage_existing(&share, backend_name)?;
                    done.exports(Some(size), &exports)
                }
                ShareCommand::Delete(_) => done.nothing(backend.delete_share(&share)?),
                ShareCommand::Extend { new_size, .. } => {
                    done.nothing(backend.extend_share(&share, *new_size)?)
                }
                ShareCommand::Unmanage(_) => done.nothing(backend.unmanage(&share)?),
            }
        }
        Command::Snapshot(cmd) => {
            let manager = commands::manager(&config)?;
            let (a, operation) = match cmd {
                SnapshotCommand::Create(a) => (a, "create-snapshot"),
                SnapshotCommand::Delete(a) => (a, "delete-snapshot"),
            };
            let snapshot = Snapshot {
                id: a.id.clone(),
                share_id: a.share_id.clone(),
                size_gib: a.size,
            };
            let backend = manager.backend(&a.backend)?;
            let done = commands::Done {
                operation,
                backend: &a.backend,
                id: &snapshot.id,
                json: a.output.json,
            };
            if operation == "create-snapshot" {
                done.nothing(backend.create_snapshot(&snapshot)?)
            } else {
                done.nothing(backend.delete_snapshot(&snapshot)?)
            }
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

/// A time as `--since` and `--until` take it: unix seconds, a date
/// (midnight UTC), or an RFC 3339 time (`T` or a space, `Z` optional).
fn parse_time(s: &str) -> std::result::Result<i64, String> {
    if let Ok(seconds) = s.parse::<i64>() {
        return Ok(seconds);
    }
    let text = if s.len() == 10 {
        format!("{s} 00:00:00")
    } else {
        s.trim_end_matches('Z').to_string()
    };
    let at = humantime::parse_rfc3339_weak(&text).map_err(|e| {
        format!("{s:?} is not a time ({e}); give a date like 2026-11-25, a time like 2026-11-25T10:00:00Z, or unix seconds")
    })?;
    at.duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .map_err(|_| format!("{s:?} is before 1970"))
}
