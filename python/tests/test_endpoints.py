"""Iterables to connections, connections to callables, files and file objects."""

import io
import os
import random

import pytest

import pgcopyman
from conftest import count, create_table, execute, text_rows

SAMPLES = ["plain", "tab\\there", "new\\nline and cr\\r", "back\\\\slash", "grüße, 日本, 🐘",
           "\\N", "", "a longer payload so that some rows are much wider than others"]


def sample_rows(n):
    """Text COPY rows with the escapes the server writes, UTF-8, and NULL."""
    return b"".join(("%d\t%s\n" % (i, SAMPLES[i % len(SAMPLES)])).encode() for i in range(1, n + 1))


def cut_anywhere(data, seed=42):
    """data in pieces of 1 to 97 bytes, cut anywhere (inside rows and escapes)."""
    rnd = random.Random(seed)
    pos = 0
    while pos < len(data):
        n = rnd.randint(1, 97)
        yield data[pos:pos + n]
        pos += n


def copy_out(server, sql):
    """What psycopg's own COPY TO gives for sql on server."""
    import psycopg
    from conftest import conninfo

    with psycopg.connect(conninfo(server)) as conn:
        with conn.cursor().copy(sql) as cp:
            return b"".join(bytes(b) for b in cp)


def test_iterable_to_two_connections(connect, table):
    dst1, dst2 = connect(2), connect(3)
    create_table(dst1, table)
    create_table(dst2, table)
    data = sample_rows(50000)
    with dst1.transaction(), dst2.transaction():
        rows, nbytes = pgcopyman.transfer(
            pgcopyman.IterableProducer(cut_anywhere(data)),
            pgcopyman.ConnectionReceiver(dst1, "COPY %s FROM STDIN" % table),
            pgcopyman.ConnectionReceiver(dst2, "COPY %s FROM STDIN" % table))
    assert (rows, nbytes) == (50000, len(data))
    for server in (2, 3):
        assert copy_out(server, "COPY (SELECT * FROM %s ORDER BY i) TO STDOUT" % table) == data


def test_connection_to_callables(connect):
    source = connect(1)
    sql = "COPY (SELECT i, 'item ' || i FROM generate_series(1, 100000) AS g(i)) TO STDOUT"
    first, second = [], []
    with source.transaction():
        rows, nbytes = pgcopyman.transfer(pgcopyman.ConnectionProducer(source, sql),
                                          pgcopyman.CallableReceiver(first.append),
                                          pgcopyman.CallableReceiver(second.append))
    expected = copy_out(1, sql)
    assert b"".join(first) == b"".join(second) == expected == text_rows(100000)
    assert (rows, nbytes) == (100000, len(expected))
    # Each call gets whole rows, as bytes.
    assert all(isinstance(c, bytes) and c.endswith(b"\n") for c in first)
    # About 64 KiB at a time: a chunk is filled to 64 KiB of whole rows.
    assert len(first) > 1 and max(len(c) for c in first) <= 65536 + 64


def test_csv_with_header(connect, table):
    dst = connect(2)
    create_table(dst, table)
    data = b"i,label\n" + b"".join(b'%d,"item, %d"\n' % (i, i) for i in range(1, 1001))
    got = []
    with dst.transaction():
        rows, _ = pgcopyman.transfer(
            pgcopyman.IterableProducer(cut_anywhere(data), format="csv", header=True),
            pgcopyman.ConnectionReceiver(dst, "COPY %s FROM STDIN (FORMAT csv, HEADER)" % table),
            pgcopyman.CallableReceiver(got.append))
    assert rows == 1000  # the header is not a row ...
    assert b"".join(got) == data  # ... and each receiver gets it once, first
    assert execute(2, "SELECT label FROM %s WHERE i = 7" % table) == [("item, 7",)]


def test_csv_header_from_a_connection_is_replayed_per_segment(connect, table):
    source, dst = connect(1), connect(2)
    create_table(dst, table)
    sql = ("COPY (SELECT i, 'item, ' || i FROM generate_series(1, 20000) AS g(i)) "
           "TO STDOUT (FORMAT csv, HEADER)")
    got = []
    with source.transaction(), dst.transaction():
        rows, _ = pgcopyman.transfer(
            pgcopyman.ConnectionProducer(source, sql, format="csv", header=True),
            pgcopyman.ConnectionReceiver(dst, "COPY %s FROM STDIN (FORMAT csv, HEADER)" % table),
            pgcopyman.CallableReceiver(got.append),
            segment_size=64 * 1024)  # many COPY segments, each starting with the header
    assert rows == 20000
    assert b"".join(got) == copy_out(1, sql)
    assert count(2, table) == 20000


