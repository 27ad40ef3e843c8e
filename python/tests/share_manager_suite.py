"""Manila's own ShareManager drives privdata.manila.WasmShareDriver, in process.

Each test starts a manila-share backend the way manila/cmd/share.py does
(host ``<CONF.host>@<backend>``, ``share_driver =
privdata.manila.WasmShareDriver``, ``drivers_private_storage_class =
privdata.manila.StorageDriver``) on Manila's test base (manila.test.TestCase:
an in-memory database, fake RPC), makes shares, snapshots and access rules
with manila.tests.db_utils as Manila's tests do, and calls the manager's
methods as its RPC server would.

For each example driver component in $PRIVDATA_DRIVERS (default
<repo>/target/drivers): create a share, allow and deny access, snapshot it,
create a share from the snapshot, extend, shrink, revert, restart the
manager (ensure), unmanage and manage a share and a snapshot, and delete
everything. After each step it checks the status Manila records, the export
locations, the files under the export path, and the driver's private data as
privdata.manila.StorageDriver serves it; at the end no private data is left.
Each driver states the optional operations it supports: each of them must
work, and each other one the lifecycle reaches must answer "unsupported" and
give Manila's behaviour for a driver without it. Both REST drivers (Rust and
Python) manage a fake array over HTTP. The
hostile driver, which spins, panics or allocates without end in
create-share, gives that share the error status, and the manager goes on; a
misconfigured backend fails the driver's setup, saying why.

Run: python python/tests/share_manager_suite.py. Exit code 0 when every test
ran and passed. Needs manila==23.0.1 and the privdata package with its
native module.
"""

import hashlib
import json
import os
import subprocess
import sys
import time
import unittest
import urllib.request

import fixtures
from manila.common import constants
from manila import context
from manila import db
from manila import exception
from manila import quota
from manila import test
from manila.share import driver as share_driver
from manila.share import drivers_private_data
from manila.share import manager as share_manager
from manila.tests import db_utils
from oslo_config import cfg
from oslo_utils import importutils

import privdata
import privdata.manila

CONF = cfg.CONF
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DRIVERS = os.environ.get("PRIVDATA_DRIVERS") or os.path.join(REPO, "target", "drivers")
BACKEND = "wasm"  # the backend's section of manila.conf, and its service name
EXPECTED = 15
# The operations each driver answered unsupported, for the summary.
UNSUPPORTED = {}


# The operations of the contract a driver may leave out.
OPTIONAL = frozenset(
    {
        "get_stats",
        "update_access",
        "extend_share",
        "shrink_share",
        "create_snapshot",
        "create_share_from_snapshot",
        "revert_to_snapshot",
        "manage_existing_snapshot",
        "unmanage_snapshot",
    }
)


class Recorder:
    """Stands in for the driver's privdata.Backend: forwards every call and
    notes the operations called and those the component answered
    unsupported."""

    def __init__(self, backend, unsupported, called):
        self._backend = backend
        self.unsupported = unsupported
        self.called = called

    def __getattr__(self, name):
        attr = getattr(self._backend, name)
        if not callable(attr):
            return attr

        def call(*args):
            self.called.add(name)
            try:
                return attr(*args)
            except privdata.DriverUnsupported:
                self.unsupported.add(name)
                raise

        return call


