//! Commands that copy data out of a store or into one: `export`, `import`
//! and `migrate`, with their progress on stderr.

use super::{existing_store, input, source_name};
use anyhow::{Context, Result};
use privdata_host::ops::transfer;
use privdata_host::store;
use privdata_host::{Config, HostLimits};
use std::path::Path;

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
        !from.same_store(&to),
        "--from and --to name the same store ({from}); give two different stores"
    );
    // A mistyped source must not become an empty store that migrates
    // nothing.
    let source =
        store::open_existing(&from, &Default::default()).with_context(|| format!("--from {from}"))?;
    let target = store::open_url(&to, &Default::default()).with_context(|| format!("--to {to}"))?;
    let started = std::time::Instant::now();
    let mut progress = None;
    let report =
        privdata_host::ops::migrate::migrate(source.as_ref(), target.as_ref(), host, limits, &mut |p| {
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
