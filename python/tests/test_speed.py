"""A million rows from connection to connection: no Python code runs per row, so
the rate is the C command's.  The numbers are printed at the end of the run; the
assertion only guards against a gross regression (the machine is shared)."""

import os
import subprocess
import time

import psycopg

import pgcopyman
from conftest import MEASUREMENTS, conninfo, count, execute

ROWS = 1000000
TABLE = "speed_t"
COLUMNS = "id bigint PRIMARY KEY, ts timestamptz, amount numeric(14,4), label text"
RUNS = int(os.environ.get("PGCM_SPEED_RUNS", "3"))


def cli():
    return os.path.join(os.environ.get("PGCM_BUILD", "build"), "pgcopyman")


def python_copy():
    """Seconds for the whole copy in Python: connect, copy, commit."""
    started = time.monotonic()
    with psycopg.connect(conninfo(1)) as source, psycopg.connect(conninfo(2)) as target:
        with source.transaction(), target.transaction():
            rows, _ = pgcopyman.CopyManager(
                pgcopyman.ConnectionProducer(source, "COPY %s TO STDOUT (FORMAT binary)" % TABLE),
                pgcopyman.ConnectionReceiver(target, "COPY %s FROM STDIN (FORMAT binary)" % TABLE),
            ).run()
    took = time.monotonic() - started
    assert rows == ROWS
    return took


def cli_copy():
    """Seconds for `pgcopyman copy` on the same table, the same format."""
    started = time.monotonic()
    subprocess.run([cli(), "copy", "--from", conninfo(1), "--to", conninfo(2), "--table", TABLE,
                    "--format", "binary", "--quiet"], check=True, timeout=600)
    return time.monotonic() - started


def test_million_rows_at_the_c_command_rate():
    execute(1, "CREATE TABLE %s (%s)" % (TABLE, COLUMNS))
    execute(2, "CREATE TABLE %s (%s)" % (TABLE, COLUMNS))
    execute(1, "INSERT INTO %s SELECT g, timestamptz '2020-01-01' + g * interval '1 s', "
               "g / 7.0, 'item ' || g || ' ' || md5(g::text) FROM generate_series(1, %d) AS g"
               % (TABLE, ROWS))
    execute(1, "VACUUM ANALYZE %s" % TABLE)
    times = {"python": [], "cli": []}
    for _ in range(RUNS):
        for name, run in (("cli", cli_copy), ("python", python_copy)):
            execute(2, "TRUNCATE %s" % TABLE)
            times[name].append(run())
            assert count(2, TABLE) == ROWS
    best = {name: min(t) for name, t in times.items()}
    rate = {name: ROWS / t for name, t in best.items()}
    ratio = rate["python"] / rate["cli"]
    MEASUREMENTS.append(
        "1M rows, connection to connection (binary), best of %d: python %.0f rows/s (%.2f s), "
        "C command %.0f rows/s (%.2f s): python/C = %.2f" % (
            RUNS, rate["python"], best["python"], rate["cli"], best["cli"], ratio))
    assert ratio > 0.5, times
