"""The bytes on the wire: the preface, 10-byte frame headers and the envelope (docs/PROTOCOL.md §2-§7)."""

from __future__ import annotations

import enum
import struct
from collections.abc import Sequence

from billing_client._generated.billing.rpc.v1 import envelope_pb2

PROTOCOL_VERSION = 1
PREFACE = b"BRPC" + struct.pack(">HH", PROTOCOL_VERSION, 0)
HEADER = struct.Struct(">IIBB")  # length, stream id, type, flags; big-endian
HEADER_SIZE = HEADER.size

MAX_STREAM_WINDOW = 1024  # the protocol's cap on a stream's credit (§6.5)
DEFAULT_STREAM_WINDOW = 16
DEFAULT_MAX_FRAME_BYTES = 4 * 1024 * 1024  # the same as the server's default frame limit (§9)
MAX_CALLS_PER_CONNECTION = 256  # the server's default calls-in-flight limit (§9)
HIGHEST_STREAM_ID = 0xFFFFFFFB  # past it a client opens a new connection (§5)


class FrameType(enum.IntEnum):
    REQUEST = 0x01
    RESPONSE = 0x02
    DATA = 0x03
    CANCEL = 0x04
    GOAWAY = 0x05
    WINDOW_UPDATE = 0x06


def frame(kind: FrameType, stream_id: int, payload: bytes = b"") -> bytes:
    return HEADER.pack(len(payload), stream_id, kind, 0) + payload


def request_envelope(
    service: str,
    method: str,
    payload: bytes,
    timeout_seconds: float,
    metadata: Sequence[tuple[str, str]],
    stream_window: int = 0,
) -> bytes:
    """The payload of a REQUEST frame: the encoded `Request` envelope."""
    request = envelope_pb2.Request(
        service=service,
        method=method,
        payload=payload,
        # Never 0 (that would mean the server's 30 s default): at least 1 ns of the time left.
        timeout_nano=max(1, int(timeout_seconds * 1_000_000_000)),
        metadata=[envelope_pb2.KeyValue(key=k, value=v) for k, v in metadata],
        stream_window=stream_window,
    )
    return request.SerializeToString()


def window_update_frame(stream_id: int, messages: int) -> bytes:
    update = envelope_pb2.WindowUpdate(messages=messages)
    return frame(FrameType.WINDOW_UPDATE, stream_id, update.SerializeToString())


def cancel_frame(stream_id: int) -> bytes:
    return frame(FrameType.CANCEL, stream_id)


def preface_matches(received: bytes) -> bool:
    """The server's 8 bytes: the magic and our version; the reserved half is not checked (§2)."""
    return received[:6] == PREFACE[:6]
