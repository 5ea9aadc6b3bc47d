"""Reference counting on the error paths: callbacks that raise (fault
injection), bad items, interrupts, aborts, misuse.  Each path runs many times;
no object, exception or byte may be left behind.  With a debug interpreter
(python3-dbg) the interpreter's total reference count is checked too."""

import gc
import sys
import tracemalloc
import weakref

import psycopg
import pytest

import pgcopyman
from conftest import conninfo

ROWS = [b"%d\titem %d\n" % (i, i) for i in range(1, 2001)]


class Boom(Exception):
    pass


def raising_callable(data):
    raise Boom("no room")


def raising_iterable():
    yield ROWS[0]
    yield ROWS[1]
    raise Boom("bad source")


def interrupting_callable(data):
    raise KeyboardInterrupt


def interrupting_iterable():
    yield ROWS[0]
    raise KeyboardInterrupt


class BadFile:
    """A file object whose read() and write() misbehave in the given way."""

    def __init__(self, how):
        self.how = how

    def read(self, n):
        if self.how == "raise":
            raise Boom("disk on fire")
        return {"none": None, "str": "text", "long": b"x" * (n + 1)}[self.how]

    def write(self, data):
        if self.how == "raise":
            raise Boom("disk on fire")
        return {"none": None, "str": "text", "long": len(data) + 1}[self.how]


def expect(exc_type, fn):
    try:
        fn()
    except exc_type:
        return
    raise AssertionError("%s was not raised" % exc_type.__name__)


def copy(producer, *receivers):
    return lambda: pgcopyman.transfer(producer, *receivers)


def fails_once_reconciled():
    calls = []

    def flaky(data):
        calls.append(1)
        if len(calls) == 1:
            raise Boom("once")

    receiver = pgcopyman.CallableReceiver(flaky)
    with pgcopyman.CopyManager(pgcopyman.IterableProducer(ROWS), receiver) as cm:
        while cm.receivers:
            try:
                for _ in cm:
                    pass
            except pgcopyman.Fault:
                cm.reconcile(receiver)


def exception_in_with_block():
    with pgcopyman.CopyManager(pgcopyman.IterableProducer(ROWS), pgcopyman.NullReceiver(),
                               chunk_size=64, chunks=2) as cm:
        for _ in cm:
            raise Boom("the caller's")


def break_out():
    with pgcopyman.CopyManager(pgcopyman.IterableProducer(ROWS),
                               pgcopyman.CallableReceiver(len), chunk_size=64, chunks=2) as cm:
        for _ in cm:
            break


def dropped_while_running():
    cm = pgcopyman.CopyManager(pgcopyman.IterableProducer(ROWS),
                               pgcopyman.CallableReceiver(len), chunk_size=64, chunks=2)
    next(cm)
    del cm  # freed mid-copy: the copy is aborted by the deallocation


def _manager_in_a_cycle():
    holder = {}

    def sink(data):
        holder["manager"].totals  # the callback reaches its own manager: a cycle

    cm = pgcopyman.CopyManager(pgcopyman.IterableProducer(ROWS), pgcopyman.CallableReceiver(sink))
    holder["manager"] = cm
    cm.run()
    return weakref.ref(cm)


def cycle_through_a_callback():
    ref = _manager_in_a_cycle()
    gc.collect()
    assert ref() is None


def misuse():
    r = pgcopyman.NullReceiver()
    pgcopyman.CopyManager(pgcopyman.NullProducer(), r).run()
    expect(pgcopyman.InterfaceError, lambda: pgcopyman.CopyManager(pgcopyman.NullProducer(), r))
    expect(ValueError, lambda: pgcopyman.IterableProducer([], format="nope"))
    expect(TypeError, lambda: pgcopyman.CopyManager(pgcopyman.NullProducer(), None))
    expect(ValueError, lambda: pgcopyman.CopyManager(pgcopyman.NullProducer(),
                                                     pgcopyman.NullReceiver(), chunks=1))


