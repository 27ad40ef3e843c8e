//! Use case 2: the backend only accepts short names.
//!
//! The NAS takes names of at most `max_name_length` characters (an option,
//! default 8), far shorter than a 36-character share UUID. The driver picks
//! a unique short name per share, keeps the mapping in private data
//! (`backend_name`), and looks it up on every later call. `manage-existing`
//! adopts a directory that already exists on the backend; `unmanage` forgets
//! the mapping and leaves the data where it is.
//!
//! Backend layout: `shares/<short name>/` with a `.size` file, and snapshots
//! in `shares/<short name>/.snapshots/<short name>/`.

use manila_driver_sdk::{
    BackendStats, Driver, DriverError, ExportLocation, Options, PrivateStorage, Share, ShareUpdate, Snapshot,
    SnapshotUpdate, manage_target, random_hex,
};
use std::fs;
use std::path::Path;

struct ShortNames {
    private_storage: PrivateStorage,
    max_len: usize,
    export_host: String,
}

const SHARES: &str = "/shares";

impl ShortNames {
    fn name_of(&self, entity_id: &str) -> Result<String, DriverError> {
        self.private_storage
            .get(entity_id, "backend_name")?
            .ok_or_else(|| DriverError::NotFound(format!("{entity_id} has no backend name on this backend")))
    }

    /// A name no object under `parent` has yet: the UUID's first hex digits,
    /// or random ones when those are taken.
    fn new_name(&self, uuid: &str, parent: &str) -> Result<String, DriverError> {
        let hex: String = uuid.chars().filter(char::is_ascii_hexdigit).collect();
        let first = hex
            .to_ascii_lowercase()
            .chars()
            .take(self.max_len)
            .collect::<String>();
        let candidates = std::iter::once(first).chain((0..16).map(|_| random_hex(self.max_len)));
        for name in candidates {
            if !Path::new(&format!("{parent}/{name}")).exists() {
                return Ok(name);
            }
        }
        Err(DriverError::Backend(format!(
            "no free name of {} characters under {parent}",
            self.max_len
        )))
    }

    fn exports(&self, name: &str) -> ShareUpdate {
        ShareUpdate::exported(vec![ExportLocation::new(format!(
            "{}:{SHARES}/{name}",
            self.export_host
        ))])
    }
}

impl Driver for ShortNames {
    fn setup(options: Options) -> Result<Self, DriverError> {
        let max_len = options.parse_or("max_name_length", 8usize)?;
        if !(4..=32).contains(&max_len) {
            return Err(DriverError::Invalid(format!(
                "max_name_length = {max_len}; use 4 to 32"
            )));
        }
        Ok(ShortNames {
            private_storage: PrivateStorage,
            max_len,
            export_host: options.get("export_host").unwrap_or("127.0.0.1").to_string(),
        })
    }

    fn create_share(&self, share: &Share) -> Result<ShareUpdate, DriverError> {
        // A retried create: the name the private data holds is the share's.
        if let Some(name) = self.private_storage.get(&share.id, "backend_name")? {
            let dir = format!("{SHARES}/{name}");
            if !Path::new(&dir).is_dir() {
                fs::create_dir_all(&dir)?;
                fs::write(format!("{dir}/.size"), share.size_gib.to_string())?;
            }
            return Ok(self.exports(&name));
        }
        fs::create_dir_all(SHARES)?;
        let name = self.new_name(&share.id, SHARES)?;
        let dir = format!("{SHARES}/{name}");
        fs::create_dir(&dir)?;
        fs::write(format!("{dir}/.size"), share.size_gib.to_string())?;
        if let Err(e) = self.private_storage.update(&share.id, [("backend_name", &name)]) {
            let _ = fs::remove_dir_all(&dir);
            return Err(e.into());
        }
        Ok(self.exports(&name))
    }

    fn delete_share(&self, share: &Share) -> Result<(), DriverError> {
        if let Some(name) = self.private_storage.get(&share.id, "backend_name")? {
            let dir = format!("{SHARES}/{name}");
            if Path::new(&dir).exists() {
                fs::remove_dir_all(dir)?;
            }
        }
        self.private_storage.delete_all(&share.id)?;
        Ok(())
    }

    fn extend_share(&self, share: &Share, new_size_gib: u64) -> Result<(), DriverError> {
        let name = self.name_of(&share.id)?;
        fs::write(format!("{SHARES}/{name}/.size"), new_size_gib.to_string())?;
        Ok(())
    }

    fn ensure_share(&self, share: &Share) -> Result<ShareUpdate, DriverError> {
        let name = self.name_of(&share.id)?;
        if !Path::new(&format!("{SHARES}/{name}")).is_dir() {
            return Err(DriverError::Backend(format!("backend share {name} is missing")));
        }
        Ok(self.exports(&name))
    }

