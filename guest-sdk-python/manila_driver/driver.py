"""The ``ShareDriver`` base class, and :func:`export`, which turns a driver
class into the component's ``share-driver`` export."""

from componentize_py_types import Err
from wit_world import exports as wit_exports

from manila_driver.errors import BackendError, DriverError, Invalid, Unsupported
from manila_driver.storage import PrivateStorage


class Options:
    """The backend's driver options from the host's configuration.

    Read every option in ``setup``: an option the driver never asked for is
    taken for a misspelling, and setup fails naming it and the options the
    driver does read."""

    def __init__(self, pairs):
        self._values = dict(pairs)
        self._asked = set()

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


class ShareDriver:
    """A share driver. The host makes a fresh instance for every operation
    and calls :meth:`setup` first: keep no state between calls other than
    in ``self.private_storage`` and on the backend (its root is ``/``).

    Operations a driver leaves out answer ``unsupported``; Manila then
    reports them as not implemented by the backend."""

    def __init__(self):
        self.private_storage = PrivateStorage()

    def setup(self, options):
        """Read the backend's :class:`Options`."""

    def create_share(self, share):
        """Create ``share``; return its export locations."""
        raise Unsupported("this driver does not support create-share")

    def delete_share(self, share):
        """Delete ``share`` and everything kept about it."""
        raise Unsupported("this driver does not support delete-share")

    def extend_share(self, share, new_size_gib):
        raise Unsupported("this driver does not support extend-share")

    def shrink_share(self, share, new_size_gib):
        """Raise :class:`Invalid` if the share's data would not fit."""
        raise Unsupported("this driver does not support shrink-share")

    def ensure_share(self, share):
        """Make sure ``share`` is exported; return its export locations."""
        raise Unsupported("this driver does not support ensure-share")

    def create_snapshot(self, snapshot):
        raise Unsupported("this driver does not support create-snapshot")

    def delete_snapshot(self, snapshot):
        raise Unsupported("this driver does not support delete-snapshot")

    def create_share_from_snapshot(self, share, snapshot):
        """Create ``share`` with the data of ``snapshot``; return its export
        locations."""
        raise Unsupported("this driver does not support create-share-from-snapshot")

    def revert_to_snapshot(self, snapshot):
        raise Unsupported("this driver does not support revert-to-snapshot")

    def update_access(self, share, access_rules, add_rules, delete_rules):
        """Apply ``add_rules`` and remove ``delete_rules`` (or, when both are
        empty, apply ``access_rules`` as a whole); return a
        :class:`RuleResult` for each rule of ``access_rules``."""
        raise Unsupported("this driver does not support update-access")

    def manage_existing(self, share, backend_name):
        """Adopt ``backend_name``; return ``(size_gib, export locations)``."""
        raise Unsupported("this driver does not support manage-existing")

    def unmanage(self, share):
        raise Unsupported("this driver does not support unmanage")

    def manage_existing_snapshot(self, snapshot, backend_name):
        """Adopt the backend snapshot ``backend_name``; return its size."""
        raise Unsupported("this driver does not support manage-existing-snapshot")

    def unmanage_snapshot(self, snapshot):
        raise Unsupported("this driver does not support unmanage-snapshot")

    def get_stats(self):
        """Return a :class:`BackendStats`."""
        raise Unsupported("this driver does not support get-stats")


def export(driver_class):
    """The component's ``share-driver`` export for ``driver_class``: assign
    it to ``ShareDriver`` at the top of the driver's module."""
    drivers = []

    def run(operation, *args):
        if not drivers:
            raise Err(Invalid("the host called an operation before setup").to_wit())
        try:
            return getattr(drivers[0], operation)(*args)
        except DriverError as e:
            raise Err(e.to_wit()) from None
        except OSError as e:
            raise Err(BackendError(str(e)).to_wit()) from None

    class Export(wit_exports.ShareDriver):
        def setup(self, options):
            try:
                driver = driver_class()
                opts = Options(options)
                driver.setup(opts)
                opts.check_unknown()
            except DriverError as e:
                raise Err(e.to_wit()) from None
            drivers[:] = [driver]

        def create_share(self, share):
            return run("create_share", share)

        def delete_share(self, share):
            return run("delete_share", share)

        def extend_share(self, share, new_size_gib):
            return run("extend_share", share, new_size_gib)

        def shrink_share(self, share, new_size_gib):
            return run("shrink_share", share, new_size_gib)

        def ensure_share(self, share):
            return run("ensure_share", share)

        def create_snapshot(self, snapshot):
            return run("create_snapshot", snapshot)

        def delete_snapshot(self, snapshot):
            return run("delete_snapshot", snapshot)

        def create_share_from_snapshot(self, share, snapshot):
            return run("create_share_from_snapshot", share, snapshot)

        def revert_to_snapshot(self, snapshot):
            return run("revert_to_snapshot", snapshot)

        def update_access(self, share, access_rules, add_rules, delete_rules):
            return run("update_access", share, access_rules, add_rules, delete_rules)

        def manage_existing(self, share, backend_name):
            return run("manage_existing", share, backend_name)

        def unmanage(self, share):
            return run("unmanage", share)

        def manage_existing_snapshot(self, snapshot, backend_name):
            return run("manage_existing_snapshot", snapshot, backend_name)

        def unmanage_snapshot(self, snapshot):
            return run("unmanage_snapshot", snapshot)

        def get_stats(self):
            return run("get_stats")

    Export.__name__ = Export.__qualname__ = "ShareDriver"
    return Export
