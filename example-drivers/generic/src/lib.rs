//! Use case 1: the backend names volumes itself.
//!
//! `create-share` makes a volume named by an id the driver generates (never
//! the share id) and keeps `volume_id` in private data; every later call
//! finds the volume through it instead of renaming anything. Snapshots
//! likewise keep `snapshot_volume_id`. A create for an id whose private data
//! already names a volume returns that volume: retries make no second one.
//!
//! Access rules are NFS exports: `exports/<volume_id>` holds one line per
//! rule in exports(5) form, `/volumes/<volume_id> 10.0.0.0/24(rw) # <rule id>`.
//! Only `ip` rules apply; others come back in the `error` state.
//!
//! Backend layout under the root: `volumes/<volume_id>/` with a `.size` file,
//! `snapshots/<snapshot_volume_id>/` holding a copy of the volume,
//! `exports/<volume_id>`. The `capacity_gib` option (default 100) is the
//! backend's size; volumes are thick, so free space is what their sizes
//! leave.

use manila_driver_sdk::{
    AccessChanges, AccessLevel, AccessRule, AccessType, BackendStats, Driver, DriverError, ExportLocation,
    Options, PrivateStorage, RuleResult, RuleState, Share, ShareUpdate, Snapshot, SnapshotUpdate,
    manage_target, random_hex,
};
use std::collections::BTreeMap;
use std::fs;
use std::io::ErrorKind;
use std::path::Path;

struct Generic {
    private_storage: PrivateStorage,
    export_host: String,
    capacity_gib: u64,
}

const VOLUMES: &str = "/volumes";
const SNAPSHOTS: &str = "/snapshots";
const EXPORTS: &str = "/exports";

impl Generic {
    fn volume_of(&self, share_id: &str) -> Result<String, DriverError> {
        self.private_storage
            .get(share_id, "volume_id")?
            .ok_or_else(|| DriverError::NotFound(format!("share {share_id} has no volume on this backend")))
    }

    fn snapshot_volume_of(&self, snapshot_id: &str) -> Result<String, DriverError> {
        self.private_storage
            .get(snapshot_id, "snapshot_volume_id")?
            .ok_or_else(|| {
                DriverError::NotFound(format!("snapshot {snapshot_id} has no copy on this backend"))
            })
    }

    /// Make the volume of `share`, filled by `fill` (which writes its
    /// content into the new directory). Manila retries a create whose answer
    /// it lost: a volume the private data already names is the share's, so
    /// no second one is made.
    fn new_volume(
        &self,
        share: &Share,
        fill: impl FnOnce(&Path) -> std::io::Result<()>,
    ) -> Result<Vec<ExportLocation>, DriverError> {
        let known = self.private_storage.get(&share.id, "volume_id")?;
        let volume = known.clone().unwrap_or_else(|| format!("vol-{}", random_hex(12)));
        let dir = format!("{VOLUMES}/{volume}");
        if Path::new(&dir).is_dir() {
            return Ok(self.exports(&volume));
        }
        let made = fill(Path::new(&dir))
            .and_then(|()| fs::write(format!("{dir}/.size"), share.size_gib.to_string()));
        if let Err(e) = made {
            let _ = fs::remove_dir_all(&dir);
            return Err(e.into());
        }
        if known.is_none()
            && let Err(e) = self.private_storage.update(&share.id, [("volume_id", &volume)])
        {
            // Without its private data the volume could never be found again.
            let _ = fs::remove_dir_all(&dir);
            return Err(e.into());
        }
        Ok(self.exports(&volume))
    }

    fn exports(&self, volume: &str) -> Vec<ExportLocation> {
        vec![ExportLocation::new(format!(
            "{}:{VOLUMES}/{volume}",
            self.export_host
        ))]
    }
}

fn read_size(volume_dir: &str) -> Result<u64, DriverError> {
    let raw = fs::read_to_string(format!("{volume_dir}/.size"))?;
    raw.trim()
        .parse()
        .map_err(|_| DriverError::Backend(format!("{volume_dir}/.size holds {raw:?}, not a size")))
}

/// Bytes the files of a volume hold (its `.size` and `.`-files aside).
fn used_bytes(dir: &Path) -> std::io::Result<u64> {
    let mut used = 0;
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        used += if entry.file_type()?.is_dir() {
            used_bytes(&entry.path())?
        } else {
            entry.metadata()?.len()
        };
    }
    Ok(used)
}

