"""Two of Manila's in-tree share drivers, unchanged, under Manila's own
ShareManager, each against a fake array of its kind:

- QNAP (manila.share.drivers.qnap.qnap.QnapShareDriver), against
  fake_qnap.FakeQnap (an ES1640dc, QES 2.1.0, over HTTP);
- Dell PowerScale (manila.share.drivers.dell_emc.driver.EMCShareDriver with
  ``emc_share_backend = powerscale``), against
  fake_powerscale.FakePowerScale (OneFS over HTTPS, whose certificate the
  driver verifies with ``emc_ssl_cert_path``).

Each driver runs in two deployments, configured as an operator would:

- unsandboxed: ``share_driver`` is the in-tree class, with its options in
  the backend's section, as manila.conf has them today;
- sandboxed: ``share_driver = privdata.manila.WasmShareDriver``, with
  ``privdata_driver`` the driver built as a component, ``privdata_root`` a
  temporary directory, ``privdata_allowed_outbound`` the fake array's URL
  (and ``privdata_ca_file`` its CA), and the driver's options left in the
  section unchanged. It runs when $PRIVDATA_QNAP_DRIVER or
  $PRIVDATA_POWERSCALE_DRIVER names the component; it is skipped
  otherwise.

In both, ``drivers_private_storage_class = privdata.manila.StorageDriver``:
the driver's private data lives in a privdata store under the backend's
host.

lifecycle() drives one deployment through a share's whole life as Manila's
API and RPC server would (Manila's test base: an in-memory database, fake
RPC; shares, snapshots and rules made with manila.tests.db_utils, then the
manager's methods called): start, create a share, allow two rules and deny
one, snapshot, a share from the snapshot, stats, extend, shrink, revert
(and the periodic status update that finishes an asynchronous revert),
manage and unmanage a share that was on the array before, unmanage and
manage the snapshot again, restart (a new manager: setup, backend info,
ensure), ensure forced, and delete everything. After each step the trace
records what Manila's database holds (each share's status, size, export
locations and access rules, each snapshot's status, size and provider
location), the array's state(), the driver's private data as the privdata
store holds it, the exception the manager raised if any, and (at start,
restart and the stats step) the capabilities the manager reports. Random
ids are replaced by labels ({share-1}, {share-1:instance}, {rule-1}, ...)
and the QNAP driver's clock-made names by the array's tokens, so two runs
give the same trace. The requests the array received in each step are
kept beside the trace, not in it (a sandbox may log in more often). At the
end nothing the test made is left on the array and no private data is
left.

A step where the real manager fails records the exception and what Manila
records (e.g. QNAP's share from a snapshot ends in "error", see RAISED and
STATUSES);
the unsandboxed test checks those outcomes. The sandboxed test runs both
deployments and asserts their traces are equal.

Run: python python/tests/in_tree_suite.py (needs manila==23.0.1 and the
privdata package). $PRIVDATA_TRACE_DIR: write each trace there as JSON
(<driver>-<deployment>.json, and its requests in
<driver>-<deployment>-requests.json).
"""

import base64
import json
import logging
import os
import re
import subprocess
import sys
import time
import traceback
import unittest
from unittest import mock

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
from manila.share.drivers.dell_emc import driver as emc_driver
from manila.share.drivers.dell_emc.plugins.powerscale import powerscale as powerscale_plugin
from manila.share.drivers.qnap import qnap as qnap_driver
from manila.tests import db_utils
from oslo_config import cfg
from oslo_utils import importutils

import privdata
import privdata.manila

from fake_powerscale import FakePowerScale
from fake_qnap import FakeQnap

CONF = cfg.CONF
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
UNSANDBOXED = "unsandboxed"
SANDBOXED = "sandboxed"
# A component runs the in-tree driver with Manila's modules in it: more
# than the limits' defaults.
SANDBOX_LIMITS = {"privdata_timeout": 120.0, "privdata_max_memory_mib": 1024}
EXPECTED_TESTS = 14

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)


