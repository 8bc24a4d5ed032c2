"""A stand-in server for what billingd itself never does (a wrong preface, a GOAWAY on demand, silence)."""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Callable
from pathlib import Path


class FakeServer:
    """A Unix socket whose connections are handed to `serve`, one thread each."""

    def __init__(self, path: Path, serve: Callable[[socket.socket, int], None]) -> None:
        self.path = str(path)
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._listener.bind(self.path)
        self._listener.listen(8)
        self._listener.settimeout(0.2)
        self._serve = serve
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        number = 0
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn, number), daemon=True).start()
            number += 1

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self._listener.close()


def read_frame(conn: socket.socket) -> tuple[int, int, bytes]:
    header = conn.recv(10, socket.MSG_WAITALL)
    length, stream_id, kind, _flags = struct.unpack(">IIBB", header)
    payload = conn.recv(length, socket.MSG_WAITALL) if length else b""
    return kind, stream_id, payload


def write_frame(conn: socket.socket, kind: int, stream_id: int, payload: bytes) -> None:
    conn.sendall(struct.pack(">IIBB", len(payload), stream_id, kind, 0) + payload)
