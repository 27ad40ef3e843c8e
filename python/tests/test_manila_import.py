"""privdata-import-manila on real Manila databases: the schema made by
Manila's own migrations (`manila-manage db sync`), rows written by Manila's
own DB API, on the MariaDB and PostgreSQL test servers (.ci/servers start).
Manila's migrations do not build a SQLite schema (db sync stops with
"database is locked" in its first migration), so SQLite is not tried."""

import os
import subprocess
import sys
import tempfile
import textwrap
import unittest
import urllib.parse

import privdata
from privdata import manila_import

# Rows written the way Manila writes them: printed back as
# name=id lines for the test to check against.
WRITER = textwrap.dedent(
    """
    import sys
    from oslo_config import cfg
    cfg.CONF([], project="manila", default_config_files=[sys.argv[1]])
    from manila import context, db
    ctx = context.get_admin_context()
    owner = {"user_id": "u", "project_id": "p", "size": 1, "status": "available"}
    alpha = db.share_create(ctx, dict(owner, host="node1@alpha#pool0", share_proto="NFS"))
    beta = db.share_create(ctx, dict(owner, host="node1@beta#fast", share_proto="NFS"))
    snap = db.share_snapshot_create(ctx, dict(owner, share_id=alpha["id"]))
    server = db.share_server_create(ctx, {"host": "node1@gamma", "status": "active"})
    gone = db.share_create(ctx, dict(owner, host="node1@alpha#pool0", share_proto="NFS"))
    ids = {"alpha": alpha.instance["id"], "beta": beta.instance["id"],
           "snap": snap.instance["id"], "server": server["id"], "gone": gone.instance["id"]}
    for name, entity in ids.items():
        db.driver_private_data_update(ctx, entity, {"volume_id": "vol-" + name, "size": 1})
    db.driver_private_data_update(ctx, ids["alpha"], {"old": "x"})
    db.driver_private_data_delete(ctx, ids["alpha"], "old")
    db.share_instance_delete(ctx, ids["gone"])
    db.driver_private_data_update(ctx, "7d1b3ff2-0c9e-4b8d-9a44-3e5e0f6b1c2d", {"orphan": "1"})
    for name, entity in ids.items():
        print(name + "=" + entity)
    """
)


def manila_database(kind, admin_url):
    """A new database on the server, its schema made by `manila-manage db
    sync`, rows written by Manila's DB API; (SQLAlchemy URL, {name: id})."""
    parts = urllib.parse.urlsplit(admin_url)
    name = f"manila_import_{os.getpid()}"
    driver = {"mysql": "mysql+pymysql", "postgres": "postgresql+psycopg2"}[kind]
    server_url = f"{driver}://{parts.netloc}"
    import sqlalchemy as sa

    admin = sa.create_engine(server_url + parts.path, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name}"))
        conn.execute(sa.text(f"CREATE DATABASE {name}"))
    admin.dispose()
    url = f"{server_url}/{name}"
    scratch = tempfile.mkdtemp()
    conf = os.path.join(scratch, "manila.conf")
    with open(conf, "w") as f:
        f.write(f"[DEFAULT]\nstate_path = {scratch}\n[database]\nconnection = {url}\n")
    manage = os.path.join(os.path.dirname(sys.executable), "manila-manage")
    subprocess.run([manage, "--config-file", conf, "db", "sync"], check=True, capture_output=True)
    out = subprocess.run([sys.executable, "-c", WRITER, conf], check=True, capture_output=True, text=True)
    ids = dict(line.split("=", 1) for line in out.stdout.split())
    return url, ids


class ImportManilaTest(unittest.TestCase):
    def servers(self):
        found = [
            (kind, os.environ.get(var))
            for kind, var in (("mysql", "PRIVDATA_TEST_MYSQL"), ("postgres", "PRIVDATA_TEST_POSTGRES"))
        ]
        found = [(k, u) for k, u in found if u]
        if not found:
            self.skipTest("no server: run .ci/servers start")
        return found

    def test_each_entity_goes_to_its_backend_host_and_orphans_are_listed(self):
        for kind, admin_url in self.servers():
            with self.subTest(kind), tempfile.TemporaryDirectory() as scratch:
                source, ids = manila_database(kind, admin_url)
                target = "sqlite://" + os.path.join(scratch, "privdata.db")
                said = []
                report = manila_import.run(source, target, say=said.append)
                orphans = sorted(["7d1b3ff2-0c9e-4b8d-9a44-3e5e0f6b1c2d", ids["gone"]])
                self.assertEqual(report["unowned"], orphans, said)
                self.assertEqual(
                    privdata.Store(target).hosts(),
                    [("node1@alpha", 2, 4), ("node1@beta", 1, 2), ("node1@gamma", 1, 2)],
                )
                alpha = privdata.Store(target).bind("node1@alpha")
                self.assertEqual(alpha.get(ids["alpha"]), [("size", "1"), ("volume_id", "vol-alpha")])
                self.assertEqual(alpha.get(ids["snap"]), [("size", "1"), ("volume_id", "vol-snap")])
                self.assertEqual(alpha.get(ids["gone"]), [], "a deleted share instance's data has no owner")
                self.assertTrue(any("no owner: 7d1b3ff2" in line for line in said), said)

                # Again: nothing doubled; --host claims what has no owner.
                again = manila_import.run(source, target, claim="node1@alpha", say=said.append)
                self.assertEqual(again["unowned"], [])
                self.assertEqual(privdata.Store(target).hosts()[0], ("node1@alpha", 4, 7))

                dry = os.path.join(scratch, "dry.db")
                manila_import.run(source, "sqlite://" + dry, dry_run=True, say=said.append)
                self.assertFalse(os.path.exists(dry), "a dry run writes nothing")

    def test_the_command_line_says_what_went_wrong(self):
        code = manila_import.main(["--from", "sqlite:////nonexistent/manila.sqlite", "--to", "sqlite:///tmp/x.db"])
        self.assertEqual(code, 1)


if __name__ == "__main__":
    unittest.main()
