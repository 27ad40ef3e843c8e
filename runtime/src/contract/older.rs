//! Drivers built against contract 0.2 or 0.1, called as 0.3 drivers are.
//!
//! Their records are a subset of 0.3's: a share is its instance id, its
//! display name, size and protocol; a snapshot its instance id, its share's
//! and its size. Their answers become 0.3's updates. What they lack answers
//! `unsupported`, saying to rebuild with the current SDK; what 0.3 asks
//! differently is done here as 0.2's host did it (managing takes a backend
//! name; ensuring is one share at a time).

use super::Call;
use crate::bindings::{
    AccessLevel, AccessRule, AccessType, BackendStats, ExportLocation, Pool, Properties, RuleResult,
    RuleState, Share, ShareUpdate, ShareUsage, Snapshot, SnapshotUpdate, WitDriverError, v0_1, v0_2,
};
use wasmtime::Store;

/// A driver of an older contract.
pub(super) enum Older<'a> {
    V0_2(&'a v0_2::Driver),
    V0_1(&'a v0_1::Driver),
}

impl Older<'_> {
    fn version(&self) -> &'static str {
        match self {
            Older::V0_2(_) => "0.2",
            Older::V0_1(_) => "0.1",
        }
    }

    /// What an older driver answers for an operation it does not have.
    fn lacks(&self, operation: &str, since: &str) -> WitDriverError {
        WitDriverError::Unsupported(format!(
            "{operation} came in contract {since}; this driver was built against {}: rebuild it with \
             the current guest SDK to support it",
            self.version()
        ))
    }
}

/// The records and errors of one older contract, as 0.3's.
macro_rules! records {
    ($m:ident => $map:ident) => {
        mod $map {
            use crate::bindings::{ExportLocation, Share, Snapshot, WitDriverError, $m as old};

            pub(super) fn share(share: &Share) -> old::Share {
                old::Share {
                    id: share.id.clone(),
                    name: share.display_name.clone(),
                    size_gib: share.size_gib,
                    protocol: share.protocol.clone(),
                }
            }

            pub(super) fn snapshot(snapshot: &Snapshot) -> old::Snapshot {
                old::Snapshot {
                    id: snapshot.id.clone(),
                    share_id: snapshot.share.id.clone(),
                    size_gib: snapshot.size_gib,
                }
            }

            pub(super) fn exports(exports: Vec<old::ExportLocation>) -> Vec<ExportLocation> {
                exports
                    .into_iter()
                    .map(|e| ExportLocation {
                        path: e.path,
                        is_admin_only: e.is_admin_only,
                        preferred: false,
                        metadata: Vec::new(),
                    })
                    .collect()
            }

            /// 0.1 had no `unsupported`: its SDK answered `invalid("this driver
            /// does not support …")`, which is what it meant.
            pub(super) fn error(error: old::DriverError) -> WitDriverError {
                use old::DriverError as E;
                match error {
                    E::NotFound(m) => WitDriverError::NotFound(m),
                    E::Invalid(m) if m.starts_with("this driver does not support ") => {
                        WitDriverError::Unsupported(m)
                    }
                    E::Invalid(m) => WitDriverError::Invalid(m),
                    E::Backend(m) => WitDriverError::Backend(m),
                    E::PrivateData(m) => WitDriverError::PrivateData(m),
                    #[allow(unreachable_patterns, reason = "0.1 has no unsupported")]
                    other => WitDriverError::Backend(format!("{other:?}")),
                }
            }
        }
    };
}

records!(v0_2 => map_v0_2);
records!(v0_1 => map_v0_1);

/// Call `$op` on whichever older driver, mapping its records in and its
/// error out; `$then` turns its answer into 0.3's.
macro_rules! both {
    ($older:expr, $store:ident, $op:ident ($($arg:expr),*) as $v:ident => $then:expr) => {
        match $older {
            Older::V0_2(d) => {
                #[allow(unused_imports)]
                use map_v0_2 as conv;
                Ok(d.manila_driver_share_driver().$op($store, $($arg),*)?.map(|$v| $then).map_err(map_v0_2::error))
            }
            Older::V0_1(d) => {
                #[allow(unused_imports)]
                use map_v0_1 as conv;
                Ok(d.manila_driver_share_driver().$op($store, $($arg),*)?.map(|$v| $then).map_err(map_v0_1::error))
            }
        }
    };
}

