"""privdata.manila.StorageDriver the way Manila uses it: named by
`drivers_private_storage_class` in a backend's section, built by Manila's
own DriverPrivateData, one per backend host."""

import os
import tempfile
import unittest

from manila.share import drivers_private_data as pd
from oslo_config import cfg

import privdata
import privdata.manila

CONF = cfg.CONF
ID = "3f2a6c1e-8d4b-4e0a-9c71-5b2f0e9d4a17"
OTHER = "9b1d3e55-0c2a-4f6e-8a7d-21c4b8e6f903"


def backend(name, url=None, **overrides):
    """Manila's private data of backend `name` (host `node1@name`), as its
    share manager builds it from manila.conf."""
    CONF.register_opts(pd.private_data_opts, group=name)
    CONF.register_opts(privdata.manila.privdata_opts, group=name)
    CONF.set_override("drivers_private_storage_class", "privdata.manila.StorageDriver", group=name)
    CONF.set_override("privdata_storage_url", url, group=name)
    for opt, value in overrides.items():
        CONF.set_override(opt, value, group=name)
    return pd.DriverPrivateData(context="ctx", backend_host="node1@" + name, config_group=name)


class ManilaStorageTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.url = "sqlite://" + os.path.join(self.dir.name, "privdata.db")

    def tearDown(self):
        self.dir.cleanup()

    def test_manila_builds_it_from_its_configuration(self):
        data = backend("alpha", self.url)
        self.assertIsInstance(data._storage, privdata.manila.StorageDriver)
        self.assertEqual(data._storage.backend_host, "node1@alpha")

    def test_manilas_semantics_exactly(self):
        data = backend("alpha", self.url)
        self.assertEqual(data.get(ID), {}, "no data: {} even with a default")
        self.assertEqual(data.get(ID, default="d"), {})
        details = {"volume_id": "vol-1", "size": 10, "tags": ["a"]}
        self.assertIs(data.update(ID, details), details, "update returns details")
        self.assertEqual(data.get(ID), {"volume_id": "vol-1", "size": "10", "tags": "['a']"})
        self.assertEqual(data.get(ID, "size"), "10")
        self.assertEqual(data.get(ID, "missing", default="d"), "d")
        self.assertEqual(data.get(ID, "missing"), None)
        self.assertEqual(data.get(ID, ["size", "missing", "size"]), {"size": "10"})
        self.assertEqual(data.get(ID, []), {})
        data.update(ID, {"size": "20", "new": "x"}, delete_existing=True)
        self.assertEqual(data.get(ID), {"size": "20", "new": "x"})
        data.delete(ID, "new")
        data.delete(ID, ["size", "nothing", "size"])
        self.assertEqual(data.get(ID), {})
        data.update(ID, {"a": "1"})
        data.update(ID, {}, delete_existing=True)
        self.assertEqual(data.get(ID), {}, "delete_existing with nothing new clears")
        data.update(ID, {"a": "1"})
        data.delete(ID)
        self.assertEqual(data.get(ID), {})

    def test_what_manilas_own_storage_lacks(self):
        alpha, beta = backend("alpha", self.url), backend("beta", self.url)
        alpha.update(ID, {"volume_id": "alpha's"})
        self.assertEqual(beta.get(ID), {}, "no backend reads another's data")
        self.assertEqual(alpha.get(ID.upper()), {"volume_id": "alpha's"}, "one entity, any spelling")
        with self.assertRaises(ValueError) as caught:
            alpha.update(ID, {"big": "x" * 1024})
        self.assertIn("at most 1023 bytes", str(caught.exception))
        tight = backend("gamma", self.url, privdata_max_value_bytes=4)
        with self.assertRaises(privdata.ValueTooLong):
            tight.update(ID, {"k": "12345"})
        alpha.delete(ID)
        self.assertEqual(privdata.Store(self.url).hosts(), [], "deleted means gone")

    def test_the_store_url_falls_back_to_the_environment_then_state_path(self):
        os.environ["PRIVDATA_STORAGE_URL"] = self.url
        try:
            backend("delta").update(ID, {"k": "v"})
        finally:
            del os.environ["PRIVDATA_STORAGE_URL"]
        self.assertEqual(privdata.Store(self.url).hosts(), [("node1@delta", 1, 1)])
        CONF.set_override("state_path", self.dir.name)
        try:
            backend("epsilon").update(OTHER, {"k": "v"})
        finally:
            CONF.clear_override("state_path")
        self.assertEqual(privdata.Store(self.url).hosts()[-1], ("node1@epsilon", 1, 1))

    def test_a_forked_child_opens_the_store_again(self):
        data = backend("alpha", self.url)
        data.update(ID, {"parent": "1"})
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: what manila-share's per-backend process does
            os.close(read)
            try:
                data.update(ID, {"child": "1"})
                ok = data.get(ID) == {"parent": "1", "child": "1"}
                os.write(write, b"ok" if ok else b"wrong")
            finally:
                os._exit(0)
        os.close(write)
        said = os.read(read, 16)
        os.waitpid(pid, 0)
        self.assertEqual(said, b"ok")
        self.assertEqual(data.get(ID), {"parent": "1", "child": "1"})

    def test_options_for_the_config_generator(self):
        [(group, opts)] = privdata.manila.list_opts()
        names = sorted(o.name for o in opts)
        self.assertEqual(
            names,
            [
                "privdata_allowed_outbound",
                "privdata_ca_file",
                "privdata_driver",
                "privdata_driver_cache",
                "privdata_driver_sha256",
                "privdata_durability",
                "privdata_max_bytes",
                "privdata_max_call_bytes",
                "privdata_max_connections",
                "privdata_max_entries",
                "privdata_max_instances",
                "privdata_max_memory_mib",
                "privdata_max_network_bytes",
                "privdata_max_resources",
                "privdata_max_value_bytes",
                "privdata_metrics_dir",
                "privdata_options",
                "privdata_root",
                "privdata_storage_url",
                "privdata_timeout",
            ],
        )
        self.assertTrue(next(o for o in opts if o.name == "privdata_storage_url").secret)


if __name__ == "__main__":
    unittest.main()
