"""The GIL is released while the library waits; one thread drives a manager."""

import threading
import time

import pytest

import pgcopyman
from conftest import answers


def test_other_threads_run_while_the_copy_waits(connect):
    source = connect(1, autocommit=True)
    # The source sends nothing for a second: the copy waits in poll().
    producer = pgcopyman.ConnectionProducer(
        source, "COPY (SELECT pg_sleep(1), i FROM generate_series(1, 3) AS g(i)) TO STDOUT")
    got = []
    copy = pgcopyman.CopyManager(producer, pgcopyman.CallableReceiver(got.append))
    result = {}
    worker = threading.Thread(target=lambda: result.update(totals=copy.run()))
    worker.start()
    spins = 0
    deadline = time.monotonic() + 0.8
    while time.monotonic() < deadline:
        spins += 1  # pure Python: runs only while the worker does not hold the GIL
    # The worker is waiting: another thread cannot drive the same manager meanwhile.
    with pytest.raises(pgcopyman.InterfaceError, match="running"):
        next(copy)
    worker.join(30)
    assert result["totals"][0] == 3 and len(b"".join(got).splitlines()) == 3
    assert spins > 100000
    assert answers(source)


def test_a_callback_cannot_drive_its_own_manager():
    holder = {}
    seen = []

    def sink(data):
        try:
            next(holder["copy"])
        except pgcopyman.InterfaceError as e:
            seen.append(str(e))

    copy = pgcopyman.CopyManager(pgcopyman.IterableProducer([b"1\n2\n"]),
                                 pgcopyman.CallableReceiver(sink))
    holder["copy"] = copy
    assert copy.run() == (2, 4)
    assert seen and "own callbacks" in seen[0]


def test_other_threads_run_while_a_listener_waits():
    from conftest import conninfo, execute

    with pgcopyman.Listener(conninfo(2), ["wake"], idle=0.1) as listener:
        while not listener.ready:
            next(listener)
        got = []

        def wait_for_it():
            for item in listener:
                if isinstance(item, pgcopyman.Notification):
                    got.append(item)
                    return

        worker = threading.Thread(target=wait_for_it)
        worker.start()
        spins = 0
        deadline = time.monotonic() + 0.5
        while time.monotonic() < deadline:
            spins += 1
        execute(2, "NOTIFY wake, 'up'")
        worker.join(30)
        assert got and got[0].payload == "up"
        assert spins > 100000
