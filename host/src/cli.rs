//! The command line.

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use privdata_host::{Config, ExportLocation, HostLimits, Manager, Share, Snapshot, Storage, store};
use std::path::{Path, PathBuf};
use std::sync::Arc;

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
    /// Measure every private-data path (guest, host, plain SQLite) and more.
    #[cfg(feature = "demo")]
    Bench {
        /// Print one JSON object on stdout (the table goes to stderr).
        #[arg(long)]
        json: bool,
        /// A short run with small sizes, to check the benchmark works.
        #[arg(long)]
        quick: bool,
        /// Also measure the ops on this MariaDB/MySQL or PostgreSQL server
        /// (repeatable); its tables are created if missing, and the bench's
        /// hosts are deleted after.
        #[arg(long = "server", value_name = "URL")]
        servers: Vec<String>,
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
    let manager = || Manager::from_config_file(&config).context("cannot start the backends");
    match cli.command {
        #[cfg(feature = "demo")]
        Command::Demo { keep } => crate::demo::run(keep),
        #[cfg(feature = "demo")]
        Command::Bench { json, quick, servers } => {
            let sizes = if quick {
                crate::bench::Sizes::QUICK
            } else {
                crate::bench::Sizes::FULL
            };
            crate::bench::run(sizes, json, &servers)
        }
        Command::CheckDriver {
            driver,
            options,
            json,
        } => {
            let report = privdata_host::check::check_driver(&driver, options)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                println!("check-driver {}", driver.display());
                for step in &report.steps {
                    let outcome = format!("{:?}", step.outcome).to_uppercase();
                    println!(
                        "  {outcome:<12} {}{}",
                        step.name,
                        if step.detail.is_empty() {
                            String::new()
                        } else {
                            format!(": {}", step.detail)
                        }
                    );
                }
            }
            let failed = report
                .steps
                .iter()
                .filter(|s| s.outcome == privdata_host::check::Outcome::Fail)
                .count();
            if failed > 0 {
                anyhow::bail!("{} does not conform: {failed} violation(s)", driver.display());
            }
            if !json {
                println!("result: PASS");
            }
            Ok(())
        }
        Command::RenameHost {
            old,
            new,
            merge,
            dry_run,
        } => {
            let (storage, config) = existing_store(&config)?;
            let r = privdata_host::rename::rename_host(
                storage.as_ref(),
                &old,
                &new,
                merge,
                &config.host_limits(),
                dry_run,
            )?;
            let verb = if dry_run { "would move" } else { "moved" };
            println!(
                "{verb} {} entries of {} entities from {old} to {new} ({} overwritten)",
                r.moved, r.entities, r.overwritten
            );
            Ok(())
        }
        Command::Orphans {
            host,
            live,
            purge,
            all,
            dry_run,
        } => orphans(&config, &host, &live, purge.then_some((all, dry_run))),
        Command::Export { host, output } => export(&config, host.as_deref(), &output),
        Command::Import { input } => import(&config, &input),
        Command::Migrate { from, to, host } => migrate(
            &from,
            &to,
            host.as_deref(),
            &migrate_limits(cli.config.as_deref())?,
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
            let (storage, _) = existing_store(&config)?;
            if let Some(days) = prune_days {
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)?
                    .as_secs() as i64;
                let pruned = storage.prune_history(now - i64::from(days) * 86_400)?;
                println!("pruned {pruned} journal entries older than {days} days");
                return Ok(());
            }
            let entity = entity
                .map(|e| privdata_host::validate::entity_id(&e))
                .transpose()?;
            let filter = privdata_host::store::HistoryFilter {
                host,
                entity,
                since,
                until,
                limit,
            };
            let entries = storage.history(&filter)?;
            if output.json {
                println!("{}", serde_json::to_string_pretty(&entries)?);
            } else {
                for e in entries {
                    let short =
                        |d: &Option<String>| d.as_deref().map_or("-".to_string(), |d| d[..12].to_string());
                    println!(
                        "{}\t{}\t{}\t{}\t{}\t{} -> {}",
                        e.at,
                        e.host,
                        e.entity,
                        e.key,
                        e.operation,
                        short(&e.old_digest),
                        short(&e.new_digest)
                    );
                }
            }
            Ok(())
        }
        Command::Share(cmd) => {
            let manager = manager()?;
            match cmd {
                ShareCommand::Create(a) => {
                    print_exports(&manager.backend(&a.backend)?.create_share(&a.share())?)
                }
                ShareCommand::Delete(a) => manager.backend(&a.backend)?.delete_share(&a.share())?,
                ShareCommand::Extend { share, new_size } => manager
                    .backend(&share.backend)?
                    .extend_share(&share.share(), new_size)?,
                ShareCommand::Ensure(a) => {
                    print_exports(&manager.backend(&a.backend)?.ensure_share(&a.share())?)
                }
                ShareCommand::Manage { share, backend_name } => {
                    let (size, exports) = manager
                        .backend(&share.backend)?
                        .manage_existing(&share.share(), &backend_name)?;
                    println!("size {size} GiB");
                    print_exports(&exports);
                }
                ShareCommand::Unmanage(a) => manager.backend(&a.backend)?.unmanage(&a.share())?,
            }
            Ok(())
        }
        Command::Snapshot(cmd) => {
            let manager = manager()?;
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
        Command::Hosts(output) => {
            let hosts = existing_store(&config)?.0.hosts()?;
            if output.json {
                println!("{}", serde_json::to_string_pretty(&hosts)?);
            } else {
                for h in hosts {
                    println!("{}\t{} entities\t{} entries", h.host, h.entities, h.entries);
                }
            }
            Ok(())
        }
        Command::List { host, output } => {
            let entities = existing_store(&config)?.0.entities(&host)?;
            if output.json {
                println!("{}", serde_json::to_string_pretty(&entities)?);
            } else {
                for e in entities {
                    println!("{}\t{} entries", e.entity, e.entries);
                }
            }
            Ok(())
        }
        Command::Get {
            host,
            entity,
            keys,
            output,
        } => {
            let (storage, _) = existing_store(&config)?;
            let data = privdata_host::PrivateData::new(storage, &host, Default::default());
            let keys = (!keys.is_empty()).then_some(keys);
            let pairs = data.get(&entity, keys.as_deref())?;
            if output.json {
                let map: serde_json::Map<String, serde_json::Value> =
                    pairs.into_iter().map(|(k, v)| (k, v.into())).collect();
                println!("{}", serde_json::to_string_pretty(&map)?);
            } else {
                for (k, v) in pairs {
                    println!("{k} = {v}");
                }
            }
            Ok(())
        }
    }
}