/// Whether `to` is an address or CIDR an NFS export takes.
fn valid_client(to: &str) -> bool {
    let (addr, prefix) = to.split_once('/').unwrap_or((to, ""));
    let Ok(ip) = addr.parse::<std::net::IpAddr>() else {
        return false;
    };
    let max = if ip.is_ipv4() { 32 } else { 128 };
    prefix.is_empty() || prefix.parse::<u8>().is_ok_and(|p| p <= max)
}

/// The rules in `exports/<volume>`, by rule id, as (client, level) lines.
fn read_exports(volume: &str) -> Result<BTreeMap<String, String>, DriverError> {
    let text = match fs::read_to_string(format!("{EXPORTS}/{volume}")) {
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(BTreeMap::new()),
        other => other?,
    };
    Ok(text
        .lines()
        .filter_map(|line| {
            let (rule, id) = line.split_once(" # ")?;
            Some((id.to_string(), rule.to_string()))
        })
        .collect())
}

/// Replace `exports/<volume>` with `rules`, atomically.
fn write_exports(volume: &str, rules: &BTreeMap<String, String>) -> Result<(), DriverError> {
    fs::create_dir_all(EXPORTS)?;
    let text: String = rules
        .iter()
        .map(|(id, rule)| format!("{rule} # {id}\n"))
        .collect();
    let tmp = format!("{EXPORTS}/.{volume}.new");
    fs::write(&tmp, text)?;
    fs::rename(&tmp, format!("{EXPORTS}/{volume}"))?;
    Ok(())
}

fn remove_file(path: &str) -> Result<(), DriverError> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != ErrorKind::NotFound => Err(e.into()),
        _ => Ok(()),
    }
}

fn remove_dir(path: &str) -> Result<(), DriverError> {
    match fs::remove_dir_all(path) {
        Err(e) if e.kind() != ErrorKind::NotFound => Err(e.into()),
        _ => Ok(()),
    }
}

fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    fs::create_dir_all(to)?;
    for entry in fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}

impl Driver for Generic {
    fn setup(options: Options) -> Result<Self, DriverError> {
        Ok(Generic {
            private_storage: PrivateStorage,
            export_host: options.get("export_host").unwrap_or("127.0.0.1").to_string(),
            capacity_gib: options.parse_or("capacity_gib", 100)?,
        })
    }

    /// What the driver is set up with: while it stays the same, Manila
    /// need not ensure every share at start.
    fn get_backend_info(&self) -> Result<Option<Vec<(String, String)>>, DriverError> {
        Ok(Some(vec![
            ("export_host".into(), self.export_host.clone()),
            ("capacity_gib".into(), self.capacity_gib.to_string()),
        ]))
    }

    fn create_share(&self, share: &Share) -> Result<ShareUpdate, DriverError> {
        self.new_volume(share, |dir| fs::create_dir_all(dir))
            .map(ShareUpdate::exported)
    }

    fn delete_share(&self, share: &Share) -> Result<(), DriverError> {
        if let Some(volume) = self.private_storage.get(&share.id, "volume_id")? {
            remove_file(&format!("{EXPORTS}/{volume}"))?;
            remove_dir(&format!("{VOLUMES}/{volume}"))?;
        }
        self.private_storage.delete_all(&share.id)?;
        Ok(())
    }

    fn extend_share(&self, share: &Share, new_size_gib: u64) -> Result<(), DriverError> {
        let dir = format!("{VOLUMES}/{}", self.volume_of(&share.id)?);
        let current = read_size(&dir)?;
        if new_size_gib <= current {
            return Err(DriverError::Invalid(format!(
                "new size {new_size_gib} GiB is not larger than the current {current} GiB"
            )));
        }
        fs::write(format!("{dir}/.size"), new_size_gib.to_string())?;
        Ok(())
    }

    fn ensure_share(&self, share: &Share) -> Result<ShareUpdate, DriverError> {
        let volume = self.volume_of(&share.id)?;
        if !Path::new(&format!("{VOLUMES}/{volume}")).is_dir() {
            return Err(DriverError::Backend(format!(
                "volume {volume} of share {} is missing",
                share.id
            )));
        }
        Ok(ShareUpdate::exported(self.exports(&volume)))
    }

