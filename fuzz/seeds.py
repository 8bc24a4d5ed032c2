#!/usr/bin/env python3
"""Writes the fuzz targets' seed corpora into fuzz/corpus/<target>/ (committed; rerun after a proto change).

Valid inputs built with the Python client's generated messages (clients/python), so that the fuzzer starts
from well-formed frames and messages instead of having to find protobuf's shape by chance. Each seed is
prefixed the way its target reads its input (fuzz/targets/*.swift).

Usage: python3 fuzz/seeds.py   (needs the `protobuf` package, as `make deps` installs)
"""

from __future__ import annotations

import re
import struct
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "clients/python/src"))

from google.protobuf import descriptor as d  # noqa: E402
from google.protobuf.message import Message  # noqa: E402

from billing_client._generated.billing.rpc.v1 import envelope_pb2 as env  # noqa: E402
from billing_client._generated.billing.v1 import billing_pb2  # noqa: E402
from billing_client._generated.grpc.health.v1 import health_pb2  # noqa: E402
from billing_client import _frames as frames  # noqa: E402

CORPUS = ROOT / "fuzz/corpus"


# Fields that hold a server-made id, and the id's prefix: the handling target replaces `<prefix>_` and 20 `@`
# with the latest such id its replies held (fuzz/targets/handling.swift).
ID_PREFIXES = {"account_id": "acct", "invoice_id": "inv", "payment_method_id": "pm", "subscription_id": "sub", "test_clock_id": "clock"}
PLACEHOLDERS = False


def fill(message: Message, depth: int = 0, variant: int = 0) -> Message:
    """Sets every field of `message` to a plausible value (nested messages to depth 2, repeated fields twice)."""
    for field in message.DESCRIPTOR.fields:
        if field.containing_oneof is not None and field.containing_oneof.fields[0] is not field and not field.containing_oneof.name.startswith("_"):
            continue  # one member of a real oneof
        count = 2 if field.is_repeated else 1
        for index in range(count):
            value = scalar(field, index + variant)
            if field.type == d.FieldDescriptor.TYPE_MESSAGE:
                if depth >= 2:
                    break
                if field.is_repeated:
                    fill(getattr(message, field.name).add(), depth + 1, index)
                else:
                    fill(getattr(message, field.name), depth + 1, variant)
            elif field.is_repeated:
                getattr(message, field.name).append(value)
            else:
                setattr(message, field.name, value)
    return message


def scalar(field: d.FieldDescriptor, variant: int) -> object:
    t = field.type
    if t == d.FieldDescriptor.TYPE_STRING:
        if field.name == "page_token":
            return ""
        if field.name == "test_clock_id" and (not PLACEHOLDERS or field.containing_type.name == "CreateAccountRequest"):
            return ""  # an account on a test clock only where a seed says so
        if PLACEHOLDERS and field.name in ID_PREFIXES:
            return ID_PREFIXES[field.name] + "_" + "@" * 20
        if "key" in field.name or field.name.endswith("usage_id"):
            return f"key-{field.containing_type.name}-{variant}"
        if field.name.endswith("id"):
            return f"acct_{variant}42"
        if "currency" in field.name:
            return "USD"
        if "country" in field.name:
            return "US"
        if "postal_code" in field.name:
            return "75001"
        if field.name == "category":
            return "sms"
        if "email" in field.name:
            return "zoe@example.com"
        return ["Zoë Müller", "1 Rue de la Paix", "x"][variant % 3]
    if t == d.FieldDescriptor.TYPE_BYTES:
        return b"\x00\x01\xff"
    if t == d.FieldDescriptor.TYPE_BOOL:
        return True
    if t == d.FieldDescriptor.TYPE_ENUM:
        values = field.enum_type.values
        return values[min(1 + variant, len(values) - 1)].number
    if t in (d.FieldDescriptor.TYPE_DOUBLE, d.FieldDescriptor.TYPE_FLOAT):
        return 1.5
    named = {"page_size": 10, "days_until_due": 30, "quantity": 1, "trial_days": 7}
    if field.name in named:
        return named[field.name]
    if field.name.endswith("_ms"):
        return 0
    if t in (d.FieldDescriptor.TYPE_UINT32, d.FieldDescriptor.TYPE_UINT64, d.FieldDescriptor.TYPE_FIXED32, d.FieldDescriptor.TYPE_FIXED64):
        return 1000 + variant
    if field.name.endswith("_ms"):
        return 0
    if field.name == "page_size":
        return 10
    if field.name == "days_until_due":
        return 30
    return [1999, 5, 1_700_000_000_000][variant % 3]


def write(target: str, name: str, data: bytes) -> None:
    directory = CORPUS / target
    directory.mkdir(parents=True, exist_ok=True)
    (directory / name).write_bytes(data)


def frame(stream_id: int, type_: int, payload: bytes) -> bytes:
    return frames.HEADER.pack(len(payload), stream_id, type_, 0) + payload