/// A share update of export locations alone.
fn exported(export_locations: Vec<ExportLocation>, status: Option<&str>) -> ShareUpdate {
    ShareUpdate {
        export_locations: Some(export_locations),
        status: status.map(str::to_string),
        ..ShareUpdate::default()
    }
}

/// The backend object to adopt: `driver-options`' `backend_name`, else the
/// last part of the export path the administrator gave
/// (`10.0.0.5:/volumes/vol-1` names `vol-1`).
fn backend_name(export_locations: &[ExportLocation], options: &Properties) -> Result<String, WitDriverError> {
    if let Some((_, name)) = options.iter().find(|(k, v)| k == "backend_name" && !v.is_empty()) {
        return Ok(name.clone());
    }
    let path = export_locations
        .first()
        .map(|e| e.path.trim_end_matches(['/', '\\']))
        .unwrap_or("");
    match path.rsplit(['/', '\\', ':']).next() {
        Some(name) if !name.is_empty() => Ok(name.to_string()),
        _ => Err(WitDriverError::Invalid(
            "no export path, and no backend_name in driver_options".into(),
        )),
    }
}

/// Their setup took the driver options alone.
pub(super) fn call_setup<T>(
    d: Older<'_>,
    store: &mut Store<T>,
    options: &Properties,
    _: &Properties,
) -> Call<()> {
    both!(d, store, call_setup(options) as v => v)
}

pub(super) fn call_get_backend_info<T>(_: Older<'_>, _: &mut Store<T>) -> Call<Option<Properties>> {
    Ok(Ok(None))
}

pub(super) fn call_get_stats<T>(d: Older<'_>, store: &mut Store<T>) -> Call<BackendStats> {
    let Older::V0_2(d) = d else {
        return Ok(Err(d.lacks("get-stats", "0.2")));
    };
    Ok(d.manila_driver_share_driver()
        .call_get_stats(store)?
        .map(|s| BackendStats {
            backend_name: s.backend_name,
            protocols: s.protocols,
            total_capacity_gib: s.total_capacity_gib,
            free_capacity_gib: s.free_capacity_gib,
            thin_provisioning: s.thin_provisioning,
            pools: s
                .pools
                .into_iter()
                .map(|p| Pool {
                    name: p.name,
                    total_capacity_gib: p.total_capacity_gib,
                    free_capacity_gib: p.free_capacity_gib,
                    capabilities: Vec::new(),
                })
                .collect(),
            capabilities: Vec::new(),
        })
        .map_err(map_v0_2::error))
}

pub(super) fn call_create_share<T>(d: Older<'_>, store: &mut Store<T>, share: &Share) -> Call<ShareUpdate> {
    both!(d, store, call_create_share(&conv::share(share)) as e => exported(conv::exports(e), None))
}

pub(super) fn call_create_share_from_snapshot<T>(
    d: Older<'_>,
    store: &mut Store<T>,
    share: &Share,
    snapshot: &Snapshot,
) -> Call<ShareUpdate> {
    let Older::V0_2(d) = d else {
        return Ok(Err(d.lacks("create-share-from-snapshot", "0.2")));
    };
    Ok(d.manila_driver_share_driver()
        .call_create_share_from_snapshot(store, &map_v0_2::share(share), &map_v0_2::snapshot(snapshot))?
        .map(|e| exported(map_v0_2::exports(e), Some("available")))
        .map_err(map_v0_2::error))
}

pub(super) fn call_delete_share<T>(d: Older<'_>, store: &mut Store<T>, share: &Share) -> Call<()> {
    both!(d, store, call_delete_share(&conv::share(share)) as v => v)
}

pub(super) fn call_extend_share<T>(d: Older<'_>, store: &mut Store<T>, share: &Share, size: u64) -> Call<()> {
    both!(d, store, call_extend_share(&conv::share(share), size) as v => v)
}

