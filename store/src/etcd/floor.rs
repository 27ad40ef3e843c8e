//! The least this store's client does on a cluster, for the load
//! benchmark's floor: for each private-data call, the one etcd request of
//! its kind (a linearizable range of an entity's keys, a put of one key, a
//! deletion of an entity's keys), with no usage key, quota, comparison or
//! retry. Under the URL's prefix, in a subtree of its own (`/floor/`).

use super::client::{Client, Op};
use super::keys::end_of;
use crate::EtcdUrl;
use crate::error::Result;

/// A client of the cluster that makes bare requests.
#[derive(Debug)]
pub struct Floor {
    client: Client,
    prefix: String,
}

impl Floor {
    /// A client of the cluster `url` names (nothing is read or written yet).
    pub fn open(url: &EtcdUrl) -> Result<Floor> {
        let members = url.members.iter().map(|m| format!("http://{m}")).collect();
        Ok(Floor {
            client: Client::new(members, url.written.clone())?,
            prefix: format!("{}/floor/", url.prefix),
        })
    }

    fn key(&self, entity: &str, key: &str) -> Vec<u8> {
        format!("{}{entity}/{key}", self.prefix).into_bytes()
    }

    /// The keys of `entity` under `owner`, in one range: how many there are.
    pub fn get(&self, owner: &str, entity: &str) -> Result<usize> {
        let prefix = self.key(owner, &format!("{entity}/"));
        Ok(self.client.range(&prefix, &end_of(&prefix), 0, false)?.0.len())
    }

    /// Put `entries` (entity, key, value) under `owner`, in one request.
    pub fn put(&self, owner: &str, entries: &[(&str, &str, &str)]) -> Result<()> {
        let ops: Vec<Op> = entries
            .iter()
            .map(|(entity, key, value)| Op::Put {
                key: self.key(owner, &format!("{entity}/{key}")),
                value: value.as_bytes().to_vec(),
            })
            .collect();
        self.client.txn(&[], &ops, &[]).map(drop)
    }

    /// Delete the keys of `entity` under `owner` (every entity's: `None`),
    /// in one request.
    pub fn delete(&self, owner: &str, entity: Option<&str>) -> Result<()> {
        let prefix = self.key(owner, &entity.map(|e| format!("{e}/")).unwrap_or_default());
        let op = Op::Delete {
            end: Some(end_of(&prefix)),
            key: prefix,
        };
        self.client.txn(&[], &[op], &[]).map(drop)
    }
}
