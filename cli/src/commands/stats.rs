//! `privdata stats`: a backend's capacity and capabilities, as its driver
//! reports them (what Manila's scheduler reads).

use super::Context;
use crate::output::{Done, Output};
use anyhow::Result;
use clap::Args;

#[derive(Debug, Args)]
pub struct Stats {
    /// The backend (section name in the configuration).
    #[arg(long)]
    backend: String,
    #[command(flatten)]
    output: Output,
}

impl Stats {
    pub fn execute(self, context: &Context) -> Result<()> {
        let manager = context.manager()?;
        let stats = manager.backend(&self.backend)?.get_stats()?;
        let gib = |g: Option<u64>| g.map_or("unknown".to_string(), |g| format!("{g} GiB"));
        let done = Done {
            operation: "get-stats",
            backend: &self.backend,
            id: &self.backend,
            json: self.output.json,
        };
        done.value("stats", &stats, |s| {
            println!("backend {}: {}", self.backend, s.protocols.join(", "));
            println!(
                "capacity {} free of {}{}",
                gib(s.free_capacity_gib),
                gib(s.total_capacity_gib),
                if s.thin_provisioning { ", thin" } else { "" }
            );
            for p in &s.pools {
                println!(
                    "pool {}: {} free of {}",
                    p.name,
                    gib(p.free_capacity_gib),
                    gib(p.total_capacity_gib)
                );
            }
        })
    }
}
