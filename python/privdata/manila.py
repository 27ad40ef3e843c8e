"""Manila's private storage class over privdata, and a share driver that
runs a sandboxed WebAssembly driver component.

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

import copy
import os
import re

from manila.common import constants
from manila import exception
from manila.share import driver
from manila.share import drivers_private_data
from oslo_config import cfg
from oslo_log import log

import privdata

privdata_opts = [
    cfg.StrOpt(
        "privdata_storage_url",
        secret=True,
        help="The privdata store of this backend's private data: "
        "sqlite:///PATH, mysql://USER:PASSWORD@HOST:PORT/DATABASE, "
        "postgres://USER:PASSWORD@HOST:PORT/DATABASE (TLS: "
        "?ssl-ca=CA.pem, ?sslmode=verify-full&sslrootcert=CA.pem) or "
        "etcd://HOST:PORT[,HOST:PORT...]/PREFIX. Unset: "
        "$PRIVDATA_STORAGE_URL, else privdata.db under state_path.",
    ),
    cfg.StrOpt(
        "privdata_durability",
        default="full",
        choices=["full", "normal"],
        help="What an acknowledged write survives: full (power loss) or "
        "normal (a crash of the process).",
    ),
    cfg.IntOpt(
        "privdata_max_value_bytes",
        default=1023,
        min=1,
        max=1048576,
        help="The longest value a driver may store, in bytes (1023 is "
        "Manila's own column).",
    ),
]

wasm_driver_opts = [
    cfg.StrOpt(
        "privdata_driver",
        help="WasmShareDriver (required): the path of the driver component, "
        "a .wasm file.",
    ),
    cfg.StrOpt(
        "privdata_root",
        help="WasmShareDriver (required): the directory the driver "
        "manages. The driver sees it as / and nothing else.",
    ),
    cfg.DictOpt(
        "privdata_options",
        default={},
        help="WasmShareDriver: options passed to the driver's setup, as "
        "key:value,key:value.",
    ),
    cfg.FloatOpt(
        "privdata_timeout",
        default=10.0,
        min=0.001,
        max=3600,
        help="WasmShareDriver: the seconds one operation of the driver may "
        "run before it is stopped.",
    ),
    cfg.IntOpt(
        "privdata_max_memory_mib",
        default=64,
        min=1,
        max=1024,
        help="WasmShareDriver: the memory the driver may use, in MiB.",
    ),
    cfg.ListOpt(
        "privdata_allowed_outbound",
        default=[],
        help="WasmShareDriver: the endpoints the driver may reach, as "
        "scheme://host:port (https, http or tcp), e.g. "
        "https://10.0.0.5:8443,tcp://10.0.0.6:22. Empty: no network.",
    ),
    cfg.StrOpt(
        "privdata_ca_file",
        help="WasmShareDriver: the CA certificates (PEM) the driver's https "
        "endpoints are verified against, e.g. the one that signed the "
        "array's self-signed certificate. Unset: the public web CAs.",
    ),
    cfg.StrOpt(
        "privdata_driver_cache",
        help="WasmShareDriver: where compiled drivers are kept, so that a "
        "restart loads the driver instead of compiling it again (seconds "
        "for a driver written in Python). Unset: privdata-driver-cache "
        "under state_path.",
    ),
]

CONF = cfg.CONF
LOG = log.getLogger(__name__)

# One store per process and URL: a fork opens its own.
_stores = {}


def list_opts():
    """The options, for oslo-config-generator (set in a backend's section)."""
    return [("DEFAULT", copy.deepcopy(privdata_opts + wasm_driver_opts))]


def _group_of(backend_host):
    """The manila.conf section of a backend host `host@backend[#pool]`."""
    if "@" not in backend_host:
        return None
    return backend_host.split("@", 1)[1].split("#", 1)[0]


def _storage_url(conf):
    """The store URL of a backend's options: privdata_storage_url, else
    $PRIVDATA_STORAGE_URL, else privdata.db under state_path."""
    url = conf.privdata_storage_url or os.environ.get("PRIVDATA_STORAGE_URL")
    if url:
        return url
    return "sqlite://" + os.path.join(os.path.abspath(CONF.state_path), "privdata.db")


def _store(url, durability):
    key = (os.getpid(), url, durability)
    store = _stores.get(key)
    if store is None:
        store = privdata.Store(url, durability=durability)
        _stores[key] = store
    return store


class StorageDriver(drivers_private_data.StorageDriver):
    """Manila's ``drivers_private_storage_class``, over privdata."""

    def __init__(self, context, backend_host):
        super().__init__(context, backend_host)
        self._group = _group_of(backend_host)
        CONF.register_opts(privdata_opts, group=self._group)
        self._pid = None
        self._data = None

    def _conf(self):
        return getattr(CONF, self._group) if self._group else CONF

    def _host_data(self):
        if self._data is None or self._pid != os.getpid():
            conf = self._conf()
            store = _store(_storage_url(conf), conf.privdata_durability)
            self._data = store.bind(self.backend_host, max_value_bytes=conf.privdata_max_value_bytes)
            self._pid = os.getpid()
        return self._data

    def get(self, entity_id, key=None, default=None):
        """All pairs (``key=None``: a dict, ``{}`` when none), those of a
        list of keys that are set (a dict), or one key's value (or
        ``default``)."""
        data = self._host_data()
        if key is None:
            return dict(data.get(entity_id))
        if isinstance(key, list):
            return dict(data.get(entity_id, _unique(key)))
        pairs = data.get(entity_id, [key])
        return pairs[0][1] if pairs else default

    def update(self, entity_id, details, delete_existing=False):
        """Store ``str(value)`` of every pair; with ``delete_existing``,
        remove every other key first. Returns ``details``, as Manila does."""
        pairs = [(str(k), str(v)) for k, v in details.items()]
        self._host_data().update(entity_id, pairs, delete_existing)
        return details

    def delete(self, entity_id, key=None):
        """Remove every key (``key=None``), one key, or a list of keys."""
        data = self._host_data()
        if key is None:
            data.delete(entity_id)
        elif isinstance(key, list):
            data.delete(entity_id, _unique(key))
        else:
            data.delete(entity_id, [key])


def _unique(keys):
    """The keys once each, in order: Manila accepts a key listed twice."""
    return list(dict.fromkeys(keys))


# The access types of the driver contract; Manila's others (cephx) are
# refused before they reach the driver.
ACCESS_TYPES = ("ip", "user", "cert")


def _backend_host(config_group):
    """The host Manila's share manager runs a backend as: ``<host>@<backend>``
    (manila/cmd/share.py), or ``<host>`` without enabled_share_backends."""
    if config_group:
        return "%s@%s" % (CONF.host, config_group)
    return CONF.host


def _share(share):
    """The driver's share: Manila's share instance (its id is the instance's)."""
    return {
        "id": share["id"],
        "name": share.get("display_name") or "",
        "size_gib": int(share.get("size") or 0),
        "protocol": share.get("share_proto") or "",
    }


def _snapshot(snapshot):
    """The driver's snapshot: Manila's snapshot instance and its share instance."""
    return {
        "id": snapshot["id"],
        "share_id": snapshot["share_instance_id"],
        "size_gib": int(snapshot.get("size") or 0),
    }


def _rule(rule):
    """The driver's access rule; its id is the rule's (``access_id``), the
    key Manila expects in update_access's answer."""
    return {
        "id": rule.get("access_id") or rule["id"],
        "access_type": rule["access_type"],
        "access_to": str(rule["access_to"]),
        "access_level": rule["access_level"],
    }


def _exports(locations):
    """Manila's export locations from the driver's."""
    return [
        {"path": el["path"], "is_admin_only": bool(el["is_admin_only"]), "metadata": {}}
        for el in locations
    ]


def _manage_name(share, driver_options):
    """The backend object to adopt as `share`: ``driver_options["backend_name"]``,
    else the last part of the export path the admin gave
    (``10.0.0.5:/volumes/vol-1`` names ``vol-1``)."""
    name = (driver_options or {}).get("backend_name")
    if name:
        return name
    locations = share.get("export_locations") or []
    if not locations:
        raise exception.ManageInvalidShare(reason="no export path, and no backend_name in driver_options")
    return re.split(r"[/\\:]", locations[0]["path"].rstrip("/\\"))[-1]


def _invalid_share(msg):
    return exception.InvalidShare(reason=msg)


def _manila_error(error, entity_id, invalid=_invalid_share):
    """The Manila exception for a privdata error, with the driver's message."""
    msg = str(error)
    if isinstance(error, privdata.DriverUnsupported):
        return NotImplementedError(msg)
    if isinstance(error, privdata.DriverNotFound):
        return exception.ShareResourceNotFound(message=msg, share_id=entity_id)
    if isinstance(error, privdata.DriverInvalid):
        return invalid(msg)
    return exception.ShareBackendException(msg=msg)


class WasmShareDriver(driver.ShareDriver):
    """A share driver whose work a sandboxed WebAssembly component does.

    Every operation runs in a fresh instance of the component, bound to
    this backend's host, within the time and memory limits. Manila's ids
    are its share instance and snapshot instance ids.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(False, *args, **kwargs)
        self.configuration.append_config_values(privdata_opts)
        self.configuration.append_config_values(wasm_driver_opts)
        self.backend = None

    def do_setup(self, context):
        """Load the component (manila-share has forked: the store opens here)."""
        conf = self.configuration
        group = conf.config_group
        for name in ("privdata_driver", "privdata_root"):
            if not conf.safe_get(name):
                raise exception.BadConfigurationException(
                    reason="%s is not set in [%s]" % (name, group or "DEFAULT")
                )
        if not os.path.isdir(conf.privdata_root):
            raise exception.BadConfigurationException(
                reason="privdata_root = %s in [%s] is not a directory: create it, or fix "
                "privdata_root" % (conf.privdata_root, group or "DEFAULT")
            )
        try:
            store = _store(_storage_url(conf), conf.privdata_durability)
            self.backend = privdata.Backend(
                store,
                group or "DEFAULT",
                _backend_host(group),
                conf.privdata_driver,
                conf.privdata_root,
                options=dict(conf.privdata_options or {}),
                timeout=conf.privdata_timeout,
                max_memory_mib=conf.privdata_max_memory_mib,
                max_value_bytes=conf.privdata_max_value_bytes,
                cache_dir=conf.privdata_driver_cache
                or os.path.join(os.path.abspath(CONF.state_path), "privdata-driver-cache"),
                allowed_outbound=list(conf.privdata_allowed_outbound or []),
                ca_file=conf.privdata_ca_file,
            )
        except (privdata.Error, ValueError, OSError) as e:
            raise exception.ShareBackendException(msg=str(e)) from e
        LOG.info("Driver %s serves backend host %s", conf.privdata_driver, self.backend.host)

    def check_for_setup_error(self):
        """Run the driver's setup once: a missing root or a refused option
        fails here, before any share operation."""
        try:
            self.backend.check_setup()
        except (privdata.Error, ValueError) as e:
            raise exception.ShareBackendException(msg=str(e)) from e

    def _run(self, entity_id, operation, *args, invalid=_invalid_share):
        try:
            return getattr(self.backend, operation)(*args)
        except (privdata.Error, ValueError) as e:
            raise _manila_error(e, entity_id, invalid) from e

    def create_share(self, context, share, share_server=None):
        return _exports(self._run(share["id"], "create_share", _share(share)))

    def create_share_from_snapshot(self, context, share, snapshot, share_server=None, parent_share=None):
        exports = self._run(share["id"], "create_share_from_snapshot", _share(share), _snapshot(snapshot))
        return {"status": constants.STATUS_AVAILABLE, "export_locations": _exports(exports)}

    def delete_share(self, context, share, share_server=None):
        self._run(share["id"], "delete_share", _share(share))

    def extend_share(self, share, new_size, share_server=None):
        self._run(share["id"], "extend_share", _share(share), int(new_size))

    def shrink_share(self, share, new_size, share_server=None):
        def refused(msg):
            return exception.ShareShrinkingPossibleDataLoss(
                message="Share %s could not be shrunk: %s" % (share["id"], msg), share_id=share["id"]
            )

        self._run(share["id"], "shrink_share", _share(share), int(new_size), invalid=refused)

    def ensure_share(self, context, share, share_server=None):
        return _exports(self._run(share["id"], "ensure_share", _share(share)))

    def ensure_shares(self, context, shares):
        """Each share's export locations; a share the driver cannot ensure
        gets the error status (an exception here would leave every share
        'ensuring'). A driver without ensure raises NotImplementedError."""
        updates = {}
        for share in shares:
            try:
                exports = self.backend.ensure_share(_share(share))
            except privdata.DriverUnsupported as e:
                raise NotImplementedError(str(e)) from e
            except (privdata.Error, ValueError) as e:
                LOG.error("Share instance %s could not be ensured: %s", share["id"], e)
                updates[share["id"]] = {"status": constants.STATUS_ERROR}
            else:
                updates[share["id"]] = {
                    "export_locations": _exports(exports),
                    "status": constants.STATUS_AVAILABLE,
                }
        return updates

    def create_snapshot(self, context, snapshot, share_server=None):
        self._run(snapshot["id"], "create_snapshot", _snapshot(snapshot))

    def delete_snapshot(self, context, snapshot, share_server=None):
        self._run(snapshot["id"], "delete_snapshot", _snapshot(snapshot))

    def revert_to_snapshot(self, context, snapshot, share_access_rules, snapshot_access_rules, share_server=None):
        self._run(snapshot["id"], "revert_to_snapshot", _snapshot(snapshot))

    def update_access(self, context, share, access_rules, add_rules, delete_rules, update_rules, share_server=None):
        """Give the driver the rules of its contract; a rule of another type
        is answered 'error' without reaching it."""
        refused = {
            _rule(r)["id"]: {"state": constants.ACCESS_STATE_ERROR}
            for r in add_rules
            if r["access_type"] not in ACCESS_TYPES
        }

        def known(rules):
            return [_rule(r) for r in rules if r["access_type"] in ACCESS_TYPES]

        states = self._run(
            share["id"], "update_access", _share(share), known(access_rules), known(add_rules), known(delete_rules)
        )
        updates = {rule_id: {"state": state} for rule_id, state in states.items()}
        updates.update(refused)
        return updates

    def manage_existing(self, share, driver_options):
        def refused(msg):
            return exception.ManageInvalidShare(reason=msg)

        name = _manage_name(share, driver_options)
        size, exports = self._run(share["id"], "manage_existing", _share(share), name, invalid=refused)
        return {"size": size, "export_locations": _exports(exports)}

    def unmanage(self, share):
        """The driver forgets the share; the backend keeps it. A driver that
        refuses (not found, invalid, unsupported) gives 'unmanage_error'."""
        try:
            self.backend.unmanage(_share(share))
        except (privdata.DriverNotFound, privdata.DriverInvalid, privdata.DriverUnsupported) as e:
            raise exception.UnmanageInvalidShare(reason=str(e)) from e
        except (privdata.Error, ValueError) as e:
            raise exception.ShareBackendException(msg=str(e)) from e

    def manage_existing_snapshot(self, snapshot, driver_options):
        """Adopt the backend snapshot named by ``driver_options["backend_name"]``,
        else by the snapshot's provider_location."""

        def refused(msg):
            return exception.ManageInvalidShareSnapshot(reason=msg)

        name = (driver_options or {}).get("backend_name") or snapshot.get("provider_location")
        if not name:
            raise refused("no provider_location, and no backend_name in driver_options")
        size = self._run(snapshot["id"], "manage_existing_snapshot", _snapshot(snapshot), name, invalid=refused)
        return {"size": size}

    def unmanage_snapshot(self, snapshot):
        """As unmanage, for a snapshot."""
        try:
            self.backend.unmanage_snapshot(_snapshot(snapshot))
        except (privdata.DriverNotFound, privdata.DriverInvalid, privdata.DriverUnsupported) as e:
            raise exception.UnmanageInvalidShareSnapshot(reason=str(e)) from e
        except (privdata.Error, ValueError) as e:
            raise exception.ShareBackendException(msg=str(e)) from e

    def get_configured_ip_versions(self):
        return [4]

    def _update_share_stats(self, data=None):
        """Manila's stats from the driver's; capacities 'unknown' when the
        driver has none (or no get-stats)."""
        try:
            stats = self.backend.get_stats()
        except privdata.DriverUnsupported:
            stats = {}
        except (privdata.Error, ValueError) as e:
            raise exception.ShareBackendException(msg=str(e)) from e
        conf = self.configuration
        reserved = {
            "reserved_percentage": conf.reserved_share_percentage,
            "reserved_snapshot_percentage": (
                conf.reserved_share_from_snapshot_percentage or conf.reserved_share_percentage
            ),
            "reserved_share_extend_percentage": (
                conf.reserved_share_extend_percentage or conf.reserved_share_percentage
            ),
        }
        thin = bool(stats.get("thin_provisioning", False))
        pools = [
            dict(
                pool_name=pool["name"],
                total_capacity_gb=_capacity(pool["total_capacity_gib"]),
                free_capacity_gb=_capacity(pool["free_capacity_gib"]),
                thin_provisioning=thin,
                **reserved,
            )
            for pool in stats.get("pools") or []
        ]
        stats_data = dict(
            share_backend_name=(
                conf.safe_get("share_backend_name") or stats.get("backend_name") or conf.config_group
            ),
            vendor_name="privdata",
            storage_protocol="_".join(stats.get("protocols") or []) or None,
            total_capacity_gb=_capacity(stats.get("total_capacity_gib")),
            free_capacity_gb=_capacity(stats.get("free_capacity_gib")),
            thin_provisioning=thin,
            revert_to_snapshot_support=True,
            pools=pools or None,
            **reserved,
        )
        stats_data.update(data or {})
        super()._update_share_stats(stats_data)


def _capacity(gib):
    return "unknown" if gib is None else gib
