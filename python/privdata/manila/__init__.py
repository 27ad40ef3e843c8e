"""Manila's private storage class over privdata, and a share driver that
runs a sandboxed WebAssembly driver component. The names manila.conf uses
are here: ``privdata.manila.StorageDriver``,
``privdata.manila.WasmShareDriver``, and ``privdata.manila:list_opts`` for
oslo-config-generator; they live in ``opts``, ``private_storage`` and
``share_driver``.

In each backend's section of manila.conf::

    [alpha]
    share_driver = ...
    drivers_private_storage_class = privdata.manila.StorageDriver
    privdata_storage_url = postgres://privdata:PASSWORD@db1:5432/privdata

Manila builds the class as ``StorageDriver(context, backend_host)`` with
``backend_host = "<host>@<backend>"``: every call addresses that host's data
alone, so no backend reads another's, as Manila's own SQL storage allows.
Every UUID spelling reaches one entity, keys and values are held to the
limits with clear errors, and deleted data is gone, not soft-deleted.

The store is opened on the first call, and again in a process whose id
changed: ``manila-share`` builds its backends and then forks a child per
backend, and a connection must not cross a fork.

:class:`WasmShareDriver` is a share driver (``driver_handles_share_servers
= False``) whose work is done by a driver component, in a sandbox::

    [beta]
    share_driver = privdata.manila.WasmShareDriver
    driver_handles_share_servers = False
    drivers_private_storage_class = privdata.manila.StorageDriver
    privdata_driver = /usr/lib/privdata/generic_driver.wasm
    privdata_root = /srv/beta
    privdata_options = export_host:10.0.0.5

The component's private data is the data ``StorageDriver`` serves for the
same backend host. A component that fails, traps or runs out of time fails
that one operation with a Manila exception; manila-share goes on.
"""

from privdata.manila.opts import list_opts, privdata_opts, wasm_driver_opts
from privdata.manila.private_storage import StorageDriver
from privdata.manila.share_driver import WasmShareDriver

__all__ = ["StorageDriver", "WasmShareDriver", "list_opts", "privdata_opts", "wasm_driver_opts"]
