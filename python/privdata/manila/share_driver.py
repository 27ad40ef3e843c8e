"""A Manila share driver whose work a sandboxed WebAssembly component
does: :class:`WasmShareDriver`.
"""

import glob
import json
import os
import sys

from manila.common import constants
from manila import context as manila_context
from manila import exception
from manila.share import driver
from manila.share import share_types
from oslo_config import cfg
from oslo_log import log

import privdata
from privdata.manila import opts
from privdata.manila.private_storage import _storage_url, _store

CONF = cfg.CONF
LOG = log.getLogger(__name__)


def _backend_host(config_group):
    """The host Manila's share manager runs a backend as: ``<host>@<backend>``
    (manila/cmd/share.py), or ``<host>`` without enabled_share_backends."""
    if config_group:
        return "%s@%s" % (CONF.host, config_group)
    return CONF.host


def _json(value):
    return json.dumps(value, default=str)


def _pairs(mapping):
    """A dict as the contract's properties: every value as JSON."""
    return [[str(k), _json(v)] for k, v in (mapping or {}).items()]


def _texts(mapping):
    """A dict whose values Manila keeps as text (extra specs, metadata)."""
    return [[str(k), "" if v is None else str(v)] for k, v in (mapping or {}).items()]


def _decoded(pairs):
    """The contract's properties as a dict: each value JSON, or text where
    it is not (a driver may send either)."""
    out = {}
    for key, value in pairs or []:
        try:
            out[key] = json.loads(value)
        except ValueError:
            out[key] = value
    return out


def _get(obj, key, default=None):
    """``obj[key]`` of a dict or a Manila model, or ``default``; a model's
    relationship that cannot load (its session is gone) is taken as
    absent."""
    try:
        value = obj.get(key, default)
    except AttributeError:
        value = getattr(obj, key, default)
    except Exception:  # noqa: BLE001 - sqlalchemy's DetachedInstanceError and kin
        return default
    return default if value is None else value


def _export_location(location):
    """One of Manila's export locations (a model or a dict) in the contract."""
    if isinstance(location, str):
        return {"path": location}
    metadata = _get(location, "el_metadata")
    if not isinstance(metadata, dict):
        metadata = location.get("metadata") if isinstance(location, dict) else None
    if not isinstance(metadata, dict):
        metadata = {}
    return {
        "path": location["path"],
        "is_admin_only": bool(_get(location, "is_admin_only", False)),
        "preferred": bool(_get(location, "preferred", metadata.get("preferred", False))),
        "metadata": _texts(metadata),
    }


def _share_type(share):
    """The share type's id, name and extra specs, from Manila's database."""
    type_id = _get(share, "share_type_id")
    if not type_id:
        return None, None, {}
    try:
        share_type = share_types.get_share_type(manila_context.get_admin_context(), type_id)
        return type_id, share_type.get("name"), dict(share_type.get("extra_specs") or {})
    except exception.ManilaException as e:
        LOG.warning("Share type %s of share %s: %s", type_id, share["id"], e)
        return type_id, None, {}


def _metadata(share):
    """The share's metadata: a dict's ``metadata``, or a model's rows (a
    model's ``metadata`` attribute is SQLAlchemy's, not Manila's)."""
    if isinstance(share, dict) and isinstance(share.get("metadata"), dict):
        return share["metadata"]
    for rows in ("share_metadata", "share_instance_metadata"):
        found = _get(share, rows)
        if isinstance(found, (list, tuple)):
            return {m["key"]: m["value"] for m in found}
    return {}


def _share(share):
    """The contract's share: Manila's share instance whole."""
    type_id, type_name, extra_specs = _share_type(share)
    return {
        "id": share["id"],
        "share_id": _get(share, "share_id", share["id"]),
        "name": _get(share, "name") or CONF.share_name_template % share["id"],
        "display_name": _get(share, "display_name", ""),
        "size_gib": int(_get(share, "size", 0)),
        "protocol": _get(share, "share_proto", ""),
        "host": _get(share, "host", ""),
        "share_type_id": type_id,
        "share_type_name": type_name,
        "extra_specs": _texts(extra_specs),
        "metadata": _texts(_metadata(share)),
        "availability_zone": _get(share, "availability_zone"),
        "export_locations": [_export_location(e) for e in _get(share, "export_locations", [])],
        "provider_location": _get(share, "provider_location"),
        "status": _get(share, "status", ""),
        "mount_point_name": _get(share, "mount_point_name"),
        "snapshot_id": _get(share, "snapshot_id"),
    }


