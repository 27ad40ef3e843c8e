//! `privdata set`: one key by hand, within the host's limits; journaled
//! when the audit journal is on.

use super::Context;
use crate::output::printable;
use anyhow::Result;
use clap::Args;
use privdata_host::PrivateData;

/// One key of one entity of one host.
#[derive(Debug, Args)]
pub struct KeyAt {
    /// The backend host, `hostname@backend`.
    #[arg(long)]
    pub host: String,
    /// The entity (share or snapshot) UUID.
    #[arg(long)]
    pub entity: String,
    /// The key.
    #[arg(long)]
    pub key: String,
}

#[derive(Debug, Args)]
pub struct Set {
    #[command(flatten)]
    at: KeyAt,
    /// The value.
    #[arg(long)]
    value: String,
}

impl Set {
    pub fn execute(self, context: &Context) -> Result<()> {
        let KeyAt { host, entity, key } = &self.at;
        privdata_host::validate::host(host)?;
        let (storage, config) = context.existing_store()?;
        let data = PrivateData::new(storage, host, config.host_limits().of(host));
        data.update(entity, &[(key.to_string(), self.value)], false)?;
        println!("set {} of {entity} on {host}", printable(key));
        Ok(())
    }
}
