//! What each command does with what clap parsed: one function a command,
//! calling the library and printing its answer.

use anyhow::{Context, Result};
use privdata_host::store::{self, HistoryFilter};
use privdata_host::tools::{check, orphans, rename, transfer};
use privdata_host::{Config, ExportLocation, HostLimits, Manager, Network, PrivateData, Storage};
use std::path::Path;
use std::sync::Arc;

/// `check-driver`: the conformance kit's report; an error when it fails.
pub fn check_driver(
    driver: &Path,
    options: Vec<(String, String)>,
    network: &Network,
    json: bool,
) -> Result<()> {
    let report = check::check_driver(driver, options, network)?;
    if !json {
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
        .filter(|s| s.outcome == check::Outcome::Fail)
        .count();
    if json {
        let out = serde_json::json!({
            "driver": driver,
            "passed": failed == 0,
            "violations": failed,
            "steps": report.steps,
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else if failed == 0 {
        println!("result: PASS");
    } else {
        println!("result: FAIL ({failed} violation(s))");
    }
    anyhow::ensure!(
        failed == 0,
        "{} does not conform: {failed} violation(s)",
        driver.display()
    );
    Ok(())
}

/// `rename-host`: counted and checked first; `dry_run` changes nothing.
pub fn rename_host(
    config: &Path,
    old: &str,
    new: &str,
    merge: bool,
    dry_run: bool,
    json: bool,
) -> Result<()> {
    let (storage, config) = existing_store(config)?;
    let r = rename::rename_host(storage.as_ref(), old, new, merge, &config.host_limits(), dry_run)?;
    if json {
        let out = serde_json::json!({"old": old, "new": new, "dry_run": dry_run, "report": r});
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    let verb = if dry_run { "would move" } else { "moved" };
    println!(
        "{verb} {} entries of {} entities from {old} to {new} ({} overwritten)",
        r.moved, r.entities, r.overwritten
    );
    Ok(())
}

/// `history`: the journal, or (`prune_days`) dropping its old entries.
pub fn history(config: &Path, filter: HistoryFilter, prune_days: Option<u32>, json: bool) -> Result<()> {
    let (storage, _) = existing_store(config)?;
    if let Some(days) = prune_days {
        let pruned = storage.prune_history(store::now() - i64::from(days) * 86_400)?;
        println!("pruned {pruned} journal entries older than {days} days");
        return Ok(());
    }
    let entries = storage.history(&filter)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&entries)?);
        return Ok(());
    }
    let short = |d: &Option<String>| d.as_deref().map_or("-".to_string(), |d| d[..12].to_string());
    for e in entries {
        let at = std::time::UNIX_EPOCH + std::time::Duration::from_secs(e.at.max(0) as u64);
        println!(
            "{}\t{}\t{}\t{}\t{}\t{} -> {}",
            humantime::format_rfc3339_seconds(at),
            e.host,
            e.entity,
            e.key,
            e.operation,
            short(&e.old_digest),
            short(&e.new_digest)
        );
    }
    Ok(())
}

/// `hosts`: every host holding data, with counts.
pub fn hosts(config: &Path, json: bool) -> Result<()> {
    let hosts = existing_store(config)?.0.hosts()?;
    if json {
        println!("{}", serde_json::to_string_pretty(&hosts)?);
    } else {
        for h in hosts {
            println!("{}\t{} entities\t{} entries", h.host, h.entities, h.entries);
        }
    }
    Ok(())
}

/// `list`: the entities of a host, with counts.
pub fn list(config: &Path, host: &str, json: bool) -> Result<()> {
    let entities = existing_store(config)?.0.entity_summaries(host)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&entities)?);
    } else {
        for e in entities {
            println!("{}\t{} entries", e.entity, e.entries);
        }
    }
    Ok(())
}

/// `get`: one entity's private data, all keys or some.
pub fn get(config: &Path, host: &str, entity: &str, keys: Vec<String>, json: bool) -> Result<()> {
    let (storage, _) = existing_store(config)?;
    let data = PrivateData::new(storage, host, Default::default());
    let keys = (!keys.is_empty()).then_some(keys);
    let pairs = data.get(entity, keys.as_deref())?;
    if json {
        let map: serde_json::Map<String, serde_json::Value> =
            pairs.into_iter().map(|(k, v)| (k, v.into())).collect();
        println!("{}", serde_json::to_string_pretty(&map)?);
    } else {
        for (k, v) in pairs {
            println!("{} = {}", printable(&k), printable(&v));
        }
    }
    Ok(())
}

