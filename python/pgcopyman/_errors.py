"""pgcopyman's exceptions.

Every exception the package raises on purpose derives from :class:`Error`.
The extension module creates them; they are plain Python classes so that
their attributes, constructors and docstrings are easy to read.
"""

from typing import Any, Dict, Optional


class Error(Exception):
    """Base class of every exception pgcopyman raises."""


class InterfaceError(Error):
    """An object cannot be used as asked: a closed or busy connection, a
    connection in a failed transaction, a copy manager that already ran, a
    receiver that already belongs to a copy."""


class IncompatibleLibpq(InterfaceError):
    """psycopg uses another libpq than the one pgcopyman is linked against
    (psycopg's ``binary`` implementation bundles its own), so its connections
    cannot be handed to pgcopyman.  The message says what to use instead."""


class ProducerError(Error):
    """Why the producer failed.

    Attributes: ``message``; ``status`` (the library's status name, e.g.
    ``"server"``, ``"connection"``, ``"format"``); ``sqlstate`` (five
    characters, or ``None`` when the server gave none).
    """

    def __init__(self, message: str, *, status: str = "", sqlstate: Optional[str] = None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.sqlstate = sqlstate


class ReceiverError(Error):
    """One receiver's fault.

    Attributes: ``receiver`` (the Receiver object), ``message`` (names the
    receiver: ``"receiver 2 (host=... dbname=...): ..."``), ``status`` (the
    library's status name: ``"server"``, ``"connection"``, ``"timeout"``,
    ``"callback"``, ``"io"``, ``"rowcount"``), ``sqlstate`` (five characters,
    or ``None``), ``row`` (the 1-based row of the whole stream it failed at,
    or ``None`` when unknown) and ``reconcilable`` (``True`` when
    :meth:`CopyManager.reconcile` may put it back).  For a callable or file
    object receiver, ``__cause__`` is the exception it raised.
    """

    def __init__(self, message: str, *, receiver: Any = None, status: str = "",
                 sqlstate: Optional[str] = None, row: Optional[int] = None,
                 reconcilable: bool = False):
        super().__init__(message)
        self.message = message
        self.receiver = receiver
        self.status = status
        self.sqlstate = sqlstate
        self.row = row
        self.reconcilable = reconcilable


class Fault(Error):
    """Receivers failed in a cycle; the copy goes on without them.

    Raised by ``CopyManager.__next__``.  ``faults`` maps each receiver that
    failed in that cycle to its :class:`ReceiverError`; ``manager`` is the
    CopyManager.  A faulted receiver is out of ``manager.receivers``; call
    ``manager.reconcile(receiver)`` before the next cycle to put it back, or
    let it go (its COPY is then failed, so it keeps nothing).  A Fault that
    leaves the ``with`` block fails the whole copy (:class:`CopyFail`).
    """

    def __init__(self, manager: Any, faults: Dict[Any, ReceiverError]):
        super().__init__(manager, faults)
        self.manager = manager
        self.faults = faults

    def __str__(self) -> str:
        return "; ".join(str(e) for e in self.faults.values()) or "receiver fault"


class CopyFail(Error):
    """The copy did not complete and was aborted: every target's COPY was
    failed (so it keeps no row of it) and every connection was left usable.

    Attributes: ``manager``; ``reason`` (why it ended); ``status`` (the
    library's status name: ``"aborted"``, ``"producer"``,
    ``"no_receivers"``, ...); ``receiver_faults`` (every receiver fault of the
    copy, receiver -> :class:`ReceiverError`); ``producer_fault`` (the
    producer's exception: a :class:`ProducerError`, or what a Python
    iterable or file raised; ``None`` when the producer did not fail).
    """

    def __init__(self, manager: Any, reason: str, *, status: str = "",
                 receiver_faults: Optional[Dict[Any, ReceiverError]] = None,
                 producer_fault: Optional[BaseException] = None):
        super().__init__(reason)
        self.manager = manager
        self.reason = reason
        self.status = status
        self.receiver_faults = receiver_faults or {}
        self.producer_fault = producer_fault

    def __str__(self) -> str:
        return self.reason or "copy aborted"


class NotifyError(Error):
    """A notifier or listener failed: the listener's first connection, a
    LISTEN the server refused.  ``status`` is the library's status name."""

    def __init__(self, message: str, *, status: str = ""):
        super().__init__(message)
        self.message = message
        self.status = status
