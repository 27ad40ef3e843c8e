//! Private data as JSON Lines, one entry a line: export streams a store
//! out a page at a time; import reads such a file back, checking every line
//! before it writes any.

use crate::config::HostLimits;
use crate::error::{Error, Result};
use privdata_store::{Admin, Entry};
use std::io::{BufRead, Seek, Write};

/// Entries read, and written, at a time: one transaction each.
pub const PAGE: usize = 1000;

/// Write every entry (of `host`, or of every host) to `out`, one JSON
/// object a line, in (host, entity, key) order; returns how many. Memory
/// stays constant. A host that holds nothing is refused: its name is most
/// likely mistyped. `progress` hears the count after every page.
pub fn export(
    storage: &dyn Admin,
    host: Option<&str>,
    out: &mut dyn Write,
    progress: &mut dyn FnMut(u64),
) -> Result<u64> {
    if let Some(host) = host
        && storage.entity_page(host, None, 1)?.is_empty()
    {
        return Err(Error::Refused(format!(
            "host {host} holds no private data (a typo?); `privdata hosts` lists the hosts that do"
        )));
    }
    let written = |e: std::io::Error| Error::Io {
        what: "cannot write the export".into(),
        source: e,
    };
    let (mut after, mut count) = (None, 0u64);
    loop {
        let page = storage.scan(host, after.as_ref(), PAGE)?;
        let full = page.len() == PAGE;
        for entry in &page {
            serde_json::to_writer(&mut *out, entry).map_err(|e| written(e.into()))?;
            out.write_all(b"\n").map_err(written)?;
        }
        count += page.len() as u64;
        progress(count);
        match page.into_iter().last() {
            Some(last) if full => after = Some(last),
            _ => break,
        }
    }
    out.flush().map_err(written)?;
    Ok(count)
}

/// What an import did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImportReport {
    /// Entries written (upserted).
    pub entries: u64,
    /// Lines read, blank ones included.
    pub lines: u64,
}

/// Read JSON Lines written by [`export`] into `storage`.
///
/// Every line is checked first (its JSON, host, entity id, key, and value
/// against the host's limits in `limits`); if one is bad, nothing is
/// imported and the error names `source` and the line. Then the entries are
/// upserted [`PAGE`] at a time, each page one transaction that also keeps
/// every host within its quota. If the store refuses or fails a page, the
/// pages before it stay imported and [`Error::ImportStopped`] says exactly
/// how far it got; running the same import again is safe. `progress` hears
/// the entries imported after every page.
pub fn import(
    storage: &dyn Admin,
    input: impl BufRead,
    source: &str,
    limits: &HostLimits,
    progress: &mut dyn FnMut(u64),
) -> Result<ImportReport> {
    let io = |what: &str, e: std::io::Error| Error::Io {
        what: format!("{what} {source}"),
        source: e,
    };
    // Checked entries wait in a scratch file: the input may be a pipe that
    // cannot be read twice, and may be larger than memory.
    let spooled = |e: std::io::Error| Error::Io {
        what: "cannot write the import's scratch file".into(),
        source: e,
    };
    let mut spool = std::io::BufWriter::new(tempfile::tempfile().map_err(spooled)?);
    let mut lines = 0u64;
    for (n, line) in input.lines().enumerate() {
        let line = line.map_err(|e| io("cannot read", e))?;
        lines = n as u64 + 1;
        if line.trim().is_empty() {
            continue;
        }
        let bad = |message: String| Error::BadInput {
            at: format!("{source} line {lines}"),
            message,
        };
        let entry: Entry = serde_json::from_str(&line).map_err(|e| {
            // serde's own "at line 1 column N" would be a second line number.
            let what = e.to_string();
            let what = what
                .rsplit_once(" at line ")
                .map_or(what.as_str(), |(what, _)| what);
            bad(format!(
                "{what} (column {}); each line must be an object like {{\"host\":\"node1@alpha\",\
                 \"entity\":\"<uuid>\",\"key\":\"volume_id\",\"value\":\"…\"}}, as `privdata export` writes",
                e.column()
            ))
        })?;
        let max_value = limits.of(&entry.host).max_value_bytes;
        let entry = privdata_store::validate::entry(entry, max_value).map_err(|e| bad(e.to_string()))?;
        serde_json::to_writer(&mut spool, &(lines, entry)).map_err(|e| spooled(e.into()))?;
        spool.write_all(b"\n").map_err(spooled)?;
    }
    let mut spool = spool.into_inner().map_err(|e| spooled(e.into_error()))?;
    spool.rewind().map_err(spooled)?;

    let quota_of = |host: &str| limits.of(host).quota;
    let (mut page, mut imported, mut through_line) = (Vec::with_capacity(PAGE), 0u64, 0u64);
    let mut last_line = 0;
    let mut lines_in = std::io::BufReader::new(spool).lines();
    loop {
        let next = lines_in.next().transpose().map_err(spooled)?;
        if let Some(text) = &next {
            let (line, entry): (u64, Entry) = serde_json::from_str(text).map_err(|e| spooled(e.into()))?;
            last_line = line;
            page.push(entry);
        }
        if page.len() == PAGE || (next.is_none() && !page.is_empty()) {
            storage
                .put(&page, &quota_of)
                .map_err(|cause| Error::ImportStopped {
                    imported,
                    through_line,
                    cause: Box::new(cause),
                })?;
            imported += page.len() as u64;
            through_line = last_line;
            progress(imported);
            page.clear();
        }
        if next.is_none() {
            break;
        }
    }
    Ok(ImportReport {
        entries: imported,
        lines,
    })
}
