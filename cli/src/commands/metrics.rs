//! `privdata metrics`: the store's usage per host against each backend's
//! quota, in Prometheus' text format (for node_exporter's textfile
//! collector, or a scrape through a wrapper).

use super::Context;
use anyhow::Result;
use clap::Args;

#[derive(Debug, Args)]
pub struct Metrics {}

impl Metrics {
    pub fn execute(self, context: &Context) -> Result<()> {
        let (storage, config) = context.existing_store()?;
        let text = privdata_host::ops::usage::exposition(storage.as_ref(), &config)?;
        print!("{text}");
        Ok(())
    }
}
