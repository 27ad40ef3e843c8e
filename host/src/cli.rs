//! The command line.

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use privdata_host::{Config, ExportLocation, Manager, Share, Snapshot, store};
use std::path::PathBuf;

/// Private data for sandboxed OpenStack Manila share drivers.
#[derive(Debug, Parser)]
#[command(name = "privdata", version)]
pub struct Cli {
    /// The configuration file (TOML, like manila.conf).
    #[arg(
        long,
        short,
        global = true,
        env = "PRIVDATA_CONFIG",
        default_value = "privdata.toml"
    )]
    config: PathBuf,
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
    },
    /// List (or purge) private data whose entity no longer exists.
    Orphans {
        /// The backend host, `hostname@backend`.
        #[arg(long)]
        host: String,
        /// The entity ids that still exist, one a line; `-` for stdin.
        #[arg(long)]
        live: PathBuf,
        /// Delete the orphans, in one transaction per batch of 500.
        #[arg(long)]
        purge: bool,
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
    /// Read JSON Lines written by `export` into the store, streaming, 1,000
    /// entries a transaction. Safe to run again: entries are upserted.
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
    let manager = || Manager::from_config_file(&cli.config).context("cannot start the backends");
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
        Command::RenameHost { old, new, merge } => {
            privdata_host::validate::host(&new)?;
            let r = open_storage(&cli.config)?.rename_host(&old, &new, merge)?;
            println!(
                "moved {} entries of {} entities from {old} to {new} ({} overwritten)",
                r.moved, r.entities, r.overwritten
            );
            Ok(())
        }
        Command::Orphans { host, live, purge } => orphans(&cli.config, &host, &live, purge),
        Command::Export { host, output } => export(&cli.config, host.as_deref(), &output),
        Command::Import { input } => import(&cli.config, &input),
        Command::Migrate { from, to, host } => migrate(&from, &to, host.as_deref()),
        Command::History {
            host,
            entity,
            since,
            until,
            limit,
            prune_days,
            output,
        } => {
            let storage = open_storage(&cli.config)?;
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
            let hosts = open_storage(&cli.config)?.hosts()?;
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
            let entities = open_storage(&cli.config)?.entities(&host)?;
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
            let storage = open_storage(&cli.config)?;
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

/// List, or purge, what `host` keeps about entities not in the live list.
fn orphans(config: &std::path::Path, host: &str, live: &std::path::Path, purge: bool) -> Result<()> {
    use std::io::BufRead;
    let reader: Box<dyn BufRead> = if live == std::path::Path::new("-") {
        Box::new(std::io::stdin().lock())
    } else {
        Box::new(std::io::BufReader::new(
            std::fs::File::open(live).with_context(|| format!("cannot read {}", live.display()))?,
        ))
    };
    let mut alive = std::collections::HashSet::new();
    for (n, line) in reader.lines().enumerate() {
        let line = line?;
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let id = privdata_host::validate::entity_id(line)
            .with_context(|| format!("{} line {}", live.display(), n + 1))?;
        alive.insert(id);
    }
    let storage = open_storage(config)?;
    let orphans: Vec<privdata_host::store::EntitySummary> = storage
        .entities(host)?
        .into_iter()
        .filter(|e| !alive.contains(&e.entity))
        .collect();
    let entries: u64 = orphans.iter().map(|e| e.entries).sum();
    for e in &orphans {
        println!("{}\t{} entries", e.entity, e.entries);
    }
    if purge {
        let mut deleted = 0;
        for batch in orphans.chunks(500) {
            let ids: Vec<String> = batch.iter().map(|e| e.entity.clone()).collect();
            deleted += storage.delete_entities(host, &ids)?;
        }
        println!(
            "purged {} orphaned entities ({deleted} entries) of {host}",
            orphans.len()
        );
    } else {
        println!(
            "{} orphaned entities ({entries} entries) of {host}; --purge deletes them",
            orphans.len()
        );
    }
    Ok(())
}

const PAGE: usize = 1000;

/// Stream every entry out a page at a time: memory stays constant.
fn export(config: &std::path::Path, host: Option<&str>, output: &std::path::Path) -> Result<()> {
    use std::io::Write;
    let storage = open_storage(config)?;
    let mut out: Box<dyn Write> = if output == std::path::Path::new("-") {
        Box::new(std::io::BufWriter::new(std::io::stdout().lock()))
    } else {
        Box::new(std::io::BufWriter::new(
            std::fs::File::create(output).with_context(|| format!("cannot create {}", output.display()))?,
        ))
    };
    let (mut after, mut count) = (None, 0u64);
    loop {
        let page = storage.scan(host, after.as_ref(), PAGE)?;
        let full = page.len() == PAGE;
        for entry in &page {
            serde_json::to_writer(&mut out, entry)?;
            out.write_all(b"\n")?;
        }
        count += page.len() as u64;
        match page.into_iter().last() {
            Some(last) if full => after = Some(last),
            _ => break,
        }
    }
    out.flush()?;
    eprintln!("exported {count} entries");
    Ok(())
}

/// Stream entries in, validating each line, one transaction per page.
fn import(config: &std::path::Path, input: &std::path::Path) -> Result<()> {
    use std::io::BufRead;
    let storage = open_storage(config)?;
    let reader: Box<dyn BufRead> = if input == std::path::Path::new("-") {
        Box::new(std::io::stdin().lock())
    } else {
        Box::new(std::io::BufReader::new(
            std::fs::File::open(input).with_context(|| format!("cannot read {}", input.display()))?,
        ))
    };
    let (mut batch, mut count) = (Vec::with_capacity(PAGE), 0u64);
    for (n, line) in reader.lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let at = || {
            format!(
                "{} line {} (lines before it are imported)",
                input.display(),
                n + 1
            )
        };
        let mut entry: privdata_host::store::Entry = serde_json::from_str(&line).with_context(at)?;
        entry.entity = privdata_host::validate::entity_id(&entry.entity).with_context(at)?;
        privdata_host::validate::key(&entry.key).with_context(at)?;
        privdata_host::validate::host(&entry.host).with_context(at)?;
        batch.push(entry);
        if batch.len() == PAGE {
            storage.put(&batch)?;
            count += batch.len() as u64;
            batch.clear();
        }
    }
    storage.put(&batch)?;
    count += batch.len() as u64;
    println!("imported {count} entries");
    Ok(())
}

/// Copy between two stores, drawing progress on stderr.
fn migrate(from: &str, to: &str, host: Option<&str>) -> Result<()> {
    use privdata_host::migrate::Progress;
    use std::io::{IsTerminal, Write};
    anyhow::ensure!(
        from != to,
        "--from and --to name the same store; give two different stores"
    );
    if let Some(path) = sqlite_path(from) {
        // Opening a SQLite path creates the file: a mistyped source must
        // not become an empty store that migrates nothing.
        anyhow::ensure!(
            path.exists(),
            "--from {}: no such file; give an existing store",
            path.display()
        );
    }
    let source = store::open(from).with_context(|| format!("--from {}", store::redact(from)))?;
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
    let report = privdata_host::migrate::migrate(source.as_ref(), target.as_ref(), host, &mut draw);
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

/// The file a SQLite URL (or plain path) names; `None` for a server URL.
fn sqlite_path(url: &str) -> Option<PathBuf> {
    match url.split_once("://") {
        Some(("sqlite", path)) => Some(path.into()),
        Some(_) => None,
        None => Some(url.into()),
    }
}

/// Admin commands need only the store, not the drivers.
fn open_storage(config: &std::path::Path) -> Result<std::sync::Arc<dyn privdata_host::Storage>> {
    let config = Config::load(config)?;
    Ok(store::open_with(&config.storage_url, &config.storage_options)?)
}

pub(crate) fn print_exports(exports: &[ExportLocation]) {
    for e in exports {
        let admin = if e.is_admin_only { " (admin only)" } else { "" };
        println!("export {}{admin}", e.path);
    }
}
