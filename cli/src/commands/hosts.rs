//! `privdata hosts`: every host holding data, with counts.

use super::Context;
use crate::output::Output;
use anyhow::Result;
use clap::Args;

#[derive(Debug, Args)]
pub struct Hosts {
    #[command(flatten)]
    output: Output,
}

impl Hosts {
    pub fn execute(self, context: &Context) -> Result<()> {
        let hosts = context.existing_store()?.0.hosts()?;
        if self.output.json {
            println!("{}", serde_json::to_string_pretty(&hosts)?);
        } else {
            for h in hosts {
                println!("{}\t{} entities\t{} entries", h.host, h.entities, h.entries);
            }
        }
        Ok(())
    }
}
