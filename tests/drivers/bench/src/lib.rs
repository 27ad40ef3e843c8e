//! The guest side of `privdata bench`. `create-share` runs the operation
//! named by the share's name `OP␟ITERATIONS` that many times against the
//! benchmark's entities and returns the loop's time in nanoseconds as the
//! one export location's path. `delete-share` does nothing, so the host can
//! time a whole call that does no work.

use manila_driver_sdk::{Driver, DriverError, ExportLocation, Options, PrivateStorage, Share, ShareUpdate};
use std::time::Instant;

struct Bench;

/// The id of the benchmark's entity `i`; the host uses the same scheme.
fn entity(i: usize) -> String {
    format!("00000000-0000-4000-8000-{i:012x}")
}

const FIVE: [(&str, &str); 5] = [
    ("k0", "v0"),
    ("k1", "v1"),
    ("k2", "v2"),
    ("k3", "v3"),
    ("k4", "v4"),
];

fn run(op: &str, iterations: usize) -> Result<u128, DriverError> {
    let ps = PrivateStorage;
    let ids: Vec<String> = (0..iterations).map(entity).collect();
    let start = Instant::now();
    for (i, id) in ids.iter().enumerate() {
        match op {
            "get_one" => {
                std::hint::black_box(ps.get(id, "k2")?);
            }
            "get_all" => {
                std::hint::black_box(ps.get_all(id)?);
            }
            "update_one" => ps.update(id, [("k1", if i % 2 == 0 { "even" } else { "odd" })])?,
            "replace_five" => ps.replace(id, FIVE)?,
            "delete_one" => ps.delete(id, "k0")?,
            other => return Err(DriverError::Invalid(format!("unknown bench op {other:?}"))),
        }
    }
    Ok(start.elapsed().as_nanos())
}

impl Driver for Bench {
    fn setup(_options: Options) -> Result<Self, DriverError> {
        Ok(Bench)
    }

    fn create_share(&self, share: &Share) -> Result<ShareUpdate, DriverError> {
        let (op, n) = share
            .name
            .split_once('\u{1f}')
            .ok_or_else(|| DriverError::Invalid("name is OP␟ITERATIONS".into()))?;
        let n = n
            .parse()
            .map_err(|_| DriverError::Invalid(format!("{n:?} is not a count")))?;
        Ok(ShareUpdate::exported(vec![ExportLocation::new(
            run(op, n)?.to_string(),
        )]))
    }

    fn delete_share(&self, _share: &Share) -> Result<(), DriverError> {
        Ok(())
    }
}

manila_driver_sdk::export_driver!(Bench);
