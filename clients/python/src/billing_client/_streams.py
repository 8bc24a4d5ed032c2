"""Server streams as iterators (sync) and async iterators (asyncio), with flow control (§6.5).

The server may send W DATA frames (the stream window) before the client grants more; these iterators
grant what the application has read, every max(1, W/2) messages, so the stream never stalls while the
application keeps reading and never buffers more than W messages.
"""

from __future__ import annotations

import asyncio
import queue
import threading
import time
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Generic, TypeVar

from google.protobuf.message import DecodeError, Message

from billing_client._core import Connection, Event, Outcome
from billing_client._errors import RpcError, StatusCode

Reply = TypeVar("Reply", bound=Message)


def decode(reply_type: type[Reply], payload: bytes) -> Reply:
    try:
        return reply_type.FromString(payload)
    except DecodeError:
        raise RpcError.local(StatusCode.INVALID_ARGUMENT,
                             f"the {reply_type.DESCRIPTOR.name} message is not valid protobuf",
                             "invalid_message") from None


def deadline_exceeded() -> RpcError:
    return RpcError.local(StatusCode.DEADLINE_EXCEEDED, "the call did not finish within its deadline")


class _FlowControl:
    """Counts the messages the application read and says when to grant them back."""

    def __init__(self, window: int) -> None:
        self.grant_every = max(1, window // 2)
        self.unacknowledged = 0

    def read_one(self) -> int:
        """Returns how many messages to grant now (0: none yet)."""
        self.unacknowledged += 1
        if self.unacknowledged < self.grant_every:
            return 0
        granted, self.unacknowledged = self.unacknowledged, 0
        return granted


class UnaryCall(Generic[Reply]):
    """A unary call in flight that another thread may cancel (Channel.start_unary): like grpcio's
    future. `result()` waits for the reply; `cancel()` sends CANCEL and makes `result()` raise
    CANCELLED. Sent once: a call that can be cancelled is never retried."""

    def __init__(self, connection: Connection, stream_id: int, events: queue.Queue[Event],
                 reply_type: type[Reply], deadline: float, on_end: Callable[[], None]) -> None:
        self._connection = connection
        self._stream_id = stream_id
        self._events = events
        self._reply_type = reply_type
        self._deadline = deadline
        self._on_end = on_end
        self._lock = threading.Lock()
        self._outcome: Outcome | None = None

    def result(self) -> Reply:
        """The reply; raises RpcError if the call failed, was cancelled or passed its deadline."""
        outcome = self._wait()
        if outcome.error is not None:
            raise outcome.error
        return decode(self._reply_type, outcome.payload)

    def cancel(self) -> bool:
        """Cancels the call unless it already ended; returns whether it did."""
        cancelled = RpcError.local(StatusCode.CANCELLED, "the call was cancelled by the client")
        return self._settle(Outcome(cancelled), send_cancel=True)

    def done(self) -> bool:
        with self._lock:
            return self._outcome is not None

    def _wait(self) -> Outcome:
        while True:
            with self._lock:
                if self._outcome is not None:
                    return self._outcome
            try:
                event = self._events.get(timeout=max(0.0, self._deadline - time.monotonic()))
            except queue.Empty:
                self._settle(Outcome(deadline_exceeded()), send_cancel=True)
                continue
            if isinstance(event, Outcome):
                self._settle(event)

    def _settle(self, outcome: Outcome, send_cancel: bool = False) -> bool:
        """Records how the call ended, once; returns False if it had ended already."""
        with self._lock:
            if self._outcome is not None:
                return False
            self._outcome = outcome
        if send_cancel:  # before result() can return, so that CANCEL precedes whatever the caller does next
            self._connection.cancel(self._stream_id)
        self._events.put(outcome)  # wakes a thread waiting in result()
        self._on_end()
        return True


class ServerStream(Generic[Reply]):
    """The messages of one server-streaming call, in order; iterate it from one thread.

    Iteration ends when the server ends the call with OK, and raises RpcError when it ends otherwise
    (the deadline included). `cancel()`, or leaving a `with` block early, sends CANCEL. Like a file,
    close a stream you stop reading: until then it holds a call slot and the server keeps the call.
    """

    def __init__(self, connection: Connection, stream_id: int, events: queue.Queue[Event],
                 reply_type: type[Reply], deadline: float, window: int, on_end: Callable[[], None]) -> None:
        self._connection = connection
        self._stream_id = stream_id
        self._events = events
        self._reply_type = reply_type
        self._deadline = deadline
        self._flow = _FlowControl(window)
        self._on_end = on_end
        self._done = False

    def __iter__(self) -> ServerStream[Reply]:
        return self

    def __next__(self) -> Reply:
        if self._done:
            raise StopIteration
        try:
            event = self._events.get(timeout=max(0.0, self._deadline - time.monotonic()))
        except queue.Empty:
            self.cancel()
            raise deadline_exceeded() from None
        if isinstance(event, Outcome):
            self._end()
            if event.error is not None:
                raise event.error
            raise StopIteration
        grant = self._flow.read_one()
        if grant:
            self._connection.grant(self._stream_id, grant)
        try:
            return decode(self._reply_type, event)
        except RpcError:
            self.cancel()
            raise

    def cancel(self) -> None:
        """Ends the call: sends CANCEL unless it already ended. Safe to call more than once."""
        if not self._done:
            self._connection.cancel(self._stream_id)
            self._end()

    close = cancel

    def _end(self) -> None:
        if not self._done:
            self._done = True
            self._on_end()

    def __enter__(self) -> ServerStream[Reply]:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.cancel()



Starter = Callable[[Callable[[Event], None], int], Awaitable[tuple[Connection, int, float]]]


class AsyncServerStream(Generic[Reply]):
    """The messages of one server-streaming call, as an async iterator.

    The REQUEST goes out when iteration starts. Cancelling the task that iterates, `await cancel()`
    or leaving an `async with` block early sends CANCEL.
    """

    def __init__(self, start: Starter, reply_type: type[Reply], window: int,
                 on_end: Callable[[], None]) -> None:
        self._start = start
        self._reply_type = reply_type
        self._window = window
        self._flow = _FlowControl(window)
        self._on_end = on_end
        self._events: asyncio.Queue[Event] = asyncio.Queue()
        self._connection: Connection | None = None
        self._stream_id = 0
        self._deadline = 0.0
        self._done = False

    def __aiter__(self) -> AsyncServerStream[Reply]:
        return self

    async def __anext__(self) -> Reply:
        if self._done:
            raise StopAsyncIteration
        if self._connection is None:
            loop = asyncio.get_running_loop()
            events = self._events

            def sink(event: Event) -> None:
                try:
                    loop.call_soon_threadsafe(events.put_nowait, event)
                except RuntimeError:
                    pass  # the loop is closed; nobody is waiting any more

            try:
                self._connection, self._stream_id, self._deadline = await self._start(sink, self._window)
            except BaseException:
                self._done = True
                raise
        try:
            # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation that
            # arrives as the event does, and the task would keep watching.
            async with asyncio.timeout_at(self._deadline):
                event = await self._events.get()
        except TimeoutError:
            self._cancel_now()
            raise deadline_exceeded() from None
        except asyncio.CancelledError:
            self._cancel_now()
            raise
        if isinstance(event, Outcome):
            self._end()
            if event.error is not None:
                raise event.error
            raise StopAsyncIteration
        grant = self._flow.read_one()
        if grant:
            self._connection.grant(self._stream_id, grant)
        try:
            return decode(self._reply_type, event)
        except RpcError:
            self._cancel_now()
            raise

    async def cancel(self) -> None:
        """Ends the call: sends CANCEL unless it already ended. Safe to call more than once."""
        self._cancel_now()

    aclose = cancel

    def _cancel_now(self) -> None:
        if not self._done:
            if self._connection is not None:
                self._connection.cancel(self._stream_id)
            self._end()

    def _end(self) -> None:
        if not self._done:
            self._done = True
            if self._connection is not None:
                self._on_end()

    async def __aenter__(self) -> AsyncServerStream[Reply]:
        return self

    async def __aexit__(self, kind: type[BaseException] | None, value: BaseException | None,
                        traceback: TracebackType | None) -> None:
        self._cancel_now()
