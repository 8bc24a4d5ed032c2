"""What the generated service clients (_generated/_services.py) need from a channel."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol, TypeVar

from google.protobuf.message import Message

if TYPE_CHECKING:
    from billing_client._streams import AsyncServerStream, ServerStream

Reply = TypeVar("Reply", bound=Message)


class SyncCallable(Protocol):
    def unary(self, service: str, method: str, request: Message, reply_type: type[Reply], *,
              timeout: float | None, metadata: Sequence[tuple[str, str]]) -> Reply: ...

    def server_stream(self, service: str, method: str, request: Message, reply_type: type[Reply], *,
                      timeout: float | None, metadata: Sequence[tuple[str, str]]) -> ServerStream[Reply]: ...


class AsyncCallable(Protocol):
    async def unary(self, service: str, method: str, request: Message, reply_type: type[Reply], *,
                    timeout: float | None, metadata: Sequence[tuple[str, str]]) -> Reply: ...

    def server_stream(self, service: str, method: str, request: Message, reply_type: type[Reply], *,
                      timeout: float | None,
                      metadata: Sequence[tuple[str, str]]) -> AsyncServerStream[Reply]: ...