class Qnap:
    """The QNAP driver and its array."""

    name = "qnap"
    environment = "PRIVDATA_QNAP_DRIVER"
    share_driver = "manila.share.drivers.qnap.qnap.QnapShareDriver"
    opts = (qnap_driver.qnap_manila_opts,)
    backend_name = "QNAP"
    pool = "1"
    share_ip = "192.0.2.10"  # where clients mount the shares
    extra_specs = {
        "thin_provisioning": "True", "compression": "True", "dedupe": "False", "qnap_ssd_cache": "False",
    }
    # What the test makes on the array: nothing of it may be left.
    resources = ("volumes", "snapshots", "hosts")

    password = "qnap-secret"

    def array(self):
        return FakeQnap(username="manila", password=self.password)

    def options(self, array):
        return {
            "qnap_management_url": array.url,
            "qnap_share_ip": self.share_ip,
            "qnap_nas_login": "manila",
            "qnap_nas_password": self.password,
            "qnap_poolname": self.pool,
        }

    # What `privdata check-driver` finds (Manila 23's QNAP driver answers a
    # share from a snapshot with no status, and the clone's private data
    # stays behind).
    check_driver_fails = ["create-share-from-snapshot", "no orphans"]

    def existing_share(self, array):
        """A share on the array before the test: its export path."""
        return "%s:%s" % (self.share_ip, array.add_volume("projects", 5))

    def write(self, array, export_path, text):
        """The fake QNAP keeps no files."""

    def stable(self, array, text):
        return array.stable(text)


class PowerScale:
    """The Dell EMC driver's PowerScale plugin and its cluster."""

    name = "powerscale"
    environment = "PRIVDATA_POWERSCALE_DRIVER"
    share_driver = "manila.share.drivers.dell_emc.driver.EMCShareDriver"
    opts = (emc_driver.EMC_NAS_OPTS, powerscale_plugin.POWERSCALE_OPTS)
    backend_name = "PowerScale"
    pool = "PowerScale"  # the plugin's one pool is named after the backend
    extra_specs = {"dedupe": "True"}
    resources = ("directories", "files", "nfs_exports", "nfs_aliases", "smb_shares", "quotas", "snapshots")

    password = "onefs-secret"

    def array(self):
        return FakePowerScale(username="manila", password=self.password)

    def options(self, array):
        return {
            "emc_share_backend": "powerscale",
            "emc_nas_server": "127.0.0.1",
            "emc_nas_server_port": array.port,
            "emc_nas_login": "manila",
            "emc_nas_password": self.password,
            "emc_nas_root_dir": "/ifs/manila",
            "emc_ssl_cert_verify": True,
            "emc_ssl_cert_path": array.ca_file,
        }

    check_driver_fails = []

    def existing_share(self, array):
        path = array.add_share("/ifs/manila/projects", 5, files={"data": "projects"}, dedupe=True)
        return "127.0.0.1:" + path

    def write(self, array, export_path, text):
        """What a client writes to the share: its file "data"."""
        array.write_file(export_path.split(":", 1)[1] + "/data", text)

    def stable(self, array, text):
        return text


# What Manila records where a driver does not do what the lifecycle asks
# (the sandboxed deployment must record the same). RAISED: step -> the
# exception the manager raised (every other step raises nothing).
# STATUSES: (step, share) -> the share's status after the step.
RAISED = {
    "qnap": {
        # The driver returns one export location (a dict without
        # "status"); the manager wants a list, or a dict with "status".
        "create share-2 from snapshot-1": "InvalidShareInstance",
        "shrink share-1 to 3": "ShareShrinkingError",  # no shrink_share
        "revert share-1 to snapshot-1": "NotImplementedError",  # no revert_to_snapshot
    },
    "powerscale": {},
}
STATUSES = {
    "qnap": {
        # The clone exists on the array, with private data; Manila has no
        # export location for it.
        ("create share-2 from snapshot-1", "{share-2}"): "error",
        ("shrink share-1 to 3", "{share-1}"): "available",
        ("revert share-1 to snapshot-1", "{share-1}"): "reverting_error",
    },
    "powerscale": {
        ("create share-2 from snapshot-1", "{share-2}"): "available",
        # An asynchronous revert (a SnapRevert job), finished by the
        # periodic status update.
        ("revert share-1 to snapshot-1", "{share-1}"): "reverting_to_snapshot",
        ("periodic share status update", "{share-1}"): "available",
    },
}


class SetupFailed(Exception):
    pass


