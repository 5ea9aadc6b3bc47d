"""Adapters from Python objects to what the extension drives.

psycopg 3 connections: the PGconn behind them, the check that psycopg's
libpq is the one pgcopyman is linked against, and the preparation psycopg
itself would make before a command.  Files: whether to use the descriptor
or the object's own read/write methods, and keeping a buffered object's
position right around a copy.  The extension calls these; none of them is
public API.
"""

import io
import os
import sys
from typing import Any, Callable, Optional, Tuple

from . import _pgcopyman  # type: ignore[attr-defined]  # the C extension
from ._errors import IncompatibleLibpq, InterfaceError

_PSYCOPG_ROOTS = ("psycopg", "psycopg_c", "psycopg_binary")


def _module_root(obj: Any) -> str:
    return (type(obj).__module__ or "").split(".")[0]


def _version_text(v: int) -> str:
    # PQlibVersion: 150018 is 15.18 (from 10 on: major * 10000 + minor).
    return "%d.%d" % (v // 10000, v % 10000) if v >= 100000 else str(v)


_USE_INSTEAD = (
    "Use psycopg's 'c' implementation (pip install \"psycopg[c]\", built against the "
    "system libpq) or its pure-Python one (Debian: apt-get install python3-psycopg; or "
    "remove psycopg-binary, or set PSYCOPG_IMPL=python): both use the system libpq."
)


def check_libpq(pgconn: Any) -> None:
    """Refuse a psycopg whose libpq is not the one pgcopyman is linked against."""
    import psycopg.pq as pq

    ours = _pgcopyman.libpq_version()
    our_path = _pgcopyman.libpq_path()
    impl = getattr(pq, "__impl__", "unknown")
    theirs = pq.version()
    if impl == "binary" or _module_root(pgconn) == "psycopg_binary":
        raise IncompatibleLibpq(
            "pgcopyman cannot use this connection: psycopg runs its 'binary' implementation "
            "(the psycopg-binary package), which carries its own copy of libpq %s, while "
            "pgcopyman is linked against the system libpq %s (%s); a connection made by one "
            "libpq cannot be driven by the other. %s"
            % (_version_text(theirs), _version_text(ours), our_path, _USE_INSTEAD))
    if theirs != ours:
        raise IncompatibleLibpq(
            "pgcopyman cannot use this connection: psycopg ('%s' implementation) uses libpq %s "
            "and pgcopyman is linked against libpq %s (%s); both must use the same library. %s"
            % (impl, _version_text(theirs), _version_text(ours), our_path, _USE_INSTEAD))
    theirs_at = _psycopg_libpq_address() if impl == "python" else None
    if theirs_at is not None and theirs_at != _pgcopyman._libpq_address():
        raise IncompatibleLibpq(
            "pgcopyman cannot use this connection: psycopg loaded libpq from %s and "
            "pgcopyman is linked against %s; a connection made by one copy of libpq "
            "cannot be driven by another. %s"
            % (_pgcopyman._library_of(theirs_at) or "another file", our_path, _USE_INSTEAD))


def _psycopg_libpq_address() -> Optional[int]:
    """Where PQlibVersion is in the libpq psycopg's pure-Python implementation
    loaded (through ctypes), or None when that cannot be seen."""
    lib = getattr(sys.modules.get("psycopg.pq._pq_ctypes"), "pq", None)
    if lib is None:
        return None
    import ctypes

    return ctypes.cast(lib.PQlibVersion, ctypes.c_void_p).value


def pgconn_of(conn: Any) -> Tuple[Any, int]:
    """The psycopg ``PGconn`` object behind conn and the address of its PGconn."""
    if _module_root(conn) in _PSYCOPG_ROOTS and hasattr(conn, "pgconn"):
        pgconn = conn.pgconn
    elif _module_root(conn) in _PSYCOPG_ROOTS and hasattr(conn, "pgconn_ptr"):
        pgconn = conn
    else:
        raise TypeError(
            "expected a psycopg 3 connection (psycopg.Connection or psycopg.pq.PGconn), got %s.%s"
            % (type(conn).__module__, type(conn).__qualname__))
    check_libpq(pgconn)
    ptr = pgconn.pgconn_ptr
    if ptr is None:
        raise InterfaceError("the connection is closed")
    return pgconn, ptr


def prepare_connection(conn: Any, pgconn: Any, what: str) -> None:
    """Check that conn can run a COPY now, and begin psycopg's transaction the
    way psycopg does before any command on a connection not in autocommit."""
    from psycopg.pq import ConnStatus, TransactionStatus

    if pgconn.pgconn_ptr is None or pgconn.status != ConnStatus.OK:
        raise InterfaceError("%s: the connection is closed or broken" % what)
    if getattr(pgconn, "pipeline_status", 0):
        raise InterfaceError("%s: the connection is in pipeline mode; leave it first" % what)
    status = pgconn.transaction_status
    if status == TransactionStatus.ACTIVE:
        raise InterfaceError(
            "%s: the connection is busy (a command or a COPY is in progress on it)" % what)
    if status == TransactionStatus.INERROR:
        raise InterfaceError(
            "%s: the connection's transaction has failed; roll it back first" % what)
    if status != TransactionStatus.IDLE or pgconn is conn or getattr(conn, "autocommit", True):
        return
    import psycopg

    if isinstance(conn, psycopg.Connection):
        # psycopg opens its transaction (with the connection's isolation level,
        # read-only and deferrable settings) before the first command: let it.
        conn.execute("SELECT 1")
        return
    raise InterfaceError(
        "%s: the connection is not in autocommit mode and has no transaction open; "
        "begin one first (async with conn.transaction()) or set autocommit" % what)


def check_open(pgconn: Any, ptr: int) -> bool:
    """True while pgconn still holds the PGconn at ptr (it was not closed)."""
    return pgconn.pgconn_ptr == ptr


_BUFFERED = (io.BufferedReader, io.BufferedWriter, io.BufferedRandom)


def _descriptor(f: Any) -> int:
    """f's descriptor when reading or writing it directly is exactly what f
    itself would do (a plain file, unbuffered or buffered over io.FileIO);
    -1 otherwise (a GzipFile has a descriptor, but of its compressed file)."""
    if isinstance(f, io.FileIO):
        return f.fileno()
    if isinstance(f, _BUFFERED) and isinstance(getattr(f, "raw", None), io.FileIO) and f.seekable():
        return f.fileno()
    return -1


def file_source(f: Any) -> Tuple[int, Optional[Callable[[int], bytes]]]:
    """(descriptor, None) to read f directly, or (-1, f.read)."""
    if isinstance(f, io.TextIOBase):
        raise TypeError("COPY data is bytes: open the file in binary mode ('rb')")
    fd = _descriptor(f)
    if fd >= 0:
        return fd, None
    read = getattr(f, "read", None)
    if not callable(read):
        raise TypeError("expected a file descriptor or a binary file object with read(), got %s"
                        % type(f).__qualname__)
    return -1, read


def file_sink(f: Any) -> Tuple[int, Optional[Callable[[bytes], Any]]]:
    """(descriptor, None) to write f directly, or (-1, f.write)."""
    if isinstance(f, io.TextIOBase):
        raise TypeError("COPY data is bytes: open the file in binary mode ('wb')")
    fd = _descriptor(f)
    if fd >= 0:
        return fd, None
    write = getattr(f, "write", None)
    if not callable(write):
        raise TypeError("expected a file descriptor or a binary file object with write(), got %s"
                        % type(f).__qualname__)
    return -1, write


def file_begin(f: Any, writing: bool) -> None:
    """Before the copy reads or writes f's descriptor: written data leaves
    f's buffer, and the descriptor is put where f's reader stands."""
    if f.closed:
        raise InterfaceError("the file is closed")
    if writing:
        f.flush()
    elif isinstance(f, _BUFFERED):
        _sync(f, f.tell())


def file_end(f: Any) -> None:
    """After the copy: f's position follows its descriptor's again."""
    if not f.closed and isinstance(f, _BUFFERED):
        _sync(f, os.lseek(f.fileno(), 0, os.SEEK_CUR))


def _sync(f: Any, pos: int) -> None:
    """Put f and its descriptor at pos, with nothing buffered: a seek within
    the buffer would only move the buffer's pointer; a seek to the end never
    does that, so it empties the buffer first."""
    f.seek(0, os.SEEK_END)
    f.seek(pos)