def main() -> None:
    request = env.Request(service="billing.v1.BillingService", method="GetAccount",
                          payload=billing_pb2.GetAccountRequest(account_id="acct_42").SerializeToString(),
                          timeout_nano=5_000_000_000, metadata=[env.KeyValue(key="trace", value="abc")], stream_window=16)
    status = env.Status(code=5, message="no account acct_42", details=[env.StatusDetail(type="reason", value="account_not_found")])

    # frame_decoder: byte 0 the limit / 4 (64 -> 256 bytes), byte 1 the chunking seed, then frames.
    stream = (frame(1, 1, request.SerializeToString()) + frame(1, 4, b"") + frame(3, 6, env.WindowUpdate(messages=8).SerializeToString())
              + frame(0, 5, env.GoAway(last_stream_id=3, status=status).SerializeToString()))
    write("frame_decoder", "frames", bytes([64, 7]) + stream)
    write("frame_decoder", "oversized", bytes([1, 3]) + frame(1, 1, bytes(300)) + frame(3, 4, b""))
    write("frame_decoder", "partial", bytes([255, 200]) + stream[:37])
    write("frame_decoder", "reserved-flags", bytes([64, 1]) + frames.HEADER.pack(0, 1, 4, 0x80))

    # envelope: byte 0 picks the message (fuzz/targets/envelope.swift).
    write("envelope", "request", bytes([0]) + request.SerializeToString())
    write("envelope", "response-ok", bytes([1]) + env.Response(payload=b"\x0a\x03abc").SerializeToString())
    write("envelope", "response-error", bytes([1]) + env.Response(status=status).SerializeToString())
    write("envelope", "goaway", bytes([2]) + env.GoAway(last_stream_id=7, status=status).SerializeToString())
    write("envelope", "window-update", bytes([3]) + env.WindowUpdate(messages=1024).SerializeToString())
    write("envelope", "status", bytes([4]) + status.SerializeToString())
    write("envelope", "status-detail", bytes([5]) + env.StatusDetail(type="field", value="billing_address.lines[1]").SerializeToString())
    write("envelope", "key-value", bytes([6]) + env.KeyValue(key="k", value="Zoë").SerializeToString())
    write("envelope", "preface", bytes([7]) + frames.PREFACE)

    # request_decoding: byte 0 is the type's index in the target's list.
    source = (ROOT / "fuzz/targets/request_decoding.swift").read_text()
    names = re.findall(r'^\s*\("([\w.]+)", \{', source, re.M)
    pools = [billing_pb2.DESCRIPTOR.pool, health_pb2.DESCRIPTOR.pool]
    from google.protobuf import message_factory
    for index, name in enumerate(names):
        descriptor = next(p.FindMessageTypeByName(name) for p in pools if _has(p, name))
        cls = message_factory.GetMessageClass(descriptor)
        short = name.rsplit(".", 1)[1]
        write("request_decoding", f"{index:02d}-{short}", bytes([index]) + fill(cls()).SerializeToString())
        write("request_decoding", f"{index:02d}-{short}-empty", bytes([index]))
    print(f"wrote seeds for {len(names)} request types")

    # handling: calls `method index u8 | length u8 | payload`, the index into the unary methods sorted by name.
    global PLACEHOLDERS
    PLACEHOLDERS = True
    service = billing_pb2.DESCRIPTOR.services_by_name["BillingService"]
    unary = sorted((m for m in service.methods if not m.server_streaming), key=lambda m: m.name)
    index = {m.name: i for i, m in enumerate(unary)}

    def call(name: str, **fields: object) -> bytes:
        method = unary[index[name]]
        message = fill(message_factory.GetMessageClass(method.input_type)())
        for key, value in fields.items():
            if isinstance(value, Message):
                getattr(message, key).CopyFrom(value)
            else:
                setattr(message, key, value)
        payload = message.SerializeToString()
        assert len(payload) < 256, (name, len(payload))
        return bytes([index[name], len(payload)]) + payload

    for method in unary:
        write("handling", method.name, call(method.name))
    card = dict(card=billing_pb2.CardInput(number="4242424242424242", expiry_month=12, expiry_year=2030, cvc="123"))
    write("handling", "account-then-each", call("CreateAccount") + call("GetAccount") + call("UpdateBillingInformation")
          + call("GetWallet") + call("ListInvoices") + call("ListCharges") + call("GetBillingOverview"))
    write("handling", "card-and-top-up", call("CreateAccount") + call("AddPaymentMethod", **card) + call("ListPaymentMethods")
          + call("UpdateBillingInformation") + call("AddBalance") + call("RecordUsage") + call("ListWalletTransactions"))
    write("handling", "invoice", call("CreateAccount") + call("UpdateBillingInformation") + call("AddPaymentMethod", **card) + call("CreateInvoice")
          + call("FinalizeInvoice") + call("PayInvoice", idempotency_key="key-pay") + call("GetInvoice") + call("DownloadInvoicePdf"))
    write("handling", "subscription", call("CreateTestClock") + call("CreateAccount", test_clock_id="clock_" + "@" * 20, idempotency_key="key-clock-account") + call("UpdateBillingInformation")
          + call("AddPaymentMethod", **card) + call("ListPlans") + call("CreateSubscription", plan_id="pro-monthly-usd-v1", align_to_account_billing_date=False) + call("AdvanceTestClock", frozen_time_unix_ms=1_900_000_000_000) + call("CancelSubscription"))
    print(f"wrote handling seeds for {len(unary)} unary methods")


def _has(pool, name: str) -> bool:
    try:
        pool.FindMessageTypeByName(name)
        return True
    except KeyError:
        return False


if __name__ == "__main__":
    main()