fn parse_option(s: &str) -> std::result::Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .ok_or_else(|| format!("{s:?} is not key=value"))
}

/// A file to read, or stdin for `-`.
fn input(path: &Path) -> Result<Box<dyn std::io::BufRead>> {
    if path == Path::new("-") {
        return Ok(Box::new(std::io::stdin().lock()));
    }
    anyhow::ensure!(
        !path.is_dir(),
        "{} is a directory; give a file, or - for stdin",
        path.display()
    );
    let file = std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(Box::new(std::io::BufReader::new(file)))
}

/// How `input` names its source in messages.
fn source_name(path: &Path) -> String {
    if path == Path::new("-") {
        "stdin".into()
    } else {
        path.display().to_string()
    }
}

/// List, or purge (`purge = Some((all, dry_run))`), what `host` keeps about
/// entities not in the live list. The counts are printed before anything
/// is deleted.
fn orphans(config: &Path, host: &str, live: &Path, purge: Option<(bool, bool)>) -> Result<()> {
    use privdata_host::orphans;
    let live_list = orphans::LiveList::read(input(live)?, &source_name(live))?;
    let (storage, _) = existing_store(config)?;
    let found = orphans::find(storage.as_ref(), host, &live_list)?;
    for e in &found.entities {
        println!("{}\t{} entries", e.entity, e.entries);
    }
    let (count, entries) = (found.entities.len(), found.entries());
    match purge {
        None => println!(
            "{count} orphaned entities ({entries} entries) of {host}, of {} it holds; --purge deletes them",
            found.held
        ),
        Some((all, true)) => {
            orphans::purge(storage.as_ref(), &found, &live_list, all, true)?;
            println!(
                "would purge {count} orphaned entities ({entries} entries) of {host}, of {} it holds; \
                 nothing was deleted (--dry-run)",
                found.held
            );
        }
        Some((all, false)) => {
            let deleted = orphans::purge(storage.as_ref(), &found, &live_list, all, false)?;
            println!("purged {count} orphaned entities ({deleted} entries) of {host}");
        }
    }
    Ok(())
}

