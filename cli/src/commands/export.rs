//! `privdata export`: every entry out a page at a time (memory stays
//! constant). A file is written beside the output and renamed onto it once
//! complete, so a failed export (a mistyped host, a full disk) leaves an
//! existing file as it was.

use super::Context;
use crate::progress::Progress;
use anyhow::{Context as _, Result};
use clap::Args;
use privdata_host::ops::transfer;
use std::path::{Path, PathBuf};

#[derive(Debug, Args)]
pub struct Export {
    /// Only this host (all hosts if omitted).
    #[arg(long)]
    host: Option<String>,
    /// The file to write; `-` for stdout.
    #[arg(long, default_value = "-")]
    output: PathBuf,
}

impl Export {
    pub fn execute(self, context: &Context) -> Result<()> {
        let (host, output) = (self.host.as_deref(), self.output.as_path());
        let (storage, _) = context.existing_store()?;
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
}
