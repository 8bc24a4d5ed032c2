"""The asyncio client: the same connection machinery, awaited from an event loop.

Frames are parsed by the connection's reader thread, which hands each event to the loop of the task
waiting for it (loop.call_soon_threadsafe); cancelling that task sends CANCEL.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import TypeVar

from google.protobuf.message import Message

from billing_client._core import Connection, ConnectionPool, Event, Outcome, retry_delay
from billing_client._errors import RpcError
from billing_client._frames import (
    DEFAULT_MAX_FRAME_BYTES,
    DEFAULT_STREAM_WINDOW,
    MAX_CALLS_PER_CONNECTION,
    MAX_STREAM_WINDOW,
)
from billing_client._generated._services import AsyncBillingServiceClient, AsyncHealthClient
from billing_client._streams import AsyncServerStream, decode, deadline_exceeded
from billing_client.sync import DEFAULT_STREAM_TIMEOUT, DEFAULT_TIMEOUT

Reply = TypeVar("Reply", bound=Message)


class AsyncChannel:
    """Calls billingd from asyncio tasks; share one per event loop. Retries as `Channel` does."""

    def __init__(
        self,
        socket_path: str,
        *,
        default_timeout: float = DEFAULT_TIMEOUT,
        stream_window: int = DEFAULT_STREAM_WINDOW,
        max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES,
        max_calls_in_flight: int = MAX_CALLS_PER_CONNECTION,
    ) -> None:
        self.default_timeout = default_timeout
        self.stream_window = min(max(1, stream_window), MAX_STREAM_WINDOW)
        self._pool = ConnectionPool(socket_path, max_frame_bytes)
        self._slots = asyncio.BoundedSemaphore(max_calls_in_flight)

    async def unary(self, service: str, method: str, request: Message, reply_type: type[Reply], *,
                    timeout: float | None = None, metadata: Sequence[tuple[str, str]] = (),
                    idempotent: bool = True) -> Reply:
        deadline = time.monotonic() + (self.default_timeout if timeout is None else timeout)
        payload = request.SerializeToString()
        attempt = 1
        while True:
            try:
                return decode(reply_type, await self._attempt(service, method, payload, deadline, metadata))
            except RpcError as error:
                delay = retry_delay(error, attempt, idempotent, deadline - time.monotonic())
                if delay is None:
                    raise
                await asyncio.sleep(delay)
                attempt += 1

    async def _acquire_slot(self, deadline: float) -> None:
        try:
            async with asyncio.timeout_at(deadline):
                await self._slots.acquire()
        except TimeoutError:
            raise deadline_exceeded() from None

    def _sink(self, events: asyncio.Queue[Event]) -> Callable[[Event], None]:
        loop = asyncio.get_running_loop()

        def sink(event: Event) -> None:
            try:
                loop.call_soon_threadsafe(events.put_nowait, event)
            except RuntimeError:
                pass  # the loop is closed; nobody is waiting any more

        return sink

    async def _attempt(self, service: str, method: str, payload: bytes, deadline: float,
                       metadata: Sequence[tuple[str, str]]) -> bytes:
        await self._acquire_slot(deadline)
        try:
            if deadline <= time.monotonic():
                raise deadline_exceeded()  # nothing is sent once the deadline has passed
            events: asyncio.Queue[Event] = asyncio.Queue()
            connection, stream_id = self._pool.start_call(
                self._sink(events), service, method, payload, deadline - time.monotonic(), metadata)
            outcome: Event = b""
            try:
                async with asyncio.timeout_at(deadline):  # loop.time() is time.monotonic()
                    while not isinstance(outcome, Outcome):  # a DATA frame on a unary call is ignored
                        outcome = await events.get()
            except TimeoutError:
                connection.cancel(stream_id)
                raise deadline_exceeded() from None
            except asyncio.CancelledError:
                connection.cancel(stream_id)
                raise
            if outcome.error is not None:
                raise outcome.error
            return outcome.payload
        finally:
            self._slots.release()

    def server_stream(self, service: str, method: str, request: Message, reply_type: type[Reply], *,
                      timeout: float | None = None,
                      metadata: Sequence[tuple[str, str]] = ()) -> AsyncServerStream[Reply]:
        """The REQUEST goes out when iteration starts; server streams are never retried."""
        seconds = DEFAULT_STREAM_TIMEOUT if timeout is None else timeout
        payload = request.SerializeToString()

        async def start(sink: Callable[[Event], None], window: int) -> tuple[Connection, int, float]:
            deadline = time.monotonic() + seconds
            await self._acquire_slot(deadline)
            try:
                connection, stream_id = self._pool.start_call(
                    sink, service, method, payload, deadline - time.monotonic(), metadata, window)
            except BaseException:
                self._slots.release()
                raise
            return connection, stream_id, deadline

        return AsyncServerStream(start, reply_type, self.stream_window, self._slots.release)

    async def close(self) -> None:
        """Closes the connection; calls still pending fail with CANCELLED."""
        self._pool.close()


class AsyncClient:
    """billingd's services over one AsyncChannel: `client.billing` and `client.health`."""

    def __init__(
        self,
        socket_path: str,
        *,
        default_timeout: float = DEFAULT_TIMEOUT,
        stream_window: int = DEFAULT_STREAM_WINDOW,
        max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES,
        max_calls_in_flight: int = MAX_CALLS_PER_CONNECTION,
    ) -> None:
        self.channel = AsyncChannel(socket_path, default_timeout=default_timeout, stream_window=stream_window,
                                    max_frame_bytes=max_frame_bytes, max_calls_in_flight=max_calls_in_flight)
        self.billing = AsyncBillingServiceClient(self.channel)
        self.health = AsyncHealthClient(self.channel)

    async def close(self) -> None:
        await self.channel.close()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, kind: type[BaseException] | None, value: BaseException | None,
                        traceback: TracebackType | None) -> None:
        await self.close()


__all__ = ["AsyncChannel", "AsyncClient"]
