//! `privdata check-driver`: the conformance kit's report on any driver;
//! an error when it fails.

use super::Context;
use anyhow::Result;
use clap::Args;
use privdata_host::ops::check;
use privdata_host::{Endpoint, Limits};
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct CheckDriver {
    /// The driver component.
    driver: PathBuf,
    /// A driver option, `key=value` (repeatable).
    #[arg(long = "option", value_name = "KEY=VALUE", value_parser = parse_pair)]
    options: Vec<(String, String)>,
    /// An option of the backend's manila.conf section, `key=value`, for a
    /// Manila driver built with build-manila-driver (repeatable):
    /// `--manila-option qnap_management_url=http://10.0.0.7:8080`.
    #[arg(long = "manila-option", value_name = "KEY=VALUE", value_parser = parse_pair)]
    manila_options: Vec<(String, String)>,
    /// A limit, as in a backend's `limits = { ... }` (repeatable):
    /// `--limit max_memory_mib=512 --limit timeout_secs=60`.
    #[arg(long = "limit", value_name = "NAME=VALUE", value_parser = parse_limit)]
    limits: Vec<(String, f64)>,
    /// An endpoint the driver may reach, as in `allowed_outbound`:
    /// `https://10.0.0.5:8443`, `tcp://10.0.0.6:22` (repeatable).
    #[arg(long = "allow-outbound", value_name = "ENDPOINT", value_parser = Endpoint::parse)]
    allowed_outbound: Vec<Endpoint>,
    /// The CA certificates (PEM) the driver's TLS endpoints are verified
    /// against, as `ca_file` in a backend's configuration.
    #[arg(long, value_name = "FILE")]
    ca_file: Option<PathBuf>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

fn parse_pair(s: &str) -> std::result::Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .ok_or_else(|| format!("{s:?} is not key=value"))
}

fn parse_limit(s: &str) -> std::result::Result<(String, f64), String> {
    let (name, value) = parse_pair(s)?;
    let number = value
        .parse()
        .map_err(|_| format!("{s:?}: {value:?} is not a number"))?;
    // Checked here, so that a typo is an error before the driver loads.
    Limits::default().set(&name, number)?;
    Ok((name, number))
}

impl CheckDriver {
    pub fn execute(self, context: &Context) -> Result<()> {
        context.no_config(
            "check-driver",
            "it runs the driver on a scratch store; give options with --option",
        )?;
        let mut limits = Limits::default();
        for (name, value) in &self.limits {
            limits.set(name, *value).map_err(anyhow::Error::msg)?;
        }
        let setup = check::Setup {
            options: self.options,
            manila_conf: self.manila_options,
            limits,
            allowed_outbound: self.allowed_outbound.iter().map(ToString::to_string).collect(),
            ca_file: self.ca_file,
        };
        let (driver, json) = (&self.driver, self.json);
        let report = check::check_driver(driver, setup)?;
        if !json {
            println!("check-driver {}", driver.display());
            for step in &report.steps {
                let outcome = format!("{:?}", step.outcome).to_uppercase();
                println!(
                    "  {outcome:<12} {}{}",
                    step.name,
                    if step.detail.is_empty() {
                        String::new()
                    } else {
                        format!(": {}", step.detail)
                    }
                );
            }
        }
        let failed = report
            .steps
            .iter()
            .filter(|s| s.outcome == check::Outcome::Fail)
            .count();
        if json {
            let out = serde_json::json!({
                "driver": driver,
                "passed": failed == 0,
                "violations": failed,
                "steps": report.steps,
            });
            println!("{}", serde_json::to_string_pretty(&out)?);
        } else if failed == 0 {
            println!("result: PASS");
        } else {
            println!("result: FAIL ({failed} violation(s))");
        }
        anyhow::ensure!(
            failed == 0,
            "{} does not conform: {failed} violation(s)",
            driver.display()
        );
        Ok(())
    }
}
