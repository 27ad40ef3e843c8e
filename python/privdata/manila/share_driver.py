"""A Manila share driver whose work a sandboxed WebAssembly component
does: :class:`WasmShareDriver`.
"""

import os
import re

from manila.common import constants
from manila import exception
from manila.share import driver
from oslo_config import cfg
from oslo_log import log

import privdata
from privdata.manila import opts
from privdata.manila.private_storage import _storage_url, _store

CONF = cfg.CONF
LOG = log.getLogger(__name__)


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
        self.configuration.append_config_values(opts.privdata_opts)
        self.configuration.append_config_values(opts.wasm_driver_opts)
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
                limits=opts.limits(conf, [limit["name"] for limit in privdata.LIMITS]),
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
