//! Constructors for the contract's records, for the host's own callers (the
//! command line, the conformance kit, tests): a record with Manila's
//! defaults, the rest to be set by name.

use crate::bindings::{
    AccessLevel, AccessRule, AccessType, ExportLocation, Share, ShareUpdate, Snapshot, SnapshotUpdate,
};

impl Share {
    /// An `available` share instance `id` of `size_gib` GiB over
    /// `protocol`, named as Manila's default `share_name_template` names it
    /// (`share-<id>`), of no share type, with nothing else known.
    pub fn new(id: &str, size_gib: u64, protocol: &str) -> Share {
        Share {
            id: id.to_string(),
            share_id: id.to_string(),
            name: format!("share-{id}"),
            display_name: String::new(),
            size_gib,
            protocol: protocol.to_string(),
            host: String::new(),
            share_type_id: None,
            share_type_name: None,
            extra_specs: Vec::new(),
            metadata: Vec::new(),
            availability_zone: None,
            export_locations: Vec::new(),
            provider_location: None,
            status: "available".to_string(),
            mount_point_name: None,
            snapshot_id: None,
        }
    }
}

impl Snapshot {
    /// An `available` snapshot instance `id` of `share`, of the share's
    /// size, named as Manila's default `snapshot_name_template` names it
    /// (`share-snapshot-<id>`).
    pub fn new(id: &str, share: Share) -> Snapshot {
        Snapshot {
            id: id.to_string(),
            snapshot_id: id.to_string(),
            name: format!("share-snapshot-{id}"),
            display_name: String::new(),
            size_gib: share.size_gib,
            share,
            provider_location: None,
            export_locations: Vec::new(),
            status: "available".to_string(),
        }
    }
}

impl AccessRule {
    /// Rule `id`, letting `access_to` in with `access_level`, with no key
    /// and no metadata.
    pub fn new(id: &str, access_type: AccessType, access_to: &str, access_level: AccessLevel) -> AccessRule {
        AccessRule {
            id: id.to_string(),
            access_type,
            access_to: access_to.to_string(),
            access_level,
            access_key: None,
            metadata: Vec::new(),
        }
    }
}

impl ExportLocation {
    /// An export location clients see and need not prefer.
    pub fn new(path: &str) -> ExportLocation {
        ExportLocation {
            path: path.to_string(),
            is_admin_only: false,
            preferred: false,
            metadata: Vec::new(),
        }
    }
}

/// Nothing to change.
impl Default for ShareUpdate {
    fn default() -> Self {
        ShareUpdate {
            export_locations: None,
            size_gib: None,
            provider_location: None,
            status: None,
            metadata: Vec::new(),
            reapply_access_rules: false,
        }
    }
}

impl ShareUpdate {
    /// The export locations it sets, or none.
    pub fn exports(&self) -> &[ExportLocation] {
        self.export_locations.as_deref().unwrap_or_default()
    }
}

/// Nothing to change.
impl Default for SnapshotUpdate {
    fn default() -> Self {
        SnapshotUpdate {
            provider_location: None,
            size_gib: None,
            export_locations: None,
            status: None,
        }
    }
}
