"""Manila's own private-data tests, unchanged, against privdata.

Manila's DB API private-data calls (`driver_private_data_get`, `_update`,
`_delete`, in manila.db.api and manila.db.sqlalchemy.api) are routed to a
`privdata.manila.StorageDriver` on a fresh SQLite store, then Manila's tests
run with unittest (pytest cannot run Manila's TestCase):

- manila/tests/share/test_drivers_private_data.py (16 after ddt)
- DriverPrivateDataDatabaseAPITestCase in manila/tests/db/sqlalchemy/test_api.py (12)

Run: python python/tests/manila_suite.py. Exit code 0 when all pass, and
only if the routed calls really reached privdata.
"""

import os
import sys
import tempfile
import unittest

import manila.db.api
import manila.db.sqlalchemy.api

import privdata
import privdata.manila

MODULES = [
    "manila.tests.share.test_drivers_private_data",
    "manila.tests.db.sqlalchemy.test_api.DriverPrivateDataDatabaseAPITestCase",
]
EXPECTED = 28


def main():
    with tempfile.TemporaryDirectory() as scratch:
        os.environ["PRIVDATA_STORAGE_URL"] = "sqlite://" + os.path.join(scratch, "privdata.db")
        storage = privdata.manila.StorageDriver(context=None, backend_host="manila-tests@privdata")
        calls = {"get": 0, "update": 0, "delete": 0}

        def get(context, entity_id, key=None, default=None):
            calls["get"] += 1
            return storage.get(entity_id, key, default)

        def update(context, entity_id, details, delete_existing=False):
            calls["update"] += 1
            return storage.update(entity_id, details, delete_existing)

        def delete(context, entity_id, key=None):
            calls["delete"] += 1
            return storage.delete(entity_id, key)

        for module in (manila.db.api, manila.db.sqlalchemy.api):
            module.driver_private_data_get = get
            module.driver_private_data_update = update
            module.driver_private_data_delete = delete

        suite = unittest.defaultTestLoader.loadTestsFromNames(MODULES)
        result = unittest.TextTestRunner(verbosity=1).run(suite)
        print(f"privdata received {calls['get']} gets, {calls['update']} updates, {calls['delete']} deletes")
        if result.testsRun != EXPECTED:
            print(f"expected {EXPECTED} tests of Manila's, ran {result.testsRun}")
            return 1
        if min(calls.values()) == 0:
            print("some calls never reached privdata: the routing is broken")
            return 1
        return 0 if result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
