"""One connection to billingd and the pool that replaces it; shared by the sync and asyncio clients.

A connection is a Unix socket, a reader thread that parses frames (docs/PROTOCOL.md §3-§6) and a table
from stream id to the call waiting on it. Each call hands the connection a `sink`: a function the
reader thread calls with every DATA payload and, last, with the call's `Outcome`. The sync client's
sink puts into a queue.Queue; the asyncio client's hands the event to its loop thread-safely.
"""

from __future__ import annotations

import logging
import random
import socket
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from google.protobuf.message import DecodeError

from billing_client._errors import RpcError, StatusCode
from billing_client._frames import (
    HEADER,
    HEADER_SIZE,
    HIGHEST_STREAM_ID,
    PREFACE,
    FrameType,
    cancel_frame,
    frame,
    preface_matches,
    request_envelope,
    window_update_frame,
)
from billing_client._generated.billing.rpc.v1 import envelope_pb2

log = logging.getLogger("billing_client")


@dataclass(frozen=True)
class Outcome:
    """How a call ended: `error` None means OK, with `payload` the unary reply message's bytes."""

    error: RpcError | None
    payload: bytes = b""


Event = bytes | Outcome  # a DATA payload, or the end of the call
Sink = Callable[[Event], None]


class ConnectionNotUsable(Exception):
    """The connection takes no new calls (GOAWAY seen, closed, or ids used up): use a new one."""


