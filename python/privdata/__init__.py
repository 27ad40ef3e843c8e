"""Private data for OpenStack Manila share drivers.

A store (SQLite, MariaDB/MySQL or PostgreSQL) opened by its URL, and the
private-data contract bound to one backend host::

    import privdata

    store = privdata.Store("sqlite:////var/lib/manila/privdata.db")
    data = store.bind("node1@alpha")
    data.update("3f2a6c1e-8d4b-4e0a-9c71-5b2f0e9d4a17", [("volume_id", "vol-1")])
    data.get("3f2a6c1e-8d4b-4e0a-9c71-5b2f0e9d4a17")   # [("volume_id", "vol-1")]

Bad input raises a ``ValueError`` subclass (:class:`InvalidEntityId`,
:class:`InvalidKey`, :class:`ValueTooLong`, :class:`InvalidHost`); the
store's refusals and failures raise an :class:`Error` subclass
(:class:`QuotaExceeded`, :class:`StorageUnavailable`, :class:`StorageError`).
Nothing is written when a call fails.

A :class:`Backend` runs a share driver component (a ``.wasm`` file) on a
root directory, bound to its backend host; each operation takes and returns
plain dicts, and a driver's failures raise a :class:`DriverError` subclass
(:class:`DriverNotFound`, :class:`DriverInvalid`, :class:`DriverBackendError`,
:class:`DriverPrivateDataError`, :class:`DriverUnsupported`, and
:class:`DriverTrapped` when the component trapped: timeout, out of memory,
panic)::

    backend = privdata.Backend(store, "alpha", "node1@alpha",
                               "/usr/lib/privdata/generic_driver.wasm", "/srv/alpha")
    backend.create_share({"id": "3f2a6c1e-8d4b-4e0a-9c71-5b2f0e9d4a17",
                          "name": "", "size_gib": 10, "protocol": "NFS"})

``LIMITS`` lists every per-backend limit (its name, manila.conf option,
default and range); ``Backend(..., limits={"max_resources": 512})`` and
``Store.bind(host, max_value_bytes=...)`` set them, each checked there.

Manila uses it through :mod:`privdata.manila`.
"""

from privdata._privdata import (
    Backend,
    DriverBackendError,
    DriverError,
    DriverInvalid,
    DriverNotFound,
    DriverPrivateDataError,
    DriverTrapped,
    DriverUnsupported,
    Error,
    HostData,
    InvalidEntityId,
    InvalidHost,
    InvalidKey,
    LIMITS,
    QuotaExceeded,
    StorageError,
    StorageUnavailable,
    Store,
    ValueTooLong,
)

__all__ = [
    "Backend",
    "DriverBackendError",
    "DriverError",
    "DriverInvalid",
    "DriverNotFound",
    "DriverPrivateDataError",
    "DriverTrapped",
    "DriverUnsupported",
    "Error",
    "HostData",
    "InvalidEntityId",
    "InvalidHost",
    "InvalidKey",
    "LIMITS",
    "QuotaExceeded",
    "StorageError",
    "StorageUnavailable",
    "Store",
    "ValueTooLong",
]
