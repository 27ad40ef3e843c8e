"""Write OpenStack Manila share drivers in Python, as WebAssembly components.

A driver subclasses :class:`ShareDriver`, keeps what it knows about each
share or snapshot in ``self.private_storage`` (the API Manila drivers already
use), and is exported with :func:`export`::

    import os
    import manila_driver
    from manila_driver import ExportLocation, NotFound

    class MyDriver(manila_driver.ShareDriver):
        def create_share(self, share):
            volume = "vol-" + manila_driver.random_hex(12)
            os.makedirs("/volumes/" + volume)         # the backend root is "/"
            self.private_storage.update(share.id, {"volume_id": volume})
            return [ExportLocation(path="nas:/volumes/" + volume)]

        def delete_share(self, share):
            ...
            self.private_storage.delete(share.id)     # leave no orphans

    ShareDriver = manila_driver.export(MyDriver)

Build it with ``componentize-py -d wit -w driver componentize -p
guest-sdk-python -p . my_driver -o my_driver.wasm`` (see the README).
Operations a driver leaves out answer ``unsupported``. Raise
:class:`NotFound`, :class:`Invalid` or :class:`BackendError` to fail an
operation; an ``OSError`` from the backend root is a :class:`BackendError`.
Any other exception is a bug: the instance traps, and the host reports it
with the traceback's last line. A driver that manages its array over a REST
API uses :mod:`manila_driver.http`, a small blocking client over
``wasi:http`` (the backend must list the endpoint in ``allowed_outbound``).
"""

import os

from manila_driver.driver import Options, ShareDriver, export, manage_target
from manila_driver.errors import (
    BackendError,
    DriverError,
    Invalid,
    NotFound,
    PrivateDataError,
    Unsupported,
)
from manila_driver.storage import PrivateStorage
from manila_driver.types import (
    AccessLevel,
    AccessRule,
    AccessType,
    BackendStats,
    ExportLocation,
    Pool,
    RuleResult,
    RuleState,
    Share,
    ShareUpdate,
    ShareUsage,
    Snapshot,
    SnapshotUpdate,
)


def random_hex(length):
    """``length`` random lower-case hex digits, from the host's secure
    random source: for names of backend objects a driver creates."""
    return os.urandom((length + 1) // 2).hex()[:length]


__all__ = [
    "AccessLevel",
    "AccessRule",
    "AccessType",
    "BackendError",
    "BackendStats",
    "DriverError",
    "ExportLocation",
    "Invalid",
    "NotFound",
    "Options",
    "Pool",
    "PrivateDataError",
    "PrivateStorage",
    "RuleResult",
    "RuleState",
    "Share",
    "ShareDriver",
    "ShareUpdate",
    "ShareUsage",
    "Snapshot",
    "SnapshotUpdate",
    "Unsupported",
    "export",
    "manage_target",
    "random_hex",
]