class Connection:
    """One socket to billingd, multiplexing the calls of many threads or tasks."""

    def __init__(self, socket_path: str, max_frame_bytes: int) -> None:
        self._path = socket_path
        self._max_frame_bytes = max_frame_bytes
        self._lock = threading.Lock()  # guards the fields below
        self._write_lock = threading.Lock()  # frames never interleave at the byte level
        self._calls: dict[int, Sink] = {}
        self._next_stream_id = 1
        self._accepting = True
        self._closed = False
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self._sock.connect(socket_path)
            # The client may send frames right after its own preface (§2).
            self._sock.sendall(PREFACE)
        except OSError as error:
            self._sock.close()
            raise RpcError.local(
                StatusCode.UNAVAILABLE,
                f"cannot connect to billingd at {socket_path}: {error.strerror or error}",
                did_not_run=True,
            ) from None
        self._reader = threading.Thread(target=self._read_loop, name="billing-client-reader", daemon=True)
        self._reader.start()

    @property
    def accepting(self) -> bool:
        with self._lock:
            return self._accepting

    # --- calls -------------------------------------------------------------------------------------

    def start_call(
        self,
        sink: Sink,
        service: str,
        method: str,
        payload: bytes,
        timeout_seconds: float,
        metadata: Sequence[tuple[str, str]],
        stream_window: int = 0,
    ) -> int:
        """Sends the REQUEST and returns the call's stream id; raises ConnectionNotUsable, or RpcError (unsent) for a
        request over the frame limit."""
        envelope = request_envelope(service, method, payload, timeout_seconds, metadata, stream_window)
        if len(envelope) > self._max_frame_bytes:
            # billingd ends a connection that sends a frame over its limit (taken to be this client's, §9).
            raise RpcError.local(
                StatusCode.RESOURCE_EXHAUSTED,
                f"the request of {len(envelope)} bytes exceeds the {self._max_frame_bytes}-byte frame limit;"
                " it was not sent", "message_too_large", did_not_run=True)
        # Ids go on the wire in increasing order, so GOAWAY's last_stream_id means what §13 says.
        with self._write_lock:
            with self._lock:
                if not self._accepting:
                    raise ConnectionNotUsable()
                stream_id = self._next_stream_id
                self._next_stream_id += 2
                if self._next_stream_id > HIGHEST_STREAM_ID:
                    self._accepting = False  # this is the last call; the next goes to a new connection
                self._calls[stream_id] = sink
            data = frame(FrameType.REQUEST, stream_id, envelope)
            try:
                self._sock.sendall(data)
            except OSError:
                # This REQUEST did not get through whole, so it did not run: it goes to a new connection.
                # The calls already sent may have run.
                self._forget(stream_id)
                self._fail_all(RpcError.local(StatusCode.UNAVAILABLE, "the connection to billingd closed"))
                raise ConnectionNotUsable() from None
        return stream_id

    def cancel(self, stream_id: int) -> None:
        """Stops waiting for the call and tells the server with CANCEL (always safe to send, §6.3)."""
        if self._forget(stream_id):
            self._send(cancel_frame(stream_id))

    def grant(self, stream_id: int, messages: int) -> None:
        """Grants a server stream `messages` more DATA frames (WINDOW_UPDATE, §6.5)."""
        self._send(window_update_frame(stream_id, messages))

    def close(self) -> None:
        """Fails every pending call with CANCELLED and closes the socket."""
        self._fail_all(RpcError.local(StatusCode.CANCELLED, "the client closed the connection"))

    # --- internals ---------------------------------------------------------------------------------

    def _send(self, data: bytes) -> None:
        with self._write_lock:
            try:
                self._sock.sendall(data)
            except OSError:
                pass  # the reader sees the same broken socket and fails the calls

    def _take(self, stream_id: int) -> Sink | None:
        """Removes the call from the table; a connection that takes no new calls closes when empty."""
        with self._lock:
            sink = self._calls.pop(stream_id, None)
            close_now = not self._accepting and not self._calls
        if close_now:
            self._shut()
        return sink

    def _forget(self, stream_id: int) -> bool:
        return self._take(stream_id) is not None

    def _finish(self, stream_id: int, outcome: Outcome) -> None:
        sink = self._take(stream_id)
        if sink is not None:
            sink(outcome)

    def _fail_all(self, error: RpcError) -> None:
        with self._lock:
            self._accepting = False
            calls, self._calls = self._calls, {}
        for sink in calls.values():
            sink(Outcome(error))
        self._shut()

    def _shut(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
        try:
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._sock.close()

    def _read_exact(self, count: int) -> bytes:
        chunks = bytearray()
        while len(chunks) < count:
            chunk = self._sock.recv(min(count - len(chunks), 1 << 20))
            if not chunk:
                raise EOFError()
            chunks += chunk
        return bytes(chunks)

    def _skip(self, count: int) -> None:
        while count > 0:
            count -= len(self._read_exact(min(count, 1 << 16)))

    def _read_loop(self) -> None:
        try:
            if not preface_matches(self._read_exact(len(PREFACE))):
                self._fail_all(RpcError.local(
                    StatusCode.UNAVAILABLE,
                    f"the server at {self._path} does not speak billing RPC protocol version 1",
                    did_not_run=True))
                return
            while True:
                length, stream_id, kind, flags = HEADER.unpack(self._read_exact(HEADER_SIZE))
                if flags != 0 or kind == 0:
                    self._fail_all(RpcError.local(
                        StatusCode.INTERNAL,
                        f"the server sent bytes that are not frames: type {kind}, flags {flags:#x}"))
                    return
                if length > self._max_frame_bytes:
                    self._skip(length)
                    self._on_oversized(stream_id, kind, length)
                    continue
                self._on_frame(kind, stream_id, self._read_exact(length))
        except (OSError, EOFError):
            self._fail_all(RpcError.local(StatusCode.UNAVAILABLE, "the connection to billingd closed"))

    def _on_oversized(self, stream_id: int, kind: int, length: int) -> None:
        """A frame over this client's limit: its payload was skipped; the call it belongs to fails (§9)."""
        if stream_id == 0 or kind not in (FrameType.RESPONSE, FrameType.DATA):
            return
        sink = self._take(stream_id)
        if sink is None:
            return
        # Sent from another thread: the reader never waits to write, or a peer that stopped reading us
        # while we wait would never be read again (§16, rule 8).
        threading.Thread(target=self._send, args=(cancel_frame(stream_id),), daemon=True).start()
        sink(Outcome(RpcError.local(
            StatusCode.RESOURCE_EXHAUSTED,
            f"billingd sent a {length}-byte frame, over this client's {self._max_frame_bytes}-byte limit",
            "message_too_large")))

    def _on_frame(self, kind: int, stream_id: int, payload: bytes) -> None:
        if kind == FrameType.RESPONSE:
            self._on_response(stream_id, payload)
        elif kind == FrameType.DATA:
            with self._lock:
                sink = self._calls.get(stream_id)
            if sink is not None:
                sink(payload)
        elif kind == FrameType.GOAWAY:
            self._on_goaway(payload)
        # Other types are ignored (§4, §16).

    def _on_response(self, stream_id: int, payload: bytes) -> None:
        try:
            response = envelope_pb2.Response.FromString(payload)
        except DecodeError:
            self._finish(stream_id, Outcome(RpcError.local(
                StatusCode.INTERNAL, "billingd's RESPONSE is not a valid Response envelope")))
            return
        if response.HasField("status") and response.status.code != StatusCode.OK:
            self._finish(stream_id, Outcome(RpcError.from_status(response.status)))
        else:
            self._finish(stream_id, Outcome(None, response.payload))

    def _on_goaway(self, payload: bytes) -> None:
        try:
            goaway = envelope_pb2.GoAway.FromString(payload)
            last_stream_id = goaway.last_stream_id
            status = goaway.status
        except DecodeError:
            last_stream_id, status = 0, envelope_pb2.Status(code=StatusCode.UNAVAILABLE,
                                                            message="billingd is going away")
        if status.code == StatusCode.OK:
            status = envelope_pb2.Status(code=StatusCode.UNAVAILABLE, message="billingd is going away")
        error = RpcError.from_status(status, did_not_run=True)
        with self._lock:
            self._accepting = False
            not_run = {i: s for i, s in self._calls.items() if i > last_stream_id}
            for stream_id in not_run:
                del self._calls[stream_id]
            close_now = not self._calls
        # Calls above last_stream_id were not run: they fail as "not run" and may be retried (§13).
        for sink in not_run.values():
            sink(Outcome(error))
        if close_now:
            self._shut()


class ConnectionPool:
    """The connection new calls go to; a new one replaces it once it stops taking calls (§16)."""

    def __init__(self, socket_path: str, max_frame_bytes: int) -> None:
        self._path = socket_path
        self._max_frame_bytes = max_frame_bytes
        self._lock = threading.Lock()
        self._current: Connection | None = None
        self._closed = False

    def connection(self) -> Connection:
        with self._lock:
            if self._closed:
                raise RpcError.local(StatusCode.CANCELLED, "the client was closed", did_not_run=True)
            if self._current is None or not self._current.accepting:
                # The old connection stays open until its calls end, then closes itself.
                self._current = Connection(self._path, self._max_frame_bytes)
            return self._current

    def start_call(self, sink: Sink, service: str, method: str, payload: bytes, timeout_seconds: float,
                   metadata: Sequence[tuple[str, str]], stream_window: int = 0) -> tuple[Connection, int]:
        """Sends the REQUEST on a connection that takes it, opening a new one if the current stopped."""
        for _ in range(3):
            connection = self.connection()
            try:
                return connection, connection.start_call(
                    sink, service, method, payload, timeout_seconds, metadata, stream_window)
            except ConnectionNotUsable:
                continue
        raise RpcError.local(StatusCode.UNAVAILABLE, "no connection to billingd takes calls", did_not_run=True)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            current, self._current = self._current, None
        if current is not None:
            current.close()


# --- retries (docs/PROTOCOL.md §16) ------------------------------------------------------------------

MAX_ATTEMPTS = 4
# UNAVAILABLE from the billing service itself, where an immediate retry does not help: the charge's
# outcome is being reconciled, or the gateway is down. The caller retries later with the same key.
REASONS_NOT_RETRIED = frozenset({"charge_pending", "gateway_unavailable"})


def retry_delay(error: RpcError, attempt: int, idempotent: bool, seconds_left: float) -> float | None:
    """Seconds to wait before attempt `attempt + 1`, or None when the call must not be retried."""
    if attempt >= MAX_ATTEMPTS or error.code != StatusCode.UNAVAILABLE:
        return None
    if error.reason in REASONS_NOT_RETRIED:
        return None
    if not (error.did_not_run or idempotent):
        return None
    delay = random.uniform(0, min(1.0, 0.020 * 2 ** (attempt - 1)))  # full jitter
    return delay if delay < seconds_left else None
