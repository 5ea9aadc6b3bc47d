#!/usr/bin/python3
"""bench/psycopg_copy.py: a psycopg 3 COPY loop, one source to N targets.

    /usr/bin/python3 bench/psycopg_copy.py SRC_CONNINFO DST_CONNINFO [DST_CONNINFO ...]

The loop every psycopg user writes: read COPY TO STDOUT blocks from the
source and write each one to COPY FROM STDIN on every target (text format).
Each target commits when its COPY has ended.  Prints one JSON line.  Run it
with Debian's /usr/bin/python3 (package python3-psycopg).
"""
import contextlib
import json
import sys

import psycopg

TABLE = "t"


def main(argv):
    if len(argv) < 3:
        sys.exit("usage: psycopg_copy.py SRC DST [DST ...]")
    src = psycopg.connect(argv[1])
    dsts = [psycopg.connect(a) for a in argv[2:]]
    nbytes = 0
    with contextlib.ExitStack() as stack:
        out = stack.enter_context(src.cursor().copy("COPY %s TO STDOUT" % TABLE))
        curs = [d.cursor() for d in dsts]
        ins = [stack.enter_context(c.copy("COPY %s FROM STDIN" % TABLE)) for c in curs]
        if len(ins) == 1:
            inp = ins[0]
            for data in out:
                inp.write(data)
                nbytes += len(data)
        else:
            for data in out:
                for inp in ins:
                    inp.write(data)
                nbytes += len(data)
    counts = [c.rowcount for c in curs]
    for d in dsts:
        d.commit()
    src.commit()
    for c in [src] + dsts:
        c.close()
    print(json.dumps({"bytes": nbytes, "targets": counts}))


if __name__ == "__main__":
    main(sys.argv)