class Lifecycle:
    """One deployment of a driver through the lifecycle: run() returns its
    trace."""

    def __init__(self, case, driver, deployment):
        self.case = case
        self.driver = driver
        self.deployment = deployment
        self.context = case.context
        self.backend = "%s_%s" % (driver.name, deployment)
        self.host = "%s@%s" % (CONF.host, self.backend)
        self.labels = {}
        self.counts = {}
        self.shares = {}  # label -> share id
        self.snapshots = {}  # label -> snapshot id
        self.trace = []
        self.requests = []  # each step's requests to the array (not in the trace)
        self.tracebacks = {}  # step -> the traceback of what the manager raised
        self.seconds = {}  # step -> its wall time (for python/bench/in_tree_bench.py)
        self.seen = 0
        self.manager = None

    # Setup.

    def configure(self):
        """The backend's section of manila.conf."""
        options = {
            "driver_handles_share_servers": False,
            "share_backend_name": self.driver.backend_name,
            "drivers_private_storage_class": "privdata.manila.StorageDriver",
            "privdata_storage_url": self.case.storage_url,
            **self.driver.options(self.array),
        }
        if self.deployment == UNSANDBOXED:
            options["share_driver"] = self.driver.share_driver
        else:
            component = os.environ[self.driver.environment]
            root = os.path.join(self.case.scratch, "root-" + self.backend)
            os.mkdir(root)
            options.update(
                share_driver="privdata.manila.WasmShareDriver",
                privdata_driver=component,
                privdata_root=root,
                privdata_allowed_outbound=[self.array.url],
                privdata_ca_file=self.array.ca_file,
                **SANDBOX_LIMITS,
            )
        register_options(self.backend, self.driver)
        for name, value in options.items():
            self.case.override_config(name, value, group=self.backend)
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

    def start_manager(self):
        """The backend's share manager as manila-share starts it. The
        manager sets up a driver that fails again and again, for ever:
        here its first wait ends the step (the log says why it failed)."""
        self.manager = importutils.import_object(
            CONF.share_manager, host=self.host, service_name=self.backend
        )

        def wait(seconds):
            raise SetupFailed("the driver's setup failed: the manager would try again in %s s" % seconds)

        with mock.patch("tenacity.nap.sleep", wait):
            self.manager.init_host()

    # Labels.

    def label(self, kind, uuid):
        self.counts[kind] = self.counts.get(kind, 0) + 1
        name = "%s-%d" % (kind, self.counts[kind])
        self.labels[uuid.lower()] = name
        return name

    def stable(self, value):
        """`value` with every random id replaced by its label."""
        if isinstance(value, dict):
            return {self.stable(k): self.stable(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.stable(v) for v in value]
        if isinstance(value, str):

            def label(match):
                uuid = match.group().lower()
                if uuid not in self.labels:
                    self.label("uuid", uuid)
                return "{%s}" % self.labels[uuid]

            return self.driver.stable(self.array, UUID.sub(label, value))
        return value

    # What Manila, the array and the store hold.

    def share_view(self, share_id):
        try:
            share = db.share_get(self.context, share_id)
        except exception.NotFound:
            return None
        instance = share.instance
        exports = db.export_location_get_all_by_share_instance_id(self.context, instance["id"])
        rules = db.share_access_get_all_for_instance(self.context, instance["id"])
        return {
            "status": share["status"],
            "size": share["size"],
            "export_locations": sorted(
                (
                    {
                        "path": el["path"],
                        "is_admin_only": el["is_admin_only"],
                        "metadata": dict(el["el_metadata"]),
                    }
                    for el in exports
                ),
                key=lambda el: el["path"],
            ),
            "access_rules_status": instance["access_rules_status"],
            "access_rules": {
                rule["access_id"]: {
                    "access_to": rule["access_to"],
                    "access_level": rule["access_level"],
                    "state": rule["state"],
                }
                for rule in rules
            },
        }

    def snapshot_view(self, snapshot_id):
        try:
            snapshot = db.share_snapshot_get(self.context, snapshot_id)
        except exception.NotFound:
            return None
        return {
            "status": snapshot["status"],
            "size": snapshot["size"],
            "provider_location": snapshot.instance["provider_location"],
        }

    def private_data(self):
        """Every entity's private data of the backend's host."""
        data = privdata.Store(self.case.storage_url).bind(self.host)
        entities, cursor = [], None
        while True:
            page, cursor = data.entities(cursor)
            entities += page
            if cursor is None:
                break
        return {entity: dict(data.get(entity)) for entity in entities}

    def record(self, step, raised=None, stats=False):
        requests = self.array.requests
        entry = {
            "step": step,
            "raised": raised,
            "shares": {"{%s}" % label: self.share_view(sid) for label, sid in self.shares.items()},
            "snapshots": {"{%s}" % label: self.snapshot_view(sid) for label, sid in self.snapshots.items()},
            "private_data": self.private_data(),
            "array": self.array.state(),
        }
        self.requests.append(self.stable({"step": step, "requests": requests[self.seen:]}))
        self.seen = len(requests)
        if stats:
            entry["capabilities"] = getattr(self.manager, "last_capabilities", None)
        entry = self.stable(entry)
        # Deleted shares and snapshots are left out; private data by label.
        for kind in ("shares", "snapshots"):
            entry[kind] = {k: v for k, v in entry[kind].items() if v is not None}
        entry["private_data"] = dict(sorted(entry["private_data"].items()))
        self.trace.append(entry)

    def step(self, name, action, *args, stats=False, **kwargs):
        """Call the manager as its RPC server would, and record the outcome."""
        raised = None
        started = time.perf_counter()
        try:
            action(*args, **kwargs)
        except Exception as e:  # what Manila records is the point
            raised = type(e).__name__
            self.tracebacks[name] = traceback.format_exc()
        self.seconds[name] = time.perf_counter() - started
        self.record(name, raised, stats=stats)
        return raised

    # Manila's API: what it does before it asks the share manager.

    def reserve(self, **deltas):
        return quota.QUOTAS.reserve(
            self.context, project_id="fake", user_id="fake", share_type_id=self.case.share_type["id"],
            **deltas,
        )

    def commit(self, reservations):
        quota.QUOTAS.commit(
            self.context, reservations, project_id="fake", user_id="fake",
            share_type_id=self.case.share_type["id"],
        )

    def new_share(self, size, **values):
        """A share of project "fake" on this backend, scheduled to its pool;
        ``size=None`` for one to manage."""
        if size is not None:
            self.commit(self.reserve(shares=1, gigabytes=size))
        share = db_utils.create_share(
            size=size,
            host="%s#%s" % (self.host, self.driver.pool),
            share_type_id=self.case.share_type["id"],
            display_name="in-tree",
            mount_point_name=None,
            **values,
        )
        label = self.label("share", share["id"])
        self.labels[share.instance["id"]] = label + ":instance"
        self.shares[label] = share["id"]
        return share

    def new_snapshot(self, share, managed=False, **values):
        if not managed:
            self.commit(self.reserve(snapshots=1, snapshot_gigabytes=share["size"]))
        snapshot = db_utils.create_snapshot(
            share_id=share["id"], size=db.share_get(self.context, share["id"])["size"], **values
        )
        label = self.label("snapshot", snapshot["id"])
        self.labels[snapshot.instance["id"]] = label + ":instance"
        self.snapshots[label] = snapshot["id"]
        return snapshot

    def set_status(self, share, status):
        db.share_update(self.context, share["id"], {"status": status})

    def exports(self, share):
        instance = db.share_get(self.context, share["id"]).instance
        locations = db.export_location_get_all_by_share_instance_id(self.context, instance["id"])
        return [el["path"] for el in locations]

    def allow(self, share, access_to, level):
        rule = db_utils.create_access(
            share_id=share["id"], access_type="ip", access_to=access_to, access_level=level
        )
        self.label("rule", rule["id"])
        instance_id = db.share_get(self.context, share["id"]).instance["id"]
        self.manager.access_helper.get_and_update_share_instance_access_rules_status(
            self.context,
            conditionally_change={constants.STATUS_ACTIVE: constants.SHARE_INSTANCE_RULES_SYNCING},
            share_instance_id=instance_id,
        )
        return rule, instance_id

    def deny(self, share, rule):
        instance_id = db.share_get(self.context, share["id"]).instance["id"]
        self.manager.access_helper.get_and_update_share_instance_access_rules_status(
            self.context,
            conditionally_change={constants.STATUS_ACTIVE: constants.SHARE_INSTANCE_RULES_SYNCING},
            share_instance_id=instance_id,
        )
        self.manager.access_helper.get_and_update_share_instance_access_rule(
            self.context,
            rule["id"],
            updates={"state": constants.ACCESS_STATE_QUEUED_TO_DENY},
            share_instance_id=instance_id,
        )
        return instance_id

    # The lifecycle.

    def prepare(self):
        """The array started, the backend configured; no manager yet."""
        self.array = self.driver.array()
        self.array.start()
        self.case.addCleanup(self.array.stop)
        self.configure()

    def run(self):
        driver, ctx = self.driver, self.context
        self.prepare()
        existing = driver.existing_share(self.array)
        before = self.array.state()

        self.step("start", self.start_manager, stats=True)
        self.case.assertTrue(self.manager.driver.initialized, "the driver's setup failed: see the log")

        share = self.new_share(2)
        self.step("create share-1", self.manager.create_share_instance, ctx, share.instance["id"])
        [export] = self.exports(share)
        driver.write(self.array, export, "first")

        rule1, instance_id = self.allow(share, "10.0.0.7", constants.ACCESS_LEVEL_RW)
        self.step("allow rule-1", self.manager.update_access, ctx, instance_id)
        _, instance_id = self.allow(share, "10.0.0.8", constants.ACCESS_LEVEL_RW)
        self.step("allow rule-2", self.manager.update_access, ctx, instance_id)
        instance_id = self.deny(share, rule1)
        self.step("deny rule-1", self.manager.update_access, ctx, instance_id)

        snapshot = self.new_snapshot(share, provider_location=None)
        self.step("create snapshot-1", self.manager.create_snapshot, ctx, share["id"], snapshot["id"])
        driver.write(self.array, export, "second")

        clone = self.new_share(snapshot["size"], snapshot_id=snapshot["id"])
        self.step(
            "create share-2 from snapshot-1",
            self.manager.create_share_instance,
            ctx,
            clone.instance["id"],
            snapshot_id=snapshot["id"],
        )

        self.step("stats", self.manager._report_driver_status, ctx, stats=True)

        self.set_status(share, constants.STATUS_EXTENDING)
        self.step(
            "extend share-1 to 4", self.manager.extend_share, ctx, share["id"], 4, self.reserve(gigabytes=2)
        )
        self.set_status(share, constants.STATUS_SHRINKING)
        self.step("shrink share-1 to 3", self.manager.shrink_share, ctx, share["id"], 3)
        if db.share_get(ctx, share["id"])["status"] != constants.STATUS_AVAILABLE:
            self.step("reset-state share-1", self.set_status, share, constants.STATUS_AVAILABLE)

        # Revert: Manila's API reserves the change of size and marks the
        # share reverting and the snapshot restoring.
        size_change = snapshot["size"] - db.share_get(ctx, share["id"])["size"]
        reservations = self.reserve(gigabytes=size_change) if size_change else None
        self.set_status(share, constants.STATUS_REVERTING)
        db.share_snapshot_update(ctx, snapshot["id"], {"status": constants.STATUS_RESTORING})
        self.step(
            "revert share-1 to snapshot-1", self.manager.revert_to_snapshot, ctx, snapshot["id"], reservations
        )
        self.step("periodic share status update", self.manager.periodic_share_status_update, ctx)
        if db.share_get(ctx, share["id"])["status"] != constants.STATUS_AVAILABLE:
            self.step("reset-state share-1", self.set_status, share, constants.STATUS_AVAILABLE)

        # A share that was on the array before: manage it, then unmanage it.
        managed = self.new_share(None, status=constants.STATUS_MANAGING)
        db.export_locations_update(ctx, managed.instance["id"], existing)
        self.step("manage share-3", self.manager.manage_share, ctx, managed["id"], {})
        self.set_status(managed, constants.STATUS_UNMANAGING)
        self.step("unmanage share-3", self.manager.unmanage_share, ctx, managed["id"])

        # Unmanage the snapshot, and manage it again by its provider location.
        location = db.share_snapshot_get(ctx, snapshot["id"]).instance["provider_location"]
        db.share_snapshot_update(ctx, snapshot["id"], {"status": constants.STATUS_UNMANAGING})
        self.step("unmanage snapshot-1", self.manager.unmanage_snapshot, ctx, snapshot["id"])
        snapshot = self.new_snapshot(
            share, managed=True, status=constants.STATUS_MANAGING, provider_location=location
        )
        self.step("manage snapshot-2", self.manager.manage_snapshot, ctx, snapshot["id"], {})

        # Restart manila-share; then an ensure the admin asks for.
        self.step("restart", self.start_manager, stats=True)
        self.step(
            "ensure shares", self.manager.ensure_driver_resources, ctx, skip_backend_info_check=True
        )

        db.share_snapshot_update(ctx, snapshot["id"], {"status": constants.STATUS_DELETING})
        self.step("delete snapshot-2", self.manager.delete_snapshot, ctx, snapshot["id"])
        for label, doomed in (("share-2", clone), ("share-1", share)):
            self.set_status(doomed, constants.STATUS_DELETING)
            self.step("delete " + label, self.manager.delete_share_instance, ctx, doomed.instance["id"])

        # Nothing the test made is left on the array, and no private data.
        after = self.array.state()
        for resource in driver.resources:
            self.case.assertEqual(after[resource], before[resource], "%s left on the array" % resource)
        self.case.assertEqual(self.array.unhandled, [], "calls the fake array has no answer for")
        self.case.assertEqual(self.private_data(), {}, "private data left")
        self.case.assertEqual(privdata.Store(self.case.storage_url).hosts(), [], "a host holds private data")
        return self.trace


# Options.

# qnap.py registers its options in [DEFAULT] with required=True, and the
# tests register them in each QNAP backend's section. Manila's test base
# parses the configuration again for each test, which checks them, when a
# test's overrides are gone: they get placeholders first (the backend's
# section gets the real values; the driver never reads [DEFAULT]).
_PLACEHOLDERS = {
    "qnap_management_url": "http://192.0.2.1:8080",
    "qnap_share_ip": "192.0.2.1",
    "qnap_nas_login": "unset",
    "qnap_nas_password": "unset",
    "qnap_poolname": "unset",
}
_REQUIRED = {(None, opt.dest) for opt in qnap_driver.qnap_manila_opts if opt.required}


def register_options(group, driver):
    for opts in (
        share_manager.share_manager_opts,
        share_driver.share_opts,
        drivers_private_data.private_data_opts,
        privdata.manila.privdata_opts,
        privdata.manila.wasm_driver_opts,
        *driver.opts,
    ):
        CONF.register_opts(opts, group=group)
        _REQUIRED.update((group, opt.dest) for opt in opts if opt.required)


def _required_options_set():
    for group, name in sorted(_REQUIRED, key=lambda pair: (pair[0] or "", pair[1])):
        CONF.set_override(name, _PLACEHOLDERS[name], group=group)


class InTreeDriverTest:
    """The tests of one driver (mixed into a TestCase with its `driver`)."""

    driver = None

    def setUp(self):
        _required_options_set()
        super().setUp()
        self.scratch = self.useFixture(fixtures.TempDir()).path
        self.runs = {}  # deployment -> its Lifecycle
        self.storage_url = "sqlite://" + os.path.join(self.scratch, "privdata.db")
        self.context = context.RequestContext(user_id="fake", project_id="fake", is_admin=True)
        self.share_type = db_utils.create_share_type(
            name="in-tree",
            extra_specs={
                "driver_handles_share_servers": "False",
                "snapshot_support": "True",
                "create_share_from_snapshot_support": "True",
                "revert_to_snapshot_support": "True",
                **self.driver.extra_specs,
            },
        )

    def lifecycle(self, deployment):
        """The trace of `deployment`."""
        run = Lifecycle(self, self.driver, deployment)
        self.runs[deployment] = run
        trace = run.run()
        directory = os.environ.get("PRIVDATA_TRACE_DIR")
        if directory:
            name = os.path.join(directory, "%s-%s" % (self.driver.name, deployment))
            for path, data in ((name + ".json", trace), (name + "-requests.json", run.requests)):
                with open(path, "w") as f:
                    json.dump(data, f, indent=1, sort_keys=True)
        return trace

    def test_unsandboxed(self):
        trace = self.lifecycle(UNSANDBOXED)
        raised = {entry["step"]: entry["raised"] for entry in trace if entry["raised"]}
        self.assertEqual(raised, RAISED[self.driver.name])
        statuses = {(entry["step"], label): entry["shares"][label]["status"]
                    for entry in trace for label in entry["shares"]}
        for (step, label), status in STATUSES[self.driver.name].items():
            self.assertEqual(statuses[step, label], status, "%s after %s" % (label, step))
        self.check(trace)

    def test_sandboxed(self):
        component = os.environ.get(self.driver.environment)
        if not component:
            self.skipTest("set $%s to the %s driver's component (.wasm) to run it sandboxed"
                          % (self.driver.environment, self.driver.name))
        self.assertTrue(os.path.isfile(component), "$%s: no file %s" % (self.driver.environment, component))
        expected = self.lifecycle(UNSANDBOXED)
        actual = self.lifecycle(SANDBOXED)
        self.maxDiff = None
        self.assertEqual([e["step"] for e in actual], [e["step"] for e in expected])
        for got, want in zip(actual, expected):
            step = want["step"]
            raised = "".join(
                "\n%s raised:\n%s" % (deployment, run.tracebacks[step])
                for deployment, run in self.runs.items()
                if step in run.tracebacks
            )
            self.assertEqual(got, want, "step %r differs%s" % (step, raised))

    # What the sandbox holds, whatever the driver does.

    def sandboxed(self, **overrides):
        """A sandboxed deployment, configured, its array started, with
        `overrides` in its section; and everything logged, at every level,
        from here on."""
        component = os.environ.get(self.driver.environment)
        if not component:
            self.skipTest("set $%s to the %s driver's component (.wasm)" % (self.driver.environment, self.driver.name))
        self.log = self.useFixture(
            fixtures.FakeLogger(level=logging.DEBUG, format="%(name)s %(levelname)s %(message)s")
        )
        run = Lifecycle(self, self.driver, SANDBOXED)
        run.prepare()
        for name, value in overrides.items():
            self.override_config(name, value, group=run.backend)
        return run

    def test_sandbox_refuses_an_endpoint_it_does_not_list(self):
        # The driver's options still name the array; the operator's list
        # names another port.
        elsewhere = "%s://127.0.0.1:9" % ("https" if self.driver.name == "powerscale" else "http")
        run = self.sandboxed(privdata_allowed_outbound=[elsewhere])
        self.assertRaises(SetupFailed, run.start_manager)
        self.assertFalse(run.manager.driver.initialized)
        self.assertEqual(run.array.requests, [], "the array was reached")
        self.assertIn("is not an endpoint this backend may reach", self.log.output)
        self.assertIn(run.array.url.split("://")[1], self.log.output, "the log names the refused endpoint")

    def test_the_password_never_reaches_the_log(self):
        run = self.sandboxed()
        run.step("start", run.start_manager)
        self.assertTrue(run.manager.driver.initialized)
        share = run.new_share(1)
        self.assertIsNone(run.step("create", run.manager.create_share_instance, self.context, share.instance["id"]))
        run.set_status(share, constants.STATUS_DELETING)
        run.step("delete", run.manager.delete_share_instance, self.context, share.instance["id"])
        self.assertGreater(len(run.array.requests), 3)
        # Something was logged (the driver's own debug lines included), but
        # not the password, nor the base64 the QNAP API sends it in.
        self.assertIn("privdata", self.log.output)
        encoded = base64.b64encode(self.driver.password.encode()).decode()
        for secret in (self.driver.password, encoded):
            self.assertNotIn(secret, self.log.output)

    def test_the_driver_logs_at_the_services_level(self):
        # The service logs everything: the component is told so at setup,
        # and the driver's own debug lines reach the service's log, as they
        # do in-tree. (At a higher level it formats none of them.)
        run = self.sandboxed()
        run.step("start", run.start_manager)
        self.assertTrue(run.manager.driver.initialized)
        self.assertRegex(self.log.output, r"privdata\.driver DEBUG manila\.share\.drivers\.")

    def test_a_hanging_array_costs_one_call(self):
        run = self.sandboxed(privdata_timeout=20.0)
        run.step("start", run.start_manager)
        self.assertTrue(run.manager.driver.initialized)
        first, second = run.new_share(1), run.new_share(1)
        run.array.hang()  # the next request gets no answer, until released
        raised = run.step("create", run.manager.create_share_instance, self.context, first.instance["id"])
        run.array.release()
        self.assertEqual(db.share_get(self.context, first["id"])["status"], constants.STATUS_ERROR, raised)
        self.assertRegex(self.log.output, r"time limit of 20s|longer than its limit of 20s", "the log names the limit")
        # The backend goes on: a new instance serves the next call.
        self.assertIsNone(run.step("create", run.manager.create_share_instance, self.context, second.instance["id"]))
        self.assertEqual(db.share_get(self.context, second["id"])["status"], constants.STATUS_AVAILABLE)
        self.assertEqual(len(run.exports(second)), 1)

    def test_check_driver_reports_what_the_driver_does(self):
        """`privdata check-driver` on the component, given the driver's
        manila.conf options, against the array."""
        cli = os.environ.get("PRIVDATA_CLI") or os.path.join(REPO, "target", "debug", "privdata")
        if not os.path.isfile(cli):
            self.skipTest("build the privdata command first (cargo build): no %s" % cli)
        run = self.sandboxed()
        args = [cli, "check-driver", os.environ[self.driver.environment], "--json",
                "--limit", "max_memory_mib=1024", "--limit", "timeout_secs=60",
                "--allow-outbound", run.array.url]
        if run.array.ca_file:
            args += ["--ca-file", run.array.ca_file]
        conf = {"driver_handles_share_servers": False, **self.driver.options(run.array)}
        for key, value in conf.items():
            args += ["--manila-option", "%s=%s" % (key, value)]
        done = subprocess.run(args, capture_output=True, text=True, timeout=600)
        report = json.loads(done.stdout)
        failed = [step["name"] for step in report["steps"] if step["outcome"] == "fail"]
        self.assertEqual(failed, self.driver.check_driver_fails, done.stdout)
        self.assertEqual(done.returncode != 0, bool(failed), done.stderr)
        done_steps = {step["name"] for step in report["steps"] if step["outcome"] == "ok"}
        for step in ("create-share", "extend-share", "create-snapshot", "manage-existing", "delete-share"):
            self.assertIn(step, done_steps, done.stdout)

    def check(self, trace):
        """What the lifecycle must show, besides what RAISED and STATUSES
        say."""
        steps = {entry["step"]: entry for entry in trace}
        created = steps["create share-1"]["shares"]["{share-1}"]
        self.assertEqual((created["status"], created["size"]), ("available", 2))
        self.assertEqual(len(created["export_locations"]), 1)
        rules = steps["deny rule-1"]["shares"]["{share-1}"]["access_rules"]
        self.assertEqual(list(rules), ["{rule-2}"])
        self.assertEqual(rules["{rule-2}"]["state"], constants.ACCESS_STATE_ACTIVE)
        self.assertEqual(steps["create snapshot-1"]["snapshots"]["{snapshot-1}"]["status"], "available")
        self.assertEqual(steps["extend share-1 to 4"]["shares"]["{share-1}"]["size"], 4)
        self.assertEqual(steps["manage share-3"]["shares"]["{share-3}"]["status"], "available")
        self.assertEqual(steps["manage share-3"]["shares"]["{share-3}"]["size"], 5)
        self.assertEqual(steps["manage snapshot-2"]["snapshots"]["{snapshot-2}"]["status"], "available")
        self.assertTrue(steps["restart"]["capabilities"])
        # From the restart on, every share is available (but one that
        # failed on creation).
        failed = {label for (_, label), status in STATUSES[self.driver.name].items() if status == "error"}
        for entry in trace[trace.index(steps["restart"]):]:
            for label, share in entry["shares"].items():
                if label not in failed:
                    self.assertEqual(share["status"], "available", "%s after %s" % (label, entry["step"]))
        last = trace[-1]
        self.assertEqual((last["shares"], last["snapshots"], last["private_data"]), ({}, {}, {}))


class QnapTest(InTreeDriverTest, test.TestCase):
    driver = Qnap()


class PowerScaleTest(InTreeDriverTest, test.TestCase):
    driver = PowerScale()


def main():
    suite = unittest.defaultTestLoader.loadTestsFromModule(sys.modules[__name__])
    result = unittest.TextTestRunner(verbosity=2).run(suite)
    if result.testsRun != EXPECTED_TESTS:
        print("expected %d tests, ran %d" % (EXPECTED_TESTS, result.testsRun))
        return 1
    return 0 if result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
