//! The kit's steps beyond create and delete: access rules, snapshots (with
//! revert and a share made from one), and adopting what was unmanaged.

use super::{CLONE, Outcome, Report, SNAPSHOT};
use crate::{
    AccessLevel, AccessRule, AccessType, Backend, DriverError, Error, ExportLocation, Share, Snapshot,
};
use privdata_store::PrivateData;
use std::path::{Path, PathBuf};

/// The file the kit writes into the share, when it can see the share's
/// directory in the root, to check that revert brings its content back.
const MARKER: &str = "privdata-check-marker";

/// The share's directory in the root, if an export location's path (after
/// `host:`) names one there: where the kit can check a revert.
pub(super) fn share_dir(root: &Path, exports: &[ExportLocation]) -> Option<PathBuf> {
    exports.iter().find_map(|e| {
        let path = e.path.rsplit_once(':').map_or(e.path.as_str(), |(_, p)| p);
        let dir = root.join(path.trim_start_matches('/'));
        (!path.is_empty() && !path.contains("..") && dir.is_dir()).then_some(dir)
    })
}

/// The values the driver keeps about `entity`: the names it may know the
/// backend object by.
pub(super) fn kept_values(data: &PrivateData, entity: &str) -> Vec<String> {
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
pub(super) fn adopt<T>(
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
pub(super) fn backend_name(name: &str) -> Vec<(String, String)> {
    if name.is_empty() {
        Vec::new()
    } else {
        vec![("backend_name".into(), name.into())]
    }
}

pub(super) fn is_unsupported(e: &Error) -> bool {
    matches!(
        e,
        Error::Driver {
            error: DriverError::Unsupported(_),
            ..
        }
    )
}

pub(super) fn rule(id: &str, to: &str, level: AccessLevel) -> AccessRule {
    AccessRule::new(id, AccessType::Ip, to, level)
}

/// Allow two rules, then deny one: each call must answer for exactly the
/// rules of the full list it was given.
pub(super) fn check_access(report: &mut Report, backend: &Backend, share: &Share) {
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

/// A revert the driver finishes later (a job on the array): ask for the
/// share's status as Manila's periodic task does, until it is `available`.
pub(super) fn finish_revert(report: &mut Report, backend: &Backend, share: &Share) {
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
pub(super) fn check_snapshots(
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
