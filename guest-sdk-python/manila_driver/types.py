"""The contract's records. What Manila passes in (``Share``, ``Snapshot``,
``AccessRule``) are the classes componentize-py generates from ``wit/``;
what a driver returns is made here, with Manila's defaults for what it
leaves out, so that ``ExportLocation(path=...)`` is enough."""

import json

from wit_world.exports import share_driver as _wit
from wit_world.exports.share_driver import (  # noqa: F401
    AccessLevel,
    AccessRule,
    AccessType,
    RuleState,
    Share,
    ShareUsage,
    Snapshot,
)


def _pairs(mapping):
    """A dict as the contract's ``properties``: each value as JSON (text
    too: ``QNAP`` goes as ``"QNAP"``), so that what arrives is what was
    sent. Pairs are taken as already encoded."""
    if isinstance(mapping, dict):
        return [(str(k), json.dumps(v, default=str)) for k, v in mapping.items()]
    return [(str(k), str(v)) for k, v in (mapping or [])]


def ExportLocation(path, is_admin_only=False, preferred=False, metadata=None):
    """Where clients mount a share or snapshot."""
    return _wit.ExportLocation(path, bool(is_admin_only), bool(preferred), _pairs(metadata))


def ShareUpdate(
    export_locations=None,
    size_gib=None,
    provider_location=None,
    status=None,
    metadata=None,
    reapply_access_rules=False,
):
    """What Manila records of a share after an operation; ``None`` keeps
    what it has."""
    return _wit.ShareUpdate(
        export_locations, size_gib, provider_location, status, _pairs(metadata), bool(reapply_access_rules)
    )


def SnapshotUpdate(provider_location=None, size_gib=None, export_locations=None, status=None):
    """What Manila records of a snapshot after an operation; ``None`` keeps
    what it has."""
    return _wit.SnapshotUpdate(provider_location, size_gib, export_locations, status)


def RuleResult(id, state, access_key=None):
    """The state of one access rule after ``update_access``."""
    return _wit.RuleResult(id, state, access_key)


def Pool(name, total_capacity_gib=None, free_capacity_gib=None, capabilities=None):
    """One pool of the backend; ``capabilities`` values that are not text
    are sent as JSON."""
    return _wit.Pool(name, total_capacity_gib, free_capacity_gib, _pairs(capabilities))


def BackendStats(
    backend_name="",
    protocols=(),
    total_capacity_gib=None,
    free_capacity_gib=None,
    thin_provisioning=False,
    pools=(),
    capabilities=None,
):
    """What the backend reports to Manila's scheduler."""
    return _wit.BackendStats(
        backend_name,
        list(protocols),
        total_capacity_gib,
        free_capacity_gib,
        bool(thin_provisioning),
        list(pools),
        _pairs(capabilities),
    )


def as_share_update(answer):
    """A driver's answer as a share update: a ``ShareUpdate``, export
    locations alone, ``(size_gib, export locations)`` (what managing
    answers), or ``None``."""
    if answer is None:
        return ShareUpdate()
    if isinstance(answer, _wit.ShareUpdate):
        return answer
    if isinstance(answer, tuple) and len(answer) == 2:
        size, exports = answer
        return ShareUpdate(export_locations=list(exports), size_gib=size)
    return ShareUpdate(export_locations=list(answer))


def as_snapshot_update(answer):
    """A driver's answer as a snapshot update: a ``SnapshotUpdate``, a size
    (what managing answers), or ``None``."""
    if answer is None:
        return SnapshotUpdate()
    if isinstance(answer, _wit.SnapshotUpdate):
        return answer
    return SnapshotUpdate(size_gib=int(answer))
