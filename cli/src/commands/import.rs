//! `privdata import`: every line checked, then written a page at a time.

use super::{Context, input, source_name};
use crate::progress::Progress;
use anyhow::Result;
use clap::Args;
use privdata_host::Config;
use privdata_host::ops::transfer;
use privdata_host::store;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct Import {
    /// The file to read; `-` for stdin.
    #[arg(long, default_value = "-")]
    input: PathBuf,
}

impl Import {
    pub fn execute(self, context: &Context) -> Result<()> {
        let from = self.input.as_path();
        let reader = input(from)?;
        let config = Config::load_store(&context.config)?;
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
}
