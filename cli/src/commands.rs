//! What each command does with what clap parsed: one function a command,
//! calling the library and printing its answer, in a module by what it does
//! with the store. Here: what several of them share.

mod check;
mod copy;
mod edit;
mod show;

pub use check::{check_config, check_driver};
pub use copy::{export, import, migrate, migrate_limits};
pub use edit::{orphans, rename_host, set, unset};
pub use show::{get, history, hosts, list};

use anyhow::{Context, Result};
use privdata_host::store;
use privdata_host::{Admin, Config, ExportLocation, Manager};
use std::path::Path;
use std::sync::Arc;

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

/// The store of the configuration at `path`, for operator commands: only
/// `[storage]` is needed, and a store that does not exist is an error, not
/// a new empty one.
fn existing_store(path: &Path) -> Result<(Arc<dyn Admin>, Config)> {
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
