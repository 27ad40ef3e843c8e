"""The ``ShareDriver`` base class, and :func:`export`, which turns a driver
class into the component's ``share-driver`` export."""

import json

from componentize_py_types import Err
from wit_world import exports as wit_exports

from manila_driver.errors import BackendError, DriverError, Invalid, NotFound, Unsupported
from manila_driver.storage import PrivateStorage
from manila_driver.types import ShareUpdate, as_share_update, as_snapshot_update


class Options:
    """The backend's driver options from the host's configuration.

    Read every option in ``setup``: an option the driver never asked for is
    taken for a misspelling, and setup fails naming it and the options the
    driver does read."""

    def __init__(self, pairs, manila_conf=()):
        self._values = dict(pairs)
        self._asked = set()
        #: The backend's section of manila.conf, every option as written
        #: (empty when Manila does not run the backend): what Manila gives an
        #: in-tree driver as its configuration. Not checked for misspellings.
        self.manila_conf = dict(manila_conf)

    def get(self, key, default=None):
        """The option ``key``, or ``default`` if unset."""
        self._asked.add(key)
        return self._values.get(key, default)

    def get_int(self, key, default):
        """The option ``key`` as a whole number, or ``default`` if unset."""
        raw = self.get(key)
        if raw is None:
            return default
        try:
            return int(raw)
        except ValueError:
            raise Invalid(
                "option `%s` = %r is not a whole number; fix it in the backend's options" % (key, raw)
            ) from None

    def check_unknown(self):
        unknown = sorted(set(self._values) - self._asked)
        if unknown:
            reads = ", ".join("`%s`" % k for k in sorted(self._asked)) or "no options"
            raise Invalid(
                "unknown option(s) `%s`: this driver reads %s; fix the spelling in the "
                "backend's options" % ("`, `".join(unknown), reads)
            )


def manage_target(share, driver_options):
    """The backend object an administrator asks to manage: the
    ``backend_name`` driver option, else the last part of the export path
    they gave (``10.0.0.5:/volumes/vol-1`` names ``vol-1``)."""
    name = (driver_options or {}).get("backend_name")
    if name:
        return name
    path = share.export_locations[0].path.rstrip("/\\") if share.export_locations else ""
    for sep in "/\\:":
        path = path.rsplit(sep, 1)[-1]
    if not path:
        raise Invalid("say what to manage: give the export path, or `backend_name` in the driver options")
    return path


class ShareDriver:
    """A share driver. The host makes an instance, calls :meth:`setup` once,
    then calls its operations one at a time, as Manila calls a driver
    object: what it keeps in memory (a session with the array, a cache)
    lives as long as the instance. The host may run a few instances of one
    backend side by side and replaces one that failed (a trap, a timeout)
    with a new one: keep what must last in ``self.private_storage`` and on
    the backend (its root is ``/``).

    Operations a driver leaves out answer ``unsupported``; Manila then
    reports them as not implemented by the backend. Where an operation
    returns a share, a ``ShareUpdate`` says what Manila should record; a
    list of export locations alone is taken for one."""

    def __init__(self):
        self.private_storage = PrivateStorage()

    def setup(self, options):
        """Read the backend's :class:`Options`."""

    def get_backend_info(self):
        """The backend's identity and settings, a dict: while it stays the
        same, Manila skips ensuring every share at start. ``None``: Manila
        ensures them every time."""
        return None

    def get_stats(self):
        """Return a :class:`BackendStats`."""
        raise Unsupported("this driver does not support get-stats")

    def create_share(self, share):
        """Create ``share``; return its export locations (or a
        ``ShareUpdate``)."""
        raise Unsupported("this driver does not support create-share")

    def create_share_from_snapshot(self, share, snapshot):
        """Create ``share`` with the data of ``snapshot``; return its export
        locations (or a ``ShareUpdate`` whose status says the copy goes
        on)."""
        raise Unsupported("this driver does not support create-share-from-snapshot")

    def delete_share(self, share):
        """Delete ``share`` and everything kept about it."""
        raise Unsupported("this driver does not support delete-share")

    def extend_share(self, share, new_size_gib):
        raise Unsupported("this driver does not support extend-share")

    def shrink_share(self, share, new_size_gib):
        """Raise :class:`Invalid` if the share's data would not fit."""
        raise Unsupported("this driver does not support shrink-share")

    def ensure_share(self, share):
        """Make sure ``share`` is exported; return its export locations.
        :class:`NotFound` marks the share ``error``."""
        raise Unsupported("this driver does not support ensure-share")

    def ensure_shares(self, shares):
        """Make sure every share is exported: ``{share id: ShareUpdate}``;
        :meth:`ensure_share` for each unless a driver does them at once."""
        updates = {}
        for share in shares:
            try:
                updates[share.id] = as_share_update(self.ensure_share(share))
            except NotFound as e:
                print("share %s cannot be ensured: %s" % (share.id, e))
                updates[share.id] = ShareUpdate(status="error")
        return updates

    def get_share_status(self, share):
        """Where work on ``share`` that went on after its call stands."""
        raise Unsupported("this driver does not support get-share-status")

    def update_share_usage_size(self, shares):
        """A list of :class:`ShareUsage`."""
        raise Unsupported("this driver does not support update-share-usage-size")

    def create_snapshot(self, snapshot):
        """Snapshot ``snapshot.share``; return ``None`` or a
        ``SnapshotUpdate``."""
        raise Unsupported("this driver does not support create-snapshot")

    def delete_snapshot(self, snapshot):
        raise Unsupported("this driver does not support delete-snapshot")

    def revert_to_snapshot(self, snapshot, share_access_rules, snapshot_access_rules):
        """Put the data of ``snapshot`` back; return ``None`` or a
        ``ShareUpdate`` (a new size)."""
        raise Unsupported("this driver does not support revert-to-snapshot")

    def update_access(self, share, access_rules, add_rules, delete_rules, update_rules):
        """Apply ``add_rules`` and ``update_rules``, remove
        ``delete_rules`` (or, when all are empty, apply ``access_rules`` as
        a whole); return a :class:`RuleResult` for rules not simply in
        force (a cephx rule's key comes back there)."""
        raise Unsupported("this driver does not support update-access")

    def snapshot_update_access(self, snapshot, access_rules, add_rules, delete_rules):
        raise Unsupported("this driver does not support snapshot-update-access")

    def manage_existing(self, share, driver_options):
        """Adopt an existing backend object (:func:`manage_target` says
        which); return a ``ShareUpdate`` with its size, or ``(size_gib,
        export locations)``."""
        raise Unsupported("this driver does not support manage-existing")

    def unmanage(self, share):
        raise Unsupported("this driver does not support unmanage")

    def manage_existing_snapshot(self, snapshot, driver_options):
        """Adopt an existing backend snapshot (its ``provider_location``, or
        ``driver_options``, say which); return its size or a
        ``SnapshotUpdate``."""
        raise Unsupported("this driver does not support manage-existing-snapshot")

    def unmanage_snapshot(self, snapshot):
        raise Unsupported("this driver does not support unmanage-snapshot")


