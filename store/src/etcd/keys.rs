//! Where an etcd store keeps what, under its prefix: each entry at
//! `PREFIX/d/HOST\0ENTITY\0KEY` (one host's entries, and one entity's, are
//! each one key range, in the contract's order), what each host holds at
//! `PREFIX/u/HOST`, and the layout's version at `PREFIX/schema`.

use crate::error::{Error, Result};

/// The keys of one store.
#[derive(Debug)]
pub(super) struct Keys {
    /// `PREFIX`, as the URL gives it (`/privdata`).
    pub(super) prefix: String,
}

impl Keys {
    /// The layout's version.
    pub(super) fn schema(&self) -> Vec<u8> {
        format!("{}/schema", self.prefix).into_bytes()
    }

    pub(super) fn usage(&self, host: &str) -> Vec<u8> {
        format!("{}/u/{host}", self.prefix).into_bytes()
    }

    /// The key range of every entry (`None`), of one host, or of one entity.
    pub(super) fn data(&self, host: Option<&str>, entity: Option<&str>) -> Vec<u8> {
        let mut key = format!("{}/d/", self.prefix).into_bytes();
        if let Some(host) = host {
            key.extend_from_slice(host.as_bytes());
            key.push(0);
            if let Some(entity) = entity {
                key.extend_from_slice(entity.as_bytes());
                key.push(0);
            }
        }
        key
    }

    pub(super) fn pair(&self, host: &str, entity: &str, key: &str) -> Vec<u8> {
        let mut k = self.data(Some(host), Some(entity));
        k.extend_from_slice(key.as_bytes());
        k
    }

    /// (host, entity, key) of a data key.
    pub(super) fn parse(&self, key: &[u8]) -> Result<(String, String, String)> {
        let rest = key.get(self.prefix.len() + 3..).unwrap_or_default();
        let mut parts = rest.splitn(3, |b| *b == 0);
        let mut next = || {
            String::from_utf8(parts.next().unwrap_or_default().to_vec())
                .map_err(|_| Error::Storage("etcd holds a key that is not UTF-8 under the prefix".into()))
        };
        Ok((next()?, next()?, next()?))
    }
}

/// The first key after every key that starts with `prefix`.
pub(super) fn end_of(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    vec![0]
}
