//! Every per-backend limit, in one table: its name in the configuration
//! file (`limits = { NAME = VALUE }`), its manila.conf option, its default
//! and the range it takes. The configuration file, the Python package (and
//! through it manila.conf) and the command line all set limits through
//! [`Limits::set`], so each range is checked here and nowhere else.

use privdata_runtime::{MAX_MEMORY_LIMIT, NetworkLimits, SandboxLimits};
use privdata_store::DataLimits;
use std::time::Duration;

/// One limit: its names, what it bounds, its default and its range.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limit {
    /// Its name in a backend's `limits` of the configuration file.
    pub name: &'static str,
    /// Its manila.conf option.
    pub option: &'static str,
    /// What it bounds, for help texts.
    pub help: &'static str,
    /// The default.
    pub default: f64,
    /// The least value it takes.
    pub min: f64,
    /// The most.
    pub max: f64,
    /// Whether it takes fractions (seconds do; counts and sizes do not).
    pub fractional: bool,
}

const fn whole(
    name: &'static str,
    option: &'static str,
    help: &'static str,
    default: u64,
    min: u64,
    max: u64,
) -> Limit {
    Limit {
        name,
        option,
        help,
        default: default as f64,
        min: min as f64,
        max: max as f64,
        fractional: false,
    }
}

/// Every per-backend limit.
pub const LIMITS: &[Limit] = &[
    Limit {
        name: "timeout_secs",
        option: "privdata_timeout",
        help: "the seconds one operation of the driver may take, waits on the network and private-data \
               calls included, before it is stopped",
        default: 10.0,
        min: 0.001,
        max: 3600.0,
        fractional: true,
    },
    whole(
        "max_memory_mib",
        "privdata_max_memory_mib",
        "the memory (MiB) the driver instance may grow to",
        64,
        1,
        (MAX_MEMORY_LIMIT >> 20) as u64,
    ),
    whole(
        "max_resources",
        "privdata_max_resources",
        "the host resources the driver instance may hold at once: files, streams, pollables, sockets, \
         HTTP requests, responses, bodies and header fields",
        privdata_runtime::DEFAULT_MAX_RESOURCES as u64,
        16,
        1_000_000,
    ),
    whole(
        "max_instances",
        "privdata_max_instances",
        "the driver instances the backend keeps alive, each set up once and serving one operation at a \
         time: how many of its operations run at once (the memory limit holds for each)",
        privdata_runtime::DEFAULT_MAX_INSTANCES as u64,
        1,
        64,
    ),
    whole(
        "max_connections",
        "privdata_max_connections",
        "the HTTP requests and TCP sockets one operation may open",
        64,
        1,
        10_000,
    ),
    whole(
        "max_network_bytes",
        "privdata_max_network_bytes",
        "the bytes one operation may send and receive on the network",
        16 << 20,
        1,
        1 << 30,
    ),
    whole(
        "max_value_bytes",
        "privdata_max_value_bytes",
        "the longest value of the backend's private data, in bytes (Manila's own column holds 1023)",
        privdata_store::validate::DEFAULT_MAX_VALUE_BYTES as u64,
        1,
        1 << 20,
    ),
    whole(
        "max_call_bytes",
        "privdata_max_call_bytes",
        "the keys and values one private-data call may carry, in bytes (at least max_value_bytes)",
        1 << 20,
        1,
        64 << 20,
    ),
    whole(
        "max_entries",
        "privdata_max_entries",
        "the key/value pairs the backend's host may hold",
        1_000_000,
        1,
        u32::MAX as u64,
    ),
    whole(
        "max_bytes",
        "privdata_max_bytes",
        "the bytes of keys and values the backend's host may hold",
        1 << 30,
        1,
        1 << 40,
    ),
];

/// The limits of one backend, every one within its range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Limits {
    /// Of its private data.
    pub data: DataLimits,
    /// Of its driver instance.
    pub sandbox: SandboxLimits,
    /// Of its network, per operation.
    pub network: NetworkLimits,
}

impl Limits {
    /// Set the limit `name` (as the configuration file names it) to
    /// `value`. The error says what was wrong and the range; the caller
    /// says where the value came from.
    pub fn set(&mut self, name: &str, value: f64) -> Result<(), String> {
        let Some(limit) = LIMITS.iter().find(|l| l.name == name) else {
            let known: Vec<&str> = LIMITS.iter().map(|l| l.name).collect();
            return Err(format!(
                "{name} is not a limit; the limits are {}",
                known.join(", ")
            ));
        };
        if !(value >= limit.min && value <= limit.max) {
            return Err(format!("{name} = {value}; use {} to {}", limit.min, limit.max));
        }
        if !limit.fractional && value.fract() != 0.0 {
            return Err(format!("{name} = {value}; use a whole number"));
        }
        let n = value as u64;
        match name {
            "timeout_secs" => self.sandbox.timeout = Duration::from_secs_f64(value),
            "max_memory_mib" => self.sandbox.max_memory_bytes = (n as usize) << 20,
            "max_resources" => self.sandbox.max_resources = n as usize,
            "max_instances" => self.sandbox.max_instances = n as usize,
            "max_connections" => self.network.max_connections = n as u32,
            "max_network_bytes" => self.network.max_bytes = n,
            "max_value_bytes" => self.data.max_value_bytes = n as usize,
            "max_call_bytes" => self.data.max_call_bytes = n as usize,
            "max_entries" => self.data.quota.max_entries = n,
            "max_bytes" => self.data.quota.max_bytes = n,
            _ => unreachable!("every limit of LIMITS is set here"),
        }
        Ok(())
    }

    /// Check what depends on two limits, once all are set.
    pub fn check(&self) -> Result<(), String> {
        if self.data.max_call_bytes < self.data.max_value_bytes {
            return Err(format!(
                "max_call_bytes = {} is less than max_value_bytes = {}: a call must be able to carry one value",
                self.data.max_call_bytes, self.data.max_value_bytes
            ));
        }
        Ok(())
    }

    /// Limits from `(name, value)` pairs over the defaults.
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, f64)>) -> Result<Limits, String> {
        let mut limits = Limits::default();
        for (name, value) in pairs {
            limits.set(name, value)?;
        }
        limits.check()?;
        Ok(limits)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_the_types_defaults() {
        let limits = Limits::from_pairs(LIMITS.iter().map(|l| (l.name, l.default))).unwrap();
        assert_eq!(limits, Limits::default());
    }

    #[test]
    fn values_out_of_range_or_fractional_counts_or_unknown_names_are_refused() {
        let mut limits = Limits::default();
        for (name, value, says) in [
            ("timeout_secs", 0.0, "timeout_secs = 0; use 0.001 to 3600"),
            ("max_memory_mib", 2048.0, "max_memory_mib = 2048; use 1 to 1024"),
            ("max_resources", 8.0, "use 16 to 1000000"),
            (
                "max_connections",
                1.5,
                "max_connections = 1.5; use a whole number",
            ),
            ("max_network_bytes", f64::NAN, "max_network_bytes = NaN"),
            (
                "timeout",
                3.0,
                "timeout is not a limit; the limits are timeout_secs, ",
            ),
        ] {
            let err = limits.set(name, value).unwrap_err();
            assert!(err.contains(says), "{name}: {err}");
        }
        assert_eq!(limits, Limits::default(), "a refused value changes nothing");
        let err = Limits::from_pairs([("max_value_bytes", 4096.0), ("max_call_bytes", 2048.0)]).unwrap_err();
        assert!(err.contains("less than max_value_bytes"), "{err}");
    }
}
