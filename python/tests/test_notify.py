"""Notifications: the notifier over psycopg connections, the re-connecting listener."""

import time

import pytest

import pgcopyman
from conftest import SigintTimer, conninfo, execute, terminate_backend


def notify(server, channel, payload):
    execute(server, "SELECT pg_notify(%s, %s)", (channel, payload))


def take(iterator, n, kinds=(pgcopyman.Notification,)):
    """The next n items of the wanted kinds (others are skipped), with a deadline."""
    out = []
    deadline = time.monotonic() + 20
    for item in iterator:
        if isinstance(item, kinds):
            out.append(item)
            if len(out) == n:
                return out
        assert time.monotonic() < deadline, "only %r arrived" % (out,)
    pytest.fail("the iteration ended after %r" % (out,))


def take_events(iterator, n):
    """The next n events other than idle ones."""
    out = []
    while len(out) < n:
        out += [e for e in take(iterator, 1, kinds=(pgcopyman.Event,)) if e.kind != "idle"]
    return out


def test_notifier_over_two_psycopg_connections(connect):
    a, b = connect(1, autocommit=True), connect(2, autocommit=True)
    a.execute("LISTEN jobs")
    b.execute('LISTEN "Mixed Case"')
    notifier = pgcopyman.Notifier(a, b, idle=0.3)
    assert notifier.connections == (a, b)
    notify(1, "jobs", "first")
    notify(1, "jobs", "grüße 🐘")
    notify(2, "Mixed Case", "")
    got = take(notifier, 3)
    on_a = [n for n in got if n.connection is a]
    assert [(n.channel, n.payload) for n in on_a] == [("jobs", "first"), ("jobs", "grüße 🐘")]
    [on_b] = [n for n in got if n.connection is b]
    assert (on_b.channel, on_b.payload) == ("Mixed Case", "")
    assert on_b.pid > 0 and on_b.pid != b.info.backend_pid
    # Nothing more: an idle event comes after the interval.
    started = time.monotonic()
    assert next(notifier) == pgcopyman.Event("idle")
    assert time.monotonic() - started >= 0.25
    # The connections stay psycopg's: usable between iterations.
    assert a.execute("SELECT 1").fetchone() == (1,)
    notifier.remove(b)
    assert notifier.connections == (a,)


def test_notifier_poll_mode_returns_what_is_pending(connect):
    conn = connect(1, autocommit=True)
    conn.execute("LISTEN poll")
    for i in range(3):
        notify(1, "poll", str(i))
    time.sleep(0.2)
    assert [n.payload for n in pgcopyman.Notifier(conn, idle=0)] == ["0", "1", "2"]
    assert list(pgcopyman.Notifier(conn, idle=0)) == []


def test_notifier_reports_a_broken_connection_once(connect):
    a, b = connect(1, autocommit=True), connect(2, autocommit=True)
    a.execute("LISTEN jobs")
    b.execute("LISTEN jobs")
    notifier = pgcopyman.Notifier(a, b, idle=0.2)
    terminate_backend(2, b.info.backend_pid)
    failed = take_events(notifier, 1)
    assert failed[0].kind == "failed" and failed[0].connection is b
    assert failed[0].message
    notify(1, "jobs", "still here")
    events = []
    for item in notifier:
        events.append(item)
        if isinstance(item, pgcopyman.Notification):
            break
    assert events[-1].payload == "still here"
    assert not any(getattr(e, "kind", None) == "failed" for e in events)


def test_notifier_ends_when_its_last_connection_broke(connect):
    # As py-postgresql's NotificationManager: no live connection left ends the
    # iteration, idle events or not (it used to yield idle events forever).
    conn = connect(1, autocommit=True)
    conn.execute("LISTEN jobs")
    notifier = pgcopyman.Notifier(conn, idle=0.2)
    terminate_backend(1, conn.info.backend_pid)
    [failed] = take_events(notifier, 1)
    assert failed.kind == "failed" and failed.connection is conn
    rest = []
    for item in notifier:
        rest.append(item)
        assert len(rest) < 10, "the iteration goes on without a live connection: %r" % rest
    assert rest == []
    # A connection added afterwards starts it again.
    other = connect(2, autocommit=True)
    other.execute("LISTEN jobs")
    notifier.add(other)
    notify(2, "jobs", "again")
    assert [n.payload for n in take(notifier, 1)] == ["again"]