/// The backends of the configuration, for share and snapshot operations.
pub fn manager(config: &Path) -> Result<Manager> {
    Manager::from_config_file(config).context("cannot start the backends")
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
pub fn orphans(
    config: &Path,
    host: &str,
    live: &Path,
    purge: Option<(bool, bool)>,
    json: bool,
) -> Result<()> {
    let live_list = orphans::LiveList::read(input(live)?, &source_name(live))?;
    let (storage, _) = existing_store(config)?;
    let found = orphans::find(storage.as_ref(), host, &live_list)?;
    if json {
        // `purge`: null when not asked; what went (or, dry, would go).
        let purged = match purge {
            Some((all, dry_run)) => {
                let entries = orphans::purge(storage.as_ref(), &found, &live_list, all, dry_run)?;
                serde_json::json!({"dry_run": dry_run, "entities": found.entities.len(), "entries": entries})
            }
            None => serde_json::Value::Null,
        };
        let out = serde_json::json!({
            "host": host,
            "held": found.held,
            "orphans": found.entities,
            "purge": purged,
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
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

/// Stream every entry out a page at a time: memory stays constant. A file
/// is written beside `output` and renamed onto it once complete, so a failed
/// export (a mistyped host, a full disk) leaves an existing file as it was.
pub fn export(config: &Path, host: Option<&str>, output: &Path) -> Result<()> {
    let (storage, _) = existing_store(config)?;
    let to_file = output != Path::new("-");
    let mut file = None;
    let mut out: Box<dyn std::io::Write> = if to_file {
        let dir = match output.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        let temp = tempfile::NamedTempFile::new_in(dir)
            .with_context(|| format!("cannot write in {}", dir.display()))?;
        let writer = temp.reopen()?;
        file = Some(temp);
        Box::new(std::io::BufWriter::new(writer))
    } else {
        Box::new(std::io::BufWriter::new(std::io::stdout().lock()))
    };
    let total = match host {
        Some(host) => storage
            .hosts()?
            .into_iter()
            .find(|h| h.host == host)
            .map(|h| h.entries),
        None => Some(storage.hosts()?.iter().map(|h| h.entries).sum()),
    };
    let mut progress = Progress::new("export", total, false);
    let count = transfer::export(storage.as_ref(), host, &mut out, &mut |n| progress.set(n));
    progress.finish();
    let count = count?;
    drop(out);
    if let Some(file) = file {
        file.persist(output)
            .with_context(|| format!("cannot write {}", output.display()))?;
    }
    eprintln!("exported {count} entries");
    Ok(())
}

/// Check every line, then write them a page at a time.
pub fn import(config: &Path, from: &Path) -> Result<()> {
    let reader = input(from)?;
    let config = Config::load_store(config)?;
    // An import may fill a new store: restoring a backup.
    let storage = store::open_url(&config.storage_url, &config.storage_options)?;
    let mut progress = Progress::new("import", None, false);
    let report = transfer::import(
        storage.as_ref(),
        reader,
        &source_name(from),
        &config.host_limits(),
        &mut |n| progress.set(n),
    );
    progress.finish();
    let report = report?;
    println!("imported {} entries", report.entries);
    Ok(())
}

/// The limits migrate keeps: the backends' of the configuration if one is
/// named, or if `privdata.toml` is here; the defaults otherwise.
pub fn migrate_limits(config: Option<&Path>) -> Result<HostLimits> {
    match config {
        Some(path) => Ok(Config::load_store(path)?.host_limits()),
        None if Path::new("privdata.toml").is_file() => {
            Ok(Config::load_store(Path::new("privdata.toml"))?.host_limits())
        }
        None => Ok(HostLimits::default()),
    }
}

/// Copy between two stores, drawing progress on stderr.
pub fn migrate(from: &str, to: &str, host: Option<&str>, limits: &HostLimits) -> Result<()> {
    let parse = |flag: &str, url: &str| {
        store::StorageUrl::parse(url).with_context(|| format!("{flag} {}", store::redact(url)))
    };
    let (from, to) = (parse("--from", from)?, parse("--to", to)?);
    anyhow::ensure!(
        from != to,
        "--from and --to name the same store; give two different stores"
    );
    // A mistyped source must not become an empty store that migrates
    // nothing.
    let source =
        store::open_existing(&from, &Default::default()).with_context(|| format!("--from {from}"))?;
    let target = store::open_url(&to, &Default::default()).with_context(|| format!("--to {to}"))?;
    let started = std::time::Instant::now();
    let mut progress = None;
    let report =
        privdata_host::tools::migrate::migrate(source.as_ref(), target.as_ref(), host, limits, &mut |p| {
            progress
                .get_or_insert_with(|| Progress::new("migrate", Some(p.total), true))
                .set(p.done)
        });
    if let Some(progress) = progress {
        progress.finish();
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

pub fn print_exports(exports: &[ExportLocation]) {
    for e in exports {
        let admin = if e.is_admin_only { " (admin only)" } else { "" };
        println!("export {}{admin}", e.path);
    }
}

/// A share or snapshot operation that went through: what it printed.
#[derive(Debug)]
pub struct Done<'a> {
    /// The operation, as the contract names it.
    pub operation: &'static str,
    /// The backend it ran on.
    pub backend: &'a str,
    /// The share or snapshot.
    pub id: &'a str,
    /// Print JSON.
    pub json: bool,
}

impl Done<'_> {
    /// An operation that answers export locations (and, managing, a size).
    pub fn exports(&self, size_gib: Option<u64>, exports: &[ExportLocation]) -> Result<()> {
        if self.json {
            let mut out = self.object();
            out["export_locations"] = serde_json::to_value(exports)?;
            if let Some(size) = size_gib {
                out["size_gib"] = size.into();
            }
            println!("{}", serde_json::to_string_pretty(&out)?);
        } else {
            if let Some(size) = size_gib {
                println!("size {size} GiB");
            }
            print_exports(exports);
        }
        Ok(())
    }

    /// An operation that answers nothing: silent, or its JSON record.
    pub fn nothing(&self, (): ()) -> Result<()> {
        if self.json {
            println!("{}", serde_json::to_string_pretty(&self.object())?);
        }
        Ok(())
    }

    fn object(&self) -> serde_json::Value {
        serde_json::json!({"operation": self.operation, "backend": self.backend, "id": self.id})
    }
}

/// A key or value as text on one line: control characters and backslashes
/// escaped, so a value with a newline cannot pass for two entries.
fn printable(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.chars().any(|c| c.is_control() || c == '\\') {
        return s.into();
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out.into()
}

/// `set`: one key by hand, within the host's limits; journaled when the
/// audit journal is on.
pub fn set(config: &Path, host: &str, entity: &str, key: &str, value: &str) -> Result<()> {
    privdata_host::validate::host(host)?;
    let (storage, config) = existing_store(config)?;
    let data = PrivateData::new(storage, host, config.host_limits().of(host));
    data.update(entity, &[(key.to_string(), value.to_string())], false)?;
    println!("set {} of {entity} on {host}", printable(key));
    Ok(())
}

/// `unset`: one key by hand; refused when the entity holds no such key (a
/// typo must not look like success).
pub fn unset(config: &Path, host: &str, entity: &str, key: &str) -> Result<()> {
    let (storage, config) = existing_store(config)?;
    let data = PrivateData::new(storage, host, config.host_limits().of(host));
    let keys = [key.to_string()];
    anyhow::ensure!(
        !data.get(entity, Some(&keys))?.is_empty(),
        "host {host} holds no key {} for entity {entity}; `privdata get --host {host} --entity \
         {entity}` lists its keys",
        printable(key)
    );
    data.delete(entity, Some(&keys))?;
    println!("deleted {} of {entity} on {host}", printable(key));
    Ok(())
}

/// `check-config`: the store, then each backend's driver started with its
/// options, each reported; an error when anything failed.
pub fn check_config(path: &Path, json: bool) -> Result<()> {
    let config = Config::load(path)?;
    let mut failed = 0;
    let mut store_line = String::from("reachable, schema up to date");
    let mut scratch = None;
    let storage = match store::open_existing(&config.storage_url, &config.storage_options) {
        Ok(storage) => storage,
        // Not there yet: the first share operation creates it. The drivers
        // are checked on a scratch store meanwhile.
        Err(_) if config.storage_url.sqlite_path().is_some_and(|p| !p.exists()) => {
            store_line = "not created yet: the first share operation creates it".into();
            let dir = tempfile::tempdir()?;
            let storage = store::open(&dir.path().join("check.db").to_string_lossy())?;
            scratch = Some(dir);
            storage
        }
        Err(e) => {
            failed += 1;
            store_line = format!("FAIL: {e}");
            let dir = tempfile::tempdir()?;
            let storage = store::open(&dir.path().join("check.db").to_string_lossy())?;
            scratch = Some(dir);
            storage
        }
    };
    let mut runtime = privdata_host::Runtime::with_max_stack(config.max_stack_bytes)?;
    if let Some(dir) = &config.driver_cache {
        runtime = runtime.with_cache_dir(dir);
    }
    let mut backends = serde_json::Map::new();
    for (name, b) in &config.backends {
        let outcome = runtime.load(&b.driver).and_then(|driver| {
            privdata_host::Backend::from_config(name, b, driver, storage.clone()).check_setup()
        });
        if outcome.is_err() {
            failed += 1;
        }
        backends.insert(
            name.clone(),
            serde_json::json!({
                "host": b.host,
                "ok": outcome.is_ok(),
                "detail": match &outcome {
                    Ok(()) => "driver loaded, setup accepted its options".to_string(),
                    Err(e) => e.to_string(),
                },
            }),
        );
    }
    drop(scratch);
    if json {
        let out = serde_json::json!({
            "config": path,
            "store": {"url": config.storage_url.to_string(), "detail": store_line},
            "backends": backends,
            "passed": failed == 0,
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        println!("store {}: {store_line}", config.storage_url);
        for (name, b) in &backends {
            let mark = if b["ok"] == true { "ok  " } else { "FAIL" };
            println!(
                "{mark} backend {name} ({}): {}",
                b["host"].as_str().unwrap_or(""),
                b["detail"].as_str().unwrap_or("")
            );
        }
        println!("result: {}", if failed == 0 { "PASS" } else { "FAIL" });
    }
    anyhow::ensure!(
        failed == 0,
        "{}: {failed} problem(s), listed above",
        path.display()
    );
    Ok(())
}

/// Progress on stderr. On a terminal, a bar (a counter when the total is
/// unknown); otherwise, with `log`, a line every 10%, and nothing without.
struct Progress {
    what: &'static str,
    total: Option<u64>,
    bar: Option<indicatif::ProgressBar>,
    log: bool,
    last_tenth: Option<u64>,
}

impl Progress {
    fn new(what: &'static str, total: Option<u64>, log: bool) -> Progress {
        use std::io::IsTerminal;
        let bar = std::io::stderr().is_terminal().then(|| {
            let (bar, template) = match total {
                Some(total) => (
                    indicatif::ProgressBar::new(total),
                    "{msg} [{bar:25}] {percent:>3}%  {human_pos} / {human_len} entries  {per_sec}",
                ),
                None => (
                    indicatif::ProgressBar::no_length(),
                    "{msg} {spinner} {human_pos} entries  {per_sec}",
                ),
            };
            let style = indicatif::ProgressStyle::with_template(template)
                .expect("a valid template")
                .progress_chars("#> ");
            bar.with_style(style).with_message(what)
        });
        Progress {
            what,
            total,
            bar,
            log,
            last_tenth: None,
        }
    }

    fn set(&mut self, done: u64) {
        if let Some(bar) = &self.bar {
            bar.set_position(done);
            return;
        }
        let Some(total) = self.total.filter(|_| self.log) else {
            return;
        };
        let percent = (done * 100).checked_div(total).unwrap_or(100);
        // Logs get a line every 10%, not a line per page.
        if self.last_tenth != Some(percent / 10) {
            self.last_tenth = Some(percent / 10);
            eprintln!("{}: {percent}%  {done} / {total} entries", self.what);
        }
    }

    fn finish(self) {
        if let Some(bar) = self.bar {
            bar.finish();
        }
    }
}
