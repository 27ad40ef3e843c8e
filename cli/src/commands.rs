//! The command line: every command a file of `commands/`, each a clap
//! struct with `execute`; here, the list of them and what several share
//! (the configuration they read, the store, input files).

mod check_config;
mod check_driver;
#[cfg(feature = "demo")]
mod demo;
mod export;
mod get;
mod history;
mod hosts;
mod import;
mod list;
mod metrics;
mod migrate;
mod orphans;
mod rename_host;
mod set;
mod share;
mod snapshot;
mod stats;
mod unset;

use anyhow::{Context as _, Result};
use clap::parser::ValueSource;
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use privdata_host::store;
use privdata_host::{Admin, Config, Manager};
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

/// What every command may read: the configuration, and whether it was
/// named on the command line.
#[derive(Debug)]
pub struct Context {
    /// The configuration file: `--config`, `$PRIVDATA_CONFIG`, or
    /// `privdata.toml`.
    pub config: PathBuf,
    /// `--config` or `$PRIVDATA_CONFIG`, if either was given.
    pub config_named: Option<PathBuf>,
    /// Whether --config was given on the command line.
    config_given: bool,
}

impl Context {
    /// Refuse a `--config` given to `command`, which reads none (`why`).
    pub fn no_config(&self, command: &str, why: &str) -> Result<()> {
        anyhow::ensure!(
            !self.config_given,
            "{command} reads no configuration ({why}); drop --config"
        );
        Ok(())
    }

    /// The backends of the configuration, for share and snapshot
    /// operations.
    pub fn manager(&self) -> Result<Manager> {
        Manager::from_config_file(&self.config).context("cannot start the backends")
    }

    /// The store of the configuration, for operator commands: only
    /// `[storage]` is needed, and a store that does not exist is an error,
    /// not a new empty one.
    pub fn existing_store(&self) -> Result<(Arc<dyn Admin>, Config)> {
        let config = Config::load_store(&self.config)?;
        let storage = store::open_existing(&config.storage_url, &config.storage_options)
            .with_context(|| format!("[storage] url of {}", self.config.display()))?;
        Ok((storage, config))
    }
}

/// Read the command line of this process and run its command.
pub fn run() -> Result<()> {
    let matches = Cli::command().get_matches();
    let given = |m: &clap::ArgMatches| m.value_source("config") == Some(ValueSource::CommandLine);
    let config_given = given(&matches) || matches.subcommand().is_some_and(|(_, m)| given(m));
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    let context = Context {
        config: cli
            .config
            .clone()
            .unwrap_or_else(|| PathBuf::from("privdata.toml")),
        config_named: cli.config,
        config_given,
    };
    cli.command.execute(&context)
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the five example drivers through a share lifecycle on a
    /// temporary SQLite store, and show their private data.
    #[cfg(feature = "demo")]
    Demo(demo::Demo),
    /// Run any driver through the standard lifecycle on a scratch backend
    /// and store; exit code 0 when it passes, 1 when it violates the contract.
    CheckDriver(check_driver::CheckDriver),
    /// Load every backend of the configuration and run its driver's setup
    /// with its options: a missing driver or root, a misspelled option, a
    /// store that cannot be reached. Exit code 0 when all is well.
    CheckConfig(check_config::CheckConfig),
    /// Share operations on a backend's driver.
    #[command(subcommand)]
    Share(share::Share),
    /// Snapshot operations on a backend's driver.
    #[command(subcommand)]
    Snapshot(snapshot::Snapshot),
    /// A backend's capacity and capabilities, as its driver reports them.
    Stats(stats::Stats),
    /// List the hosts that hold private data, with counts.
    Hosts(hosts::Hosts),
    /// The store's usage per host against each backend's quota, in
    /// Prometheus' text format.
    Metrics(metrics::Metrics),
    /// List the entities a host holds private data for.
    List(list::List),
    /// Show the private data of one entity of a host.
    Get(get::Get),
    /// Set one key of an entity's private data by hand (journaled, within
    /// the host's limits).
    Set(set::Set),
    /// Delete one key of an entity's private data by hand (journaled);
    /// refused when the entity holds no such key.
    Unset(unset::Unset),
    /// Move a host's private data to a new host name, atomically (after
    /// `manila-manage share update_host`).
    RenameHost(rename_host::RenameHost),
    /// List (or purge) private data whose entity no longer exists.
    Orphans(orphans::Orphans),
    /// Read the audit journal (`[audit] enabled = true` in the configuration).
    History(history::History),
    /// Write private data as JSON Lines, one entry a line, streaming.
    Export(export::Export),
    /// Read JSON Lines written by `export` into the store. Every line is
    /// checked first (nothing is imported if one is bad), then written 1,000
    /// entries a transaction within each host's limits. Safe to run again:
    /// entries are upserted.
    Import(import::Import),
    /// Copy every host's private data (or one host's) from one store to
    /// another, then verify counts and a checksum. Re-runnable: a second run
    /// writes only what is missing or different, so an interrupted migration
    /// resumes. Stop the share services first.
    Migrate(migrate::Migrate),
}

impl Command {
    fn execute(self, context: &Context) -> Result<()> {
        match self {
            #[cfg(feature = "demo")]
            Command::Demo(c) => c.execute(context),
            Command::CheckDriver(c) => c.execute(context),
            Command::CheckConfig(c) => c.execute(context),
            Command::Share(c) => c.execute(context),
            Command::Snapshot(c) => c.execute(context),
            Command::Stats(c) => c.execute(context),
            Command::Hosts(c) => c.execute(context),
            Command::Metrics(c) => c.execute(context),
            Command::List(c) => c.execute(context),
            Command::Get(c) => c.execute(context),
            Command::Set(c) => c.execute(context),
            Command::Unset(c) => c.execute(context),
            Command::RenameHost(c) => c.execute(context),
            Command::Orphans(c) => c.execute(context),
            Command::History(c) => c.execute(context),
            Command::Export(c) => c.execute(context),
            Command::Import(c) => c.execute(context),
            Command::Migrate(c) => c.execute(context),
        }
    }
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