pub(super) fn call_shrink_share<T>(d: Older<'_>, store: &mut Store<T>, share: &Share, size: u64) -> Call<()> {
    let Older::V0_2(d) = d else {
        return Ok(Err(d.lacks("shrink-share", "0.2")));
    };
    Ok(d.manila_driver_share_driver()
        .call_shrink_share(store, &map_v0_2::share(share), size)?
        .map_err(map_v0_2::error))
}

/// One share at a time: a share the driver does not know, or cannot
/// ensure, gets the error status; a driver without ensure answers
/// `unsupported` for the whole call.
pub(super) fn call_ensure_shares<T>(
    d: Older<'_>,
    store: &mut Store<T>,
    shares: &[Share],
) -> Call<Vec<(String, ShareUpdate)>> {
    let mut updates = Vec::new();
    for share in shares {
        let answer: Result<Vec<ExportLocation>, WitDriverError> = match &d {
            Older::V0_2(d) => d
                .manila_driver_share_driver()
                .call_ensure_share(&mut *store, &map_v0_2::share(share))?
                .map(map_v0_2::exports)
                .map_err(map_v0_2::error),
            Older::V0_1(d) => d
                .manila_driver_share_driver()
                .call_ensure_share(&mut *store, &map_v0_1::share(share))?
                .map(map_v0_1::exports)
                .map_err(map_v0_1::error),
        };
        let update = match answer {
            Ok(exports) => exported(exports, Some("available")),
            Err(e @ WitDriverError::Unsupported(_)) => return Ok(Err(e)),
            Err(e) => {
                tracing::error!(share = %share.id, error = ?e, "the driver could not ensure the share");
                ShareUpdate {
                    status: Some("error".into()),
                    ..exported(Vec::new(), None)
                }
            }
        };
        updates.push((
            share.id.clone(),
            ShareUpdate {
                export_locations: update.export_locations.filter(|e| !e.is_empty()),
                ..update
            },
        ));
    }
    Ok(Ok(updates))
}

pub(super) fn call_get_share_status<T>(d: Older<'_>, _: &mut Store<T>, _: &Share) -> Call<ShareUpdate> {
    Ok(Err(d.lacks("get-share-status", "0.3")))
}

pub(super) fn call_update_share_usage_size<T>(
    d: Older<'_>,
    _: &mut Store<T>,
    _: &[Share],
) -> Call<Vec<ShareUsage>> {
    Ok(Err(d.lacks("update-share-usage-size", "0.3")))
}

pub(super) fn call_create_snapshot<T>(
    d: Older<'_>,
    store: &mut Store<T>,
    snapshot: &Snapshot,
) -> Call<SnapshotUpdate> {
    both!(d, store, call_create_snapshot(&conv::snapshot(snapshot)) as _v => SnapshotUpdate::default())
}

pub(super) fn call_delete_snapshot<T>(d: Older<'_>, store: &mut Store<T>, snapshot: &Snapshot) -> Call<()> {
    both!(d, store, call_delete_snapshot(&conv::snapshot(snapshot)) as v => v)
}

pub(super) fn call_revert_to_snapshot<T>(
    d: Older<'_>,
    store: &mut Store<T>,
    snapshot: &Snapshot,
    _: &[AccessRule],
    _: &[AccessRule],
) -> Call<ShareUpdate> {
    let Older::V0_2(d) = d else {
        return Ok(Err(d.lacks("revert-to-snapshot", "0.2")));
    };
    Ok(d.manila_driver_share_driver()
        .call_revert_to_snapshot(store, &map_v0_2::snapshot(snapshot))?
        .map(|()| ShareUpdate {
            export_locations: None,
            ..exported(Vec::new(), None)
        })
        .map_err(map_v0_2::error))
}

