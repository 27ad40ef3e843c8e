//! Use case 4: a driver that manages its array over the array's REST API.
//!
//! The array names volumes and snapshots with ids of its own (`vol-7`); the
//! driver keeps each one in private data (`volume_id`, `snapshot_id`) under
//! Manila's UUID instead of renaming anything, and finds it again on every
//! later call. It reaches the array only because its backend lists the
//! API's endpoint in `allowed_outbound`; with `https://`, the host verifies
//! the array's certificate against the backend's `ca_file`.
//!
//! Options: `api_url` (`https://10.0.0.5:8443`), `api_token`, and
//! `export_host` (the address clients mount from; default the API's host).
//! The API is the one `example-drivers/fake-nas` serves.

use manila_driver_sdk::http::{Client, Response};
use manila_driver_sdk::{
    AccessChanges, AccessLevel, AccessRule, AccessType, BackendStats, Driver, DriverError, ExportLocation,
    Options, PrivateStorage, RuleResult, RuleState, Share, ShareUpdate, Snapshot, SnapshotUpdate,
    manage_target,
};
use serde_json::{Value, json};

struct Rest {
    api: Client,
    private_storage: PrivateStorage,
    export_host: String,
}

/// What the array answered, as a driver error when it is not a success.
fn expect(response: Response, what: &str) -> Result<Value, DriverError> {
    let text = response.text();
    let reason = || {
        serde_json::from_str::<Value>(&text)
            .ok()
            .and_then(|v| v.get("error").and_then(Value::as_str).map(str::to_string))
            .unwrap_or(text.clone())
    };
    match response.status {
        200..=299 => Ok(serde_json::from_str(&text).unwrap_or(Value::Null)),
        404 => Err(DriverError::NotFound(format!(
            "{what}: the array says {}",
            reason()
        ))),
        400 | 409 => Err(DriverError::Invalid(format!(
            "{what}: the array says {}",
            reason()
        ))),
        status => Err(DriverError::Backend(format!(
            "{what}: the array answered {status}: {}",
            reason()
        ))),
    }
}

fn field<'a>(value: &'a Value, name: &str, what: &str) -> Result<&'a Value, DriverError> {
    value
        .get(name)
        .ok_or_else(|| DriverError::Backend(format!("{what}: the array's answer has no `{name}`: {value}")))
}

impl Rest {
    fn volume_of(&self, share_id: &str) -> Result<String, DriverError> {
        self.private_storage
            .get(share_id, "volume_id")?
            .ok_or_else(|| DriverError::NotFound(format!("share {share_id} has no volume on this backend")))
    }

    fn exports(&self, volume: &str) -> ShareUpdate {
        ShareUpdate::exported(vec![ExportLocation::new(format!(
            "{}:/exports/{volume}",
            self.export_host
        ))])
    }

    fn resize(&self, share: &Share, new_size_gib: u64) -> Result<(), DriverError> {
        let volume = self.volume_of(&share.id)?;
        let body = json!({ "size_gib": new_size_gib }).to_string();
        expect(
            self.api
                .patch(&format!("/api/volumes/{volume}"), body.as_bytes())?,
            &format!("resizing volume {volume}"),
        )?;
        Ok(())
    }

