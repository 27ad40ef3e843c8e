//! A driver built against `manila:driver@0.2.0` (the host's copy in
//! `runtime/wit-0.2/`) with raw wit-bindgen and no SDK: the host must keep
//! running it unchanged, mapping 0.3's records down to 0.2's (a share's
//! name is its display name) and its answers up (export locations become a
//! share update, a managed share's size its `size_gib`).
//!
//! It keeps `volume_id` (`v2-<share name>`) in private data, so a test can
//! see which name the host passed; access rules it records as
//! `rule:<id>` = `<type> <to> <level>` in the share's private data.
#![allow(unsafe_code, missing_docs)]

wit_bindgen::generate!({ path: "../../../runtime/wit-0.2", world: "driver" });

use exports::manila::driver::share_driver::{
    AccessLevel, AccessRule, AccessType, BackendStats, DriverError, ExportLocation, Guest, RuleResult,
    RuleState, Share, Snapshot,
};
use manila::driver::private_data as pd;

struct Legacy;

fn pd_err(e: pd::Error) -> DriverError {
    DriverError::PrivateData(format!("{e:?}"))
}

fn unsupported(op: &str) -> DriverError {
    DriverError::Unsupported(format!("this driver does not support {op}"))
}

fn volume_of(id: &str) -> Result<String, DriverError> {
    pd::details_get(id, Some(&["volume_id".to_string()]))
        .map_err(pd_err)?
        .into_iter()
        .next()
        .map(|(_, v)| v)
        .ok_or_else(|| DriverError::NotFound(format!("{id} has no volume")))
}

fn exported(volume: &str) -> Vec<ExportLocation> {
    vec![ExportLocation {
        path: format!("v2-nas:/{volume}"),
        is_admin_only: false,
    }]
}

impl Guest for Legacy {
    fn setup(_options: Vec<(String, String)>) -> Result<(), DriverError> {
        Ok(())
    }
    fn create_share(share: Share) -> Result<Vec<ExportLocation>, DriverError> {
        let volume = format!("v2-{}", share.name);
        pd::details_update(&share.id, &[("volume_id".into(), volume.clone())], false).map_err(pd_err)?;
        Ok(exported(&volume))
    }
    fn delete_share(share: Share) -> Result<(), DriverError> {
        pd::details_delete(&share.id, None).map_err(pd_err)
    }
    fn extend_share(_share: Share, _new_size_gib: u64) -> Result<(), DriverError> {
        Err(unsupported("extend-share"))
    }
    fn ensure_share(share: Share) -> Result<Vec<ExportLocation>, DriverError> {
        Ok(exported(&volume_of(&share.id)?))
    }
    fn create_snapshot(snapshot: Snapshot) -> Result<(), DriverError> {
        let volume = volume_of(&snapshot.share_id)?;
        let details = [("source_volume_id".to_string(), volume)];
        pd::details_update(&snapshot.id, &details, false).map_err(pd_err)
    }
    fn delete_snapshot(snapshot: Snapshot) -> Result<(), DriverError> {
        pd::details_delete(&snapshot.id, None).map_err(pd_err)
    }
    fn manage_existing(
        share: Share,
        backend_name: String,
    ) -> Result<(u64, Vec<ExportLocation>), DriverError> {
        pd::details_update(&share.id, &[("volume_id".into(), backend_name.clone())], false)
            .map_err(pd_err)?;
        Ok((7, exported(&backend_name)))
    }
    fn unmanage(share: Share) -> Result<(), DriverError> {
        pd::details_delete(&share.id, None).map_err(pd_err)
    }
    fn shrink_share(_share: Share, _new_size_gib: u64) -> Result<(), DriverError> {
        Err(unsupported("shrink-share"))
    }
    fn create_share_from_snapshot(
        share: Share,
        snapshot: Snapshot,
    ) -> Result<Vec<ExportLocation>, DriverError> {
        volume_of(&snapshot.id).or_else(|_| volume_of(&snapshot.share_id))?;
        Self::create_share(share)
    }
    fn revert_to_snapshot(_snapshot: Snapshot) -> Result<(), DriverError> {
        Err(unsupported("revert-to-snapshot"))
    }
    fn update_access(
        share: Share,
        access_rules: Vec<AccessRule>,
        add_rules: Vec<AccessRule>,
        delete_rules: Vec<AccessRule>,
    ) -> Result<Vec<RuleResult>, DriverError> {
        volume_of(&share.id)?;
        let full = add_rules.is_empty() && delete_rules.is_empty();
        let key = |r: &AccessRule| format!("rule:{}", r.id);
        let gone: Vec<String> = delete_rules.iter().map(key).collect();
        if !gone.is_empty() {
            pd::details_delete(&share.id, Some(&gone)).map_err(pd_err)?;
        }
        let added = if full { &access_rules } else { &add_rules };
        let details: Vec<(String, String)> = added
            .iter()
            .map(|r| {
                let kind = match r.access_type {
                    AccessType::Ip => "ip",
                    AccessType::User => "user",
                    AccessType::Cert => "cert",
                };
                let level = match r.access_level {
                    AccessLevel::Rw => "rw",
                    AccessLevel::Ro => "ro",
                };
                (key(r), format!("{kind} {} {level}", r.access_to))
            })
            .collect();
        pd::details_update(&share.id, &details, false).map_err(pd_err)?;
        Ok(added
            .iter()
            .map(|r| RuleResult {
                id: r.id.clone(),
                state: RuleState::Active,
            })
            .collect())
    }
    fn manage_existing_snapshot(_snapshot: Snapshot, _backend_name: String) -> Result<u64, DriverError> {
        Err(unsupported("manage-existing-snapshot"))
    }
    fn unmanage_snapshot(_snapshot: Snapshot) -> Result<(), DriverError> {
        Err(unsupported("unmanage-snapshot"))
    }
    fn get_stats() -> Result<BackendStats, DriverError> {
        Ok(BackendStats {
            backend_name: "legacy-0.2".into(),
            protocols: vec!["NFS".into()],
            total_capacity_gib: Some(10),
            free_capacity_gib: Some(4),
            thin_provisioning: false,
            pools: Vec::new(),
        })
    }
}

export!(Legacy);
