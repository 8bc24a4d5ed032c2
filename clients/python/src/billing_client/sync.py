"""The synchronous client: one connection multiplexing the calls of many threads."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Sequence
from types import TracebackType
from typing import TypeVar

from google.protobuf.message import Message

from billing_client._core import ConnectionPool, Event, Outcome, retry_delay
from billing_client._errors import RpcError, StatusCode
from billing_client._frames import (
    DEFAULT_MAX_FRAME_BYTES,
    DEFAULT_STREAM_WINDOW,
    MAX_CALLS_PER_CONNECTION,
    MAX_STREAM_WINDOW,
)
from billing_client._generated._services import BillingServiceClient, HealthClient
from billing_client._streams import ServerStream, UnaryCall, decode, deadline_exceeded

Reply = TypeVar("Reply", bound=Message)

DEFAULT_TIMEOUT = 10.0
# A stream without a timeout asks for the server's maximum deadline, 600 s (§6.4).
DEFAULT_STREAM_TIMEOUT = 600.0


class Channel:
    """Calls billingd over its Unix socket. Thread-safe: share one per process.

    Unary calls are retried as docs/PROTOCOL.md §16 says (UNAVAILABLE only, at most 4 attempts within
    the deadline); pass `idempotent=False` for a call that must not run twice.
    """

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
        # Calls wait for a free slot rather than be refused by the server's per-connection limit.
        self._slots = threading.BoundedSemaphore(max_calls_in_flight)

    def unary(self, service: str, method: str, request: Message, reply_type: type[Reply], *,
              timeout: float | None = None, metadata: Sequence[tuple[str, str]] = (),
              idempotent: bool = True) -> Reply:
        deadline = time.monotonic() + (self.default_timeout if timeout is None else timeout)
        payload = request.SerializeToString()
        attempt = 1
        while True:
            try:
                return decode(reply_type, self._attempt(service, method, payload, deadline, metadata))
            except RpcError as error:
                delay = retry_delay(error, attempt, idempotent, deadline - time.monotonic())
                if delay is None:
                    raise
                time.sleep(delay)
                attempt += 1

    def _attempt(self, service: str, method: str, payload: bytes, deadline: float,
                 metadata: Sequence[tuple[str, str]]) -> bytes:
        if not self._slots.acquire(timeout=max(0.0, deadline - time.monotonic())):
            raise deadline_exceeded()
        try:
            if deadline <= time.monotonic():
                raise deadline_exceeded()  # nothing is sent once the deadline has passed
            events: queue.Queue[Event] = queue.Queue()
            connection, stream_id = self._pool.start_call(
                events.put, service, method, payload, deadline - time.monotonic(), metadata)
            outcome: Event = b""
            while not isinstance(outcome, Outcome):  # a DATA frame on a unary call is ignored
                try:
                    outcome = events.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    connection.cancel(stream_id)
                    raise deadline_exceeded() from None
            if outcome.error is not None:
                raise outcome.error
            return outcome.payload
        finally:
            self._slots.release()

    def start_unary(self, service: str, method: str, request: Message, reply_type: type[Reply], *,
                    timeout: float | None = None,
                    metadata: Sequence[tuple[str, str]] = ()) -> UnaryCall[Reply]:
        """Sends a unary call now and returns it, for another thread to cancel (`UnaryCall.cancel()`)."""
        deadline = time.monotonic() + (self.default_timeout if timeout is None else timeout)
        if not self._slots.acquire(timeout=max(0.0, deadline - time.monotonic())):
            raise deadline_exceeded()
        events: queue.Queue[Event] = queue.Queue()
        try:
            connection, stream_id = self._pool.start_call(
                events.put, service, method, request.SerializeToString(), deadline - time.monotonic(), metadata)
        except BaseException:
            self._slots.release()
            raise
        return UnaryCall(connection, stream_id, events, reply_type, deadline, self._slots.release)

    def server_stream(self, service: str, method: str, request: Message, reply_type: type[Reply], *,
                      timeout: float | None = None,
                      metadata: Sequence[tuple[str, str]] = ()) -> ServerStream[Reply]:
        """Sends the REQUEST now; server streams are never retried."""
        deadline = time.monotonic() + (DEFAULT_STREAM_TIMEOUT if timeout is None else timeout)
        if not self._slots.acquire(timeout=max(0.0, deadline - time.monotonic())):
            raise deadline_exceeded()
        events: queue.Queue[Event] = queue.Queue()
        try:
            connection, stream_id = self._pool.start_call(
                events.put, service, method, request.SerializeToString(), deadline - time.monotonic(),
                metadata, self.stream_window)
        except BaseException:
            self._slots.release()
            raise
        return ServerStream(connection, stream_id, events, reply_type, deadline, self.stream_window,
                            self._slots.release)

    def close(self) -> None:
        """Closes the connection; calls still pending fail with CANCELLED."""
        self._pool.close()


class Client:
    """billingd's services over one Channel: `client.billing` and `client.health`.

        with Client("data/billingd.sock") as client:
            account = client.billing.get_account(billing_pb2.GetAccountRequest(account_id=...)).account
    """

    def __init__(
        self,
        socket_path: str,
        *,
        default_timeout: float = DEFAULT_TIMEOUT,
        stream_window: int = DEFAULT_STREAM_WINDOW,
        max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES,
        max_calls_in_flight: int = MAX_CALLS_PER_CONNECTION,
    ) -> None:
        self.channel = Channel(socket_path, default_timeout=default_timeout, stream_window=stream_window,
                               max_frame_bytes=max_frame_bytes, max_calls_in_flight=max_calls_in_flight)
        self.billing = BillingServiceClient(self.channel)
        self.health = HealthClient(self.channel)

    def close(self) -> None:
        self.channel.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()


__all__ = ["Channel", "Client", "RpcError", "StatusCode"]
