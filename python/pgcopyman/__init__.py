"""pgcopyman: move PostgreSQL COPY data from one producer to many receivers at
once, and manage LISTEN/NOTIFY, on psycopg 3 connections.

The copy manager follows py-postgresql's ``postgresql.copyman``::

    import psycopg, pgcopyman

    producer = pgcopyman.ConnectionProducer(source, "COPY t TO STDOUT")
    receiver = pgcopyman.ConnectionReceiver(destination, "COPY t FROM STDIN")
    with source.transaction(), destination.transaction():
        with pgcopyman.CopyManager(producer, receiver) as copy:
            for rows, nbytes in copy:
                update_rate(nbytes)

Producers: ConnectionProducer, FileProducer, IterableProducer, NullProducer.
Receivers: ConnectionReceiver, FileReceiver, CallableReceiver, NullReceiver.
One call: transfer(producer, *receivers).  Faults: Fault (a receiver failed;
the copy goes on), CopyFail (the copy was aborted).  Notifications: Notifier
(your connections) and Listener (its own, re-connecting connection).

The C core is linked against the system libpq and drives the very PGconn
psycopg made (through ``pgconn.pgconn_ptr``); a psycopg that carries its own
libpq (the ``binary`` implementation) is refused with IncompatibleLibpq.
"""

from ._errors import (CopyFail, Error, Fault, IncompatibleLibpq, InterfaceError,
                      NotifyError, ProducerError, ReceiverError)
from ._events import Event, Notification
from ._pgcopyman import (CallableReceiver, ConnectionProducer, ConnectionReceiver,
                         CopyManager, FileProducer, FileReceiver, IterableProducer,
                         Listener, Notifier, NullProducer, NullReceiver, Producer,
                         Receiver, __version__, libpq_path, libpq_version, transfer)

# py-postgresql's names for the same things.
ReceiverFault = Fault
IteratorProducer = IterableProducer
CallReceiver = CallableReceiver

__all__ = [
    "CallReceiver", "CallableReceiver", "ConnectionProducer", "ConnectionReceiver",
    "CopyFail", "CopyManager", "Error", "Event", "Fault", "FileProducer", "FileReceiver",
    "IncompatibleLibpq", "InterfaceError", "IterableProducer", "IteratorProducer",
    "Listener", "Notification", "Notifier", "NotifyError", "NullProducer", "NullReceiver",
    "Producer", "ProducerError", "Receiver", "ReceiverError", "ReceiverFault",
    "__version__", "libpq_path", "libpq_version", "transfer",
]
