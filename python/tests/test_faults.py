"""Faults and reconciliation, the copy manager manual's third and fourth examples."""

import socket

import psycopg
import pytest

import pgcopyman
from conftest import answers, count, create_table, terminate_backend, text_rows

ROWS = 1000000
SEND = "COPY (SELECT i, 'item ' || i FROM generate_series(1, %d) AS g(i)) TO STDOUT" % ROWS


def make_target(conn, table, column_type="int8"):
    create_table(conn, table, "i %s, label text" % column_type)


def test_two_targets_one_killed(connect, table):
    # >>> with copyman.CopyManager(producer, receiver) as copy:
    # ...     while copy.receivers:
    # ...         try:
    # ...             for num_messages, num_bytes in copy:
    # ...                 update_rate(num_bytes)
    # ...         except copyman.Fault as cf:
    # ...             original_exception = cf.faults[receiver]
    # ...             if unknown_failure(original_exception):
    # ...                 raise
    source, keep, lose = connect(1), connect(2), connect(3)
    make_target(keep, table)
    make_target(lose, table)
    producer = pgcopyman.ConnectionProducer(source, SEND)
    kept = pgcopyman.ConnectionReceiver(keep, "COPY %s FROM STDIN" % table)
    lost = pgcopyman.ConnectionReceiver(lose, "COPY %s FROM STDIN" % table, label="doomed")
    lose_pid = lose.info.backend_pid
    faults = []
    with source.transaction(), keep.transaction(), lose.transaction():
        with pgcopyman.CopyManager(producer, kept, lost) as copy:
            while copy.receivers:
                try:
                    for num_rows, num_bytes in copy:
                        if lose_pid:
                            terminate_backend(3, lose_pid)
                            lose_pid = None
                except pgcopyman.Fault as cf:
                    assert cf.manager is copy
                    assert list(cf.faults) == [lost]
                    error = cf.faults[lost]
                    faults.append(error)
                    assert lost not in copy.receivers and kept in copy.receivers
                    assert error.receiver is lost and "doomed" in error.message
                    assert error.status in ("connection", "server")
                    assert not error.reconcilable
                    with pytest.raises(pgcopyman.Error, match="cannot be reconciled"):
                        copy.reconcile(lost)
        assert kept.state == "done" and kept.rows == ROWS
        assert lost.state == "dropped"
    assert len(faults) == 1
    assert "connection" in faults[0].message
    assert count(2, table) == ROWS
    assert answers(source) and answers(keep)
    # The killed target is broken, and psycopg says so (no crash, no hang).
    assert lose.closed or lose.info.status == psycopg.pq.ConnStatus.BAD
    assert count(3, table) == 0


class FailsOnce:
    """A callable receiver that times out on its third call, once."""

    def __init__(self):
        self.calls = 0
        self.chunks = []

    def __call__(self, data):
        self.calls += 1
        if self.calls == 3:
            raise socket.timeout("the consumer timed out")
        self.chunks.append(data)


def test_callable_that_fails_once_is_reconciled(connect, table):
    # >>> except copyman.Fault as cf:
    # ...     if isinstance(cf.faults[receiver], socket.timeout):
    # ...         copy.reconcile(receiver)
    # ...     else:
    # ...         raise
    source, destination = connect(1), connect(2)
    make_target(destination, table)
    sink = FailsOnce()
    receiver = pgcopyman.CallableReceiver(sink)
    other = pgcopyman.ConnectionReceiver(destination, "COPY %s FROM STDIN" % table)
    reconciled = 0
    moved = 0
    with source.transaction(), destination.transaction():
        with pgcopyman.CopyManager(pgcopyman.ConnectionProducer(source, SEND), receiver,
                                   other) as copy:
            while copy.receivers:
                try:
                    for num_rows, num_bytes in copy:
                        moved += num_bytes
                except pgcopyman.Fault as cf:
                    error = cf.faults[receiver]
                    assert error.status == "callback" and error.reconcilable
                    assert "socket.timeout" in error.message or "TimeoutError" in error.message
                    assert "the consumer timed out" in error.message
                    if isinstance(error.__cause__, socket.timeout):
                        copy.reconcile(receiver)
                        reconciled += 1
                    else:
                        raise
    assert reconciled == 1
    data = b"".join(sink.chunks)
    # Every row exactly once, in order: the failed call's bytes came again.
    assert data == text_rows(ROWS)
    assert moved == len(data) == copy.totals[1]
    assert receiver.state == "done" and other.state == "done"
    assert count(2, table) == ROWS


def test_rejected_row_names_sqlstate_and_row(connect, table):
    source, destination = connect(1), connect(2)
    make_target(destination, table, "int2")  # 32768 is out of range
    receiver = pgcopyman.ConnectionReceiver(destination, "COPY %s FROM STDIN" % table)
    with pytest.raises(pgcopyman.CopyFail) as info:
        with source.transaction(), destination.transaction():
            with pgcopyman.CopyManager(pgcopyman.ConnectionProducer(source, SEND),
                                       receiver) as copy:
                for _ in copy:
                    pass
    fail = info.value
    # The untrapped Fault failed the copy, and is its cause.
    assert isinstance(fail.__cause__, pgcopyman.Fault)
    error = fail.__cause__.faults[receiver]
    assert error.sqlstate == "22003" and error.row == 32768
    assert "out of range" in error.message and "receiver 1" in error.message
    assert fail.receiver_faults[receiver].sqlstate == "22003"
    assert "not handled" in fail.reason
    assert answers(source) and answers(destination)
    assert count(2, table) == 0


def test_trapped_fault_drops_the_receiver_and_the_rest_completes(connect, table):
    source, good, bad = connect(1), connect(2), connect(3)
    make_target(good, table)
    make_target(bad, table, "int2")
    ok = pgcopyman.ConnectionReceiver(good, "COPY %s FROM STDIN" % table)
    rejected = pgcopyman.ConnectionReceiver(bad, "COPY %s FROM STDIN" % table)
    seen = {}
    with source.transaction(), good.transaction():
        with pgcopyman.CopyManager(pgcopyman.ConnectionProducer(source, SEND), ok,
                                   rejected) as copy:
            while copy.receivers:
                try:
                    for _ in copy:
                        pass
                except pgcopyman.Fault as cf:
                    seen.update(cf.faults)  # known and accepted: go on without it
    # Trapped faults are not errors: the with block ended normally.
    assert list(seen) == [rejected] and seen[rejected].row == 32768
    assert ok.state == "done" and rejected.state == "dropped"
    assert count(2, table) == ROWS
    assert bad.info.transaction_status == psycopg.pq.TransactionStatus.INERROR
    bad.rollback()
    assert answers(bad) and count(3, table) == 0


def test_every_receiver_faulted_fails_the_copy(connect):
    source = connect(1)

    def broken(data):
        raise ValueError("no room")

    receivers = [pgcopyman.CallableReceiver(broken), pgcopyman.CallableReceiver(broken)]
    with pytest.raises(pgcopyman.CopyFail) as info:
        with source.transaction():
            with pgcopyman.CopyManager(pgcopyman.ConnectionProducer(source, SEND),
                                       *receivers) as copy:
                while copy.receivers:
                    try:
                        for _ in copy:
                            pass
                    except pgcopyman.Fault as cf:
                        assert set(cf.faults) == set(receivers)
                        assert all(isinstance(e.__cause__, ValueError) for e in cf.faults.values())
    assert set(info.value.receiver_faults) == set(receivers)
    assert all(r.state == "dropped" for r in receivers)
    assert answers(source)
