//! `privdata get`: one entity's private data, all keys or some.

use super::Context;
use crate::output::{Output, printable};
use anyhow::Result;
use clap::Args;
use privdata_host::PrivateData;

#[derive(Debug, Args)]
pub struct Get {
    /// The backend host, `hostname@backend`.
    #[arg(long)]
    host: String,
    /// The entity (share or snapshot) UUID.
    #[arg(long)]
    entity: String,
    /// Only these keys (repeatable); all keys if none.
    #[arg(long = "key")]
    keys: Vec<String>,
    #[command(flatten)]
    output: Output,
}

impl Get {
    pub fn execute(self, context: &Context) -> Result<()> {
        let (storage, _) = context.existing_store()?;
        let data = PrivateData::new(storage, &self.host, Default::default());
        let keys = (!self.keys.is_empty()).then_some(self.keys);
        let pairs = data.get(&self.entity, keys.as_deref())?;
        if self.output.json {
            let map: serde_json::Map<String, serde_json::Value> =
                pairs.into_iter().map(|(k, v)| (k, v.into())).collect();
            println!("{}", serde_json::to_string_pretty(&map)?);
        } else {
            for (k, v) in pairs {
                println!("{} = {}", printable(&k), printable(&v));
            }
        }
        Ok(())
    }
}