def export(driver_class):
    """The component's ``share-driver`` export for ``driver_class``: assign
    it to ``ShareDriver`` at the top of the driver's module."""
    drivers = []

    def run(operation, *args, then=None):
        if not drivers:
            raise Err(Invalid("the host called an operation before setup").to_wit())
        try:
            answer = getattr(drivers[0], operation)(*args)
            return then(answer) if then else answer
        except DriverError as e:
            raise Err(e.to_wit()) from None
        except OSError as e:
            raise Err(BackendError(str(e)).to_wit()) from None

    def info(answer):
        return None if answer is None else [(str(k), json.dumps(v, default=str)) for k, v in dict(answer).items()]

    def ensured(answer):
        return [(share_id, as_share_update(update)) for share_id, update in dict(answer).items()]

    def nothing(_answer):
        return None

    class Export(wit_exports.ShareDriver):
        def setup(self, options, manila_conf):
            try:
                driver = driver_class()
                opts = Options(options, manila_conf)
                driver.setup(opts)
                opts.check_unknown()
            except DriverError as e:
                raise Err(e.to_wit()) from None
            drivers[:] = [driver]

        def get_backend_info(self):
            return run("get_backend_info", then=info)

        def get_stats(self):
            return run("get_stats")

        def create_share(self, share):
            return run("create_share", share, then=as_share_update)

        def create_share_from_snapshot(self, share, snapshot):
            return run("create_share_from_snapshot", share, snapshot, then=as_share_update)

        def delete_share(self, share):
            return run("delete_share", share, then=nothing)

        def extend_share(self, share, new_size_gib):
            return run("extend_share", share, new_size_gib, then=nothing)

        def shrink_share(self, share, new_size_gib):
            return run("shrink_share", share, new_size_gib, then=nothing)

        def ensure_shares(self, shares):
            return run("ensure_shares", shares, then=ensured)

        def get_share_status(self, share):
            return run("get_share_status", share, then=as_share_update)

        def update_share_usage_size(self, shares):
            return run("update_share_usage_size", shares, then=list)

        def create_snapshot(self, snapshot):
            return run("create_snapshot", snapshot, then=as_snapshot_update)

        def delete_snapshot(self, snapshot):
            return run("delete_snapshot", snapshot, then=nothing)

        def revert_to_snapshot(self, snapshot, share_access_rules, snapshot_access_rules):
            return run(
                "revert_to_snapshot", snapshot, share_access_rules, snapshot_access_rules, then=as_share_update
            )

        def update_access(self, share, access_rules, add_rules, delete_rules, update_rules):
            return run(
                "update_access", share, access_rules, add_rules, delete_rules, update_rules, then=lambda r: list(r or [])
            )

        def snapshot_update_access(self, snapshot, access_rules, add_rules, delete_rules):
            return run("snapshot_update_access", snapshot, access_rules, add_rules, delete_rules, then=nothing)

        def manage_existing(self, share, driver_options):
            return run("manage_existing", share, dict(driver_options), then=as_share_update)

        def unmanage(self, share):
            return run("unmanage", share, then=nothing)

        def manage_existing_snapshot(self, snapshot, driver_options):
            return run("manage_existing_snapshot", snapshot, dict(driver_options), then=as_snapshot_update)

        def unmanage_snapshot(self, snapshot):
            return run("unmanage_snapshot", snapshot, then=nothing)

    Export.__name__ = Export.__qualname__ = "ShareDriver"
    return Export
