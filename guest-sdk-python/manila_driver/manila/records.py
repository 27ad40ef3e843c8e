"""Manila's records from the contract's, and the driver's answers back.

A Manila driver is handed share instances, snapshot instances and access
rules as Manila's share manager hands them (models and dicts that answer
``x["key"]``, ``x.get("key")`` and ``x.key``); it answers with lists of
export locations (paths or dicts) and model-update dicts. Values Manila
keeps as text cross the contract as text; every other value, as JSON.
"""

import json

from manila_driver.types import ExportLocation, ShareUpdate, SnapshotUpdate


class Record(dict):
    """A Manila model as drivers use one: items, ``get`` and attributes."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def to_dict(self):
        return dict(self)


def _decode(pairs):
    """``properties`` as a dict: each value JSON, or text where it is not."""
    out = {}
    for key, value in pairs:
        try:
            out[key] = json.loads(value)
        except ValueError:
            out[key] = value
    return out


def _encode(mapping):
    return [(str(k), json.dumps(v, default=str)) for k, v in (mapping or {}).items()]


def _texts(pairs):
    return {key: value for key, value in pairs}


def _export(location):
    metadata = _decode(location.metadata)
    if location.preferred:
        metadata.setdefault("preferred", True)
    return Record(
        path=location.path,
        is_admin_only=location.is_admin_only,
        preferred=location.preferred,
        metadata=metadata,
        el_metadata=metadata,
    )


def share(record):
    """The share instance, as the share manager passes it."""
    exports = [_export(e) for e in record.export_locations]
    share_type = None
    if record.share_type_id:
        share_type = Record(
            id=record.share_type_id,
            name=record.share_type_name,
            extra_specs=_texts(record.extra_specs),
        )
    return Record(
        id=record.id,
        share_id=record.share_id,
        name=record.name,
        display_name=record.display_name,
        display_description="",
        size=record.size_gib,
        share_proto=record.protocol,
        host=record.host,
        status=record.status,
        share_type_id=record.share_type_id,
        share_type_name=record.share_type_name,
        share_type=share_type,
        metadata=_texts(record.metadata),
        availability_zone=record.availability_zone,
        export_locations=exports,
        export_location=exports[0]["path"] if exports else None,
        provider_location=record.provider_location,
        mount_point_name=record.mount_point_name,
        snapshot_id=record.snapshot_id,
        share_server=None,
        share_server_id=None,
        share_network_id=None,
        share_group_id=None,
        is_public=False,
        mount_snapshot_support=False,
        replication_type=None,
        qos_type_id=None,
    )


def snapshot(record):
    """The snapshot instance, as the share manager passes it (its share
    within)."""
    parent = share(record.share)
    exports = [_export(e) for e in record.export_locations]
    return Record(
        id=record.id,
        snapshot_id=record.snapshot_id,
        name=record.name,
        display_name=record.display_name,
        size=record.size_gib,
        share=parent,
        share_instance_id=parent["id"],
        share_id=parent["id"],  # as Manila has it: the share instance's
        share_name=parent["name"],
        share_proto=parent["share_proto"],
        share_size=parent["size"],
        provider_location=record.provider_location,
        export_locations=exports,
        status=record.status,
    )


def rule(record):
    """An access rule, as the access helper passes it."""
    return Record(
        id=record.id,
        access_id=record.id,
        access_type=record.access_type.name.lower(),
        access_to=record.access_to,
        access_level=record.access_level.name.lower(),
        access_key=record.access_key,
        state="applying",
        metadata=_texts(record.metadata),
    )


def rules(records):
    return [rule(r) for r in records]


def exports(answer):
    """The contract's export locations from what a Manila driver returns:
    a path, a dict, or a list of them."""
    if answer is None:
        return []
    if isinstance(answer, (str, dict)):
        answer = [answer]
    out = []
    for location in answer:
        if isinstance(location, str):
            out.append(ExportLocation(location))
            continue
        metadata = dict(location.get("metadata") or {})
        out.append(
            ExportLocation(
                location["path"],
                is_admin_only=bool(location.get("is_admin_only", False)),
                preferred=bool(metadata.get("preferred", False)),
                metadata=_encode(metadata),
            )
        )
    return out


def share_update(answer, default_status=None):
    """A share update from a model update (a dict), or export locations."""
    if not isinstance(answer, dict) or "path" in answer:
        return ShareUpdate(export_locations=exports(answer), status=default_status)
    size = answer.get("size")
    return ShareUpdate(
        export_locations=exports(answer["export_locations"]) if "export_locations" in answer else None,
        size_gib=int(size) if size is not None else None,
        provider_location=_text(answer.get("provider_location")),
        status=answer.get("status") or default_status,
        metadata=_encode(answer.get("metadata")),
        reapply_access_rules=answer.get("reapply_access_rules") is True,
    )


def snapshot_update(answer):
    """A snapshot update from a model update (a dict) or None."""
    if not answer:
        return SnapshotUpdate()
    size = answer.get("size")
    return SnapshotUpdate(
        provider_location=_text(answer.get("provider_location")),
        size_gib=int(size) if size is not None else None,
        export_locations=exports(answer["export_locations"]) if "export_locations" in answer else None,
        status=answer.get("status"),
    )


def _text(value):
    return None if value is None else str(value)


def _gib(value):
    """A capacity in GiB, or None for Manila's 'unknown' and 'infinite'."""
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return None


def _inexact(**capacities):
    """The capacities a whole number of GiB does not say exactly
    ('unknown', 'infinite', fractions): sent as capabilities too, so Manila
    sees what the driver said."""
    return {k: v for k, v in capacities.items() if v is not None and _gib(v) != v}


_STATS_FIELDS = ("share_backend_name", "storage_protocol", "total_capacity_gb", "free_capacity_gb", "pools")


def stats(data):
    """The contract's backend stats from a driver's ``get_share_stats``:
    every capability beyond the contract's fields goes along as JSON."""
    from manila_driver.types import BackendStats, Pool

    data = dict(data or {})
    thin = data.get("thin_provisioning", False)
    pools = []
    for pool in data.get("pools") or []:
        pool = dict(pool)
        total, free = pool.pop("total_capacity_gb", None), pool.pop("free_capacity_gb", None)
        pools.append(
            Pool(
                str(pool.pop("pool_name", "")),
                total_capacity_gib=_gib(total),
                free_capacity_gib=_gib(free),
                capabilities={**pool, **_inexact(total_capacity_gb=total, free_capacity_gb=free)},
            )
        )
    protocols = [p for p in str(data.get("storage_protocol") or "").split("_") if p]
    capabilities = {k: v for k, v in data.items() if k not in _STATS_FIELDS}
    capabilities.update(
        _inexact(total_capacity_gb=data.get("total_capacity_gb"), free_capacity_gb=data.get("free_capacity_gb"))
    )
    return BackendStats(
        backend_name=str(data.get("share_backend_name") or ""),
        protocols=protocols,
        total_capacity_gib=_gib(data.get("total_capacity_gb")),
        free_capacity_gib=_gib(data.get("free_capacity_gb")),
        thin_provisioning=thin is True or (isinstance(thin, list) and True in thin),
        pools=pools,
        capabilities=capabilities,
    )
