"""What notifiers and listeners yield: notifications and events."""

from typing import Any, NamedTuple, Optional


class Notification(NamedTuple):
    """One notification: ``channel``, ``payload`` (``""`` when none was
    given) and ``pid`` (the sending backend), as psycopg's ``Notify``; plus
    ``connection``: for a :class:`Notifier`, the connection it arrived on
    (as it was added); for a :class:`Listener`, ``None``."""

    channel: str
    payload: str
    pid: int
    connection: Any = None


class Event(NamedTuple):
    """Something other than a notification.

    ``kind`` is one of:

    ``"idle"``
        nothing arrived for the idle interval;
    ``"failed"``
        (notifier) ``connection`` broke; it is set aside and reported once;
    ``"disconnected"``
        (listener) its connection broke; it is re-connecting;
    ``"reconnected"``
        (listener) connected and listening again: notifications sent
        meanwhile were lost, so resynchronise.

    ``message`` says why for ``failed`` and ``disconnected``.
    """

    kind: str
    message: Optional[str] = None
    connection: Any = None

