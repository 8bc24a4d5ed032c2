"""The asyncio client against a real billingd: the same calls, awaited; cancellation by task."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from pathlib import Path

import pytest
from conftest import CARD_OK, Billingd, card, key, usd
from fakes import FakeServer, read_frame

from billing_client import AsyncClient, RpcError, StatusCode, billing_pb2, health_pb2

Kind = billing_pb2.WalletEvent.Kind


async def chargeable_account(client: AsyncClient) -> billing_pb2.Account:
    account = (await client.billing.create_account(billing_pb2.CreateAccountRequest(
        idempotency_key=key(), display_name="Acme", currency="USD"))).account
    await client.billing.update_billing_information(billing_pb2.UpdateBillingInformationRequest(
        idempotency_key=key(), account_id=account.id, full_name="Ada Lovelace", country_code="US",
        address=billing_pb2.BillingAddress(lines=["1 Market St"], city="San Francisco", region="CA",
                                           postal_code="94105")))
    await client.billing.add_payment_method(billing_pb2.AddPaymentMethodRequest(
        idempotency_key=key(), account_id=account.id, card=card(CARD_OK)))
    return account


def test_async_journey_with_many_concurrent_calls(billingd: Billingd) -> None:
    """600 debits at once from one connection (more than the server's 256 calls in flight: the client
    waits for slots), followed by an async WatchWallet."""

    async def journey() -> None:
        async with AsyncClient(billingd.socket_path) as client:
            health = await client.health.check(health_pb2.HealthCheckRequest())
            assert health.status == health_pb2.HealthCheckResponse.SERVING
            account = await chargeable_account(client)
            await client.billing.add_balance(billing_pb2.AddBalanceRequest(
                idempotency_key=key(), account_id=account.id, amount=usd(10_000)))

            async with client.billing.watch_wallet(
                    billing_pb2.WatchWalletRequest(account_id=account.id), timeout=30) as events:
                snapshot = await anext(events)
                assert snapshot.kind == Kind.KIND_SNAPSHOT

                replies = await asyncio.gather(*(client.billing.record_usage(billing_pb2.RecordUsageRequest(
                    account_id=account.id, usage_id=f"email-{i}", category="email", amount=usd(1)))
                    for i in range(600)))
                assert len({r.transaction.id for r in replies}) == 600

                balances = []
                async for event in events:
                    assert event.kind == Kind.KIND_BALANCE_CHANGED
                    balances.append(event.transaction.balance_after.amount_minor)
                    if len(balances) == 64:
                        break  # a watcher keeps at most the newest 64 events; leaving cancels the call
                assert balances == sorted(balances, reverse=True)

            wallet = (await client.billing.get_wallet(billing_pb2.GetWalletRequest(account_id=account.id))).wallet
            assert wallet.balance == usd(10_000 - 600)

    asyncio.run(journey())


def test_async_errors_deadlines_and_task_cancellation(billingd: Billingd) -> None:
    async def scenario() -> None:
        async with AsyncClient(billingd.socket_path) as client:
            with pytest.raises(RpcError) as caught:
                await client.billing.get_account(billing_pb2.GetAccountRequest(account_id="acct\x00"))
            assert caught.value.reason == "invalid_string"

            account = (await client.billing.create_account(billing_pb2.CreateAccountRequest(
                idempotency_key=key(), display_name="Acme", currency="USD"))).account

            # A stream's deadline.
            started = time.monotonic()
            events = client.billing.watch_wallet(billing_pb2.WatchWalletRequest(account_id=account.id), timeout=0.5)
            assert (await anext(events)).kind == Kind.KIND_SNAPSHOT
            with pytest.raises(RpcError) as caught:
                await anext(events)
            assert caught.value.code == StatusCode.DEADLINE_EXCEEDED
            assert 0.4 < time.monotonic() - started < 5

            # Cancelling the task that iterates sends CANCEL: 80 watches in a row never meet the
            # limit of 64 watchers per wallet.
            async def watch_until_cancelled() -> None:
                async for _event in client.billing.watch_wallet(
                        billing_pb2.WatchWalletRequest(account_id=account.id), timeout=30):
                    pass

            for _ in range(80):
                task = asyncio.create_task(watch_until_cancelled())
                await asyncio.sleep(0.005)
                task.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await task
            last = client.billing.watch_wallet(billing_pb2.WatchWalletRequest(account_id=account.id), timeout=5)
            assert (await anext(last)).kind == Kind.KIND_SNAPSHOT
            await last.cancel()

    asyncio.run(scenario())


def test_cancelling_the_task_of_a_unary_call_sends_cancel(tmp_path: Path) -> None:
    frames: list[tuple[int, int]] = []
    got_cancel = threading.Event()

    def serve(conn: socket.socket, _number: int) -> None:
        """Answers nothing; records the client's frames until its CANCEL."""
        conn.sendall(b"BRPC\x00\x01\x00\x00")
        conn.recv(8, socket.MSG_WAITALL)
        for _ in range(2):
            kind, stream_id, _payload = read_frame(conn)
            frames.append((kind, stream_id))
        got_cancel.set()
        conn.close()

    server = FakeServer(tmp_path / "fake.sock", serve)

    async def scenario() -> None:
        async with AsyncClient(server.path) as client:
            call = asyncio.create_task(client.health.check(health_pb2.HealthCheckRequest(), timeout=30))
            await asyncio.sleep(0.2)
            call.cancel()
            with pytest.raises(asyncio.CancelledError):
                await call

    try:
        asyncio.run(scenario())
        assert got_cancel.wait(5)
        assert frames == [(1, 1), (4, 1)]  # REQUEST, then CANCEL on the same stream
    finally:
        server.close()