/// 0.2 knew `ip`, `user` and `cert` rules: a `cephx` rule is answered
/// `error` without reaching the driver, and update-rules (0.3) are not
/// passed.
pub(super) fn call_update_access<T>(
    d: Older<'_>,
    store: &mut Store<T>,
    share: &Share,
    all: &[AccessRule],
    add: &[AccessRule],
    delete: &[AccessRule],
    _update: &[AccessRule],
) -> Call<Vec<RuleResult>> {
    let Older::V0_2(d) = d else {
        return Ok(Err(d.lacks("update-access", "0.2")));
    };
    let known = |rules: &[AccessRule]| -> Vec<v0_2::AccessRule> {
        rules
            .iter()
            .filter_map(|r| {
                let access_type = match r.access_type {
                    AccessType::Ip => v0_2::AccessType::Ip,
                    AccessType::User => v0_2::AccessType::User,
                    AccessType::Cert => v0_2::AccessType::Cert,
                    AccessType::Cephx => return None,
                };
                Some(v0_2::AccessRule {
                    id: r.id.clone(),
                    access_type,
                    access_to: r.access_to.clone(),
                    access_level: match r.access_level {
                        AccessLevel::Rw => v0_2::AccessLevel::Rw,
                        AccessLevel::Ro => v0_2::AccessLevel::Ro,
                    },
                })
            })
            .collect()
    };
    let refused = add
        .iter()
        .filter(|r| r.access_type == AccessType::Cephx)
        .map(|r| RuleResult {
            id: r.id.clone(),
            state: RuleState::Error,
            access_key: None,
        });
    let refused: Vec<RuleResult> = refused.collect();
    Ok(d.manila_driver_share_driver()
        .call_update_access(
            store,
            &map_v0_2::share(share),
            &known(all),
            &known(add),
            &known(delete),
        )?
        .map(|results| {
            let mut out: Vec<RuleResult> = results
                .into_iter()
                .map(|r| RuleResult {
                    id: r.id,
                    state: match r.state {
                        v0_2::RuleState::Active => RuleState::Active,
                        v0_2::RuleState::Error => RuleState::Error,
                    },
                    access_key: None,
                })
                .collect();
            out.extend(refused);
            out
        })
        .map_err(map_v0_2::error))
}

pub(super) fn call_snapshot_update_access<T>(
    d: Older<'_>,
    _: &mut Store<T>,
    _: &Snapshot,
    _: &[AccessRule],
    _: &[AccessRule],
    _: &[AccessRule],
) -> Call<()> {
    Ok(Err(d.lacks("snapshot-update-access", "0.3")))
}

pub(super) fn call_manage_existing<T>(
    d: Older<'_>,
    store: &mut Store<T>,
    share: &Share,
    options: &Properties,
) -> Call<ShareUpdate> {
    let name = match backend_name(&share.export_locations, options) {
        Ok(name) => name,
        Err(e) => return Ok(Err(e)),
    };
    both!(d, store, call_manage_existing(&conv::share(share), &name) as answer => {
        let (size, exports) = answer;
        ShareUpdate {
            size_gib: Some(size),
            ..exported(conv::exports(exports), None)
        }
    })
}

pub(super) fn call_unmanage<T>(d: Older<'_>, store: &mut Store<T>, share: &Share) -> Call<()> {
    both!(d, store, call_unmanage(&conv::share(share)) as v => v)
}

pub(super) fn call_manage_existing_snapshot<T>(
    d: Older<'_>,
    store: &mut Store<T>,
    snapshot: &Snapshot,
    options: &Properties,
) -> Call<SnapshotUpdate> {
    let Older::V0_2(d) = d else {
        return Ok(Err(d.lacks("manage-existing-snapshot", "0.2")));
    };
    let name = options
        .iter()
        .find(|(k, v)| k == "backend_name" && !v.is_empty())
        .map(|(_, v)| v.clone())
        .or_else(|| snapshot.provider_location.clone());
    let Some(name) = name else {
        return Ok(Err(WitDriverError::Invalid(
            "no provider_location, and no backend_name in driver_options".into(),
        )));
    };
    Ok(d.manila_driver_share_driver()
        .call_manage_existing_snapshot(store, &map_v0_2::snapshot(snapshot), &name)?
        .map(|size| SnapshotUpdate {
            size_gib: Some(size),
            ..SnapshotUpdate::default()
        })
        .map_err(map_v0_2::error))
}

pub(super) fn call_unmanage_snapshot<T>(d: Older<'_>, store: &mut Store<T>, snapshot: &Snapshot) -> Call<()> {
    let Older::V0_2(d) = d else {
        return Ok(Err(d.lacks("unmanage-snapshot", "0.2")));
    };
    Ok(d.manila_driver_share_driver()
        .call_unmanage_snapshot(store, &map_v0_2::snapshot(snapshot))?
        .map_err(map_v0_2::error))
}
