//! `privdata demo`: the example drivers through a share lifecycle.

use super::Context;
use anyhow::Result;
use clap::Args;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct Demo {
    /// Keep the demo's files in this directory instead of a temporary one.
    #[arg(long)]
    keep: Option<PathBuf>,
}

impl Demo {
    pub fn execute(self, context: &Context) -> Result<()> {
        context.no_config("demo", "it writes its own; --keep DIR keeps it")?;
        crate::demo::run(self.keep)
    }
}
