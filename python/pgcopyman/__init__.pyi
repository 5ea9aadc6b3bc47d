"""Type hints for pgcopyman (the C extension pgcopyman._pgcopyman and its Python parts)."""

from typing import (Any, Callable, Dict, FrozenSet, Iterable, Iterator, Literal, NamedTuple,
                    Optional, Tuple, Type, Union, final)
from types import TracebackType

import psycopg
import psycopg.pq

__version__: str

# A psycopg 3 connection, or the libpq connection object behind one.
_Connection = Union[psycopg.Connection[Any], psycopg.AsyncConnection[Any], psycopg.pq.abc.PGconn]
# A file descriptor, a binary file object, or an object with read(n) / write(bytes).
_BinaryFile = Union[int, Any]
_Format = Literal["text", "csv", "binary"]
_ReceiverState = Literal["idle", "active", "faulted", "dropped", "done", "aborted"]
_Buffer = Union[bytes, bytearray, memoryview]


def libpq_version() -> int: ...
def libpq_path() -> str: ...
def transfer(producer: "Producer", *receivers: "Receiver", chunk_size: Optional[int] = ...,
             chunks: Optional[int] = ..., segment_size: Optional[int] = ...,
             stall_timeout: Optional[float] = ...,
             drain_timeout: Optional[float] = ...) -> Tuple[int, int]: ...


class Error(Exception): ...
class InterfaceError(Error): ...
class IncompatibleLibpq(InterfaceError): ...


class ProducerError(Error):
    message: str
    status: str
    sqlstate: Optional[str]
    def __init__(self, message: str, *, status: str = ..., sqlstate: Optional[str] = ...) -> None: ...


class ReceiverError(Error):
    message: str
    receiver: "Receiver"
    status: str
    sqlstate: Optional[str]
    row: Optional[int]
    reconcilable: bool
    def __init__(self, message: str, *, receiver: Any = ..., status: str = ...,
                 sqlstate: Optional[str] = ..., row: Optional[int] = ...,
                 reconcilable: bool = ...) -> None: ...


class Fault(Error):
    manager: "CopyManager"
    faults: Dict["Receiver", ReceiverError]
    def __init__(self, manager: "CopyManager", faults: Dict["Receiver", ReceiverError]) -> None: ...


ReceiverFault = Fault


class CopyFail(Error):
    manager: "CopyManager"
    reason: str
    status: str
    receiver_faults: Dict["Receiver", ReceiverError]
    producer_fault: Optional[BaseException]
    def __init__(self, manager: "CopyManager", reason: str, *, status: str = ...,
                 receiver_faults: Optional[Dict["Receiver", ReceiverError]] = ...,
                 producer_fault: Optional[BaseException] = ...) -> None: ...


class NotifyError(Error):
    message: str
    status: str
    def __init__(self, message: str, *, status: str = ...) -> None: ...


class Notification(NamedTuple):
    channel: str
    payload: str
    pid: int
    connection: Any = None


class Event(NamedTuple):
    kind: Literal["idle", "failed", "disconnected", "reconnected"]
    message: Optional[str] = None
    connection: Any = None


class Producer:
    @property
    def label(self) -> str: ...
    @property
    def source(self) -> Any: ...


@final
class ConnectionProducer(Producer):
    def __init__(self, connection: _Connection, copy_to: Union[str, bytes], *,
                 format: Optional[_Format] = ..., header: Optional[bool] = ...,
                 label: Optional[str] = ...) -> None: ...


@final
class FileProducer(Producer):
    def __init__(self, file: _BinaryFile, *, format: Optional[_Format] = ...,
                 header: Optional[bool] = ..., delimiter: Optional[str] = ...,
                 quote: Optional[str] = ..., escape: Optional[str] = ...,
                 max_row: Optional[int] = ..., label: Optional[str] = ...) -> None: ...