    fn create_snapshot(&self, snapshot: &Snapshot) -> Result<SnapshotUpdate, DriverError> {
        let share_name = self.name_of(&snapshot.share.id)?;
        let parent = format!("{SHARES}/{share_name}/.snapshots");
        if let Some(name) = self.private_storage.get(&snapshot.id, "backend_name")?
            && Path::new(&format!("{parent}/{name}")).is_dir()
        {
            return Ok(SnapshotUpdate::default());
        }
        fs::create_dir_all(&parent)?;
        let name = self.new_name(&snapshot.id, &parent)?;
        fs::create_dir(format!("{parent}/{name}"))?;
        self.private_storage.update(
            &snapshot.id,
            [
                ("backend_name", name.as_str()),
                ("share_backend_name", &share_name),
            ],
        )?;
        Ok(SnapshotUpdate::default())
    }

    fn delete_snapshot(&self, snapshot: &Snapshot) -> Result<(), DriverError> {
        let names = self
            .private_storage
            .get_many(&snapshot.id, ["backend_name", "share_backend_name"])?;
        if let (Some(name), Some(share_name)) = (names.get("backend_name"), names.get("share_backend_name")) {
            let dir = format!("{SHARES}/{share_name}/.snapshots/{name}");
            if Path::new(&dir).exists() {
                fs::remove_dir_all(dir)?;
            }
        }
        self.private_storage.delete_all(&snapshot.id)?;
        Ok(())
    }

    fn manage_existing(&self, share: &Share, driver_options: &Options) -> Result<ShareUpdate, DriverError> {
        let backend_name = &manage_target(share, driver_options)?;
        if backend_name.len() > self.max_len || backend_name.contains('/') || backend_name.starts_with('.') {
            return Err(DriverError::Invalid(format!(
                "{backend_name:?} is not a backend name of at most {} characters",
                self.max_len
            )));
        }
        let dir = format!("{SHARES}/{backend_name}");
        if !Path::new(&dir).is_dir() {
            return Err(DriverError::NotFound(format!(
                "no backend share {backend_name:?}"
            )));
        }
        let size = fs::read_to_string(format!("{dir}/.size"))
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(1);
        self.private_storage
            .update(&share.id, [("backend_name", backend_name)])?;
        Ok(ShareUpdate {
            size_gib: Some(size),
            ..self.exports(backend_name)
        })
    }

    fn unmanage(&self, share: &Share) -> Result<(), DriverError> {
        self.name_of(&share.id)?;
        self.private_storage.delete(&share.id, "backend_name")?;
        Ok(())
    }

    /// The NAS holds no data in its shares here, so any smaller size fits.
    fn shrink_share(&self, share: &Share, new_size_gib: u64) -> Result<(), DriverError> {
        let name = self.name_of(&share.id)?;
        let current: u64 = fs::read_to_string(format!("{SHARES}/{name}/.size"))
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(share.size_gib);
        if new_size_gib == 0 || new_size_gib >= current {
            return Err(DriverError::Invalid(format!(
                "new size {new_size_gib} GiB is not between 1 and the current {current} GiB"
            )));
        }
        fs::write(format!("{SHARES}/{name}/.size"), new_size_gib.to_string())?;
        Ok(())
    }

    /// Adopt `.snapshots/<name>` of the snapshot's share, named by its
    /// provider location or the `backend_name` driver option.
    fn manage_existing_snapshot(
        &self,
        snapshot: &Snapshot,
        driver_options: &Options,
    ) -> Result<SnapshotUpdate, DriverError> {
        let backend_name = driver_options
            .get("backend_name")
            .or(snapshot.provider_location.as_deref())
            .unwrap_or_default();
        let share_name = self.name_of(&snapshot.share.id)?;
        let dir = format!("{SHARES}/{share_name}/.snapshots/{backend_name}");
        if backend_name.is_empty() || backend_name.contains('/') || !Path::new(&dir).is_dir() {
            return Err(DriverError::NotFound(format!(
                "share {share_name} has no snapshot {backend_name:?}"
            )));
        }
        self.private_storage.update(
            &snapshot.id,
            [
                ("backend_name", backend_name),
                ("share_backend_name", &share_name),
            ],
        )?;
        Ok(SnapshotUpdate {
            size_gib: Some(snapshot.size_gib.max(1)),
            ..SnapshotUpdate::default()
        })
    }

    /// Forget the snapshot's names; it stays on the NAS.
    fn unmanage_snapshot(&self, snapshot: &Snapshot) -> Result<(), DriverError> {
        self.name_of(&snapshot.id)?;
        self.private_storage.delete_all(&snapshot.id)?;
        Ok(())
    }

    /// Shares take no space until written, and the NAS does not say its
    /// size: capacity is unknown.
    fn get_stats(&self) -> Result<BackendStats, DriverError> {
        Ok(BackendStats {
            backend_name: "short-names".into(),
            protocols: vec!["NFS".into()],
            total_capacity_gib: None,
            free_capacity_gib: None,
            thin_provisioning: true,
            pools: Vec::new(),
            capabilities: Vec::new(),
        })
    }
}

manila_driver_sdk::export_driver!(ShortNames);
