//! `privdata unset`: one key by hand; refused when the entity holds no such
//! key (a typo must not look like success).

use super::Context;
use super::set::KeyAt;
use crate::output::printable;
use anyhow::Result;
use clap::Args;
use privdata_host::PrivateData;

#[derive(Debug, Args)]
pub struct Unset {
    #[command(flatten)]
    at: KeyAt,
}

impl Unset {
    pub fn execute(self, context: &Context) -> Result<()> {
        let KeyAt { host, entity, key } = &self.at;
        let (storage, config) = context.existing_store()?;
        let data = PrivateData::new(storage, host, config.host_limits().of(host));
        let keys = [key.to_string()];
        anyhow::ensure!(
            !data.get(entity, Some(&keys))?.is_empty(),
            "host {host} holds no key {} for entity {entity}; `privdata get --host {host} --entity \
             {entity}` lists its keys",
            printable(key)
        );
        data.delete(entity, Some(&keys))?;
        println!("deleted {} of {entity} on {host}", printable(key));
        Ok(())
    }
}