@final
class IterableProducer(Producer):
    def __init__(self, iterable: Iterable[_Buffer], *, format: Optional[_Format] = ...,
                 header: Optional[bool] = ..., delimiter: Optional[str] = ...,
                 quote: Optional[str] = ..., escape: Optional[str] = ...,
                 max_row: Optional[int] = ..., label: Optional[str] = ...) -> None: ...


IteratorProducer = IterableProducer


@final
class NullProducer(Producer):
    def __init__(self, *, label: Optional[str] = ...) -> None: ...


class Receiver:
    @property
    def state(self) -> _ReceiverState: ...
    @property
    def rows(self) -> int: ...
    @property
    def label(self) -> str: ...
    @property
    def target(self) -> Any: ...


@final
class ConnectionReceiver(Receiver):
    def __init__(self, connection: _Connection, copy_from: Union[str, bytes], *,
                 label: Optional[str] = ...) -> None: ...


@final
class FileReceiver(Receiver):
    def __init__(self, file: _BinaryFile, *, label: Optional[str] = ...) -> None: ...


@final
class CallableReceiver(Receiver):
    def __init__(self, callable: Callable[[bytes], Any], *, label: Optional[str] = ...) -> None: ...


CallReceiver = CallableReceiver


@final
class NullReceiver(Receiver):
    def __init__(self, *, label: Optional[str] = ...) -> None: ...


@final
class CopyManager(Iterator[Tuple[int, int]]):
    def __init__(self, producer: Producer, *receivers: Receiver, chunk_size: Optional[int] = ...,
                 chunks: Optional[int] = ..., segment_size: Optional[int] = ...,
                 stall_timeout: Optional[float] = ...,
                 drain_timeout: Optional[float] = ...) -> None: ...
    def __enter__(self) -> "CopyManager": ...
    def __exit__(self, typ: Optional[Type[BaseException]], val: Optional[BaseException],
                 tb: Optional[TracebackType]) -> Literal[False]: ...
    def __iter__(self) -> "CopyManager": ...
    def __next__(self) -> Tuple[int, int]: ...
    def run(self) -> Tuple[int, int]: ...
    def reconcile(self, receiver: Receiver, /) -> None: ...
    @property
    def receivers(self) -> FrozenSet[Receiver]: ...
    @property
    def producer(self) -> Producer: ...
    @property
    def totals(self) -> Tuple[int, int]: ...
    @property
    def state(self) -> Literal["new", "running", "completed", "failed", "closed"]: ...


@final
class Notifier(Iterator[Union[Notification, Event]]):
    def __init__(self, *connections: _Connection, idle: Optional[float] = ...) -> None: ...
    def add(self, connection: _Connection, /) -> None: ...
    def remove(self, connection: _Connection, /) -> None: ...
    def __iter__(self) -> "Notifier": ...
    def __next__(self) -> Union[Notification, Event]: ...
    @property
    def connections(self) -> Tuple[_Connection, ...]: ...


@final
class Listener(Iterator[Union[Notification, Event]]):
    def __init__(self, conninfo: str, channels: Union[str, Iterable[str]] = ..., *,
                 idle: Optional[float] = ..., backoff: Optional[Tuple[float, float]] = ...,
                 ping: Optional[Tuple[float, float]] = ...) -> None: ...
    def listen(self, channel: str, /) -> None: ...
    def unlisten(self, channel: str, /) -> None: ...
    def close(self) -> None: ...
    def __enter__(self) -> "Listener": ...
    def __exit__(self, typ: Optional[Type[BaseException]], val: Optional[BaseException],
                 tb: Optional[TracebackType]) -> Literal[False]: ...
    def __iter__(self) -> "Listener": ...
    def __next__(self) -> Union[Notification, Event]: ...
    @property
    def ready(self) -> bool: ...
    @property
    def reconnects(self) -> int: ...
    @property
    def backend_pid(self) -> Optional[int]: ...
    @property
    def closed(self) -> bool: ...