class WasmBackendTestCase(test.TestCase):
    """A manila-share backend whose driver is the component `component`."""

    component = None
    # The optional operations the driver supports: each must work, and each
    # other one the lifecycle reaches must answer unsupported.
    supports = frozenset()
    options = {}
    timeout = 10.0
    max_memory_mib = 64
    allowed_outbound = []
    admin_exports = False  # whether the driver gives admin-only export locations

    def setUp(self):
        super().setUp()
        scratch = self.useFixture(fixtures.TempDir()).path
        self.root = os.path.join(scratch, "root")
        os.mkdir(self.root)
        self.url = "sqlite://" + os.path.join(scratch, "privdata.db")
        self.host = "%s@%s" % (CONF.host, BACKEND)
        # The request of an admin of project "fake", which owns the shares.
        self.context = context.RequestContext(user_id="fake", project_id="fake", is_admin=True)
        driver_file = os.path.join(DRIVERS, self.component)
        self.assertTrue(os.path.isfile(driver_file), "no %s: build the drivers or set PRIVDATA_DRIVERS" % driver_file)

        for opts in (
            share_manager.share_manager_opts,
            share_driver.share_opts,
            drivers_private_data.private_data_opts,
            privdata.manila.privdata_opts,
            privdata.manila.wasm_driver_opts,
        ):
            CONF.register_opts(opts, group=BACKEND)
        settings = {
            "share_driver": "privdata.manila.WasmShareDriver",
            "driver_handles_share_servers": False,
            "drivers_private_storage_class": "privdata.manila.StorageDriver",
            "privdata_storage_url": self.url,
            "privdata_driver": driver_file,
            "privdata_root": self.root,
            "privdata_options": self.options,
            "privdata_timeout": self.timeout,
            "privdata_max_memory_mib": self.max_memory_mib,
            "privdata_allowed_outbound": self.allowed_outbound,
        }
        for name, value in settings.items():
            self.override_config(name, value, group=BACKEND)

        self.share_type = db_utils.create_share_type(
            name="privdata",
            extra_specs={
                "driver_handles_share_servers": "False",
                "snapshot_support": "True",
                "create_share_from_snapshot_support": "True",
                "revert_to_snapshot_support": "True",
            },
        )
        db.service_create(
            self.context,
            {
                "host": self.host,
                "binary": "manila-share",
                "topic": "manila-share",
                "report_count": 0,
                "availability_zone": CONF.storage_availability_zone,
            },
        )
        self.unsupported_operations = UNSUPPORTED.setdefault(self.component, set())
        # Every operation called, across restarts of the manager.
        self.called_operations = set()
        self.manager = self.start_manager()

    def start_manager(self):
        """The backend's share manager as manila-share builds and starts it
        (init_host: the driver's setup, ensure, stats)."""
        manager = importutils.import_object(CONF.share_manager, host=self.host, service_name=BACKEND)
        manager.init_host()
        self.assertTrue(manager.driver.initialized)
        self.assertIsInstance(manager.driver, privdata.manila.WasmShareDriver)
        self.assertEqual(manager.driver.backend.host, manager.host, "private data bound to the manager's host")
        self.recorder = Recorder(manager.driver.backend, self.unsupported_operations, self.called_operations)
        manager.driver.backend = self.recorder
        return manager

    # What Manila and the backend hold.

    def private(self, entity_id):
        """The driver's private data of `entity_id`, through Manila's
        DriverPrivateData over privdata.manila.StorageDriver."""
        storage = drivers_private_data.DriverPrivateData(
            context=self.context, backend_host=self.manager.host, config_group=BACKEND
        )
        return storage.get(entity_id)

    def instance(self, share):
        return db.share_instance_get(self.context, share.instance["id"], with_share_data=True)

    def status(self, share):
        return self.instance(share)["status"]

    def exports(self, share, admin_only=False):
        """The export paths Manila recorded for the share's instance (or
        only its admin-only ones)."""
        locations = db.export_location_get_all_by_share_instance_id(self.context, share.instance["id"])
        return sorted(el["path"] for el in locations if el["is_admin_only"] or not admin_only)

    def volume(self, path):
        """The directory under the root that an export path names
        (``127.0.0.1:/volumes/vol-1`` is ``<root>/volumes/vol-1``)."""
        return os.path.join(self.root, path.split(":", 1)[1].lstrip("/"))

    def data_file(self, share):
        [volume] = {self.volume(path) for path in self.exports(share)}
        return os.path.join(volume, "data")

    def write(self, share, text):
        with open(self.data_file(share), "w") as f:
            f.write(text)

    def read(self, share):
        with open(self.data_file(share)) as f:
            return f.read()

    def unsupported(self, operation):
        """Whether the driver answered `operation` unsupported; a failure
        when the driver is meant to support it."""
        if operation not in self.recorder.unsupported:
            return False
        self.assertNotIn(operation, self.supports, "the driver must support %s" % operation)
        return True

    # Manila's requests, as its API makes them.

    def reserve(self, **deltas):
        """Quota reservations, as Manila's API makes them before it asks the
        share manager."""
        return quota.QUOTAS.reserve(
            self.context, project_id="fake", user_id="fake", share_type_id=self.share_type["id"], **deltas
        )

    def commit(self, reservations):
        quota.QUOTAS.commit(
            self.context, reservations, project_id="fake", user_id="fake", share_type_id=self.share_type["id"]
        )

    def new_share(self, size=1, **values):
        """A share of project "fake" on this backend; `size=None` for one to
        manage (the manager counts its quota then)."""
        if size is not None:
            self.commit(self.reserve(shares=1, gigabytes=size))
        return db_utils.create_share(
            size=size,
            host="%s#%s" % (self.host, BACKEND),
            share_type_id=self.share_type["id"],
            display_name="privdata-test",
            **values,
        )

    def create_share(self, size=1):
        share = self.new_share(size)
        self.manager.create_share_instance(self.context, share.instance["id"])
        self.assertEqual(self.status(share), constants.STATUS_AVAILABLE)
        self.assertTrue(self.exports(share), "a share has export locations")
        self.assertEqual(bool(self.exports(share, admin_only=True)), self.admin_exports)
        for path in self.exports(share):
            self.assertTrue(os.path.isdir(self.volume(path)), "%s is a directory under the root" % path)
        self.assertTrue(self.private(share.instance["id"]), "the driver keeps private data of a share")
        return share

    def delete_share(self, share, force=False):
        instance_id = share.instance["id"]
        paths = self.exports(share)
        self.manager.delete_share_instance(self.context, instance_id, force=force)
        self.assertRaises(exception.NotFound, db.share_instance_get, self.context, instance_id)
        self.assertEqual(self.private(instance_id), {}, "delete-share leaves no private data")
        for path in paths:
            self.assertFalse(os.path.exists(self.volume(path)), "%s is gone" % path)

    def new_snapshot(self, share, managed=False, **values):
        """A snapshot of `share`; `managed=True` for one to manage."""
        if not managed:
            self.commit(self.reserve(snapshots=1, snapshot_gigabytes=share["size"]))
        return db_utils.create_snapshot(share_id=share["id"], size=share["size"], **values)

    def snapshot_status(self, snapshot):
        return db.share_snapshot_instance_get(self.context, snapshot.instance["id"])["status"]

    def set_status(self, share, status):
        """What `manila reset-state` does."""
        db.share_update(self.context, share["id"], {"status": status})

    def share_size(self, share):
        return db.share_get(self.context, share["id"])["size"]