    /// Delete the array's `kind` whose id `entity` keeps under `key` (one
    /// already gone is fine), then everything `entity` keeps: deleting
    /// twice is harmless, as Manila expects.
    fn delete_kept(&self, entity: &str, key: &str, kind: &str) -> Result<(), DriverError> {
        if let Some(id) = self.private_storage.get(entity, key)? {
            match expect(
                self.api.delete(&format!("/api/{kind}s/{id}"))?,
                &format!("deleting {kind} {id}"),
            ) {
                Ok(_) | Err(DriverError::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
        self.private_storage.delete_all(entity)?;
        Ok(())
    }

    fn adopt(&self, share: &Share, volume: &str) -> Result<u64, DriverError> {
        let found = expect(
            self.api.get(&format!("/api/volumes/{volume}"))?,
            &format!("looking up volume {volume}"),
        )?;
        let size = field(&found, "size_gib", "volume")?.as_u64().unwrap_or(0);
        self.private_storage.update(&share.id, [("volume_id", volume)])?;
        Ok(size)
    }
}

impl Driver for Rest {
    fn setup(options: Options) -> Result<Self, DriverError> {
        let url = options.get("api_url").ok_or_else(|| {
            DriverError::Invalid("option api_url is required, e.g. https://10.0.0.5:8443".into())
        })?;
        let token = options
            .get("api_token")
            .ok_or_else(|| DriverError::Invalid("option api_token is required".into()))?;
        let authority = url.split_once("://").map_or(url, |(_, rest)| rest);
        let api_host = authority.rsplit_once(':').map_or(authority, |(host, _)| host);
        Ok(Rest {
            api: Client::new(url)
                .header("x-auth-token", token)
                .header("content-type", "application/json"),
            private_storage: PrivateStorage,
            export_host: options.get("export_host").unwrap_or(api_host).to_string(),
        })
    }

    fn create_share(&self, share: &Share) -> Result<ShareUpdate, DriverError> {
        // A retried create finds the volume it made the first time.
        if let Some(volume) = self.private_storage.get(&share.id, "volume_id")? {
            return Ok(self.exports(&volume));
        }
        let body = json!({ "name": format!("share-{}", share.id), "size_gib": share.size_gib }).to_string();
        let created = expect(
            self.api.post("/api/volumes", body.as_bytes())?,
            "creating a volume",
        )?;
        let volume = field(&created, "id", "creating a volume")?
            .as_str()
            .unwrap_or_default()
            .to_string();
        if let Err(e) = self.private_storage.update(&share.id, [("volume_id", &volume)]) {
            // Without its id kept, the volume could never be found again.
            let _ = self.api.delete(&format!("/api/volumes/{volume}"));
            return Err(e.into());
        }
        Ok(self.exports(&volume))
    }

    fn delete_share(&self, share: &Share) -> Result<(), DriverError> {
        self.delete_kept(&share.id, "volume_id", "volume")
    }

    fn extend_share(&self, share: &Share, new_size_gib: u64) -> Result<(), DriverError> {
        self.resize(share, new_size_gib)
    }

    fn shrink_share(&self, share: &Share, new_size_gib: u64) -> Result<(), DriverError> {
        self.resize(share, new_size_gib)
    }

    fn ensure_share(&self, share: &Share) -> Result<ShareUpdate, DriverError> {
        let volume = self.volume_of(&share.id)?;
        match expect(self.api.get(&format!("/api/volumes/{volume}"))?, "ensure") {
            Ok(_) => Ok(self.exports(&volume)),
            Err(DriverError::NotFound(_)) => Err(DriverError::Backend(format!(
                "volume {volume} of share {} is gone from the array",
                share.id
            ))),
            Err(e) => Err(e),
        }
    }

    /// The array's snapshot id is the provider location Manila keeps.
    fn create_snapshot(&self, snapshot: &Snapshot) -> Result<SnapshotUpdate, DriverError> {
        let made = |id: String| SnapshotUpdate {
            provider_location: Some(id),
            ..SnapshotUpdate::default()
        };
        if let Some(id) = self.private_storage.get(&snapshot.id, "snapshot_id")? {
            return Ok(made(id));
        }
        let volume = self.volume_of(&snapshot.share.id)?;
        let body = json!({ "name": format!("snapshot-{}", snapshot.id) }).to_string();
        let created = expect(
            self.api
                .post(&format!("/api/volumes/{volume}/snapshots"), body.as_bytes())?,
            &format!("snapshotting volume {volume}"),
        )?;
        let id = field(&created, "id", "creating a snapshot")?
            .as_str()
            .unwrap_or_default()
            .to_string();
        if let Err(e) = self.private_storage.update(&snapshot.id, [("snapshot_id", &id)]) {
            let _ = self.api.delete(&format!("/api/snapshots/{id}"));
            return Err(e.into());
        }
        Ok(made(id))
    }

    fn delete_snapshot(&self, snapshot: &Snapshot) -> Result<(), DriverError> {
        self.delete_kept(&snapshot.id, "snapshot_id", "snapshot")
    }

    fn manage_existing(&self, share: &Share, driver_options: &Options) -> Result<ShareUpdate, DriverError> {
        let backend_name = manage_target(share, driver_options)?;
        let size = self.adopt(share, &backend_name)?;
        Ok(ShareUpdate {
            size_gib: Some(size),
            ..self.exports(&backend_name)
        })
    }

    fn unmanage(&self, share: &Share) -> Result<(), DriverError> {
        self.private_storage.delete_all(&share.id)?;
        Ok(())
    }

    /// The array's API sets a volume's whole client list at once, so the
    /// full rule list is applied every time.
    fn update_access(
        &self,
        share: &Share,
        changes: AccessChanges<'_>,
    ) -> Result<Vec<RuleResult>, DriverError> {
        let volume = self.volume_of(&share.id)?;
        let applies = |rule: &AccessRule| rule.access_type == AccessType::Ip;
        let clients: Vec<String> = changes
            .all
            .iter()
            .filter(|r| applies(r))
            .map(|r| {
                let level = match r.access_level {
                    AccessLevel::Rw => "rw",
                    AccessLevel::Ro => "ro",
                };
                format!("{}:{level}", r.access_to)
            })
            .collect();
        let body = json!({ "clients": clients }).to_string();
        expect(
            self.api
                .put(&format!("/api/volumes/{volume}/exports"), body.as_bytes())?,
            &format!("setting the exports of volume {volume}"),
        )?;
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

    fn get_stats(&self) -> Result<BackendStats, DriverError> {
        let capacity = expect(self.api.get("/api/capacity")?, "reading the array's capacity")?;
        Ok(BackendStats {
            backend_name: "rest".into(),
            protocols: vec!["NFS".into()],
            total_capacity_gib: capacity.get("total_gib").and_then(Value::as_u64),
            free_capacity_gib: capacity.get("free_gib").and_then(Value::as_u64),
            thin_provisioning: false,
            pools: Vec::new(),
            capabilities: Vec::new(),
        })
    }
}

manila_driver_sdk::export_driver!(Rest);
