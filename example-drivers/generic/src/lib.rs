//! Use case 1: the backend names volumes itself.
//!
//! `create-share` makes a volume named by an id the driver generates (never
//! the share id) and keeps `volume_id` in private data; every later call
//! finds the volume through it instead of renaming anything. Snapshots
//! likewise keep `snapshot_volume_id`. A create for an id whose private data
//! already names a volume returns that volume: retries make no second one.
//!
//! Backend layout under the root: `volumes/<volume_id>/` with a `.size` file,
//! `snapshots/<snapshot_volume_id>/` holding a copy of the volume.

use manila_driver_sdk::{
    Driver, DriverError, ExportLocation, Options, PrivateStorage, Share, Snapshot, random_hex,
};
use std::fs;
use std::io::ErrorKind;
use std::path::Path;

struct Generic {
    private_storage: PrivateStorage,
    export_host: String,
}

const VOLUMES: &str = "/volumes";
const SNAPSHOTS: &str = "/snapshots";

impl Generic {
    fn volume_of(&self, share_id: &str) -> Result<String, DriverError> {
        self.private_storage
            .get(share_id, "volume_id")?
            .ok_or_else(|| DriverError::NotFound(format!("share {share_id} has no volume on this backend")))
    }

    fn exports(&self, volume: &str) -> Vec<ExportLocation> {
        vec![ExportLocation {
            path: format!("{}:{VOLUMES}/{volume}", self.export_host),
            is_admin_only: false,
        }]
    }
}

fn read_size(volume_dir: &str) -> Result<u64, DriverError> {
    let raw = fs::read_to_string(format!("{volume_dir}/.size"))?;
    raw.trim()
        .parse()
        .map_err(|_| DriverError::Backend(format!("{volume_dir}/.size holds {raw:?}, not a size")))
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
        })
    }

    fn create_share(&self, share: &Share) -> Result<Vec<ExportLocation>, DriverError> {
        // Manila retries a create whose answer it lost: the volume the
        // private data already names is the share's, so make no second one.
        if let Some(volume) = self.private_storage.get(&share.id, "volume_id")? {
            let dir = format!("{VOLUMES}/{volume}");
            if !Path::new(&dir).is_dir() {
                fs::create_dir_all(&dir)?;
                fs::write(format!("{dir}/.size"), share.size_gib.to_string())?;
            }
            return Ok(self.exports(&volume));
        }
        let volume = format!("vol-{}", random_hex(12));
        let dir = format!("{VOLUMES}/{volume}");
        fs::create_dir_all(&dir)?;
        fs::write(format!("{dir}/.size"), share.size_gib.to_string())?;
        if let Err(e) = self.private_storage.update(&share.id, [("volume_id", &volume)]) {
            // Without its private data the volume could never be found again.
            let _ = fs::remove_dir_all(&dir);
            return Err(e.into());
        }
        Ok(self.exports(&volume))
    }

    fn delete_share(&self, share: &Share) -> Result<(), DriverError> {
        if let Some(volume) = self.private_storage.get(&share.id, "volume_id")? {
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

    fn ensure_share(&self, share: &Share) -> Result<Vec<ExportLocation>, DriverError> {
        let volume = self.volume_of(&share.id)?;
        if !Path::new(&format!("{VOLUMES}/{volume}")).is_dir() {
            return Err(DriverError::Backend(format!(
                "volume {volume} of share {} is missing",
                share.id
            )));
        }
        Ok(self.exports(&volume))
    }

    fn create_snapshot(&self, snapshot: &Snapshot) -> Result<(), DriverError> {
        let volume = self.volume_of(&snapshot.share_id)?;
        if let Some(snap_volume) = self.private_storage.get(&snapshot.id, "snapshot_volume_id")?
            && Path::new(&format!("{SNAPSHOTS}/{snap_volume}")).is_dir()
        {
            return Ok(());
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
        Ok(())
    }

    fn delete_snapshot(&self, snapshot: &Snapshot) -> Result<(), DriverError> {
        if let Some(snap_volume) = self.private_storage.get(&snapshot.id, "snapshot_volume_id")? {
            remove_dir(&format!("{SNAPSHOTS}/{snap_volume}"))?;
        }
        self.private_storage.delete_all(&snapshot.id)?;
        Ok(())
    }

    fn manage_existing(
        &self,
        share: &Share,
        backend_name: &str,
    ) -> Result<(u64, Vec<ExportLocation>), DriverError> {
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
        Ok((size, self.exports(backend_name)))
    }

    fn unmanage(&self, share: &Share) -> Result<(), DriverError> {
        self.volume_of(&share.id)?;
        self.private_storage.delete_all(&share.id)?;
        Ok(())
    }
}

manila_driver_sdk::export_driver!(Generic);
