//! `privdata list`: the entities of a host, with counts.

use super::Context;
use crate::output::Output;
use anyhow::Result;
use clap::Args;

#[derive(Debug, Args)]
pub struct List {
    /// The backend host, `hostname@backend`.
    #[arg(long)]
    host: String,
    #[command(flatten)]
    output: Output,
}

impl List {
    pub fn execute(self, context: &Context) -> Result<()> {
        let entities = context.existing_store()?.0.entity_summaries(&self.host)?;
        if self.output.json {
            println!("{}", serde_json::to_string_pretty(&entities)?);
        } else {
            for e in entities {
                println!("{}\t{} entries", e.entity, e.entries);
            }
        }
        Ok(())
    }
}
