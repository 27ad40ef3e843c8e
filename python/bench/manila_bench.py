"""Manila's DriverPrivateData over its own SqlStorageDriver, against the same
wrapper over privdata.manila.StorageDriver: the calls a share driver makes,
on one machine, in one run.

    python python/bench/manila_bench.py --mysql URL [--quick] [--json]

URL is a MariaDB/MySQL server (`.ci/servers start` prints one as
PRIVDATA_TEST_MYSQL) where a user may create databases. Manila's schema is
made there by `manila-manage db sync`, as in a deployment. privdata runs on
its embedded SQLite store with durability "full" (an acknowledged write
survives power loss: stronger than the test server's
innodb_flush_log_at_trx_commit=2) and "normal" (survives a crash of the
process: the same promise as that server), and on the same MariaDB server.
Figures are microseconds per call, the median of rounds.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import uuid

OPS = ["get_all", "get_one", "update_one", "replace_five"]


def manila_database(admin_url, scratch):
    import sqlalchemy as sa

    parts = urllib.parse.urlsplit(admin_url)
    name = f"manila_bench_{os.getpid()}"
    server = f"mysql+pymysql://{parts.netloc}"
    admin = sa.create_engine(server + parts.path, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name}"))
        conn.execute(sa.text(f"CREATE DATABASE {name}"))
    admin.dispose()
    conf = os.path.join(scratch, "manila.conf")
    with open(conf, "w") as f:
        f.write(f"[DEFAULT]\nstate_path = {scratch}\n[database]\nconnection = {server}/{name}\n")
    manage = os.path.join(os.path.dirname(sys.executable), "manila-manage")
    subprocess.run([manage, "--config-file", conf, "db", "sync"], check=True, capture_output=True)
    return conf, server, name


def timed(data, ids, op, rounds):
    five = {f"k{i}": f"v{i}" for i in range(5)}
    per_round = []
    for r in range(rounds):
        for entity in ids:
            data.update(entity, five, delete_existing=True)
        start = time.perf_counter()
        for i, entity in enumerate(ids):
            if op == "get_all":
                data.get(entity)
            elif op == "get_one":
                data.get(entity, "k2")
            elif op == "update_one":
                data.update(entity, {"k1": "even" if (i + r) % 2 else "odd"})
            else:
                data.update(entity, five, delete_existing=True)
        per_round.append((time.perf_counter() - start) / len(ids) * 1e6)
    return statistics.median(per_round)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mysql", default=os.environ.get("PRIVDATA_TEST_MYSQL"), help="a MariaDB/MySQL admin URL")
    parser.add_argument("--quick", action="store_true", help="small sizes, to check it runs")
    parser.add_argument("--json", action="store_true", help="one JSON object on stdout")
    args = parser.parse_args(argv)
    if not args.mysql:
        parser.error("give --mysql URL (or set PRIVDATA_TEST_MYSQL: .ci/servers start)")
    entities, rounds = (50, 3) if args.quick else (500, 5)

    scratch = tempfile.mkdtemp()
    conf, server, name = manila_database(args.mysql, scratch)
    from manila import context
    from manila.share import drivers_private_data as pd
    from oslo_config import cfg

    import privdata.manila

    cfg.CONF([], project="manila", default_config_files=[conf])
    ctx = context.get_admin_context()
    paths = {"manila_sql": pd.DriverPrivateData(storage=pd.SqlStorageDriver(ctx, "bench@manila"))}
    sqlite = "sqlite://" + os.path.join(scratch, "privdata.db")
    for label, url, durability in [
        ("privdata_sqlite", sqlite, "full"),
        ("privdata_sqlite_normal", sqlite, "normal"),
        ("privdata_mysql", args.mysql, "full"),
    ]:
        group = label
        cfg.CONF.register_opts(privdata.manila.privdata_opts, group=group)
        cfg.CONF.set_override("privdata_storage_url", url, group=group)
        cfg.CONF.set_override("privdata_durability", durability, group=group)
        paths[label] = pd.DriverPrivateData(storage=privdata.manila.StorageDriver(ctx, "bench@" + group))

    figures = {}
    for label, data in paths.items():
        ids = [str(uuid.uuid4()) for _ in range(entities)]
        figures[label] = {op: round(timed(data, ids, op, rounds), 1) for op in OPS}
        for entity in ids:
            data.delete(entity)
    ratios = {
        label: {op: round(figures["manila_sql"][op] / figures[label][op], 1) for op in OPS}
        for label in figures
        if label != "manila_sql"
    }
    report = {"us_per_call": figures, "speedup_over_manila": ratios, "entities": entities, "rounds": rounds}

    lines = [f"{'µs per call':<24}" + "".join(f"{op:>14}" for op in OPS)]
    for label, row in figures.items():
        lines.append(f"{label:<24}" + "".join(f"{row[op]:>14}" for op in OPS))
    for label, row in ratios.items():
        lines.append(f"{'x ' + label:<24}" + "".join(f"{row[op]:>13}x" for op in OPS))
    table = "\n".join(lines)
    if args.json:
        print(table, file=sys.stderr)
        print(json.dumps(report))
    else:
        print(table)

    import sqlalchemy as sa

    admin = sa.create_engine(server + urllib.parse.urlsplit(args.mysql).path, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name}"))
    admin.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
