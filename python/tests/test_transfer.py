"""The copy manager manual's first example: the one-call transfer."""

import psycopg
import pytest

import pgcopyman
from conftest import answers, count

SEND = "COPY (SELECT i FROM generate_series(1, 200000) AS g(i)) TO STDOUT"
EXPECTED_BYTES = sum(len(b"%d\n" % i) for i in range(1, 200001))


def test_one_call_transfer_to_two_targets(connect):
    # >>> destination.execute("CREATE TEMP TABLE loading_table (i int8)")
    # >>> total_rows, total_bytes = COPY(send_stmt, receive_stmt)
    source, dst1, dst2 = connect(1), connect(2), connect(3)
    for d in (dst1, dst2):
        d.execute("CREATE TEMP TABLE loading_table (i int8)")
    total_rows, total_bytes = pgcopyman.transfer(
        pgcopyman.ConnectionProducer(source, SEND),
        pgcopyman.ConnectionReceiver(dst1, "COPY loading_table FROM STDIN"),
        pgcopyman.ConnectionReceiver(dst2, "COPY loading_table FROM STDIN"))
    assert (total_rows, total_bytes) == (200000, EXPECTED_BYTES)
    for d in (dst1, dst2):
        # The rows are in psycopg's open transaction, which stays the caller's.
        assert d.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS
        assert d.execute("SELECT count(*), sum(i) FROM loading_table").fetchone() == (
            200000, 200000 * 200001 // 2)
        d.commit()
        assert answers(d)
    source.rollback()
    assert answers(source)


def test_transfer_commits_nothing_anywhere_when_a_target_fails(connect, table):
    source, good, bad = connect(1), connect(2), connect(3)
    good.execute("CREATE TABLE %s (i int8)" % table)
    bad.execute("CREATE TABLE %s (i int2)" % table)  # rejects 32768
    good.commit()
    bad.commit()
    with pytest.raises(pgcopyman.CopyFail) as info:
        pgcopyman.transfer(
            pgcopyman.ConnectionProducer(source, SEND),
            pgcopyman.ConnectionReceiver(good, "COPY %s FROM STDIN" % table),
            pgcopyman.ConnectionReceiver(bad, "COPY %s FROM STDIN" % table, label="bad target"))
    fail = info.value
    errors = list(fail.receiver_faults.values())
    assert len(errors) == 1
    assert errors[0].sqlstate == "22003" and errors[0].row == 32768
    assert "bad target" in errors[0].message and "out of range" in errors[0].message
    for conn in (source, good, bad):
        conn.rollback()
        assert answers(conn)
    assert count(2, table) == 0 and count(3, table) == 0
