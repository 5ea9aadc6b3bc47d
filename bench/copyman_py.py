#!/usr/bin/python3
"""bench/copyman_py.py: py-postgresql's copyman, one source to N targets.

    /usr/bin/python3 bench/copyman_py.py SRC_CONNINFO DST_CONNINFO [DST_CONNINFO ...]

Connection strings are libpq-style "key=value" lists (host may be a unix
socket directory).  Copies table t in text format with
postgresql.copyman.CopyManager (StatementProducer -> StatementReceiver per
target), each connection inside its own xact(), as in py-postgresql's
documentation.  Prints one JSON line: rows and bytes per target.  Run it with
Debian's /usr/bin/python3 (package python3-postgresql).
"""
import contextlib
import json
import sys

import postgresql.driver as pg_driver
from postgresql import copyman

TABLE = "t"


def parse_conninfo(s):
    """Turn 'host=/dir port=5432 dbname=x user=y' into py-postgresql kwargs."""
    kv = dict(item.split("=", 1) for item in s.split())
    kw = {"user": kv.get("user", "postgres"), "database": kv.get("dbname", "postgres")}
    host = kv.get("host", "/var/run/postgresql")
    port = kv.get("port", "5432")
    if host.startswith("/"):
        kw["unix"] = "%s/.s.PGSQL.%s" % (host, port)
    else:
        kw["host"] = host
        kw["port"] = int(port)
    return kw


def main(argv):
    if len(argv) < 3:
        sys.exit("usage: copyman_py.py SRC DST [DST ...]")
    src = pg_driver.connect(**parse_conninfo(argv[1]))
    dsts = [pg_driver.connect(**parse_conninfo(a)) for a in argv[2:]]
    with contextlib.ExitStack() as stack:
        stack.enter_context(src.xact())
        for d in dsts:
            stack.enter_context(d.xact())
        producer = copyman.StatementProducer(src.prepare("COPY %s TO STDOUT" % TABLE))
        receivers = [copyman.StatementReceiver(d.prepare("COPY %s FROM STDIN" % TABLE))
                     for d in dsts]
        rows = nbytes = 0
        with copyman.CopyManager(producer, *receivers) as copy:
            for r, b in copy:
                rows += r
                nbytes += b
        counts = [r.count() for r in receivers]
    for c in [src] + dsts:
        c.close()
    if any(c != rows for c in counts):
        sys.exit("copyman_py: row counts differ: producer %d, receivers %r" % (rows, counts))
    print(json.dumps({"rows": rows, "bytes": nbytes, "targets": counts}))


if __name__ == "__main__":
    main(sys.argv)