    fn create_snapshot(&self, snapshot: &Snapshot) -> Result<SnapshotUpdate, DriverError> {
        let volume = self.volume_of(&snapshot.share.id)?;
        let made = |snap_volume: String| SnapshotUpdate {
            provider_location: Some(snap_volume),
            ..SnapshotUpdate::default()
        };
        if let Some(snap_volume) = self.private_storage.get(&snapshot.id, "snapshot_volume_id")?
            && Path::new(&format!("{SNAPSHOTS}/{snap_volume}")).is_dir()
        {
            return Ok(made(snap_volume));
        }
        let snap_volume = format!("snap-{}", random_hex(12));
        let target = format!("{SNAPSHOTS}/{snap_volume}");
        copy_dir(Path::new(&format!("{VOLUMES}/{volume}")), Path::new(&target))?;
        let stored = self.private_storage.update(
            &snapshot.id,
            [
                ("snapshot_volume_id", snap_volume.as_str()),
                ("source_volume_id", &volume),
            ],
        );
        if let Err(e) = stored {
            let _ = fs::remove_dir_all(&target);
            return Err(e.into());
        }
        Ok(made(snap_volume))
    }

    fn delete_snapshot(&self, snapshot: &Snapshot) -> Result<(), DriverError> {
        if let Some(snap_volume) = self.private_storage.get(&snapshot.id, "snapshot_volume_id")? {
            remove_dir(&format!("{SNAPSHOTS}/{snap_volume}"))?;
        }
        self.private_storage.delete_all(&snapshot.id)?;
        Ok(())
    }

    fn manage_existing(&self, share: &Share, driver_options: &Options) -> Result<ShareUpdate, DriverError> {
        let backend_name = &manage_target(share, driver_options)?;
        if backend_name.is_empty() || backend_name.contains('/') || backend_name.starts_with('.') {
            return Err(DriverError::Invalid(format!(
                "{backend_name:?} is not a volume name"
            )));
        }
        let dir = format!("{VOLUMES}/{backend_name}");
        if !Path::new(&dir).is_dir() {
            return Err(DriverError::NotFound(format!(
                "no volume {backend_name:?} on this backend"
            )));
        }
        let size = read_size(&dir).unwrap_or(share.size_gib.max(1));
        self.private_storage
            .update(&share.id, [("volume_id", backend_name)])?;
        Ok(ShareUpdate {
            size_gib: Some(size),
            ..ShareUpdate::exported(self.exports(backend_name))
        })
    }

    fn unmanage(&self, share: &Share) -> Result<(), DriverError> {
        self.volume_of(&share.id)?;
        self.private_storage.delete_all(&share.id)?;
        Ok(())
    }

    fn shrink_share(&self, share: &Share, new_size_gib: u64) -> Result<(), DriverError> {
        let dir = format!("{VOLUMES}/{}", self.volume_of(&share.id)?);
        let current = read_size(&dir)?;
        if new_size_gib >= current || new_size_gib == 0 {
            return Err(DriverError::Invalid(format!(
                "new size {new_size_gib} GiB is not between 1 and the current {current} GiB"
            )));
        }
        let used = used_bytes(Path::new(&dir))?;
        if used > new_size_gib << 30 {
            return Err(DriverError::Invalid(format!(
                "the share holds {used} bytes, more than {new_size_gib} GiB: shrinking would lose data"
            )));
        }
        fs::write(format!("{dir}/.size"), new_size_gib.to_string())?;
        Ok(())
    }

    fn create_share_from_snapshot(
        &self,
        share: &Share,
        snapshot: &Snapshot,
    ) -> Result<ShareUpdate, DriverError> {
        let source = format!("{SNAPSHOTS}/{}", self.snapshot_volume_of(&snapshot.id)?);
        let exports = self.new_volume(share, |dir| copy_dir(Path::new(&source), dir))?;
        Ok(ShareUpdate {
            status: Some("available".into()),
            ..ShareUpdate::exported(exports)
        })
    }