def _snapshot(snapshot):
    """The contract's snapshot: Manila's snapshot instance and its share
    instance."""
    share = _get(snapshot, "share") or _get(snapshot, "share_instance")
    return {
        "id": snapshot["id"],
        "snapshot_id": _get(snapshot, "snapshot_id", snapshot["id"]),
        "name": _get(snapshot, "name") or CONF.share_snapshot_name_template % snapshot["id"],
        "display_name": _get(snapshot, "display_name", ""),
        "size_gib": int(_get(snapshot, "size", 0)),
        "share": _share(share),
        "provider_location": _get(snapshot, "provider_location"),
        "export_locations": [_export_location(e) for e in _get(snapshot, "export_locations", [])],
        "status": _get(snapshot, "status", ""),
    }


def _rule(rule):
    """The contract's access rule; its id is the rule's (``access_id``), the
    key Manila expects in update_access's answer."""
    metadata = rule.get("metadata") if isinstance(rule, dict) else None
    if not isinstance(metadata, dict):
        rows = _get(rule, "access_rules_metadata")
        metadata = {m["key"]: m["value"] for m in rows} if isinstance(rows, (list, tuple)) else {}
    return {
        "id": _get(rule, "access_id") or rule["id"],
        "access_type": rule["access_type"],
        "access_to": str(rule["access_to"]),
        "access_level": rule["access_level"],
        "access_key": _get(rule, "access_key"),
        "metadata": _texts(metadata),
    }


def _exports(locations):
    """Manila's export locations from the contract's."""
    out = []
    for el in locations or []:
        metadata = _decoded(el["metadata"])
        if el["preferred"]:
            metadata.setdefault("preferred", True)
        out.append({"path": el["path"], "is_admin_only": bool(el["is_admin_only"]), "metadata": metadata})
    return out


def _share_update(update, default_status=None):
    """Manila's model update of a share from the contract's."""
    model = {}
    if update.get("export_locations") is not None:
        model["export_locations"] = _exports(update["export_locations"])
    if update.get("size_gib") is not None:
        model["size"] = update["size_gib"]
    if update.get("provider_location") is not None:
        model["provider_location"] = update["provider_location"]
    status = update.get("status") or default_status
    if status:
        model["status"] = status
    if update.get("metadata"):
        model["metadata"] = _decoded(update["metadata"])
    if update.get("reapply_access_rules"):
        model["reapply_access_rules"] = True
    return model


def _snapshot_update(update):
    model = {}
    if update.get("provider_location") is not None:
        model["provider_location"] = update["provider_location"]
    if update.get("size_gib") is not None:
        model["size"] = update["size_gib"]
    if update.get("export_locations") is not None:
        model["export_locations"] = _exports(update["export_locations"])
    if update.get("status"):
        model["status"] = update["status"]
    return model


def _option_text(value):
    """An option's value as manila.conf would spell it."""
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    if isinstance(value, dict):
        return ",".join("%s:%s" % kv for kv in value.items())
    return str(value)


def _manila_conf(group):
    """The backend's section of manila.conf as written (every option, the
    driver's own included), for the driver's setup: what Manila gives an
    in-tree driver as its configuration. privdata's own options and
    ``share_driver`` stay here; options set another way than the file (a
    test's override) are taken too."""
    if not group:
        return {}
    section = {}
    files = list(CONF.config_file or [])
    for directory in CONF.config_dir or []:
        files += sorted(glob.glob(os.path.join(directory, "*.conf")))
    for path in files:
        sections = {}
        try:
            cfg.ConfigParser(path, sections).parse()
        except (OSError, cfg.ParseError) as e:
            LOG.warning("Cannot read %s for [%s]: %s", path, group, e)
            continue
        for key, values in sections.get(group, {}).items():
            section[key] = values[-1]
    try:
        registered = CONF[group]
        for name in list(registered.keys()):
            info = CONF._get_opt_info(name, group)
            if info.get("override") is not None:
                section[name] = _option_text(info["override"])
    except (cfg.NoSuchOptError, KeyError):
        pass
    conf = {k: v for k, v in section.items() if not k.startswith("privdata_") and k != "share_driver"}
    conf["config_group"] = group
    return conf