class Lifecycle:
    """A share's whole life through the share manager."""

    def test_lifecycle(self):
        stats = self.manager.driver.get_share_stats()
        self.assertEqual((stats["vendor_name"], stats["driver_handles_share_servers"]), ("privdata", False))
        try:
            reported = self.manager.driver.backend.get_stats()
        except privdata.DriverUnsupported:
            self.assertTrue(self.unsupported("get_stats"))
            self.assertEqual(stats["total_capacity_gb"], "unknown")
        else:
            self.assertEqual(stats["storage_protocol"], "_".join(reported["protocols"]))
            total = reported["total_capacity_gib"]
            self.assertEqual(stats["total_capacity_gb"], "unknown" if total is None else total)

        share = self.create_share(size=2)
        instance_id = share.instance["id"]
        self.write(share, "first")

        # Allow access, then deny it.
        rule = db_utils.create_access(share_id=share["id"], access_type="ip", access_to="10.0.0.7", access_level="rw")
        try:
            self.manager.update_access(self.context, instance_id)
            access_works = True
        except NotImplementedError:
            self.assertTrue(self.unsupported("update_access"))
            access_works = False
        rule_state = db.share_instance_access_get(self.context, rule["id"], instance_id)["state"]
        if access_works:
            self.assertEqual(rule_state, constants.ACCESS_STATE_ACTIVE)
            self.assertEqual(self.instance(share)["access_rules_status"], constants.STATUS_ACTIVE)
        else:
            self.assertEqual(rule_state, constants.ACCESS_STATE_ERROR)
            self.assertEqual(self.instance(share)["access_rules_status"], constants.STATUS_ERROR)
        db.share_instance_access_update(
            self.context, rule["id"], instance_id, {"state": constants.ACCESS_STATE_QUEUED_TO_DENY}
        )
        if access_works:
            self.manager.update_access(self.context, instance_id)
            self.assertEqual(db.share_access_get_all_for_instance(self.context, instance_id), [])
            self.assertEqual(self.instance(share)["access_rules_status"], constants.STATUS_ACTIVE)
        else:
            self.assertRaises(NotImplementedError, self.manager.update_access, self.context, instance_id)
        self.assertEqual(self.status(share), constants.STATUS_AVAILABLE)

        # A snapshot, and a share made from it.
        snapshot = self.new_snapshot(share)
        snapshot_instance_id = snapshot.instance["id"]
        try:
            self.manager.create_snapshot(self.context, share["id"], snapshot["id"])
            snapshots_work = True
        except NotImplementedError:
            self.assertTrue(self.unsupported("create_snapshot"))
            self.assertEqual(self.snapshot_status(snapshot), constants.STATUS_ERROR)
            snapshots_work = False
        if snapshots_work:
            self.assertEqual(self.snapshot_status(snapshot), constants.STATUS_AVAILABLE)
            self.assertTrue(self.private(snapshot_instance_id), "the driver keeps private data of a snapshot")
            self.write(share, "second")
            self.snapshot_clone(share, snapshot)

        # Extend, then shrink.
        try:
            self.manager.extend_share(self.context, share["id"], 3, self.reserve(gigabytes=1))
            self.assertEqual((self.status(share), self.share_size(share)), (constants.STATUS_AVAILABLE, 3))
        except exception.ShareExtendingError:
            self.assertTrue(self.unsupported("extend_share"))
            self.assertEqual(self.status(share), constants.STATUS_EXTENDING_ERROR)
            self.set_status(share, constants.STATUS_AVAILABLE)
        size = self.share_size(share)
        try:
            self.manager.shrink_share(self.context, share["id"], size - 1)
            self.assertEqual((self.status(share), self.share_size(share)), (constants.STATUS_AVAILABLE, size - 1))
        except exception.ShareShrinkingError:
            self.assertTrue(self.unsupported("shrink_share"))
            self.assertEqual((self.status(share), self.share_size(share)), (constants.STATUS_AVAILABLE, size))
        self.assertEqual(self.read(share), "second" if snapshots_work else "first")

        # Revert to the snapshot.
        if snapshots_work:
            try:
                shrinks = snapshot["size"] - self.share_size(share)
                self.manager.revert_to_snapshot(self.context, snapshot["id"], self.reserve(gigabytes=shrinks))
                self.assertEqual(self.status(share), constants.STATUS_AVAILABLE)
                self.assertEqual(self.share_size(share), snapshot["size"])
                self.assertEqual(self.read(share), "first", "the share holds the snapshot's data again")
            except NotImplementedError:
                self.assertTrue(self.unsupported("revert_to_snapshot"))
                self.assertEqual(self.status(share), constants.STATUS_REVERTING_ERROR)
                self.set_status(share, constants.STATUS_AVAILABLE)
            self.assertEqual(self.snapshot_status(snapshot), constants.STATUS_AVAILABLE)

        # Restart manila-share: ensure gives every share its export locations.
        exports = self.exports(share)
        private = self.private(instance_id)
        self.manager = self.start_manager()
        self.assertEqual(self.status(share), constants.STATUS_AVAILABLE)
        self.assertEqual(self.exports(share), exports)
        self.assertEqual(self.private(instance_id), private)

        # Unmanage a share and manage it again; the same for the snapshot.
        self.unmanage_and_manage()
        if snapshots_work:
            snapshot = self.unmanage_and_manage_snapshot(share, snapshot)

        # Delete everything: no private data is left.
        if snapshot is None:
            pass  # unmanaged, and not managed again: the backend keeps it
        elif snapshots_work:
            self.manager.delete_snapshot(self.context, snapshot["id"])
            self.assertRaises(
                exception.NotFound, db.share_snapshot_instance_get, self.context, snapshot.instance["id"]
            )
            self.assertEqual(self.private(snapshot.instance["id"]), {}, "delete-snapshot leaves no private data")
        else:
            # The errored snapshot: the driver knows nothing of it.
            self.manager.delete_snapshot(self.context, snapshot["id"], force=True)
        # Without update_access, Manila cannot remove the rule: only a forced delete goes on.
        self.delete_share(share, force=not access_works)
        self.assertEqual(privdata.Store(self.url).hosts(), [], "no host holds private data")
        # Every optional operation reached answered as the driver's list
        # says: those it supports worked, the others answered unsupported.
        reached = self.recorder.called & OPTIONAL
        self.assertEqual(self.recorder.unsupported & reached, reached - self.supports)

    def snapshot_clone(self, share, snapshot):
        """A share made from `snapshot` holds its data; it is deleted again."""
        clone = self.new_share(size=snapshot["size"], snapshot_id=snapshot["id"])
        try:
            self.manager.create_share_instance(self.context, clone.instance["id"], snapshot_id=snapshot["id"])
        except NotImplementedError:
            self.assertTrue(self.unsupported("create_share_from_snapshot"))
            self.assertEqual(self.status(clone), constants.STATUS_ERROR)
            self.delete_share(clone)
            return
        self.assertEqual(self.status(clone), constants.STATUS_AVAILABLE)
        self.assertTrue(self.exports(clone))
        self.assertNotEqual(self.exports(clone), self.exports(share))
        self.assertTrue(self.private(clone.instance["id"]))
        self.assertEqual(self.read(clone), "first", "a share from a snapshot holds the snapshot's data")
        self.delete_share(clone)

    def unmanage_and_manage(self):
        """Unmanage a share (the backend keeps it), then manage it by its
        export path, as an admin does: a new share, adopting the data."""
        share = self.create_share(size=1)
        self.write(share, "adopted")
        paths = self.exports(share)
        self.manager.unmanage_share(self.context, share["id"])
        self.assertRaises(exception.NotFound, db.share_instance_get, self.context, share.instance["id"])
        self.assertEqual(self.private(share.instance["id"]), {}, "unmanage leaves no private data")
        self.assertTrue(os.path.isdir(self.volume(paths[0])), "unmanage leaves the data on the backend")

        managed = self.new_share(size=None, status=constants.STATUS_MANAGING)
        db.export_locations_update(self.context, managed.instance["id"], paths[0])
        try:
            self.manager.manage_share(self.context, managed["id"], {})
        except exception.ManageInvalidShare:
            self.assertFalse(self.manages_by_export_path)
            self.assertEqual(db.share_get(self.context, managed["id"])["status"], constants.STATUS_MANAGE_ERROR)
            self.assertEqual(self.private(managed.instance["id"]), {})
            return
        self.assertTrue(self.manages_by_export_path)
        self.assertEqual(db.share_get(self.context, managed["id"])["status"], constants.STATUS_AVAILABLE)
        self.assertEqual(self.share_size(managed), 1)
        self.assertEqual(self.exports(managed), paths)
        self.assertTrue(self.private(managed.instance["id"]))
        self.assertEqual(self.read(managed), "adopted")
        self.delete_share(managed)

    def unmanage_and_manage_snapshot(self, share, snapshot):
        """Unmanage the snapshot, then manage it again by the name the driver
        kept for it (each value of its private data, or its old id, is tried
        as the provider location). Returns the snapshot Manila has then, or
        None when the driver cannot manage snapshots."""
        kept = self.private(snapshot.instance["id"])
        self.manager.unmanage_snapshot(self.context, snapshot["id"])
        if self.unsupported("unmanage_snapshot"):
            self.assertEqual(
                db.share_snapshot_get(self.context, snapshot["id"])["status"], constants.STATUS_UNMANAGE_ERROR
            )
            return snapshot
        self.assertRaises(exception.NotFound, db.share_snapshot_instance_get, self.context, snapshot.instance["id"])
        self.assertEqual(self.private(snapshot.instance["id"]), {}, "unmanage leaves no private data")

        for name in [*kept.values(), snapshot.instance["id"]]:
            managed = self.new_snapshot(share, managed=True, status=constants.STATUS_MANAGING, provider_location=name)
            try:
                self.manager.manage_snapshot(self.context, managed["id"], {})
            except NotImplementedError:
                self.assertTrue(self.unsupported("manage_existing_snapshot"))
                db.share_snapshot_instance_delete(self.context, managed.instance["id"])
                return None
            except (exception.ShareResourceNotFound, exception.ManageInvalidShareSnapshot):
                # Not the name the backend knows the snapshot by.
                db.share_snapshot_instance_delete(self.context, managed.instance["id"])
                continue
            status = db.share_snapshot_get(self.context, managed["id"])["status"]
            self.assertEqual(status, constants.STATUS_AVAILABLE)
            self.assertTrue(self.private(managed.instance["id"]))
            return managed
        self.fail("manage-snapshot adopted the snapshot by none of %s" % [*kept.values(), snapshot.instance["id"]])