    /// The share takes the snapshot's data and its size.
    fn revert_to_snapshot(
        &self,
        snapshot: &Snapshot,
        _: &[AccessRule],
        _: &[AccessRule],
    ) -> Result<ShareUpdate, DriverError> {
        let source = format!("{SNAPSHOTS}/{}", self.snapshot_volume_of(&snapshot.id)?);
        let volume = self.volume_of(&snapshot.share.id)?;
        // Copy aside first, then swap: a failed copy leaves the share as it was.
        let staged = format!("{VOLUMES}/.{volume}.revert");
        remove_dir(&staged)?;
        copy_dir(Path::new(&source), Path::new(&staged))?;
        let dir = format!("{VOLUMES}/{volume}");
        remove_dir(&dir)?;
        fs::rename(&staged, &dir)?;
        Ok(ShareUpdate {
            size_gib: Some(read_size(&dir)?),
            ..ShareUpdate::default()
        })
    }

    /// An updated rule (its level changed) is written again like an added
    /// one.
    fn update_access(
        &self,
        share: &Share,
        changes: AccessChanges<'_>,
    ) -> Result<Vec<RuleResult>, DriverError> {
        let volume = self.volume_of(&share.id)?;
        let full_sync = changes.is_full_sync();
        let mut exports = if full_sync {
            BTreeMap::new()
        } else {
            read_exports(&volume)?
        };
        for rule in changes.delete {
            exports.remove(&rule.id);
        }
        let applies = |rule: &AccessRule| rule.access_type == AccessType::Ip && valid_client(&rule.access_to);
        let written = if full_sync {
            changes.all.to_vec()
        } else {
            [changes.add, changes.update].concat()
        };
        for rule in &written {
            if applies(rule) {
                let level = match rule.access_level {
                    AccessLevel::Rw => "rw",
                    AccessLevel::Ro => "ro",
                };
                exports.insert(
                    rule.id.clone(),
                    format!("{VOLUMES}/{volume} {}({level})", rule.access_to),
                );
            }
        }
        write_exports(&volume, &exports)?;
        Ok(changes
            .all
            .iter()
            .map(|rule| RuleResult {
                id: rule.id.clone(),
                state: if applies(rule) {
                    RuleState::Active
                } else {
                    RuleState::Error
                },
                access_key: None,
            })
            .collect())
    }

    /// The snapshot to adopt is named by its provider location, or the
    /// `backend_name` driver option.
    fn manage_existing_snapshot(
        &self,
        snapshot: &Snapshot,
        driver_options: &Options,
    ) -> Result<SnapshotUpdate, DriverError> {
        let backend_name = driver_options
            .get("backend_name")
            .or(snapshot.provider_location.as_deref())
            .unwrap_or_default();
        let volume = self.volume_of(&snapshot.share.id)?;
        let dir = format!("{SNAPSHOTS}/{backend_name}");
        if backend_name.is_empty() || backend_name.contains('/') || !Path::new(&dir).is_dir() {
            return Err(DriverError::NotFound(format!(
                "no snapshot {backend_name:?} on this backend"
            )));
        }
        let size = read_size(&dir).unwrap_or(snapshot.size_gib.max(1));
        self.private_storage.update(
            &snapshot.id,
            [
                ("snapshot_volume_id", backend_name),
                ("source_volume_id", &volume),
            ],
        )?;
        Ok(SnapshotUpdate {
            size_gib: Some(size),
            provider_location: Some(backend_name.to_string()),
            ..SnapshotUpdate::default()
        })
    }

    fn unmanage_snapshot(&self, snapshot: &Snapshot) -> Result<(), DriverError> {
        self.snapshot_volume_of(&snapshot.id)?;
        self.private_storage.delete_all(&snapshot.id)?;
        Ok(())
    }

    fn get_stats(&self) -> Result<BackendStats, DriverError> {
        let mut allocated = 0;
        if Path::new(VOLUMES).is_dir() {
            for entry in fs::read_dir(VOLUMES)? {
                let path = entry?.path();
                if path.is_dir() && !path.to_string_lossy().contains("/.") {
                    allocated += read_size(&path.to_string_lossy()).unwrap_or(0);
                }
            }
        }
        Ok(BackendStats {
            backend_name: "generic".into(),
            protocols: vec!["NFS".into()],
            total_capacity_gib: Some(self.capacity_gib),
            free_capacity_gib: Some(self.capacity_gib.saturating_sub(allocated)),
            thin_provisioning: false,
            pools: Vec::new(),
            capabilities: Vec::new(),
        })
    }
}

manila_driver_sdk::export_driver!(Generic);