def _green():
    """Whether eventlet has monkey-patched this process's threads: a call
    that blocks its OS thread would then stop every greenthread."""
    eventlet = sys.modules.get("eventlet")
    return bool(eventlet) and eventlet.patcher.is_monkey_patched("thread")


def _manila_error(error, entity_id, invalid=None):
    """The Manila exception for a privdata error. A driver built from a
    Manila driver names the exception it raised (``ShareBackendException:
    ...``): the same one is raised here, with the driver's message."""
    msg = str(error)
    if isinstance(error, privdata.DriverUnsupported):
        return NotImplementedError(msg)
    reason = msg.split(": ", 2)[-1] if isinstance(error, privdata.DriverError) else msg
    named = reason.split(": ", 1)[0]
    cls = getattr(exception, named, None)
    if isinstance(cls, type) and issubclass(cls, exception.ManilaException) and ": " in reason:
        return cls(message=reason.split(": ", 1)[1])
    if isinstance(error, privdata.DriverNotFound):
        return exception.ShareResourceNotFound(message=msg, share_id=entity_id)
    if isinstance(error, privdata.DriverInvalid):
        return (invalid or (lambda m: exception.InvalidShare(reason=m)))(msg)
    return exception.ShareBackendException(msg=msg)


class WasmShareDriver(driver.ShareDriver):
    """A share driver whose work a sandboxed WebAssembly component does.

    The component's instances live across operations (up to
    ``privdata_max_instances`` of them, each set up once), bound to this
    backend's host, within the time and memory limits; one that traps is
    replaced. Manila's ids are its share instance and snapshot instance ids;
    Manila's records pass whole, and so do the driver's answers.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(False, *args, **kwargs)
        self.configuration.append_config_values(opts.privdata_opts)
        self.configuration.append_config_values(opts.wasm_driver_opts)
        self.backend = None
        self._metrics_file = None

    def _root(self):
        """The backend's root: ``privdata_root``, or a directory of its own
        under state_path (a driver that manages an array over the network
        keeps nothing there)."""
        conf = self.configuration
        group = conf.config_group or "DEFAULT"
        if conf.privdata_root:
            if not os.path.isdir(conf.privdata_root):
                raise exception.BadConfigurationException(
                    reason="privdata_root = %s in [%s] is not a directory: create it, or fix "
                    "privdata_root" % (conf.privdata_root, group)
                )
            return conf.privdata_root
        root = os.path.join(os.path.abspath(CONF.state_path), "privdata-roots", group)
        os.makedirs(root, mode=0o700, exist_ok=True)
        return root

    def do_setup(self, context):
        """Load the component (manila-share has forked: the store opens here)."""
        conf = self.configuration
        group = conf.config_group
        if not conf.safe_get("privdata_driver"):
            raise exception.BadConfigurationException(
                reason="privdata_driver is not set in [%s]: name the driver component (.wasm)" % (group or "DEFAULT")
            )
        root = self._root()
        try:
            store = _store(_storage_url(conf), conf.privdata_durability)
            self.backend = privdata.Backend(
                store,
                group or "DEFAULT",
                _backend_host(group),
                conf.privdata_driver,
                root,
                options=dict(conf.privdata_options or {}),
                limits=opts.limits(conf, [limit["name"] for limit in privdata.LIMITS]),
                cache_dir=conf.privdata_driver_cache
                or os.path.join(os.path.abspath(CONF.state_path), "privdata-driver-cache"),
                allowed_outbound=list(conf.privdata_allowed_outbound or []),
                ca_file=conf.privdata_ca_file,
                manila_conf=_manila_conf(group),
                driver_sha256=conf.safe_get("privdata_driver_sha256"),
            )
        except (privdata.Error, ValueError, OSError) as e:
            raise exception.ShareBackendException(msg=str(e)) from e
        if conf.safe_get("privdata_metrics_dir"):
            self._metrics_file = os.path.join(conf.privdata_metrics_dir, "privdata_%s.prom" % (group or "DEFAULT"))
            self._write_metrics()
        LOG.info(
            "Driver %s (contract %s, sha256 %s%s) serves backend host %s",
            conf.privdata_driver,
            self.backend.contract,
            self.backend.driver_sha256,
            ", pinned" if conf.safe_get("privdata_driver_sha256") else "; pin it with privdata_driver_sha256",
            self.backend.host,
        )

    def check_for_setup_error(self):
        """Run the driver's setup once: a missing root, a refused option or
        an array that does not answer fails here, before any share
        operation."""
        try:
            self._call(self.backend.check_setup)
        except (privdata.Error, ValueError) as e:
            raise _manila_error(e, None, lambda msg: exception.ShareBackendException(msg=msg)) from e

    def _call(self, method, *args):
        """Call the component; under eventlet, from a real thread, so that
        the service's other greenthreads (heartbeat, RPC) go on meanwhile."""
        try:
            if _green():
                from eventlet import tpool

                return tpool.execute(method, *args)
            return method(*args)
        finally:
            self._write_metrics()

    def _write_metrics(self):
        """Write the backend's metrics for node_exporter's textfile
        collector, if ``privdata_metrics_dir`` is set. A failure is logged,
        never the operation's."""
        if self._metrics_file is None or self.backend is None:
            return
        try:
            self.backend.write_metrics(self._metrics_file)
        except OSError as e:
            LOG.warning("%s (privdata_metrics_dir)", e)

    def _run(self, entity_id, operation, *args, invalid=None):
        try:
            return self._call(getattr(self.backend, operation), *args)
        except (privdata.Error, ValueError) as e:
            raise _manila_error(e, entity_id, invalid) from e

    def get_backend_info(self, context):
        info = self._run(None, "get_backend_info")
        if info is None:
            # Manila would take "no info" for "unchanged" and skip ensuring.
            raise NotImplementedError("the driver gives no backend info")
        return _decoded(list(info.items()))

    def create_share(self, context, share, share_server=None):
        update = self._run(share["id"], "create_share", _share(share))
        return _exports(update.get("export_locations"))

    def create_share_from_snapshot(self, context, share, snapshot, share_server=None, parent_share=None):
        update = self._run(share["id"], "create_share_from_snapshot", _share(share), _snapshot(snapshot))
        return _share_update(update, default_status=constants.STATUS_AVAILABLE)

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
        update = self._run(share["id"], "ensure_share", _share(share))
        return _exports(update.get("export_locations"))

    def ensure_shares(self, context, shares):
        """What Manila should record of each share; a share the driver
        says it cannot ensure gets the error status. A driver without
        ensure raises NotImplementedError (Manila then calls ensure_share
        for each)."""
        updates = self._run(None, "ensure_shares", [_share(s) for s in shares])
        return {
            share_id: _share_update(update, default_status=constants.STATUS_AVAILABLE)
            for share_id, update in updates.items()
        }

    def get_share_status(self, share, share_server=None):
        return _share_update(self._run(share["id"], "get_share_status", _share(share)))

    def update_share_usage_size(self, context, shares):
        import datetime

        try:
            usage = self._run(None, "update_share_usage_size", [_share(s) for s in shares])
        except NotImplementedError:
            return []
        return [
            {
                "id": u["id"],
                "used_size": u["used_size_gib"],
                "gathered_at": datetime.datetime.fromtimestamp(u["gathered_at"], datetime.timezone.utc),
            }
            for u in usage
        ]

    def create_snapshot(self, context, snapshot, share_server=None):
        return _snapshot_update(self._run(snapshot["id"], "create_snapshot", _snapshot(snapshot))) or None

    def delete_snapshot(self, context, snapshot, share_server=None):
        self._run(snapshot["id"], "delete_snapshot", _snapshot(snapshot))

    def revert_to_snapshot(self, context, snapshot, share_access_rules, snapshot_access_rules, share_server=None):
        update = self._run(
            snapshot["id"],
            "revert_to_snapshot",
            _snapshot(snapshot),
            [_rule(r) for r in share_access_rules],
            [_rule(r) for r in snapshot_access_rules],
        )
        return _share_update(update) or None

    def update_access(self, context, share, access_rules, add_rules, delete_rules, update_rules, share_server=None):
        states = self._run(
            share["id"],
            "update_access",
            _share(share),
            [_rule(r) for r in access_rules],
            [_rule(r) for r in add_rules],
            [_rule(r) for r in delete_rules],
            [_rule(r) for r in update_rules or []],
        )
        updates = {}
        for rule_id, result in states.items():
            updates[rule_id] = {"state": result["state"]}
            if result.get("access_key") is not None:
                updates[rule_id]["access_key"] = result["access_key"]
        return updates or None

    def snapshot_update_access(self, context, snapshot, access_rules, add_rules, delete_rules, share_server=None):
        self._run(
            snapshot["id"],
            "snapshot_update_access",
            _snapshot(snapshot),
            [_rule(r) for r in access_rules],
            [_rule(r) for r in add_rules],
            [_rule(r) for r in delete_rules],
        )

    def manage_existing(self, share, driver_options):
        def refused(msg):
            return exception.ManageInvalidShare(reason=msg)

        options = {str(k): _option_text(v) for k, v in (driver_options or {}).items()}
        update = self._run(share["id"], "manage_existing", _share(share), options, invalid=refused)
        return _share_update(update)

    def unmanage(self, share):
        """The driver forgets the share; the backend keeps it. A driver that
        refuses (not found, invalid, unsupported) gives 'unmanage_error'."""
        try:
            self._call(self.backend.unmanage, _share(share))
        except (privdata.DriverNotFound, privdata.DriverInvalid, privdata.DriverUnsupported) as e:
            raise exception.UnmanageInvalidShare(reason=str(e)) from e
        except (privdata.Error, ValueError) as e:
            raise _manila_error(e, share["id"]) from e

    def manage_existing_snapshot(self, snapshot, driver_options):
        def refused(msg):
            return exception.ManageInvalidShareSnapshot(reason=msg)

        options = {str(k): _option_text(v) for k, v in (driver_options or {}).items()}
        update = self._run(snapshot["id"], "manage_existing_snapshot", _snapshot(snapshot), options, invalid=refused)
        return _snapshot_update(update)

    def unmanage_snapshot(self, snapshot):
        """As unmanage, for a snapshot."""
        try:
            self._call(self.backend.unmanage_snapshot, _snapshot(snapshot))
        except (privdata.DriverNotFound, privdata.DriverInvalid, privdata.DriverUnsupported) as e:
            raise exception.UnmanageInvalidShareSnapshot(reason=str(e)) from e
        except (privdata.Error, ValueError) as e:
            raise _manila_error(e, snapshot["id"]) from e

    def get_configured_ip_versions(self):
        """The IP versions the driver reports (a Manila driver in the
        component reports its own); IPv4 when it says nothing."""
        reported = getattr(self, "_reported", {})
        if "ipv4_support" in reported or "ipv6_support" in reported:
            return [v for v, key in ((4, "ipv4_support"), (6, "ipv6_support")) if reported.get(key)]
        return [4]

    def _update_share_stats(self, data=None):
        """Manila's stats from the driver's: its capacities and pools, and
        every capability it reports (a driver built from a Manila driver
        reports all of its own, which take precedence); capacities are
        'unknown' when the driver has none (or no get-stats)."""
        try:
            stats = self._call(self.backend.get_stats)
        except privdata.DriverUnsupported:
            stats = {}
        except (privdata.Error, ValueError) as e:
            raise _manila_error(e, None) from e
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
        # What the driver says of a pool (a Manila driver's own reserved
        # percentages, thin provisioning as a list) wins over the defaults.
        pools = [
            {
                "pool_name": pool["name"],
                "total_capacity_gb": _capacity(pool["total_capacity_gib"]),
                "free_capacity_gb": _capacity(pool["free_capacity_gib"]),
                "thin_provisioning": thin,
                **reserved,
                **_decoded(pool.get("capabilities")),
            }
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
            revert_to_snapshot_support=True,
            pools=pools or None,
            **reserved,
        )
        if thin:  # absent is Manila's "thick"
            stats_data["thin_provisioning"] = True
        self._reported = _decoded(stats.get("capabilities"))
        stats_data.update(self._reported)
        stats_data.update(data or {})
        super()._update_share_stats(stats_data)


def _capacity(gib):
    return "unknown" if gib is None else gib
