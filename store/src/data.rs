//! The private data of one backend host: what a driver instance is bound
//! to. Every call is validated here, above the [`Storage`] trait, and
//! addresses only that host's data.

use crate::error::Result;
use crate::validate;
use crate::{Pair, Quota, Storage};
use std::sync::Arc;

/// Limits a backend puts on its private data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataLimits {
    /// The longest value, in bytes.
    pub max_value_bytes: usize,
    /// The most data one call may carry (keys and values), in bytes.
    pub max_call_bytes: usize,
    /// What the backend's host may hold in all.
    pub quota: Quota,
}

impl Default for DataLimits {
    fn default() -> Self {
        DataLimits {
            max_value_bytes: validate::DEFAULT_MAX_VALUE_BYTES,
            max_call_bytes: 1 << 20,
            quota: Quota::default(),
        }
    }
}

/// The private data of one backend host: every call validates its input and
/// addresses only `host`'s data. This is what a driver instance is bound to.
#[derive(Debug, Clone)]
pub struct PrivateData {
    storage: Arc<dyn Storage>,
    host: Arc<str>,
    limits: DataLimits,
}

impl PrivateData {
    /// Bind `storage` to `host` with `limits`.
    pub fn new(storage: Arc<dyn Storage>, host: &str, limits: DataLimits) -> Self {
        PrivateData {
            storage,
            host: host.into(),
            limits,
        }
    }

    /// The host this handle is bound to.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// What the host holds, (entries, bytes of keys and values), and its
    /// quota: for metrics and operators.
    pub fn usage(&self) -> Result<((u64, u64), crate::Quota)> {
        Ok((self.storage.usage(&self.host)?, self.limits.quota))
    }

    /// `details-get`: see the WIT contract.
    pub fn get(&self, entity: &str, keys: Option<&[String]>) -> Result<Vec<Pair>> {
        let entity = validate::entity_id(entity)?;
        if let Some(keys) = keys {
            validate::keys(keys.iter().map(String::as_str))?;
            if keys.is_empty() {
                return Ok(Vec::new());
            }
        }
        self.storage.get(&self.host, &entity, keys)
    }

    /// `details-update`: see the WIT contract.
    pub fn update(&self, entity: &str, details: &[Pair], delete_existing: bool) -> Result<()> {
        let entity = validate::entity_id(entity)?;
        validate::details(details, self.limits.max_value_bytes, self.limits.max_call_bytes)?;
        if details.is_empty() && !delete_existing {
            return Ok(());
        }
        self.storage
            .update(&self.host, &entity, details, delete_existing, &self.limits.quota)
    }

    /// `entities-list`: one page of the entity ids this host holds data
    /// for, and the cursor of the next page (`None` when this is the last).
    pub fn entities(&self, cursor: Option<&str>, limit: u32) -> Result<(Vec<String>, Option<String>)> {
        let after = cursor
            .map(|c| {
                validate::entity_id(c).map_err(|_| {
                    crate::error::Error::InvalidEntityId(format!(
                        "cursor {c:?} is not one entities-list returned; start again with none"
                    ))
                })
            })
            .transpose()?;
        let limit = limit.clamp(1, 1000) as usize;
        // One id more than asked tells whether another page follows: the
        // last page has no cursor, even when it is full.
        let mut page = self
            .storage
            .entity_page(&self.host, after.as_deref(), limit + 1)?;
        let next = (page.len() > limit).then(|| {
            page.truncate(limit);
            page[limit - 1].clone()
        });
        Ok((page, next))
    }

    /// `details-delete`: see the WIT contract.
    pub fn delete(&self, entity: &str, keys: Option<&[String]>) -> Result<()> {
        let entity = validate::entity_id(entity)?;
        if let Some(keys) = keys {
            validate::keys(keys.iter().map(String::as_str))?;
            if keys.is_empty() {
                return Ok(());
            }
        }
        self.storage.delete(&self.host, &entity, keys)
    }
}
