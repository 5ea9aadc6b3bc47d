"""The copy manager driven cycle by cycle, run(), and what it leaves psycopg."""

import psycopg
import pytest

import pgcopyman
from conftest import answers, count, create_table, text_rows

SEND = "COPY (SELECT i, 'item ' || i FROM generate_series(1, %d) AS g(i)) TO STDOUT"
TX = psycopg.pq.TransactionStatus


def test_manager_loop_with_progress(connect, table):
    # >>> with source.xact(), destination.xact():
    # ...     with copyman.CopyManager(producer, receiver) as copy:
    # ...         for num_messages, num_bytes in copy:
    # ...             update_rate(num_bytes)
    source, destination = connect(1), connect(2)
    create_table(destination, table)
    producer = pgcopyman.ConnectionProducer(source, SEND % 300000)
    receiver = pgcopyman.ConnectionReceiver(destination, "COPY %s FROM STDIN" % table)
    cycles = []
    with source.transaction(), destination.transaction():
        with pgcopyman.CopyManager(producer, receiver) as copy:
            assert copy.receivers == {receiver}
            for num_rows, num_bytes in copy:
                cycles.append((num_rows, num_bytes))
            assert copy.receivers == frozenset()  # `while copy.receivers:` ends
            assert copy.state == "completed"
    assert len(cycles) > 1 and all(b > 0 for _, b in cycles)
    assert sum(r for r, _ in cycles) == 300000
    assert sum(b for _, b in cycles) == copy.totals[1] == len(text_rows(300000))
    assert copy.state == "closed"
    assert receiver.state == "done" and receiver.rows == 300000
    assert count(2, table) == 300000
    assert answers(source) and answers(destination)


def test_run(connect, table):
    # >>> with source.xact(), destination.xact():
    # ...     copyman.CopyManager(producer, receiver).run()
    source, destination = connect(1), connect(2)
    create_table(destination, table)
    with source.transaction(), destination.transaction():
        rows, nbytes = pgcopyman.CopyManager(
            pgcopyman.ConnectionProducer(source, SEND % 1000),
            pgcopyman.ConnectionReceiver(destination, "COPY %s FROM STDIN" % table)).run()
    assert (rows, nbytes) == (1000, len(text_rows(1000)))
    assert count(2, table) == 1000


def test_a_copy_runs_once(connect, table):
    source, destination = connect(1, autocommit=True), connect(2, autocommit=True)
    create_table(destination, table)
    producer = pgcopyman.ConnectionProducer(source, SEND % 10)
    receiver = pgcopyman.ConnectionReceiver(destination, "COPY %s FROM STDIN" % table)
    copy = pgcopyman.CopyManager(producer, receiver)
    assert copy.run() == (10, len(text_rows(10)))
    with pytest.raises(pgcopyman.InterfaceError, match="already run"):
        copy.run()
    with pytest.raises(pgcopyman.InterfaceError, match="already run"):
        copy.__enter__()
    assert list(copy) == []
    with pytest.raises(pgcopyman.InterfaceError, match="serves one copy"):
        pgcopyman.CopyManager(producer, pgcopyman.NullReceiver())
    # A bad option is refused before the copy takes the endpoints: they stay usable.
    fresh, sink = pgcopyman.NullProducer(), pgcopyman.NullReceiver()
    for bad in ({"chunks": 1}, {"chunk_size": 0}, {"stall_timeout": -1}, {"segment_size": -1}):
        with pytest.raises(ValueError):
            pgcopyman.CopyManager(fresh, sink, **bad)
    assert pgcopyman.CopyManager(fresh, sink, chunk_size=4096, chunks=4, stall_timeout=0,
                                 drain_timeout=1.5, segment_size=0).run() == (0, 0)
    with pytest.raises(pgcopyman.InterfaceError, match="serves one copy"):
        pgcopyman.CopyManager(pgcopyman.NullProducer(), receiver)


def test_psycopg_begins_its_transaction_when_not_in_autocommit(connect, table):
    source, destination = connect(1), connect(2)
    create_table(destination, table)
    assert destination.info.transaction_status == TX.IDLE
    destination.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
    pgcopyman.transfer(pgcopyman.ConnectionProducer(source, SEND % 500),
                       pgcopyman.ConnectionReceiver(destination, "COPY %s FROM STDIN" % table))
    # As psycopg's own cursor.copy() would: the rows wait for commit() ...
    assert destination.info.transaction_status == TX.INTRANS
    assert destination.execute("SHOW transaction_isolation").fetchone() == ("repeatable read",)
    assert count(2, table) == 0
    destination.rollback()  # ... and rollback() takes them back.
    assert count(2, table) == 0
    pgcopyman.transfer(pgcopyman.ConnectionProducer(source, SEND % 500),
                       pgcopyman.ConnectionReceiver(destination, "COPY %s FROM STDIN" % table))
    destination.commit()
    assert count(2, table) == 500
    source.rollback()


def test_autocommit_connection_commits_the_copy(connect, table):
    source, destination = connect(1, autocommit=True), connect(2, autocommit=True)
    create_table(destination, table)
    pgcopyman.transfer(pgcopyman.ConnectionProducer(source, SEND % 700),
                       pgcopyman.ConnectionReceiver(destination, "COPY %s FROM STDIN" % table))
    assert destination.info.transaction_status == TX.IDLE
    assert count(2, table) == 700


