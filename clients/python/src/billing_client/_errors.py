"""Statuses and the exception every failed call raises (docs/PROTOCOL.md §7, §8)."""

from __future__ import annotations

import enum

from billing_client._generated.billing.rpc.v1 import envelope_pb2


class StatusCode(enum.IntEnum):
    """The gRPC-style status codes of docs/PROTOCOL.md §8."""

    OK = 0
    CANCELLED = 1
    UNKNOWN = 2
    INVALID_ARGUMENT = 3
    DEADLINE_EXCEEDED = 4
    NOT_FOUND = 5
    ALREADY_EXISTS = 6
    PERMISSION_DENIED = 7
    RESOURCE_EXHAUSTED = 8
    FAILED_PRECONDITION = 9
    ABORTED = 10
    OUT_OF_RANGE = 11
    UNIMPLEMENTED = 12
    INTERNAL = 13
    UNAVAILABLE = 14
    DATA_LOSS = 15
    UNAUTHENTICATED = 16


class RpcError(Exception):
    """A call that did not succeed: its status code, a message for people and the details for programs.

    Switch on `reason` (a billing.v1.ErrorReason name in lower case, such as "card_declined"), or on
    `code` when the reason is one you do not know; never parse `message`.
    """

    def __init__(
        self,
        code: StatusCode | int,
        message: str,
        details: tuple[tuple[str, str], ...] = (),
        *,
        did_not_run: bool = False,
    ) -> None:
        known = code in StatusCode._value2member_map_
        # A code this client does not know is kept as the number it was, never mapped to another.
        self.code: StatusCode | int = StatusCode(code) if known else int(code)
        self.message = message
        self.details = details
        # True when the server certainly did not run the call (docs/PROTOCOL.md §16), so any call may
        # be sent again.
        self.did_not_run = did_not_run
        super().__init__(f"{self.code_name}: {message}")

    @property
    def code_name(self) -> str:
        return self.code.name if isinstance(self.code, StatusCode) else f"CODE_{self.code}"

    def detail(self, kind: str) -> str | None:
        """The value of the first detail of this type, or None."""
        return next((value for key, value in self.details if key == kind), None)

    @property
    def reason(self) -> str:
        """Why, in a word a program can switch on; the code's own name in lower case if none came."""
        return self.detail("reason") or self.code_name.lower()

    @property
    def field(self) -> str | None:
        """The request field at fault, as a path such as "address.lines[1]", when one is."""
        return self.detail("field")

    @property
    def decline_code(self) -> str | None:
        """The payment gateway's code for a declined card ("insufficient_funds", ...)."""
        return self.detail("decline_code")

    @classmethod
    def from_status(cls, status: envelope_pb2.Status, *, did_not_run: bool = False) -> RpcError:
        details = tuple((d.type, d.value) for d in status.details)
        return cls(status.code, status.message, details, did_not_run=did_not_run)

    @classmethod
    def local(cls, code: StatusCode, message: str, reason: str | None = None, *,
              did_not_run: bool = False) -> RpcError:
        """A status this client makes itself, with a reason detail like the server's."""
        return cls(code, message, (("reason", reason or code.name.lower()),), did_not_run=did_not_run)
