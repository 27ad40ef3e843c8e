//! The Manila-like handle over the `private-data` interface.

use crate::PrivateDataError;
use crate::bindings::manila::driver::private_data as wit;
use std::collections::BTreeMap;

/// A driver's private data, like Manila's `self.private_storage`.
///
/// Every call is one transaction on the host, addresses only this backend's
/// data, and takes the entity id (a share or snapshot UUID, in any spelling
/// Manila accepts) first.
#[derive(Debug, Clone, Copy, Default)]
pub struct PrivateStorage;

type Result<T> = std::result::Result<T, PrivateDataError>;

impl PrivateStorage {
    /// The value of `key`, if the entity has it.
    ///
    /// ```no_run
    /// # let ps = manila_driver_sdk::PrivateStorage;
    /// # let share_id = "3f2a6c1e-8d4b-4e0a-9c71-5b2f0e9d4a17";
    /// let volume = ps.get(share_id, "volume_id")?;
    /// # Ok::<(), manila_driver_sdk::PrivateDataError>(())
    /// ```
    pub fn get(&self, entity: &str, key: &str) -> Result<Option<String>> {
        let pairs = wit::details_get(entity, Some(&[key.to_string()]))?;
        Ok(pairs.into_iter().next().map(|(_, v)| v))
    }

    /// The value of `key`, or `default` if the entity does not have it.
    pub fn get_or(&self, entity: &str, key: &str, default: impl Into<String>) -> Result<String> {
        Ok(self.get(entity, key)?.unwrap_or_else(|| default.into()))
    }

    /// The pairs found among `keys`; missing keys are simply absent.
    pub fn get_many<K: AsRef<str>>(
        &self,
        entity: &str,
        keys: impl IntoIterator<Item = K>,
    ) -> Result<BTreeMap<String, String>> {
        let keys: Vec<String> = keys.into_iter().map(|k| k.as_ref().to_string()).collect();
        Ok(wit::details_get(entity, Some(&keys))?.into_iter().collect())
    }

    /// Every pair of the entity (empty if none).
    pub fn get_all(&self, entity: &str) -> Result<BTreeMap<String, String>> {
        Ok(wit::details_get(entity, None)?.into_iter().collect())
    }

    /// Set the given pairs, keeping the entity's other keys.
    ///
    /// ```no_run
    /// # let ps = manila_driver_sdk::PrivateStorage;
    /// # let share_id = "3f2a6c1e-8d4b-4e0a-9c71-5b2f0e9d4a17";
    /// ps.update(share_id, [("volume_id", "vol-8c1f"), ("pool", "fast")])?;
    /// # Ok::<(), manila_driver_sdk::PrivateDataError>(())
    /// ```
    pub fn update<K: AsRef<str>, V: AsRef<str>>(
        &self,
        entity: &str,
        details: impl IntoIterator<Item = (K, V)>,
    ) -> Result<()> {
        wit::details_update(entity, &pairs(details), false)
    }

    /// Make the entity hold exactly these pairs (Manila's
    /// `delete_existing=True`); an empty list deletes everything.
    pub fn replace<K: AsRef<str>, V: AsRef<str>>(
        &self,
        entity: &str,
        details: impl IntoIterator<Item = (K, V)>,
    ) -> Result<()> {
        wit::details_update(entity, &pairs(details), true)
    }

    /// Delete one key; a missing key is not an error.
    pub fn delete(&self, entity: &str, key: &str) -> Result<()> {
        wit::details_delete(entity, Some(&[key.to_string()]))
    }

    /// Delete the listed keys; missing keys are not an error.
    pub fn delete_many<K: AsRef<str>>(&self, entity: &str, keys: impl IntoIterator<Item = K>) -> Result<()> {
        let keys: Vec<String> = keys.into_iter().map(|k| k.as_ref().to_string()).collect();
        wit::details_delete(entity, Some(&keys))
    }

    /// One page of the entity ids this backend keeps data for, and the
    /// cursor of the next page (`None` after the last). New in contract
    /// 0.1.1; drivers built against 0.1.0 keep working without it.
    pub fn entities_page(&self, cursor: Option<&str>, limit: u32) -> Result<(Vec<String>, Option<String>)> {
        wit::entities_list(cursor, limit)
    }

    /// Every entity id this backend keeps data for, in order, fetched a
    /// page at a time.
    ///
    /// ```no_run
    /// # let ps = manila_driver_sdk::PrivateStorage;
    /// for id in ps.entities() {
    ///     let id = id?;
    ///     # let _ = id;
    /// }
    /// # Ok::<(), manila_driver_sdk::PrivateDataError>(())
    /// ```
    pub fn entities(&self) -> impl Iterator<Item = Result<String>> {
        let mut page = Vec::new().into_iter();
        let mut cursor: Option<Option<String>> = Some(None);
        std::iter::from_fn(move || {
            loop {
                if let Some(id) = page.next() {
                    return Some(Ok(id));
                }
                let at = cursor.take()?;
                match wit::entities_list(at.as_deref(), 500) {
                    Ok((ids, next)) => {
                        page = ids.into_iter();
                        cursor = next.map(Some);
                    }
                    Err(e) => return Some(Err(e)),
                }
            }
        })
    }

    /// Delete everything kept about the entity: call it whenever the entity
    /// itself is deleted, so nothing is left behind.
    pub fn delete_all(&self, entity: &str) -> Result<()> {
        wit::details_delete(entity, None)
    }
}

fn pairs<K: AsRef<str>, V: AsRef<str>>(details: impl IntoIterator<Item = (K, V)>) -> Vec<(String, String)> {
    details
        .into_iter()
        .map(|(k, v)| (k.as_ref().to_string(), v.as_ref().to_string()))
        .collect()
}
