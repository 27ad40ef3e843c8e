//! The driver conformance kit behind `privdata check-driver`: any driver
//! through the standard lifecycle on a scratch backend and store, with each
//! step reported and every violation named.

use crate::config::BackendConfig;
use crate::limits::Limits;
use crate::{
    AccessLevel, AccessRule, AccessType, Backend, DriverError, Error, ExportLocation, Runtime, Share,
    Snapshot,
};
use privdata_store::{self as store, PrivateData};
use std::path::{Path, PathBuf};
use std::time::Instant;

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
/// The file the kit writes into the share, when it can see the share's
/// directory in the root, to check that revert brings its content back.
const MARKER: &str = "privdata-check-marker";

/// The share's directory in the root, if an export location's path (after
/// `host:`) names one there: where the kit can check a revert.
fn share_dir(root: &Path, exports: &[ExportLocation]) -> Option<PathBuf> {
    exports.iter().find_map(|e| {
        let path = e.path.rsplit_once(':').map_or(e.path.as_str(), |(_, p)| p);
        let dir = root.join(path.trim_start_matches('/'));
        (!path.is_empty() && !path.contains("..") && dir.is_dir()).then_some(dir)
    })
}

/// The values the driver keeps about `entity`: the names it may know the
/// backend object by.
fn kept_values(data: &PrivateData, entity: &str) -> Vec<String> {
    data.get(entity, None)
        .unwrap_or_default()
        .into_iter()
        .map(|(_, v)| v)
        .collect()
}

/// After an unmanage, adopt the same backend object again under `step`: as
/// an administrator does (by the export path, or the snapshot's provider
/// location), then naming as `backend_name` each value the driver kept and
/// then `old_id`, since the kit cannot know the backend's name. Whether it was adopted; a trap is a violation, and
/// a driver that answers `unsupported` to every name does not support it.
fn adopt<T>(
    report: &mut Report,
    step: &str,
    what: &str,
    kept: &[String],
    old_id: &str,
    try_name: impl Fn(&str) -> Result<T, Error>,
    detail: impl Fn(&T) -> Result<String, String>,
) -> bool {
    let mut tried = Vec::new();
    let mut all_unsupported = true;
    for name in [""]
        .into_iter()
        .chain(kept.iter().map(String::as_str))
        .chain([old_id])
    {
        match try_name(name) {
            Ok(adopted) => {
                let how = if name.is_empty() {
                    "by its export location / provider location".to_string()
                } else {
                    format!("as backend_name {name:?}")
                };
                match detail(&adopted) {
                    Ok(d) => report.push(step, Outcome::Ok, format!("adopted {how}: {d}")),
                    Err(violation) => {
                        report.push(step, Outcome::Fail, format!("adopted {how}, but {violation}"))
                    }
                }
                return true;
            }
            Err(Error::DriverTrap { message, .. }) => {
                report.push(step, Outcome::Fail, format!("the driver trapped: {message}"));
                return false;
            }
            Err(e) => {
                all_unsupported &= is_unsupported(&e);
                tried.push(format!("{name:?}: {e}"));
            }
        }
    }
    let outcome = if all_unsupported {
        Outcome::Unsupported
    } else {
        Outcome::Skipped
    };
    report.push(
        step,
        outcome,
        format!("no name the driver kept adopts the {what} ({})", tried.join("; ")),
    );
    false
}

/// The driver options that name the backend object to manage; none for
/// `""` (the export path or provider location says which).
fn backend_name(name: &str) -> Vec<(String, String)> {
    if name.is_empty() {
        Vec::new()
    } else {
        vec![("backend_name".into(), name.into())]
    }
}

fn is_unsupported(e: &Error) -> bool {
    matches!(
        e,
        Error::Driver {
            error: DriverError::Unsupported(_),
            ..
        }
    )
}

fn rule(id: &str, to: &str, level: AccessLevel) -> AccessRule {
    AccessRule::new(id, AccessType::Ip, to, level)
}

/// Allow two rules, then deny one: each call must answer for exactly the
/// rules of the full list it was given.
fn check_access(report: &mut Report, backend: &Backend, share: &Share) {
    let rw = rule(
        "0a1b2c3d-0000-4000-8000-000000000001",
        "10.0.0.0/24",
        AccessLevel::Rw,
    );
    let ro = rule(
        "0a1b2c3d-0000-4000-8000-000000000002",
        "10.0.1.7",
        AccessLevel::Ro,
    );
    // A backend may hold one access level per share (Manila then puts the
    // rules it refuses in error): the kit goes on with read-write alone.
    let mixed = backend.update_access(
        share,
        &[rw.clone(), ro.clone()],
        &[rw.clone(), ro.clone()],
        &[],
        &[],
    );
    let second = match mixed {
        Err(Error::Driver {
            error: DriverError::Invalid(m),
            ..
        }) => {
            report.push(
                "update-access: allow rw and ro",
                Outcome::Unsupported,
                format!("refused together (Manila puts the rules in error): {m}"),
            );
            rule(
                "0a1b2c3d-0000-4000-8000-000000000002",
                "10.0.1.7",
                AccessLevel::Rw,
            )
        }
        _ => ro,
    };
    // (step, the full list, rules to add, rules to delete); the first
    // allows again what the probe above may have applied.
    let steps = [
        (
            "update-access: allow",
            vec![rw.clone(), second.clone()],
            vec![rw.clone(), second.clone()],
            vec![],
        ),
        (
            "update-access: deny",
            vec![second.clone()],
            vec![],
            vec![rw.clone()],
        ),
        ("update-access: deny all", vec![], vec![], vec![second.clone()]),
    ];
    for (name, all, add, delete) in steps {
        let Some(states) = report.record(
            name,
            backend.update_access(share, &all, &add, &delete, &[]),
            |s| format!("{} rule(s) answered", s.len()),
        ) else {
            return;
        };
        let mut answered: Vec<&str> = states.iter().map(|s| s.id.as_str()).collect();
        let mut asked: Vec<&str> = all.iter().map(|r| r.id.as_str()).collect();
        answered.sort();
        asked.sort();
        if answered != asked {
            report.push(
                name,
                Outcome::Fail,
                format!("answered for rules {answered:?}, was given {asked:?}"),
            );
        }
    }
}

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