class GenericDriverTest(Lifecycle, WasmBackendTestCase):
    component = "generic_driver.wasm"
    supports = OPTIONAL
    manages_by_export_path = True


class ShortNamesDriverTest(Lifecycle, WasmBackendTestCase):
    component = "short_names_driver.wasm"
    supports = frozenset(
        {
            "get_stats",
            "extend_share",
            "shrink_share",
            "create_snapshot",
            "manage_existing_snapshot",
            "unmanage_snapshot",
        }
    )
    manages_by_export_path = True


class CachingDriverTest(Lifecycle, WasmBackendTestCase):
    component = "caching_driver.wasm"
    supports = frozenset({"get_stats", "extend_share", "shrink_share"})
    admin_exports = True
    # It names a share's directory by the share's id, and Manila gives a
    # managed share a new one: it refuses to adopt any other id.
    manages_by_export_path = False


class PythonGenericDriverTest(Lifecycle, WasmBackendTestCase):
    """The generic driver's use case written in Python (componentize-py)."""

    component = "python_generic_driver.wasm"
    supports = frozenset(
        {
            "get_stats",
            "extend_share",
            "shrink_share",
            "create_snapshot",
            "create_share_from_snapshot",
            "revert_to_snapshot",
        }
    )
    manages_by_export_path = True


