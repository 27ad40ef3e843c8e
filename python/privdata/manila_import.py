"""Import the private data of an existing Manila database into privdata.

    privdata-import-manila --from mysql+pymysql://manila:PW@db1/manila \\
                           --to postgres://privdata:PW@db1/privdata

Manila's own table (``drivers_private_data``) has no host column: any
backend reads any other's rows. The import gives each entity to its backend
host through Manila's own tables: a share instance's ``host`` (without its
``#pool``), a snapshot instance through its share instance, a share server's
``host``. Entities whose owner it cannot find (no live share instance,
snapshot instance or share server has that id) are listed, never guessed;
``--host`` claims them for one host. Only live rows are read (Manila keeps
deleted ones until ``manila-manage db purge``). Running it again is safe:
entries are upserted, and those already there are left as they are.
"""

import argparse
import sys
import uuid

import sqlalchemy as sa

import privdata


def _canonical(entity):
    try:
        return str(uuid.UUID(str(entity).strip()))
    except ValueError:
        return None


def owners(engine):
    """Every live entity Manila knows the backend host of: {id: host}."""
    md = sa.MetaData()
    instances = sa.Table("share_instances", md, autoload_with=engine)
    snapshots = sa.Table("share_snapshot_instances", md, autoload_with=engine)
    servers = sa.Table("share_servers", md, autoload_with=engine)
    found = {}
    with engine.connect() as conn:
        queries = [
            sa.select(instances.c.id, instances.c.host).where(instances.c.deleted == "False"),
            sa.select(snapshots.c.id, instances.c.host)
            .join(instances, instances.c.id == snapshots.c.share_instance_id)
            .where(snapshots.c.deleted == "False"),
            sa.select(servers.c.id, servers.c.host).where(servers.c.deleted == "False"),
        ]
        for query in queries:
            for entity, host in conn.execute(query):
                if host:
                    found[_canonical(entity) or entity] = host.split("#", 1)[0]
    return found


def private_data(engine):
    """Manila's live private data: {entity as stored: [(key, value)]}."""
    table = sa.Table("drivers_private_data", sa.MetaData(), autoload_with=engine)
    rows = {}
    with engine.connect() as conn:
        query = (
            sa.select(table.c.entity_uuid, table.c.key, table.c.value)
            .where(table.c.deleted == 0)
            .order_by(table.c.entity_uuid, table.c.key)
        )
        for entity, key, value in conn.execute(query):
            rows.setdefault(entity, []).append((key, value))
    return rows


def plan(engine, claim=None):
    """({host: {entity: pairs}}, {entity: (pairs, why)}) for what the
    database holds; `claim` takes the entities without an owner."""
    known = owners(engine)
    assigned, unowned = {}, {}
    for entity, pairs in private_data(engine).items():
        canonical = _canonical(entity)
        host = known.get(canonical) if canonical else None
        if host is None and claim and canonical:
            host = claim
        if host is None:
            why = "not a UUID" if canonical is None else "no live share instance, snapshot instance or share server"
            unowned[entity] = (pairs, why)
            continue
        assigned.setdefault(host, {})[canonical] = pairs
    return assigned, unowned


def run(from_url, to_url, claim=None, dry_run=False, say=print):
    """Import; returns {"hosts", "entities", "entries", "unowned"}."""
    engine = sa.create_engine(from_url)
    try:
        assigned, unowned = plan(engine, claim)
    finally:
        engine.dispose()
    total = sum(len(e) for e in assigned.values())
    entries = sum(len(p) for e in assigned.values() for p in e.values())
    say(f"{total} entities ({entries} entries) of {len(assigned)} hosts; {len(unowned)} without an owner")
    for entity, (pairs, why) in sorted(unowned.items()):
        say(f"  no owner: {entity} ({len(pairs)} entries): {why}; --host HOST claims it")
    if not dry_run and assigned:
        store = privdata.Store(to_url)
        done, step = 0, max(total // 10, 1)
        for host, entities in sorted(assigned.items()):
            data = store.bind(host)
            for entity, pairs in entities.items():
                data.update(entity, pairs)
                done += 1
                if done % step == 0 or done == total:
                    say(f"import-manila: {done * 100 // total}%  {done} / {total} entities")
    return {"hosts": len(assigned), "entities": total, "entries": entries, "unowned": sorted(unowned)}


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="privdata-import-manila",
        description="Import the private data of a Manila database into a privdata store.",
    )
    parser.add_argument("--from", dest="source", required=True, help="Manila's database URL, as in manila.conf [database] connection")
    parser.add_argument("--to", dest="target", required=True, help="the privdata store: sqlite:///PATH, mysql://…, postgres://… or etcd://…")
    parser.add_argument("--host", help="give the entities without an owner to this backend host (host@backend)")
    parser.add_argument("--dry-run", action="store_true", help="list what would be imported, and write nothing")
    args = parser.parse_args(argv)
    try:
        report = run(args.source, args.target, args.host, args.dry_run)
    except (sa.exc.SQLAlchemyError, privdata.Error, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    verb = "would import" if args.dry_run else "imported"
    print(f"{verb} {report['entities']} entities ({report['entries']} entries) of {report['hosts']} hosts")
    return 0


if __name__ == "__main__":
    sys.exit(main())
