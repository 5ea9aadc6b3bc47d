"""A psycopg with another libpq than pgcopyman's is refused, with what to use instead."""

import os
import shutil
import subprocess
import sys
import textwrap

import psycopg
import pytest

import pgcopyman
from conftest import conninfo


def test_same_libpq_is_accepted(connect):
    conn = connect(1)
    assert psycopg.pq.version() == pgcopyman.libpq_version()
    assert os.path.basename(pgcopyman.libpq_path()).startswith("libpq")
    pgcopyman.ConnectionProducer(conn, "COPY (SELECT 1) TO STDOUT")


def test_binary_implementation_is_refused(connect, monkeypatch):
    conn = connect(1)
    # What psycopg says when psycopg-binary provides it.
    monkeypatch.setattr(psycopg.pq, "__impl__", "binary")
    with pytest.raises(pgcopyman.IncompatibleLibpq) as info:
        pgcopyman.ConnectionReceiver(conn, "COPY t FROM STDIN")
    message = str(info.value)
    assert "'binary' implementation" in message and "its own copy of libpq" in message
    assert "psycopg[c]" in message and "python3-psycopg" in message
    assert pgcopyman.libpq_path() in message
    assert isinstance(info.value, pgcopyman.InterfaceError)


def test_other_libpq_version_is_refused(connect, monkeypatch):
    conn = connect(1)
    monkeypatch.setattr(psycopg.pq, "version", lambda: 170002)
    with pytest.raises(pgcopyman.IncompatibleLibpq, match="uses libpq 17.2 and pgcopyman is "
                       "linked against libpq 15"):
        pgcopyman.ConnectionProducer(conn, "COPY (SELECT 1) TO STDOUT")


def test_another_copy_of_libpq_is_refused(tmp_path):
    """psycopg's pure-Python implementation driving a second copy of libpq (as a
    bundled one would be): its PGconn must not reach pgcopyman's libpq."""
    copy = tmp_path / "libpq-0123abcd.so.5"
    shutil.copy(pgcopyman.libpq_path(), copy)
    script = textwrap.dedent("""
        import ctypes, sys
        import psycopg, psycopg.pq._pq_ctypes as impl
        import pgcopyman
        conn = psycopg.connect(sys.argv[1])
        impl.pq = ctypes.CDLL(sys.argv[2])  # as if psycopg had loaded this one
        try:
            pgcopyman.ConnectionProducer(conn, "COPY (SELECT 1) TO STDOUT")
        except pgcopyman.IncompatibleLibpq as e:
            print(e)
        else:
            print("accepted")
    """)
    out = subprocess.run([sys.executable, "-c", script, conninfo(1), str(copy)],
                         capture_output=True, text=True, timeout=60, env=os.environ)
    assert out.returncode == 0, out.stderr
    assert "psycopg loaded libpq from %s" % copy in out.stdout
    assert "pgcopyman is linked against %s" % pgcopyman.libpq_path() in out.stdout