class SetupTest(WasmBackendTestCase):
    """A misconfigured backend fails the driver's setup, saying why (the
    manager logs it and tries the setup again later)."""

    component = "generic_driver.wasm"

    def test_a_misconfigured_backend_says_why(self):
        def setup_fails(error, reason, **settings):
            for name, value in settings.items():
                self.override_config(name, value, group=BACKEND)
            with self.assertRaises(error) as caught:
                self.manager.driver.do_setup(self.context)
                self.manager.driver.check_for_setup_error()
            self.assertIn(reason, str(caught.exception))

        root = CONF[BACKEND].privdata_root
        setup_fails(exception.ShareBackendException, "exprot_host", privdata_options={"exprot_host": "10.0.0.5"})
        missing = os.path.join(self.root, "missing")
        reason = "privdata_root = %s in [%s] is not a directory" % (missing, BACKEND)
        setup_fails(exception.BadConfigurationException, reason, privdata_options={}, privdata_root=missing)
        nothing = os.path.join(self.root, "nothing.wasm")
        setup_fails(exception.ShareBackendException, nothing, privdata_driver=nothing, privdata_root=root)
        reason = "privdata_driver is not set in [%s]" % BACKEND
        setup_fails(exception.BadConfigurationException, reason, privdata_driver=None)

    def test_a_pinned_driver_runs_and_another_is_refused(self):
        component = CONF[BACKEND].privdata_driver
        with open(component, "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()
        self.override_config("privdata_driver_sha256", digest, group=BACKEND)
        self.manager.driver.do_setup(self.context)
        self.manager.driver.check_for_setup_error()
        self.assertEqual(self.manager.driver.backend.driver_sha256, digest)
        other = "0" * 64
        self.override_config("privdata_driver_sha256", other, group=BACKEND)
        with self.assertRaises(exception.ShareBackendException) as caught:
            self.manager.driver.do_setup(self.context)
        self.assertIn(digest, str(caught.exception))
        self.assertIn(other, str(caught.exception))


class Hostile:
    """A driver that misbehaves in create-share: the share gets the error
    status, and the manager goes on (twice: the stopped instance leaves
    nothing behind)."""

    component = "hostile_driver.wasm"
    timeout = 1.0

    def test_create_fails_and_the_manager_goes_on(self):
        for _ in range(2):
            share = self.new_share()
            started = time.monotonic()
            with self.assertRaises(exception.ShareBackendException) as caught:
                self.manager.create_share_instance(self.context, share.instance["id"])
            self.assertLess(time.monotonic() - started, self.timeout + 10, "the driver was stopped")
            self.assertIn(self.message, str(caught.exception))
            self.assertEqual(self.status(share), constants.STATUS_ERROR)
            self.assertEqual(self.exports(share), [])
            # The next operation works: the errored share is deleted.
            self.delete_share(share)
        stats = self.manager.driver.get_share_stats(refresh=True)
        self.assertEqual(stats["driver_handles_share_servers"], False)
        self.assertEqual(privdata.Store(self.url).hosts(), [])


class HostileLoopTest(Hostile, WasmBackendTestCase):
    options = {"mode": "loop"}
    message = "timed out"


class HostilePanicTest(Hostile, WasmBackendTestCase):
    options = {"mode": "panic"}
    message = "hostile driver panics on purpose"


class HostileAllocTest(Hostile, WasmBackendTestCase):
    options = {"mode": "alloc"}
    max_memory_mib = 16
    message = "memory allocation"


class FakeArray:
    """python/tests/fake_array.py, in a process of its own."""

    def __init__(self):
        script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fake_array.py")
        self.process = subprocess.Popen([sys.executable, script], stdout=subprocess.PIPE, text=True)
        self.url = "http://127.0.0.1:%d" % int(self.process.stdout.readline())

    def state(self):
        with urllib.request.urlopen(self.url + "/state") as answer:
            return json.load(answer)

    @property
    def volumes(self):
        return self.state()["volumes"]

    @property
    def requests(self):
        return self.state()["requests"]

    def close(self):
        self.process.kill()
        self.process.wait()
        self.process.stdout.close()


class RestDriver:
    """A REST driver manages an array over HTTP, which it reaches only
    because the backend lists it in privdata_allowed_outbound."""

    def setUp(self):
        self.array = FakeArray()
        self.addCleanup(self.array.close)
        self.options = {"api_url": self.array.url, "api_token": "token"}
        self.allowed_outbound = [self.array.url]
        super().setUp()

    def test_shares_live_on_the_array_and_their_ids_in_private_data(self):
        share = self.new_share(size=2)
        instance = share.instance["id"]
        self.manager.create_share_instance(self.context, instance)
        self.assertEqual(self.status(share), constants.STATUS_AVAILABLE)
        self.assertEqual(list(self.array.volumes), ["vol-1"])
        self.assertEqual(self.array.volumes["vol-1"]["name"], "share-" + instance)
        self.assertEqual(self.array.volumes["vol-1"]["size_gib"], 2)
        self.assertEqual(self.exports(share), ["127.0.0.1:/exports/vol-1"])
        self.assertEqual(self.private(instance), {"volume_id": "vol-1"})
        stats = self.manager.driver.get_share_stats(refresh=True)
        self.assertEqual((stats["total_capacity_gb"], stats["free_capacity_gb"]), (100, 98))
        self.manager.delete_share_instance(self.context, instance)
        self.assertEqual(self.array.volumes, {})
        self.assertEqual(self.private(instance), {})

    def test_an_array_the_backend_does_not_list_is_refused(self):
        # The backend made again, as do_setup makes it, with another list.
        self.override_config("privdata_allowed_outbound", ["http://127.0.0.1:9"], group=BACKEND)
        self.manager.driver.do_setup(self.context)
        before = self.array.requests
        share = self.new_share()
        with self.assertRaises(exception.ShareBackendException) as caught:
            self.manager.create_share_instance(self.context, share.instance["id"])
        self.assertIn("is not an endpoint this backend may reach", str(caught.exception))
        self.assertIn('allowed_outbound = ["http://127.0.0.1:9"]', str(caught.exception))
        self.assertEqual(self.status(share), constants.STATUS_ERROR)
        self.assertEqual(self.array.requests, before, "nothing reached the array")

    def test_metrics_are_written_for_node_exporters_textfile_collector(self):
        metrics_dir = self.useFixture(fixtures.TempDir()).path
        self.override_config("privdata_metrics_dir", metrics_dir, group=BACKEND)
        self.manager.driver.do_setup(self.context)  # a new backend, its counts from zero
        before = self.array.requests
        share = self.new_share()
        self.manager.create_share_instance(self.context, share.instance["id"])
        self.manager.driver.get_share_stats(refresh=True)
        self.manager.delete_share_instance(self.context, share.instance["id"])
        self.assertEqual(os.listdir(metrics_dir), ["privdata_%s.prom" % BACKEND], "written whole, nothing left")
        with open(os.path.join(metrics_dir, "privdata_%s.prom" % BACKEND)) as f:
            samples = {}
            for line in f:
                if not line.startswith("#"):
                    key, _, value = line.rpartition(" ")
                    samples[key] = float(value)
        for operation in ("create-share", "get-stats", "delete-share"):
            key = 'privdata_operations_total{backend="%s",operation="%s",outcome="ok"}' % (BACKEND, operation)
            self.assertEqual(samples.get(key), 1.0, key)
        requests = 'privdata_network_requests_total{backend="%s",endpoint="%s"}' % (BACKEND, self.array.url)
        self.assertEqual(samples.get(requests), self.array.requests - before, "every request the array had")
        host = 'backend="%s",host="%s"' % (BACKEND, self.host)
        self.assertEqual(samples.get("privdata_usage_entries{%s}" % host), 0.0, "the share's data went with it")
        self.assertEqual(samples.get("privdata_instances_built_total{backend=\"%s\"}" % BACKEND), 1.0)


class RestDriverTest(RestDriver, WasmBackendTestCase):
    component = "rest_driver.wasm"


class PythonRestDriverTest(RestDriver, WasmBackendTestCase):
    """The REST driver written in Python (manila_driver.http)."""

    component = "python_rest_driver.wasm"


def main():
    suite = unittest.defaultTestLoader.loadTestsFromModule(sys.modules[__name__])
    result = unittest.TextTestRunner(verbosity=2).run(suite)
    for component, operations in sorted(UNSUPPORTED.items()):
        print("%s answered unsupported: %s" % (component, ", ".join(sorted(operations)) or "nothing"))
    if result.testsRun != EXPECTED:
        print("expected %d tests, ran %d" % (EXPECTED, result.testsRun))
        return 1
    return 0 if result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
