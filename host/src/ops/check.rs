//! The driver conformance kit behind `privdata check-driver`: any driver
//! through the standard lifecycle on a scratch backend and store, with each
//! step reported and every violation named.

use crate::config::BackendConfig;
use crate::limits::Limits;
use crate::{DriverError, Error, Runtime, Share};
use privdata_store::{self as store, PrivateData};
use std::path::{Path, PathBuf};
use std::time::Instant;

mod steps;
use steps::{adopt, backend_name, check_access, check_snapshots, kept_values};

/// How one step went.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// It did what the contract asks.
    Ok,
    /// The driver says it does not support the operation: allowed.
    Unsupported,
    /// Not run, for the reason given.
    Skipped,
    /// A violation.
    Fail,
}

/// One line of the report.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Step {
    /// What was checked.
    pub name: String,
    /// How it went.
    pub outcome: Outcome,
    /// Details.
    pub detail: String,
}

/// The whole report; the driver passes when no step failed.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Report {
    /// Every step, in order.
    pub steps: Vec<Step>,
}

impl Report {
    /// Whether no step failed.
    pub fn passed(&self) -> bool {
        !self.steps.iter().any(|s| s.outcome == Outcome::Fail)
    }

    fn push(&mut self, name: &str, outcome: Outcome, detail: impl Into<String>) {
        self.steps.push(Step {
            name: name.into(),
            outcome,
            detail: detail.into(),
        });
    }

    /// Record an operation's result; `Ok` carries the detail to show.
    fn record<T>(
        &mut self,
        name: &str,
        result: Result<T, Error>,
        detail: impl FnOnce(&T) -> String,
    ) -> Option<T> {
        match result {
            Ok(value) => {
                let d = detail(&value);
                self.push(name, Outcome::Ok, d);
                Some(value)
            }
            Err(Error::Driver {
                error: DriverError::Unsupported(m),
                ..
            }) => {
                self.push(name, Outcome::Unsupported, m);
                None
            }
            Err(Error::DriverTrap { message, .. }) => {
                self.push(name, Outcome::Fail, format!("the driver trapped: {message}"));
                None
            }
            Err(Error::Driver {
                error: DriverError::PrivateData(m),
                ..
            }) => {
                self.push(
                    name,
                    Outcome::Fail,
                    format!("a private-data call was refused (over the limits or invalid): {m}"),
                );
                None
            }
            Err(e) => {
                self.push(name, Outcome::Fail, e.to_string());
                None
            }
        }
    }

    /// A violation if `entity` still has private data after `after`.
    fn expect_no_data(&mut self, data: &PrivateData, entity: &str, after: &str) {
        match data.get(entity, None) {
            Ok(left) if left.is_empty() => {
                self.push(&format!("no private data after {after}"), Outcome::Ok, "")
            }
            Ok(left) => {
                let keys: Vec<&str> = left.iter().map(|(k, _)| k.as_str()).collect();
                self.push(
                    &format!("no private data after {after}"),
                    Outcome::Fail,
                    format!("private data left behind: {entity} keeps {}", keys.join(", ")),
                );
            }
            Err(e) => self.push(
                &format!("no private data after {after}"),
                Outcome::Fail,
                e.to_string(),
            ),
        }
    }
}

const SHARE: &str = "5c3e1f7a-2b4d-4c6e-8f10-a1b2c3d4e5f6";
const ADOPTED: &str = "6d4f2a8b-3c5e-4d7f-9a21-b2c3d4e5f607";
const SNAPSHOT: &str = "7e5a3b9c-4d6f-4e8a-8b32-c3d4e5f60718";
const CLONE: &str = "8f6b4cad-5e7a-4f9b-9c43-d4e5f6071829";
/// The backend host the kit runs the driver as.
const CHECK_HOST: &str = "check@scratch";

/// What a driver is checked with: its options, the manila.conf section a
/// Manila driver reads, its limits and the endpoints it may reach.
#[derive(Debug, Clone, Default)]
pub struct Setup {
    /// The driver's options, as `options` of a backend's section.
    pub options: Vec<(String, String)>,
    /// The backend's manila.conf section, as `WasmShareDriver` passes it.
    pub manila_conf: Vec<(String, String)>,
    /// The backend's limits (a Manila driver built into a component needs
    /// more memory and time than the defaults).
    pub limits: Limits,
    /// Endpoints the driver may reach, as in `allowed_outbound`.
    pub allowed_outbound: Vec<String>,
    /// The CA certificates its TLS endpoints are verified against.
    pub ca_file: Option<PathBuf>,
}

