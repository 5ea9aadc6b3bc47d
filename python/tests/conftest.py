"""Fixtures for pgcopyman's Python tests: real PostgreSQL servers through psycopg 3.

Run them through the harness, which starts throwaway servers and exports their
connection strings as PGCM_TEST_CONN_1 .. PGCM_TEST_CONN_N:

    make python && tests/harness.sh -n 3 -- /usr/bin/python3 -m pytest python/tests

(`make python-check` does both.)  Without the servers the tests fail: they never
skip quietly.
"""

import os
import signal
import threading
import time

import psycopg
import pytest

# Measurements the tests print at the end of the run (see pytest_terminal_summary).
MEASUREMENTS = []


def conninfo(i):
    """The connection string of server i (1-based) started by tests/harness.sh."""
    value = os.environ.get("PGCM_TEST_CONN_%d" % i)
    if not value:
        pytest.fail("PGCM_TEST_CONN_%d is not set: run the tests through tests/harness.sh -n 3 "
                    "(make python-check)" % i)
    return value


@pytest.fixture
def connect():
    """connect(i, autocommit=False): a psycopg connection to server i, closed afterwards."""
    opened = []

    def _connect(i, autocommit=False):
        conn = psycopg.connect(conninfo(i), autocommit=autocommit)
        opened.append(conn)
        return conn

    yield _connect
    for conn in opened:
        conn.close()


@pytest.fixture
def table(request):
    """A table name unique to the test (servers are shared by the whole run)."""
    return "t_" + request.node.name.replace("[", "_").replace("]", "").replace("-", "_")[:50]


def create_table(conn, table, columns="i int8, label text"):
    """CREATE TABLE on conn, committed."""
    conn.execute("CREATE TABLE %s (%s)" % (table, columns))
    conn.commit()


def execute(i, sql, params=None):
    """Run sql on server i in a connection of its own (autocommit); the rows, if any."""
    with psycopg.connect(conninfo(i), autocommit=True) as conn:
        cur = conn.execute(sql, params)
        return cur.fetchall() if cur.description else None


def count(i, table):
    """Rows of table on server i that are committed (a fresh connection sees only those)."""
    return execute(i, "SELECT count(*) FROM %s" % table)[0][0]


def answers(conn):
    """The connection answers SELECT 1 through psycopg."""
    return conn.execute("SELECT 1").fetchone() == (1,)


def wait_until(predicate, timeout=10.0, what="the condition"):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail("timed out after %.0f s waiting for %s" % (timeout, what))
        time.sleep(0.02)


def terminate_backend(server, pid):
    """pg_terminate_backend(pid) on server, and wait until the backend is gone."""
    assert execute(server, "SELECT pg_terminate_backend(%s)", (pid,)) == [(True,)]
    wait_until(lambda: not execute(server, "SELECT 1 FROM pg_stat_activity WHERE pid = %s", (pid,)),
               what="backend %d to exit" % pid)


class SigintTimer:
    """Send SIGINT to this process after `delay` seconds, as a Ctrl-C would, and
    remember when."""

    def __init__(self, delay):
        self.sent_at = None
        self._timer = threading.Timer(delay, self._fire)

    def _fire(self):
        self.sent_at = time.monotonic()
        os.kill(os.getpid(), signal.SIGINT)

    def __enter__(self):
        self._timer.start()
        return self

    def __exit__(self, *exc):
        self._timer.cancel()
        return False


def text_rows(n, start=1):
    """Rows i<TAB>label in COPY text format, as one bytes object."""
    return b"".join(b"%d\titem %d\n" % (i, i) for i in range(start, start + n))


def pytest_terminal_summary(terminalreporter):
    if MEASUREMENTS:
        terminalreporter.section("pgcopyman measurements")
        for line in MEASUREMENTS:
            terminalreporter.write_line(line)
