//! A driver built against `manila:driver@0.1.1` (the host's copy in
//! `runtime/wit-0.1/`), answering what it lacks as the 0.1 SDK did: the host
//! must keep running it unchanged, call it `unsupported` for what 0.2
//! added, and read the 0.1 SDK's "does not support" answers as such.
#![allow(unsafe_code, missing_docs)]

wit_bindgen::generate!({ path: "../../../runtime/wit-0.1", world: "driver" });

use exports::manila::driver::share_driver::{DriverError, ExportLocation, Guest, Share, Snapshot};
use manila::driver::private_data as pd;

struct Legacy;

fn pd_err(e: pd::Error) -> DriverError {
    DriverError::PrivateData(format!("{e:?}"))
}

/// What the 0.1 SDK answered for an operation a driver left out.
fn unsupported(op: &str) -> DriverError {
    DriverError::Invalid(format!("this driver does not support {op}"))
}

fn exports(volume: &str) -> Vec<ExportLocation> {
    vec![ExportLocation {
        path: format!("old-nas:/{volume}"),
        is_admin_only: false,
    }]
}

impl Guest for Legacy {
    fn setup(_options: Vec<(String, String)>) -> Result<(), DriverError> {
        Ok(())
    }
    fn create_share(share: Share) -> Result<Vec<ExportLocation>, DriverError> {
        let volume = format!("v011-{}", &share.id[..8]);
        let details = [
            ("volume_id".to_string(), volume.clone()),
            ("size_gib".to_string(), share.size_gib.to_string()),
        ];
        pd::details_update(&share.id, &details, false).map_err(pd_err)?;
        Ok(exports(&volume))
    }
    fn delete_share(share: Share) -> Result<(), DriverError> {
        pd::details_delete(&share.id, None).map_err(pd_err)
    }
    fn extend_share(share: Share, new_size_gib: u64) -> Result<(), DriverError> {
        let size = [("size_gib".to_string(), new_size_gib.to_string())];
        pd::details_update(&share.id, &size, false).map_err(pd_err)
    }
    /// Served from `entities-list`, which came in 0.1.1: the share is known
    /// if this backend holds data for it.
    fn ensure_share(share: Share) -> Result<Vec<ExportLocation>, DriverError> {
        let (ids, _) = pd::entities_list(None, 1000).map_err(pd_err)?;
        if !ids.contains(&share.id) {
            return Err(DriverError::NotFound(share.id));
        }
        Ok(exports(&format!("v011-{}", &share.id[..8])))
    }
    fn create_snapshot(_snapshot: Snapshot) -> Result<(), DriverError> {
        Err(unsupported("create-snapshot"))
    }
    fn delete_snapshot(_snapshot: Snapshot) -> Result<(), DriverError> {
        Err(unsupported("delete-snapshot"))
    }
    fn manage_existing(_share: Share, _name: String) -> Result<(u64, Vec<ExportLocation>), DriverError> {
        Err(unsupported("manage-existing"))
    }
    fn unmanage(_share: Share) -> Result<(), DriverError> {
        Err(unsupported("unmanage"))
    }
}

#[cfg(target_family = "wasm")]
export!(Legacy);
#[cfg(not(target_family = "wasm"))]
const _: () = {
    let _ = <Legacy as Guest>::setup;
};