def test_binary_through_a_callable_and_back(connect, table):
    source, dst = connect(1), connect(2)
    create_table(dst, table, "i int8, t timestamptz, n numeric, a text[]")
    sql = ("COPY (SELECT i::int8, timestamptz '2020-01-01' + i * interval '1 s', i / 7.0, "
           "ARRAY['a' || i, NULL] FROM generate_series(1, 20000) AS g(i)) "
           "TO STDOUT (FORMAT binary)")
    chunks = []
    with source.transaction():
        pgcopyman.transfer(pgcopyman.ConnectionProducer(source, sql),
                           pgcopyman.CallableReceiver(chunks.append))
    data = b"".join(chunks)
    assert data == copy_out(1, sql)
    with dst.transaction():
        rows, _ = pgcopyman.transfer(
            pgcopyman.IterableProducer(cut_anywhere(data), format="binary"),
            pgcopyman.ConnectionReceiver(dst, "COPY %s FROM STDIN (FORMAT binary)" % table))
    assert rows == 20000
    back = copy_out(2, "COPY (SELECT * FROM %s ORDER BY i) TO STDOUT (FORMAT binary)" % table)
    assert back == data


def test_files_and_file_objects(connect, table, tmp_path):
    source, dst = connect(1), connect(2)
    create_table(dst, table)
    sql = "COPY (SELECT i, 'item ' || i FROM generate_series(1, 30000) AS g(i)) TO STDOUT"
    expected = text_rows(30000)
    path_obj, path_fd = tmp_path / "by-object.copy", tmp_path / "by-fd.copy"
    memory = io.BytesIO()
    fd = os.open(path_fd, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with open(path_obj, "wb") as f:
        f.write(b"")  # nothing buffered yet: the copy's data comes first
        with source.transaction():
            pgcopyman.transfer(pgcopyman.ConnectionProducer(source, sql),
                               pgcopyman.FileReceiver(f), pgcopyman.FileReceiver(fd),
                               pgcopyman.FileReceiver(memory))
        # The file object's position follows what the copy wrote.
        assert f.tell() == len(expected)
        f.write(b"30001\tafter the copy\n")
    os.close(fd)
    assert path_obj.read_bytes() == expected + b"30001\tafter the copy\n"
    assert path_fd.read_bytes() == memory.getvalue() == expected
    # And back: a file object read through its descriptor, from where its reader stands.
    with open(path_obj, "rb") as f:
        assert f.readline() == b"1\titem 1\n"  # buffered more than that line
        with dst.transaction():
            rows, _ = pgcopyman.transfer(
                pgcopyman.FileProducer(f),
                pgcopyman.ConnectionReceiver(dst, "COPY %s FROM STDIN" % table))
        assert rows == 30000
        assert f.read() == b""  # at the end, as the copy left it
    with dst.transaction():
        rows, _ = pgcopyman.transfer(
            pgcopyman.FileProducer(io.BytesIO(b"0\tfrom memory\n")),
            pgcopyman.ConnectionReceiver(dst, "COPY %s FROM STDIN" % table))
    assert rows == 1 and count(2, table) == 30001
    assert execute(2, "SELECT label FROM %s WHERE i IN (0, 30001) ORDER BY i" % table) == [
        ("from memory",), ("after the copy",)]


def test_bad_input_is_refused_with_the_reason(connect, tmp_path):
    with pytest.raises(pgcopyman.CopyFail) as info:
        pgcopyman.transfer(pgcopyman.IterableProducer([b"1\tok\n", "2\tnot bytes\n"]),
                           pgcopyman.NullReceiver())
    assert isinstance(info.value.producer_fault, TypeError)
    assert "item 2 of the iterable is str, not bytes" in str(info.value)
    with open(tmp_path / "text.copy", "w") as f:
        with pytest.raises(TypeError, match="binary mode"):
            pgcopyman.FileReceiver(f)
    with pytest.raises(TypeError, match="iterable of bytes"):
        pgcopyman.IterableProducer(b"1\tx\n")
    with pytest.raises(ValueError, match="format must be"):
        pgcopyman.IterableProducer([], format="json")
    with pytest.raises(ValueError, match="header=True is for format='csv'"):
        pgcopyman.IterableProducer([], header=True)
    with pytest.raises(ValueError, match="one ASCII character"):
        pgcopyman.IterableProducer([], format="csv", delimiter=";;")
    with pytest.raises(TypeError, match="needs a callable"):
        pgcopyman.CallableReceiver(42)
    with pytest.raises(ValueError, match="not a file descriptor"):
        pgcopyman.FileReceiver(-1)
    with pytest.raises(TypeError, match="cannot be created directly"):
        pgcopyman.Receiver()
    # A row longer than max_row is a producer fault, not an allocation.
    with pytest.raises(pgcopyman.CopyFail) as info:
        pgcopyman.transfer(pgcopyman.IterableProducer([b"x" * 5000 + b"\n"], max_row=1000),
                           pgcopyman.NullReceiver())
    assert info.value.status == "producer"
    # Malformed binary data.
    with pytest.raises(pgcopyman.CopyFail, match="signature not recognized"):
        pgcopyman.transfer(pgcopyman.IterableProducer([b"not a binary copy"], format="binary"),
                           pgcopyman.NullReceiver())
