//! A driver built against `manila:driver@0.1.0` (the copy in `wit/`, as it
//! was before `entities-list` came in 0.1.1) with raw wit-bindgen and no SDK:
//! the host must keep running it unchanged.
#![allow(unsafe_code, missing_docs)]

wit_bindgen::generate!({ path: "wit", world: "driver" });

use exports::manila::driver::share_driver::{DriverError, ExportLocation, Guest, Share, Snapshot};
use manila::driver::private_data as pd;

struct Legacy;

fn pd_err(e: pd::Error) -> DriverError {
    DriverError::PrivateData(format!("{e:?}"))
}

fn unsupported() -> DriverError {
    DriverError::Invalid("not supported".into())
}

impl Guest for Legacy {
    fn setup(_options: Vec<(String, String)>) -> Result<(), DriverError> {
        Ok(())
    }
    fn create_share(share: Share) -> Result<Vec<ExportLocation>, DriverError> {
        let volume = format!("legacy-{}", &share.id[..8]);
        pd::details_update(&share.id, &[("volume_id".into(), volume.clone())], false).map_err(pd_err)?;
        Ok(vec![ExportLocation {
            path: format!("old-nas:/{volume}"),
            is_admin_only: false,
        }])
    }
    fn delete_share(share: Share) -> Result<(), DriverError> {
        pd::details_delete(&share.id, None).map_err(pd_err)
    }
    fn extend_share(_share: Share, _new_size_gib: u64) -> Result<(), DriverError> {
        Err(unsupported())
    }
    fn ensure_share(share: Share) -> Result<Vec<ExportLocation>, DriverError> {
        let pairs = pd::details_get(&share.id, Some(&["volume_id".to_string()])).map_err(pd_err)?;
        let (_, volume) = pairs
            .into_iter()
            .next()
            .ok_or_else(|| DriverError::NotFound(share.id.clone()))?;
        Ok(vec![ExportLocation {
            path: format!("old-nas:/{volume}"),
            is_admin_only: false,
        }])
    }
    fn create_snapshot(_snapshot: Snapshot) -> Result<(), DriverError> {
        Err(unsupported())
    }
    fn delete_snapshot(_snapshot: Snapshot) -> Result<(), DriverError> {
        Err(unsupported())
    }
    fn manage_existing(_share: Share, _name: String) -> Result<(u64, Vec<ExportLocation>), DriverError> {
        Err(unsupported())
    }
    fn unmanage(_share: Share) -> Result<(), DriverError> {
        Err(unsupported())
    }
}

#[cfg(target_family = "wasm")]
export!(Legacy);
#[cfg(not(target_family = "wasm"))]
const _: () = {
    let _ = <Legacy as Guest>::setup;
};