def test_psycopg_state_after_the_library_used_the_connection(connect, table):
    source, destination = connect(1), connect(2)
    create_table(destination, table)
    before = [c.pgconn.nonblocking for c in (source, destination)]
    with source.transaction(), destination.transaction():
        with pgcopyman.CopyManager(
                pgcopyman.ConnectionProducer(source, SEND % 20000),
                pgcopyman.ConnectionReceiver(destination, "COPY %s FROM STDIN" % table)) as copy:
            for _ in copy:
                pass
        for c in (source, destination):
            assert c.info.transaction_status == TX.INTRANS
            assert c.pgconn.transaction_status == TX.INTRANS
        # psycopg's own COPY and queries work on the same transaction.
        with destination.cursor().copy("COPY %s FROM STDIN" % table) as cp:
            cp.write_row((0, "by psycopg"))
        assert destination.execute("SELECT count(*) FROM %s" % table).fetchone() == (20001,)
    assert [c.pgconn.nonblocking for c in (source, destination)] == before
    assert count(2, table) == 20001
    # A rollback through psycopg also works after a copy.
    destination.execute("DELETE FROM %s" % table)
    destination.rollback()
    assert count(2, table) == 20001


def test_connections_that_cannot_copy_are_refused(connect, table):
    source, destination = connect(1), connect(2)
    create_table(destination, table)
    receiver = pgcopyman.ConnectionReceiver(destination, "COPY %s FROM STDIN" % table)
    # A psycopg COPY still in progress on the source: busy.
    with source.cursor().copy("COPY (SELECT 1) TO STDOUT") as psycopg_copy:
        with pytest.raises(pgcopyman.InterfaceError, match="busy"):
            with pgcopyman.CopyManager(pgcopyman.ConnectionProducer(source, SEND % 1),
                                       receiver):
                pass
        while psycopg_copy.read():  # psycopg needs its COPY OUT read to the end
            pass
    source.rollback()
    # A copy that never started left its receiver untouched.
    assert receiver.state == "idle"
    with pytest.raises(psycopg.errors.DivisionByZero):
        destination.execute("SELECT 1/0")
    with pytest.raises(pgcopyman.InterfaceError, match="roll it back first"):
        pgcopyman.transfer(pgcopyman.ConnectionProducer(source, SEND % 1),
                           pgcopyman.ConnectionReceiver(destination, "COPY %s FROM STDIN" % table))
    destination.rollback()
    closed = connect(3)
    closed.close()
    with pytest.raises(pgcopyman.InterfaceError, match="closed"):
        pgcopyman.ConnectionReceiver(closed, "COPY %s FROM STDIN" % table)
    with destination.pipeline():
        with pytest.raises(pgcopyman.InterfaceError, match="pipeline mode"):
            pgcopyman.transfer(pgcopyman.ConnectionProducer(source, SEND % 1),
                               pgcopyman.ConnectionReceiver(destination,
                                                            "COPY %s FROM STDIN" % table))
    source.rollback()
    destination.rollback()
    with pytest.raises(ValueError, match="same connection"):
        pgcopyman.CopyManager(pgcopyman.NullProducer(),
                              pgcopyman.ConnectionReceiver(destination, "COPY x FROM STDIN"),
                              pgcopyman.ConnectionReceiver(destination, "COPY y FROM STDIN"))
    with pytest.raises(ValueError, match="producer's connection"):
        pgcopyman.CopyManager(pgcopyman.ConnectionProducer(source, SEND % 1),
                              pgcopyman.ConnectionReceiver(source, "COPY y FROM STDIN"))
    with pytest.raises(TypeError, match="psycopg 3 connection"):
        pgcopyman.ConnectionReceiver(object(), "COPY y FROM STDIN")
    with pytest.raises(TypeError, match="at least one receiver"):
        pgcopyman.CopyManager(pgcopyman.NullProducer())
    with pytest.raises(TypeError, match="Receiver"):
        pgcopyman.CopyManager(pgcopyman.NullProducer(), print)
    with pytest.raises(ValueError, match="NUL"):
        pgcopyman.ConnectionReceiver(destination, "COPY x\0 FROM STDIN")


def test_a_connection_closed_under_the_copy_is_never_touched_again(connect, table):
    source, destination = connect(1), connect(2)
    create_table(destination, table)
    receiver = pgcopyman.ConnectionReceiver(destination, "COPY %s FROM STDIN" % table)
    with pytest.raises(pgcopyman.InterfaceError, match="was closed while the copy was using it"):
        with pgcopyman.CopyManager(pgcopyman.ConnectionProducer(source, SEND % 1000000),
                                   receiver) as copy:
            for _ in copy:
                destination.close()  # frees its PGconn: the library must not use it again
    assert copy.state == "closed" and receiver.state == "aborted"
    # The source was left in its COPY (touching the copy could have touched the freed
    # connection); psycopg can still close it.
    source.close()
    assert count(2, table) == 0
