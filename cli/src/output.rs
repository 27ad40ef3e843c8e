//! How commands print: `--json`, export locations, the record of a share
//! or snapshot operation, and keys and values escaped onto one line.

use anyhow::Result;
use clap::Args;
use privdata_host::{ExportLocation, ShareUpdate, SnapshotUpdate};

/// `--json`, for the commands that print something.
#[derive(Debug, Args)]
pub struct Output {
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Each export location on a line of its own.
pub fn print_exports(exports: &[ExportLocation]) {
    for e in exports {
        let admin = if e.is_admin_only { " (admin only)" } else { "" };
        let preferred = if e.preferred { " (preferred)" } else { "" };
        println!("export {}{admin}{preferred}", e.path);
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
    /// An operation that answers what Manila should record of a share.
    pub fn share_update(&self, update: &ShareUpdate) -> Result<()> {
        self.value("update", update, |u| {
            print_recorded(&u.status, u.size_gib, &u.provider_location);
            for (key, value) in &u.metadata {
                println!("metadata {}={}", printable(key), printable(value));
            }
            if u.reapply_access_rules {
                println!("access rules to apply again");
            }
            print_exports(u.exports());
        })
    }

    /// An operation that answers what Manila should record of a snapshot.
    pub fn snapshot_update(&self, update: &SnapshotUpdate) -> Result<()> {
        self.value("update", update, |u| {
            print_recorded(&u.status, u.size_gib, &u.provider_location);
            print_exports(u.export_locations.as_deref().unwrap_or_default());
        })
    }

    /// An operation that answers a value of its own: `text` prints it.
    pub fn value<T: serde::Serialize>(&self, key: &str, value: &T, text: impl FnOnce(&T)) -> Result<()> {
        if self.json {
            let mut out = self.object();
            out[key] = serde_json::to_value(value)?;
            println!("{}", serde_json::to_string_pretty(&out)?);
        } else {
            text(value);
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
pub fn printable(s: &str) -> std::borrow::Cow<'_, str> {
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

/// What shares' and snapshots' updates have in common, one line each.
fn print_recorded(status: &Option<String>, size_gib: Option<u64>, provider_location: &Option<String>) {
    if let Some(status) = status {
        println!("status {status}");
    }
    if let Some(size) = size_gib {
        println!("size {size} GiB");
    }
    if let Some(location) = provider_location {
        println!("provider location {}", printable(location));
    }
}