/// Run `driver` through the lifecycle with `setup`, in a scratch directory
/// that is removed afterwards. The backend is described as a
/// configuration's backends are, and checked the same way.
pub fn check_driver(driver: &Path, setup: Setup) -> Result<Report, Error> {
    let scratch = tempfile::tempdir().map_err(|e| Error::Io {
        what: "cannot create a scratch directory".into(),
        source: e,
    })?;
    let root = scratch.path().join("root");
    let outside = scratch.path().join("outside");
    for dir in [&root, &outside] {
        std::fs::create_dir_all(dir).map_err(|e| Error::Io {
            what: format!("cannot create {}", dir.display()),
            source: e,
        })?;
    }
    std::fs::write(outside.join("canary"), b"untouched").map_err(|e| Error::Io {
        what: "cannot write the canary file".into(),
        source: e,
    })?;
    let mut config = BackendConfig::new(
        CHECK_HOST,
        driver.to_path_buf(),
        root.clone(),
        setup.options.into_iter().collect(),
        setup.limits,
        &setup.allowed_outbound,
        setup.ca_file.as_deref(),
    )
    .map_err(|message| Error::Config { path: None, message })?;
    config.manila_conf = setup.manila_conf.into_iter().collect();
    let storage = store::open(&format!("sqlite://{}", scratch.path().join("store.db").display()))?;
    let mut report = Report { steps: Vec::new() };

    let start = Instant::now();
    let component = match Runtime::new()?.load(driver) {
        Ok(c) => {
            report.push(
                "load",
                Outcome::Ok,
                format!(
                    "compiled in {} ms; sha256 {} (pin it with driver_sha256)",
                    start.elapsed().as_millis(),
                    c.sha256()
                ),
            );
            c
        }
        Err(e) => {
            report.push("load", Outcome::Fail, e.to_string());
            return Ok(report);
        }
    };
    let backend = config.backend("check", component, storage);
    let data = backend.private_data().clone();
    // Shares are placed as Manila's scheduler places them: on the
    // backend's first pool (`host@backend#pool`), which Manila's own
    // drivers read.
    let host = match backend.get_stats().map(|s| s.pools) {
        Ok(pools) if !pools.is_empty() => format!("{CHECK_HOST}#{}", pools[0].name),
        _ => CHECK_HOST.to_string(),
    };
    // Their share type allows every operation the kit checks, as Manila's
    // API requires of a share before it asks for them.
    let extra_specs: Vec<(String, String)> = [
        ("driver_handles_share_servers", "False"),
        ("snapshot_support", "True"),
        ("create_share_from_snapshot_support", "True"),
        ("revert_to_snapshot_support", "True"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let share = |id: &str| Share {
        display_name: "conformance".into(),
        host: host.clone(),
        share_type_id: Some("c0ffee00-0000-4000-8000-00000000c4ec".into()),
        share_type_name: Some("conformance".into()),
        extra_specs: extra_specs.clone(),
        ..Share::new(id, 1, "NFS")
    };
    let exports_of = |op: &'static str, id: &str| match op {
        "create-share" => backend.create_share(&share(id)).map(|u| u.exports().to_vec()),
        _ => backend.ensure_shares(&[share(id)]).map(|updates| {
            updates
                .into_iter()
                .find(|(answered, _)| answered == id)
                .map(|(_, u)| u.exports().to_vec())
                .unwrap_or_default()
        }),
    };

    report.record(
        "get-backend-info",
        backend.get_backend_info(),
        |info| match info {
            Some(info) => format!(
                "{} item(s): Manila skips ensure while they stay the same",
                info.len()
            ),
            None => "none: Manila ensures every share at start".into(),
        },
    );

    let created = report.record("create-share", exports_of("create-share", SHARE), |e| {
        format!("{} export location(s)", e.len())
    });
    let Some(created) = created else {
        report.push("the rest", Outcome::Skipped, "create-share did not succeed");
        return Ok(finish(report, &data, &outside));
    };
    if created.is_empty() {
        report.push(
            "export locations",
            Outcome::Fail,
            "create-share returned no export location",
        );
    }
    if data.get(SHARE, None).map(|p| p.is_empty()).unwrap_or(true) {
        report.push(
            "private data",
            Outcome::Ok,
            "create-share kept no private data (allowed)",
        );
    }
    if let Some(ensured) = report.record("ensure-shares", exports_of("ensure-shares", SHARE), |e| {
        format!("{} export location(s)", e.len())
    }) && ensured != created
    {
        report.push(
            "ensure-shares",
            Outcome::Ok,
            "note: export locations differ from create-share's (or the share was not answered for)",
        );
    }
    // From here on, the share as Manila holds it: with its export locations.
    let mut s = Share {
        export_locations: created.clone(),
        ..share(SHARE)
    };
    // The share keeps the size the backend has: what snapshots and a share
    // made from one are sized by.
    if report
        .record("extend-share", backend.extend_share(&s, 2), |_| "to 2 GiB".into())
        .is_some()
    {
        s.size_gib = 2;
        if report
            .record("shrink-share", backend.shrink_share(&s, 1), |_| "to 1 GiB".into())
            .is_some()
        {
            s.size_gib = 1;
        }
    }
    check_access(&mut report, &backend, &s);
    check_snapshots(&mut report, &backend, &data, &root, &created, &s, &share);

    // Unmanage, then adopt the same backend object under a new id, by any
    // name the driver kept (or the old id): the kit cannot know the name.
    let kept = kept_values(&data, SHARE);
    let mut to_delete = SHARE;
    if report
        .record("unmanage", backend.unmanage(&s), |_| String::new())
        .is_some()
    {
        report.expect_no_data(&data, SHARE, "unmanage");
        // As an administrator adopts it: by the export path it had.
        let adopted = Share {
            export_locations: created.clone(),
            status: "manage_starting".into(),
            ..share(ADOPTED)
        };
        if adopt(
            &mut report,
            "manage-existing",
            "share",
            &kept,
            SHARE,
            |name| backend.manage_existing(&adopted, &backend_name(name)),
            |u| match u.size_gib {
                Some(size) => Ok(format!("{size} GiB, {} export location(s)", u.exports().len())),
                None => Err("the answer has no size_gib: Manila needs the adopted share's size".into()),
            },
        ) {
            to_delete = ADOPTED;
        }
    }

    let victim = Share {
        export_locations: created.clone(),
        size_gib: s.size_gib,
        ..share(to_delete)
    };
    if report
        .record("delete-share", backend.delete_share(&victim), |_| String::new())
        .is_some()
    {
        report.expect_no_data(&data, to_delete, "delete-share");
    }
    if let Some(stats) = report.record("get-stats", backend.get_stats(), |s| {
        format!(
            "{:?}: total {:?} GiB, free {:?} GiB, {} pool(s)",
            s.protocols,
            s.total_capacity_gib,
            s.free_capacity_gib,
            s.pools.len()
        )
    }) && let (Some(total), Some(free)) = (stats.total_capacity_gib, stats.free_capacity_gib)
        && free > total
    {
        report.push(
            "get-stats",
            Outcome::Fail,
            format!("free {free} GiB exceeds total {total} GiB"),
        );
    }
    Ok(finish(report, &data, &outside))
}

/// The checks after the lifecycle: nothing left in the store, nothing
/// touched outside the root.
fn finish(mut report: Report, data: &PrivateData, outside: &Path) -> Report {
    match data.entities(None, 1000) {
        Ok((ids, _)) if ids.is_empty() => report.push("no orphans", Outcome::Ok, ""),
        Ok((ids, _)) => report.push(
            "no orphans",
            Outcome::Fail,
            format!("private data left for {} entities: {}", ids.len(), ids.join(", ")),
        ),
        Err(e) => report.push("no orphans", Outcome::Fail, e.to_string()),
    }
    let untouched = std::fs::read_dir(outside).map(|d| d.count()).unwrap_or(0) == 1
        && std::fs::read(outside.join("canary")).is_ok_and(|c| c == b"untouched");
    if untouched {
        report.push("sandbox", Outcome::Ok, "nothing outside the root was touched");
    } else {
        report.push(
            "sandbox",
            Outcome::Fail,
            "files outside the driver's root changed",
        );
    }
    report
}
