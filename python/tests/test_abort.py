"""Aborts: an exception in the with block, break, Ctrl-C, a failing producer.
After each, every connection answers through psycopg and the targets hold
all rows or none."""

import time

import pytest

import pgcopyman
from conftest import SigintTimer, answers, count, create_table

BIG = "COPY (SELECT i, 'item ' || i FROM generate_series(1, %d) AS g(i)) TO STDOUT"


def targets(connect, table, n=2):
    conns = [connect(2 + i) for i in range(n)]
    for c in conns:
        create_table(c, table)
    return conns


def receivers_for(conns, table):
    return [pgcopyman.ConnectionReceiver(c, "COPY %s FROM STDIN" % table) for c in conns]


def check_clean(source, conns, table):
    for conn in [source, *conns]:
        assert answers(conn)
    for i in range(len(conns)):
        assert count(2 + i, table) == 0


def test_exception_inside_the_with_block(connect, table):
    source = connect(1)
    conns = targets(connect, table)
    receivers = receivers_for(conns, table)
    with pytest.raises(pgcopyman.CopyFail) as info:
        with source.transaction(), conns[0].transaction(), conns[1].transaction():
            with pgcopyman.CopyManager(pgcopyman.ConnectionProducer(source, BIG % 1000000),
                                       *receivers) as copy:
                for _ in copy:
                    raise ValueError("the consumer changed its mind")
    fail = info.value
    assert isinstance(fail.__cause__, ValueError)
    assert fail.status == "aborted" and "exception" in fail.reason
    assert fail.manager is copy and copy.state == "closed"
    assert [r.state for r in receivers] == ["aborted", "aborted"]
    check_clean(source, conns, table)


def test_break(connect, table):
    source = connect(1)
    conns = targets(connect, table)
    receivers = receivers_for(conns, table)
    cycles = 0
    with pytest.raises(pgcopyman.CopyFail, match="left before it completed") as info:
        with source.transaction(), conns[0].transaction(), conns[1].transaction():
            with pgcopyman.CopyManager(pgcopyman.ConnectionProducer(source, BIG % 1000000),
                                       *receivers) as copy:
                for _ in copy:
                    cycles += 1
                    if cycles == 3:
                        break
    assert cycles == 3
    # The source's COPY was cancelled by the abort: that is not a producer fault.
    assert info.value.producer_fault is None and info.value.receiver_faults == {}
    check_clean(source, conns, table)


def test_break_on_autocommit_connections(connect, table):
    # Outside a transaction block each COPY is a transaction of its own: the
    # abort fails it, so nothing stays, and the connections are idle at once.
    source = connect(1, autocommit=True)
    conns = targets(connect, table)
    for c in conns:
        c.autocommit = True
    with pytest.raises(pgcopyman.CopyFail):
        with pgcopyman.CopyManager(pgcopyman.ConnectionProducer(source, BIG % 1000000),
                                   *receivers_for(conns, table)) as copy:
            for _ in copy:
                break
    check_clean(source, conns, table)


@pytest.mark.parametrize("how", ["iterating", "run", "stalled source"])
def test_keyboard_interrupt_aborts_within_a_second(connect, table, how):
    source = connect(1)
    conns = targets(connect, table)
    receivers = receivers_for(conns, table)
    send = ("COPY (SELECT pg_sleep(60)) TO STDOUT" if how == "stalled source"
            else BIG % 100000000)
    with pytest.raises(KeyboardInterrupt):
        with source.transaction(), conns[0].transaction(), conns[1].transaction():
            with SigintTimer(0.5) as timer:
                with pgcopyman.CopyManager(pgcopyman.ConnectionProducer(source, send),
                                           *receivers) as copy:
                    if how == "run":
                        copy.run()
                    else:
                        for _ in copy:
                            pass
    took = time.monotonic() - timer.sent_at
    print("KeyboardInterrupt (%s): the copy was aborted %.3f s after SIGINT" % (how, took))
    assert took < 2.0  # within a second, with a margin for a loaded machine
    assert copy.state == "closed"
    assert [r.state for r in receivers] == ["aborted", "aborted"]
    check_clean(source, conns, table)


def test_keyboard_interrupt_in_a_callback_ends_the_copy(connect, table):
    source = connect(1)
    conns = targets(connect, table, n=1)
    calls = []

    def impatient(data):
        calls.append(len(data))
        if len(calls) == 2:
            raise KeyboardInterrupt

    receivers = [pgcopyman.CallableReceiver(impatient), *receivers_for(conns, table)]
    with pytest.raises(KeyboardInterrupt):
        with source.transaction(), conns[0].transaction():
            with pgcopyman.CopyManager(pgcopyman.ConnectionProducer(source, BIG % 1000000),
                                       *receivers) as copy:
                for _ in copy:
                    pass
    assert len(calls) == 2
    assert [r.state for r in receivers] == ["dropped", "aborted"]
    check_clean(source, conns, table)


def test_failing_iterable_producer_fails_the_copy(connect, table):
    conns = targets(connect, table)

    def rows():
        for i in range(1, 100001):
            if i == 50000:
                raise ValueError("the source file is corrupt at row %d" % i)
            yield b"%d\titem %d\n" % (i, i)

    with pytest.raises(pgcopyman.CopyFail) as info:
        with conns[0].transaction(), conns[1].transaction():
            pgcopyman.CopyManager(pgcopyman.IterableProducer(rows()),
                                  *receivers_for(conns, table)).run()
    fail = info.value
    assert fail.status == "producer"
    assert isinstance(fail.producer_fault, ValueError) and fail.__cause__ is fail.producer_fault
    assert "corrupt at row 50000" in fail.reason
    for i, conn in enumerate(conns):
        assert answers(conn) and count(2 + i, table) == 0


def test_failing_server_producer(connect, table):
    source = connect(1)
    conns = targets(connect, table, n=1)
    with pytest.raises(pgcopyman.CopyFail) as info:
        with source.transaction(), conns[0].transaction():
            pgcopyman.CopyManager(
                pgcopyman.ConnectionProducer(
                    source, "COPY (SELECT 1 / (50000 - i), 'x' "
                    "FROM generate_series(1, 100000) AS g(i)) TO STDOUT"),
                *receivers_for(conns, table)).run()
    fault = info.value.producer_fault
    assert isinstance(fault, pgcopyman.ProducerError)
    assert fault.sqlstate == "22012" and "division by zero" in fault.message
    check_clean(source, conns, table)
