//! The `private-data` interface as drivers see it: each call goes to the
//! [`PrivateData`] handle the instance was bound to.

use crate::bindings::private_data::{Error as WitError, Host};
use crate::error::Error;
use crate::metrics::{DataCall, DataOutcome, Metrics};
use privdata_store::PrivateData;
use std::time::Instant;
use wasmtime::component::HasData;

/// What an instance's `private-data` import reaches: its backend's data,
/// bound to the backend's host.
pub(crate) struct PrivateDataView<'a> {
    /// The backend, for the host log.
    pub(crate) backend: &'a str,
    /// The backend's private data.
    pub(crate) data: &'a PrivateData,
    /// The backend's counters.
    pub(crate) metrics: &'a Metrics,
}

/// The [`HasData`] marker under which the linker hands the view out.
pub(crate) struct HasPrivateData;

impl HasData for HasPrivateData {
    type Data<'a> = PrivateDataView<'a>;
}

impl Host for PrivateDataView<'_> {
    fn details_get(
        &mut self,
        entity_id: String,
        keys: Option<Vec<String>>,
    ) -> Result<Vec<(String, String)>, WitError> {
        let started = Instant::now();
        let result = self.data.get(&entity_id, keys.as_deref());
        self.answer(DataCall::Get, started, result)
    }

    fn details_update(
        &mut self,
        entity_id: String,
        details: Vec<(String, String)>,
        delete_existing: bool,
    ) -> Result<(), WitError> {
        let started = Instant::now();
        let result = self.data.update(&entity_id, &details, delete_existing);
        self.answer(DataCall::Update, started, result)
    }

    fn entities_list(
        &mut self,
        cursor: Option<String>,
        limit: u32,
    ) -> Result<(Vec<String>, Option<String>), WitError> {
        let started = Instant::now();
        let result = self.data.entities(cursor.as_deref(), limit);
        self.answer(DataCall::List, started, result)
    }

    fn details_delete(&mut self, entity_id: String, keys: Option<Vec<String>>) -> Result<(), WitError> {
        let started = Instant::now();
        let result = self.data.delete(&entity_id, keys.as_deref());
        self.answer(DataCall::Delete, started, result)
    }
}

/// Drivers built against an older contract import the same interface under
/// that contract's name.
macro_rules! older_contract {
    ($v:ident) => {
        impl crate::bindings::$v::private_data::Host for PrivateDataView<'_> {
            fn details_get(
                &mut self,
                entity_id: String,
                keys: Option<Vec<String>>,
            ) -> Result<Vec<(String, String)>, crate::bindings::$v::private_data::Error> {
                Host::details_get(self, entity_id, keys).map_err(Into::into)
            }

            fn details_update(
                &mut self,
                entity_id: String,
                details: Vec<(String, String)>,
                delete_existing: bool,
            ) -> Result<(), crate::bindings::$v::private_data::Error> {
                Host::details_update(self, entity_id, details, delete_existing).map_err(Into::into)
            }

            fn entities_list(
                &mut self,
                cursor: Option<String>,
                limit: u32,
            ) -> Result<(Vec<String>, Option<String>), crate::bindings::$v::private_data::Error> {
                Host::entities_list(self, cursor, limit).map_err(Into::into)
            }

            fn details_delete(
                &mut self,
                entity_id: String,
                keys: Option<Vec<String>>,
            ) -> Result<(), crate::bindings::$v::private_data::Error> {
                Host::details_delete(self, entity_id, keys).map_err(Into::into)
            }
        }

        impl From<WitError> for crate::bindings::$v::private_data::Error {
            fn from(e: WitError) -> Self {
                use crate::bindings::$v::private_data::Error as Old;
                match e {
                    WitError::InvalidEntityId(m) => Old::InvalidEntityId(m),
                    WitError::InvalidKey(m) => Old::InvalidKey(m),
                    WitError::ValueTooLong(m) => Old::ValueTooLong(m),
                    WitError::QuotaExceeded(m) => Old::QuotaExceeded(m),
                    WitError::StorageUnavailable(m) => Old::StorageUnavailable(m),
                }
            }
        }
    };
}

older_contract!(v0_2);
older_contract!(v0_1);

impl PrivateDataView<'_> {
    /// Count the call that began at `started`, and answer the guest.
    fn answer<T>(&self, call: DataCall, started: Instant, result: Result<T, Error>) -> Result<T, WitError> {
        let outcome = match &result {
            Ok(_) => DataOutcome::Ok,
            Err(Error::InvalidEntityId(_) | Error::InvalidKey(_) | Error::ValueTooLong(_)) => {
                DataOutcome::Invalid
            }
            Err(Error::QuotaExceeded(_)) => DataOutcome::QuotaExceeded,
            Err(Error::StorageUnavailable(_)) => DataOutcome::Unavailable,
            Err(_) => DataOutcome::Failed,
        };
        self.metrics.private_data(call, outcome, started.elapsed());
        result.map_err(|e| self.to_guest(e))
    }

    /// Turn a host error into what the guest may see. Storage details (paths,
    /// SQL) stay in the host log.
    fn to_guest(&self, err: Error) -> WitError {
        match err {
            Error::InvalidEntityId(m) => WitError::InvalidEntityId(m),
            Error::InvalidKey(m) => WitError::InvalidKey(m),
            Error::ValueTooLong(m) => WitError::ValueTooLong(m),
            Error::QuotaExceeded(m) => WitError::QuotaExceeded(m),
            other => {
                tracing::warn!(backend = %self.backend, error = %other, "private-data call failed");
                let retry = if matches!(other, Error::StorageUnavailable(_)) {
                    "the store is busy; retry the operation"
                } else {
                    "the store failed; the host log has details"
                };
                WitError::StorageUnavailable(format!("{retry} (nothing was written)"))
            }
        }
    }
}