/// Stream every entry out a page at a time: memory stays constant.
fn export(config: &Path, host: Option<&str>, output: &Path) -> Result<()> {
    let (storage, _) = existing_store(config)?;
    let mut out: Box<dyn std::io::Write> = if output == Path::new("-") {
        Box::new(std::io::BufWriter::new(std::io::stdout().lock()))
    } else {
        Box::new(std::io::BufWriter::new(
            std::fs::File::create(output).with_context(|| format!("cannot create {}", output.display()))?,
        ))
    };
    let count = privdata_host::transfer::export(storage.as_ref(), host, &mut out)?;
    eprintln!("exported {count} entries");
    Ok(())
}

/// Check every line, then write them a page at a time.
fn import(config: &Path, from: &Path) -> Result<()> {
    let reader = input(from)?;
    let config = Config::load_store(config)?;
    // An import may fill a new store: restoring a backup.
    let storage = store::open_with(&config.storage_url, &config.storage_options)?;
    let report = privdata_host::transfer::import(
        storage.as_ref(),
        reader,
        &source_name(from),
        &config.host_limits(),
    )?;
    println!("imported {} entries", report.entries);
    Ok(())
}

/// The limits migrate keeps: the backends' of the configuration if one is
/// named, or if `privdata.toml` is here; the defaults otherwise.
fn migrate_limits(config: Option<&Path>) -> Result<HostLimits> {
    match config {
        Some(path) => Ok(Config::load_store(path)?.host_limits()),
        None if Path::new("privdata.toml").is_file() => {
            Ok(Config::load_store(Path::new("privdata.toml"))?.host_limits())
        }
        None => Ok(HostLimits::default()),
    }
}

/// Copy between two stores, drawing progress on stderr.
fn migrate(from: &str, to: &str, host: Option<&str>, limits: &HostLimits) -> Result<()> {
    use privdata_host::migrate::Progress;
    use std::io::{IsTerminal, Write};
    anyhow::ensure!(
        from != to,
        "--from and --to name the same store; give two different stores"
    );
    // A mistyped source must not become an empty store that migrates
    // nothing.
    let source = store::open_existing(from, &Default::default())
        .with_context(|| format!("--from {}", store::redact(from)))?;
    let target = store::open(to).with_context(|| format!("--to {}", store::redact(to)))?;
    let started = std::time::Instant::now();
    let terminal = std::io::stderr().is_terminal();
    let mut last_tenth = None;
    let mut draw = |p: Progress| {
        let percent = (p.done * 100).checked_div(p.total).unwrap_or(100);
        let rate = p.done as f64 / started.elapsed().as_secs_f64().max(1e-3);
        if terminal {
            let filled = (percent / 4) as usize;
            eprint!(
                "\r[{}{}] {percent:>3}%  {} / {} entries  {rate:.0}/s ",
                "#".repeat(filled),
                " ".repeat(25 - filled),
                p.done,
                p.total
            );
            let _ = std::io::stderr().flush();
        } else if last_tenth != Some(percent / 10) {
            // Logs get a line every 10%, not a line per page.
            last_tenth = Some(percent / 10);
            eprintln!("migrate: {percent}%  {} / {} entries", p.done, p.total);
        }
    };
    let report = privdata_host::migrate::migrate(source.as_ref(), target.as_ref(), host, limits, &mut draw);
    if terminal {
        eprintln!();
    }
    let r = report?;
    println!(
        "migrated {} hosts, {} entries: {} copied, {} already there, {} removed from the \
         destination; verified: counts equal, checksum {} ({:.1} s)",
        r.hosts,
        r.entries,
        r.copied,
        r.unchanged,
        r.removed,
        &r.checksum[..16],
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// The store of the configuration at `path`, for operator commands: only
/// `[storage]` is needed, and a store that does not exist is an error, not
/// a new empty one.
fn existing_store(path: &Path) -> Result<(Arc<dyn Storage>, Config)> {
    let config = Config::load_store(path)?;
    let storage = store::open_existing(&config.storage_url, &config.storage_options)
        .with_context(|| format!("[storage] url of {}", path.display()))?;
    Ok((storage, config))
}

pub(crate) fn print_exports(exports: &[ExportLocation]) {
    for e in exports {
        let admin = if e.is_admin_only { " (admin only)" } else { "" };
        println!("export {}{admin}", e.path);
    }
}