def test_notifier_forgets_a_connection_closed_by_its_owner(connect):
    a, b = connect(1, autocommit=True), connect(2, autocommit=True)
    a.execute("LISTEN jobs")
    notifier = pgcopyman.Notifier(a, b, idle=0)
    b.close()
    notify(1, "jobs", "x")
    time.sleep(0.2)
    assert [n.payload for n in notifier] == ["x"]
    assert notifier.connections == (a,)


def test_listener_across_a_backend_termination(connect):
    with pgcopyman.Listener(conninfo(1), ["jobs", "Mixed Case"], idle=0.2,
                            backoff=(0.05, 0.5)) as listener:
        # Wait until it is listening (idle events come once it is connected and quiet).
        take(listener, 1, kinds=(pgcopyman.Event,))
        assert listener.ready
        notify(1, "jobs", "before")
        notify(1, "Mixed Case", "line one\nline two")
        got = take(listener, 2)
        assert [(n.channel, n.payload) for n in got] == [
            ("jobs", "before"), ("Mixed Case", "line one\nline two")]
        assert got[0].connection is None
        pid = listener.backend_pid
        terminate_backend(1, pid)
        events = take_events(listener, 2)
        assert [e.kind for e in events] == ["disconnected", "reconnected"]
        assert "terminating connection" in events[0].message
        assert listener.reconnects == 1 and listener.backend_pid not in (None, pid)
        notify(1, "jobs", "after the break")
        assert take(listener, 1)[0].payload == "after the break"
    assert listener.closed
    with pytest.raises(pgcopyman.InterfaceError, match="closed"):
        next(listener)


def test_listener_listen_and_unlisten_while_running():
    with pgcopyman.Listener(conninfo(2), "first", idle=0.1) as listener:
        take(listener, 1, kinds=(pgcopyman.Event,))
        listener.listen("second")
        listener.unlisten("first")
        while not listener.ready:
            next(listener)
        notify(2, "first", "not for us")
        notify(2, "second", "for us")
        assert [(n.channel, n.payload) for n in take(listener, 1)] == [("second", "for us")]


def test_listener_refuses_what_the_server_would():
    with pytest.raises(ValueError, match="1 to 63 bytes"):
        pgcopyman.Listener(conninfo(1), ["x" * 64])
    with pytest.raises(ValueError, match="1 to 63 bytes"):
        pgcopyman.Listener(conninfo(1), [""])
    listener = pgcopyman.Listener("host=/nonexistent port=1 connect_timeout=2", ["jobs"])
    with pytest.raises(pgcopyman.NotifyError) as info:
        next(listener)
    assert info.value.status == "connection"
    listener.close()


def test_ctrl_c_interrupts_a_waiting_listener():
    with pgcopyman.Listener(conninfo(3), ["quiet"]) as listener:
        with pytest.raises(KeyboardInterrupt):
            with SigintTimer(0.5) as timer:
                for _ in listener:
                    pass
        took = time.monotonic() - timer.sent_at
        assert took < 2.0
        # And it goes on afterwards.
        notify(3, "quiet", "after ^C")
        assert take(listener, 1)[0].payload == "after ^C"


def test_ctrl_c_interrupts_a_waiting_notifier(connect):
    conn = connect(1, autocommit=True)
    conn.execute("LISTEN quiet")
    notifier = pgcopyman.Notifier(conn)
    with pytest.raises(KeyboardInterrupt):
        with SigintTimer(0.5) as timer:
            for _ in notifier:
                pass
    assert time.monotonic() - timer.sent_at < 2.0
    notify(1, "quiet", "after ^C")
    assert take(notifier, 1)[0].payload == "after ^C"
