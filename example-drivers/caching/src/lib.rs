//! Use case 3: cache what was learned from the backend.
//!
//! Asking this backend is slow (it walks the share for its usage and reads
//! its network interfaces), so the driver asks once, when it creates or
//! adopts a share, and keeps the answers in private data: `export_locations`,
//! `used_bytes` and `size_gib`. `ensure-share`, which Manila calls for every
//! share at every service start, is then served from private data without
//! touching the backend. `extend-share` updates the cache; a cache that is
//! missing is relearned.
//!
//! Backend layout: `shares/<share id>/` with a `.size` file; the export
//! addresses are the lines of `.backend/interfaces` (or the `export_addresses`
//! option, comma-separated, when that file does not exist).

use manila_driver_sdk::{
    BackendStats, Driver, DriverError, ExportLocation, Options, PrivateStorage, Share, ShareUpdate,
    manage_target,
};
use std::fs;
use std::path::Path;

struct Caching {
    private_storage: PrivateStorage,
    default_addresses: String,
}

const SHARES: &str = "/shares";
const INTERFACES: &str = "/.backend/interfaces";
const CACHE_KEYS: [&str; 3] = ["export_locations", "size_gib", "used_bytes"];

/// What the backend says about one share.
struct Learned {
    exports: Vec<ExportLocation>,
    size_gib: u64,
    used_bytes: u64,
}

impl Caching {
    fn dir(share: &Share) -> String {
        format!("{SHARES}/{}", share.id)
    }

    /// The slow path: ask the backend.
    fn learn(&self, share: &Share) -> Result<Learned, DriverError> {
        let dir = Caching::dir(share);
        if !Path::new(&dir).is_dir() {
            return Err(DriverError::NotFound(format!(
                "share {} is not on this backend",
                share.id
            )));
        }
        let addresses =
            fs::read_to_string(INTERFACES).unwrap_or_else(|_| self.default_addresses.replace(',', "\n"));
        let mut exports: Vec<ExportLocation> = addresses
            .lines()
            .map(str::trim)
            .filter(|a| !a.is_empty())
            .map(|a| ExportLocation::new(format!("{a}:{dir}")))
            .collect();
        exports.push(ExportLocation::new(format!("admin:{dir}")).admin_only());
        let size_gib = fs::read_to_string(format!("{dir}/.size"))
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(share.size_gib);
        Ok(Learned {
            exports,
            size_gib,
            used_bytes: usage(Path::new(&dir))?,
        })
    }

    fn cache(&self, share: &Share, learned: &Learned) -> Result<(), DriverError> {
        let exports: Vec<String> = learned
            .exports
            .iter()
            .map(|e| format!("{}\t{}", e.path, if e.is_admin_only { "admin" } else { "user" }))
            .collect();
        // replace, not update: a relearned cache must not keep stale keys.
        self.private_storage.replace(
            &share.id,
            [
                ("export_locations", exports.join("\n")),
                ("size_gib", learned.size_gib.to_string()),
                ("used_bytes", learned.used_bytes.to_string()),
            ],
        )?;
        Ok(())
    }
}

fn usage(dir: &Path) -> std::io::Result<u64> {
    let mut total = 0;
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let meta = entry.metadata()?;
        total += if meta.is_dir() {
            usage(&entry.path())?
        } else {
            meta.len()
        };
    }
    Ok(total)
}

fn decode_exports(cached: &str) -> Vec<ExportLocation> {
    cached
        .lines()
        .filter_map(|line| line.split_once('\t'))
        .map(|(path, kind)| ExportLocation {
            is_admin_only: kind == "admin",
            ..ExportLocation::new(path)
        })
        .collect()
}

impl Driver for Caching {
    fn setup(options: Options) -> Result<Self, DriverError> {
        Ok(Caching {
            private_storage: PrivateStorage,
            default_addresses: options.get("export_addresses").unwrap_or("127.0.0.1").to_string(),
        })
    }