/// A revert the driver finishes later (a job on the array): ask for the
/// share's status as Manila's periodic task does, until it is `available`.
fn finish_revert(report: &mut Report, backend: &Backend, share: &Share) {
    let reverting = Share {
        status: "reverting".into(),
        ..share.clone()
    };
    const STEP: &str = "get-share-status (after revert)";
    for _ in 0..30 {
        match backend.get_share_status(&reverting) {
            Ok(u) => match u.status.as_deref() {
                None | Some("reverting" | "reverting_to_snapshot") => {
                    std::thread::sleep(std::time::Duration::from_secs(1))
                }
                Some("available") => return report.push(STEP, Outcome::Ok, "available"),
                Some(other) => {
                    return report.push(STEP, Outcome::Fail, format!("the revert ended {other}"));
                }
            },
            Err(e) => {
                report.record(STEP, Err::<(), _>(e), |_| String::new());
                return;
            }
        }
    }
    report.push(
        STEP,
        Outcome::Fail,
        "the revert did not finish: the share was still reverting after 30 s",
    );
}

/// Snapshot, revert (checking the content came back where the kit can see
/// the share), a share from the snapshot and its deletion, unmanage and
/// manage of the snapshot, and its deletion.
fn check_snapshots(
    report: &mut Report,
    backend: &Backend,
    data: &PrivateData,
    root: &Path,
    exports: &[ExportLocation],
    parent: &Share,
    share: &dyn Fn(&str) -> Share,
) {
    let snap = Snapshot::new(SNAPSHOT, parent.clone());
    let marker = share_dir(root, exports).map(|d| d.join(MARKER));
    if let Some(m) = &marker
        && std::fs::write(m, b"before").is_err()
    {
        report.push(
            "revert-to-snapshot",
            Outcome::Skipped,
            "cannot write into the share",
        );
    }
    let snapped = report.record("create-snapshot", backend.create_snapshot(&snap), |u| {
        match &u.provider_location {
            Some(location) => format!("provider location {location:?}"),
            None => String::new(),
        }
    });
    let Some(snapped) = snapped else {
        return;
    };
    let snap = Snapshot {
        provider_location: snapped.provider_location,
        ..snap
    };
    if let Some(m) = &marker {
        let _ = std::fs::write(m, b"after");
    }
    if let Some(reverted) = report.record(
        "revert-to-snapshot",
        backend.revert_to_snapshot(&snap, &[], &[]),
        |u| match (&u.status, u.size_gib) {
            (Some(status), _) => format!("status {status}"),
            (None, Some(size)) => format!("now {size} GiB"),
            (None, None) => String::new(),
        },
    ) {
        if reverted.status.as_deref().is_some_and(|s| s != "available") {
            finish_revert(report, backend, parent);
        }
        match &marker {
            Some(m) if std::fs::read(m).is_ok_and(|c| c == b"before") => {
                report.push("revert restores the data", Outcome::Ok, "")
            }
            Some(m) => report.push(
                "revert restores the data",
                Outcome::Fail,
                format!("{} does not hold what it held at the snapshot", m.display()),
            ),
            None => report.push(
                "revert restores the data",
                Outcome::Skipped,
                "no export location names a directory in the root to check",
            ),
        }
    }
    if let Some(m) = &marker {
        let _ = std::fs::remove_file(m);
    }

    let clone = Share {
        display_name: "conformance clone".into(),
        snapshot_id: Some(SNAPSHOT.into()),
        status: "creating_from_snapshot".into(),
        // Manila makes a share from a snapshot at least the snapshot's size.
        size_gib: parent.size_gib,
        ..share(CLONE)
    };
    if report
        .record(
            "create-share-from-snapshot",
            backend.create_share_from_snapshot(&clone, &snap),
            |u| format!("{} export location(s), status {:?}", u.exports().len(), u.status),
        )
        .is_some()
        && report
            .record(
                "delete-share (from snapshot)",
                backend.delete_share(&clone),
                |_| String::new(),
            )
            .is_some()
    {
        report.expect_no_data(data, CLONE, "deleting the share made from the snapshot");
    }

    let kept = kept_values(data, SNAPSHOT);
    if report
        .record("unmanage-snapshot", backend.unmanage_snapshot(&snap), |_| {
            String::new()
        })
        .is_some()
    {
        report.expect_no_data(data, SNAPSHOT, "unmanage-snapshot");
        adopt(
            report,
            "manage-existing-snapshot",
            "snapshot",
            &kept,
            SNAPSHOT,
            |name| backend.manage_existing_snapshot(&snap, &backend_name(name)),
            |u| match u.size_gib {
                Some(size) => Ok(format!("{size} GiB")),
                None => Err("the answer has no size_gib: Manila needs the adopted snapshot's size".into()),
            },
        );
    }
    if report
        .record("delete-snapshot", backend.delete_snapshot(&snap), |_| {
            String::new()
        })
        .is_some()
    {
        report.expect_no_data(data, SNAPSHOT, "delete-snapshot");
    }
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
