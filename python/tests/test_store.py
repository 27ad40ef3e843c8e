"""privdata.Store and HostData: the contract from Python, on a real SQLite
file (and on the test servers when PRIVDATA_TEST_MYSQL /
PRIVDATA_TEST_POSTGRES are set)."""

import os
import tempfile
import threading
import time
import unittest

import privdata

ID = "3f2a6c1e-8d4b-4e0a-9c71-5b2f0e9d4a17"


class StoreTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.url = "sqlite://" + os.path.join(self.dir.name, "privdata.db")
        self.store = privdata.Store(self.url)

    def tearDown(self):
        self.dir.cleanup()

    def test_get_update_delete_round_trip(self):
        data = self.store.bind("node1@alpha")
        self.assertEqual(data.get(ID), [])
        data.update(ID, [("volume_id", "vol-1"), ("size", "10")])
        self.assertEqual(data.get(ID), [("size", "10"), ("volume_id", "vol-1")])
        self.assertEqual(data.get(ID, ["volume_id", "missing"]), [("volume_id", "vol-1")])
        data.update(ID, [("size", "20")], delete_existing=True)
        self.assertEqual(data.get(ID), [("size", "20")])
        data.delete(ID, ["size"])
        self.assertEqual(data.get(ID), [])
        self.assertEqual(self.store.hosts(), [])

    def test_hosts_are_isolated_and_every_spelling_is_one_entity(self):
        alpha = self.store.bind("node1@alpha")
        beta = self.store.bind("node1@beta")
        alpha.update(ID, [("k", "alpha's")])
        self.assertEqual(beta.get(ID), [], "beta sees nothing of alpha's")
        for spelling in [ID.upper(), ID.replace("-", ""), "{" + ID + "}", "urn:uuid:" + ID]:
            self.assertEqual(alpha.get(spelling), [("k", "alpha's")], spelling)
        self.assertEqual(self.store.hosts(), [("node1@alpha", 1, 1)])
        self.assertEqual(alpha.entities(), ([ID], None))

    def test_bad_input_is_a_value_error_that_says_what_is_wrong(self):
        data = self.store.bind("node1@alpha", max_value_bytes=8)
        cases = [
            (privdata.InvalidEntityId, lambda: data.get("share-1"), "not a UUID"),
            (privdata.InvalidKey, lambda: data.update(ID, [("", "v")]), "key is empty"),
            (privdata.InvalidKey, lambda: data.get(ID, ["k", "k"]), "given twice"),
            (privdata.ValueTooLong, lambda: data.update(ID, [("k", "x" * 9)]), "at most 8 bytes"),
            (privdata.InvalidHost, lambda: self.store.bind(""), "is empty"),
        ]
        for kind, call, words in cases:
            with self.assertRaises(kind) as caught:
                call()
            self.assertIsInstance(caught.exception, ValueError)
            self.assertIn(words, str(caught.exception))
        self.assertEqual(self.store.hosts(), [], "nothing was written")

    def test_a_quota_is_an_error_not_a_value_error(self):
        data = self.store.bind("node1@alpha", max_entries=2)
        data.update(ID, [("a", "1"), ("b", "2")])
        with self.assertRaises(privdata.QuotaExceeded) as caught:
            data.update(ID, [("c", "3")])
        self.assertIsInstance(caught.exception, privdata.Error)
        self.assertNotIsInstance(caught.exception, ValueError)
        self.assertIn("quota is 2", str(caught.exception))
        self.assertEqual(len(data.get(ID)), 2)

    def test_urls_that_cannot_keep_data_and_unknown_options_are_refused(self):
        for url in ["", ":memory:", "sqlite://"]:
            with self.assertRaises(privdata.StorageError) as caught:
                privdata.Store(url)
            self.assertIn("outlive the process", str(caught.exception))
        with self.assertRaises(ValueError):
            privdata.Store(self.url, durability="fast")
        with self.assertRaises(privdata.StorageError) as caught:
            privdata.Store("redis://x")
        self.assertIn("not supported", str(caught.exception))
        self.assertIn("privdata.db", repr(self.store))

    def test_the_gil_is_released_while_the_store_works(self):
        # A Python thread wakes every millisecond while one long call
        # (60,000 keys in one transaction: about 0.1 s in a release build)
        # runs: it only gets to run during the call if the call let go of
        # the GIL.
        data = self.store.bind("node1@alpha")
        details = [("k%05d" % i, "v") for i in range(60000)]
        counted = [0]
        stop = threading.Event()

        def count():
            while not stop.is_set():
                counted[0] += 1
                time.sleep(0.001)

        counter = threading.Thread(target=count)
        counter.start()
        time.sleep(0.05)
        before = counted[0]
        start = time.monotonic()
        data.update(ID, details)
        took = time.monotonic() - start
        during = counted[0] - before
        stop.set()
        counter.join()
        self.assertEqual(len(data.get(ID)), 60000)
        self.assertGreater(took, 0.05, "the call was too short to tell")
        self.assertGreater(during, 20, f"the other thread ran {during} times in {took:.3f} s")

class ServerStoreTest(unittest.TestCase):
    """The same contract on the database servers `.ci/servers` starts."""

    def test_each_server_keeps_hosts_apart(self):
        urls = [os.environ.get(v) for v in ("PRIVDATA_TEST_MYSQL", "PRIVDATA_TEST_POSTGRES")]
        urls = [u for u in urls if u]
        if not urls:
            self.skipTest("no server: run .ci/servers start")
        for url in urls:
            store = privdata.Store(url)
            host = "python-test-%d@alpha" % os.getpid()
            data = store.bind(host)
            data.update(ID, [("volume_id", "vol-1")])
            self.assertEqual(store.bind(host + "x").get(ID), [])
            self.assertEqual(data.get(ID.upper()), [("volume_id", "vol-1")])
            data.delete(ID)
            self.assertEqual(data.get(ID), [])
            self.assertNotIn("privdata-secret-pw", repr(store))


if __name__ == "__main__":
    unittest.main()