    fn create_share(&self, share: &Share) -> Result<ShareUpdate, DriverError> {
        let dir = Caching::dir(share);
        fs::create_dir_all(&dir)?;
        fs::write(format!("{dir}/.size"), share.size_gib.to_string())?;
        let learned = self.learn(share)?;
        if let Err(e) = self.cache(share, &learned) {
            let _ = fs::remove_dir_all(&dir);
            return Err(e);
        }
        Ok(ShareUpdate::exported(learned.exports))
    }

    fn delete_share(&self, share: &Share) -> Result<(), DriverError> {
        let dir = Caching::dir(share);
        if Path::new(&dir).exists() {
            fs::remove_dir_all(dir)?;
        }
        self.private_storage.delete_all(&share.id)?;
        Ok(())
    }

    fn extend_share(&self, share: &Share, new_size_gib: u64) -> Result<(), DriverError> {
        let dir = Caching::dir(share);
        if !Path::new(&dir).is_dir() {
            return Err(DriverError::NotFound(format!(
                "share {} is not on this backend",
                share.id
            )));
        }
        fs::write(format!("{dir}/.size"), new_size_gib.to_string())?;
        self.private_storage
            .update(&share.id, [("size_gib", new_size_gib.to_string())])?;
        // Usage is relearned on demand rather than walked now.
        self.private_storage.delete_many(&share.id, ["used_bytes"])?;
        Ok(())
    }

    /// Refused below what the share holds: usage from the cache, or
    /// learned (and cached) when the cache has none.
    fn shrink_share(&self, share: &Share, new_size_gib: u64) -> Result<(), DriverError> {
        let cached = self.private_storage.get(&share.id, "used_bytes")?;
        let used = match cached.and_then(|u| u.parse::<u64>().ok()) {
            Some(used) => used,
            None => {
                let learned = self.learn(share)?;
                self.cache(share, &learned)?;
                learned.used_bytes
            }
        };
        if new_size_gib == 0 || used > new_size_gib << 30 {
            return Err(DriverError::Invalid(format!(
                "the share holds {used} bytes: {new_size_gib} GiB would lose data"
            )));
        }
        fs::write(format!("{}/.size", Caching::dir(share)), new_size_gib.to_string())?;
        self.private_storage
            .update(&share.id, [("size_gib", new_size_gib.to_string())])?;
        Ok(())
    }

    /// Shares take only what they use, and the backend does not say its
    /// size: capacity is unknown.
    fn get_stats(&self) -> Result<BackendStats, DriverError> {
        Ok(BackendStats {
            backend_name: "caching".into(),
            protocols: vec!["NFS".into()],
            total_capacity_gib: None,
            free_capacity_gib: None,
            thin_provisioning: true,
            pools: Vec::new(),
            capabilities: Vec::new(),
        })
    }

    fn ensure_share(&self, share: &Share) -> Result<ShareUpdate, DriverError> {
        let cached = self.private_storage.get_many(&share.id, CACHE_KEYS)?;
        if let Some(exports) = cached.get("export_locations") {
            return Ok(ShareUpdate::exported(decode_exports(exports)));
        }
        let learned = self.learn(share)?;
        self.cache(share, &learned)?;
        Ok(ShareUpdate::exported(learned.exports))
    }

    fn manage_existing(&self, share: &Share, driver_options: &Options) -> Result<ShareUpdate, DriverError> {
        let backend_name = manage_target(share, driver_options)?;
        if backend_name != share.id {
            return Err(DriverError::Invalid(format!(
                "this backend names shares by their id; expected {:?}, got {backend_name:?}",
                share.id
            )));
        }
        let learned = self.learn(share)?;
        self.cache(share, &learned)?;
        Ok(ShareUpdate {
            size_gib: Some(learned.size_gib),
            ..ShareUpdate::exported(learned.exports)
        })
    }

    fn unmanage(&self, share: &Share) -> Result<(), DriverError> {
        self.private_storage.delete_all(&share.id)?;
        Ok(())
    }
}

manila_driver_sdk::export_driver!(Caching);