SCENARIOS = {
    "iterable raises": lambda: expect(pgcopyman.CopyFail, copy(
        pgcopyman.IterableProducer(raising_iterable()), pgcopyman.NullReceiver())),
    "iterable yields str": lambda: expect(pgcopyman.CopyFail, copy(
        pgcopyman.IterableProducer([ROWS[0], "text"]), pgcopyman.NullReceiver())),
    "iterable yields int": lambda: expect(pgcopyman.CopyFail, copy(
        pgcopyman.IterableProducer([ROWS[0], 42]), pgcopyman.NullReceiver())),
    "iterable interrupts": lambda: expect(KeyboardInterrupt, copy(
        pgcopyman.IterableProducer(interrupting_iterable()), pgcopyman.NullReceiver())),
    "callables raise": lambda: expect(pgcopyman.CopyFail, copy(
        pgcopyman.IterableProducer(ROWS), pgcopyman.CallableReceiver(raising_callable),
        pgcopyman.CallableReceiver(raising_callable))),
    "callable interrupts": lambda: expect(KeyboardInterrupt, copy(
        pgcopyman.IterableProducer(ROWS), pgcopyman.CallableReceiver(interrupting_callable))),
    "callable fails once, reconciled": fails_once_reconciled,
    "file read misbehaves": lambda: [expect(pgcopyman.CopyFail, copy(
        pgcopyman.FileProducer(BadFile(how)), pgcopyman.NullReceiver()))
        for how in ("none", "str", "long", "raise")],
    "file write misbehaves": lambda: [expect(pgcopyman.CopyFail, copy(
        pgcopyman.IterableProducer(ROWS), pgcopyman.FileReceiver(BadFile(how))))
        for how in ("none", "str", "long", "raise")],
    "exception in the with block": lambda: expect(pgcopyman.CopyFail, exception_in_with_block),
    "break": lambda: expect(pgcopyman.CopyFail, break_out),
    "dropped while running": dropped_while_running,
    "cycle through a callback": cycle_through_a_callback,
    "misuse": misuse,
}

WATCHED = [Boom, KeyboardInterrupt, TypeError, ValueError, pgcopyman.CopyFail, pgcopyman.Fault,
           pgcopyman.ReceiverError, pgcopyman.InterfaceError, raising_callable,
           interrupting_callable, BadFile]


def leaks(scenario, rounds=60):
    for _ in range(3):  # warm up caches (method lookups, interned names)
        scenario()
    gc.collect()
    refs = [sys.getrefcount(o) for o in WATCHED]
    total = sys.gettotalrefcount() if hasattr(sys, "gettotalrefcount") else None
    tracemalloc.start()
    try:
        start = tracemalloc.get_traced_memory()[0]
        for _ in range(rounds):
            scenario()
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - start
    finally:
        tracemalloc.stop()
    after = [sys.getrefcount(o) for o in WATCHED]
    changed = {repr(o): (b, a) for o, b, a in zip(WATCHED, refs, after) if a != b}
    total_grown = sys.gettotalrefcount() - total if total is not None else 0
    return changed, grown, total_grown


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_error_path_leaks_nothing(name):
    changed, grown, total_grown = leaks(SCENARIOS[name])
    assert changed == {}
    assert grown < 64 * 1024, "%d bytes stayed after 60 rounds" % grown
    assert total_grown < 60, "%d references stayed after 60 rounds" % total_grown


def test_connection_error_paths_leak_nothing():
    conn = psycopg.connect(conninfo(1))
    try:
        def refused_and_aborted():
            with conn.transaction():
                with conn.cursor().copy("COPY (SELECT 1) TO STDOUT") as cp:
                    expect(pgcopyman.InterfaceError, copy(
                        pgcopyman.ConnectionProducer(conn, "COPY (SELECT 1) TO STDOUT"),
                        pgcopyman.NullReceiver()))
                    while cp.read():
                        pass
                expect(pgcopyman.CopyFail, lambda: break_on(conn))
            expect(pgcopyman.CopyFail, copy(
                pgcopyman.ConnectionProducer(conn, "COPY (SELECT 1/0) TO STDOUT"),
                pgcopyman.NullReceiver()))
            conn.rollback()

        changed, grown, total_grown = leaks(refused_and_aborted, rounds=20)
        assert changed == {} and grown < 64 * 1024 and total_grown < 60
    finally:
        conn.close()


def break_on(conn):
    with pgcopyman.CopyManager(pgcopyman.ConnectionProducer(
            conn, "COPY (SELECT i FROM generate_series(1, 100000) AS g(i)) TO STDOUT"),
            pgcopyman.NullReceiver()) as cm:
        for _ in cm:
            break


def test_notification_error_paths_leak_nothing():
    def failing_listener():
        with pgcopyman.Listener("host=/nonexistent port=1", ["jobs"]) as listener:
            expect(pgcopyman.NotifyError, lambda: next(listener))
        expect(ValueError, lambda: pgcopyman.Listener("", ["x" * 64]))
        expect(TypeError, lambda: pgcopyman.Notifier(object()))
        assert list(pgcopyman.Notifier(idle=0)) == []

    changed, grown, total_grown = leaks(failing_listener, rounds=20)
    assert changed == {} and grown < 64 * 1024 and total_grown < 60
