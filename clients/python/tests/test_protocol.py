"""The protocol's behaviour as the client sees it: deadlines, CANCEL, flow control, limits, statuses,
GOAWAY and reconnection, against a real billingd, and a few fakes for what billingd never does."""

from __future__ import annotations

import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import Billingd, chargeable_account, key, new_account, usd
from fakes import FakeServer, read_frame, write_frame

from billing_client import Channel, Client, RpcError, StatusCode, billing_pb2, envelope_pb2, health_pb2

Kind = billing_pb2.WalletEvent.Kind
SERVICE = "billing.v1.BillingService"


def test_health_check_and_unknown_service(client: Client) -> None:
    assert client.health.check(health_pb2.HealthCheckRequest()).status == health_pb2.HealthCheckResponse.SERVING
    with pytest.raises(RpcError) as caught:
        client.health.check(health_pb2.HealthCheckRequest(service="no.such.Service"))
    assert caught.value.code == StatusCode.NOT_FOUND


def test_unknown_service_and_method_are_unimplemented_with_their_reasons(client: Client) -> None:
    request = billing_pb2.GetAccountRequest(account_id="x")
    with pytest.raises(RpcError) as caught:
        client.channel.unary("no.such.Service", "Get", request, billing_pb2.AccountResponse)
    assert (caught.value.code, caught.value.reason) == (StatusCode.UNIMPLEMENTED, "unknown_service")
    with pytest.raises(RpcError) as caught:
        client.channel.unary(SERVICE, "NoSuchMethod", request, billing_pb2.AccountResponse)
    assert (caught.value.code, caught.value.reason) == (StatusCode.UNIMPLEMENTED, "unknown_method")


def test_a_nul_in_a_string_is_refused_with_the_field(client: Client) -> None:
    with pytest.raises(RpcError) as caught:
        client.billing.get_account(billing_pb2.GetAccountRequest(account_id="acct\x00x"))
    error = caught.value
    assert (error.code, error.reason, error.field) == (StatusCode.INVALID_ARGUMENT, "invalid_string", "account_id")


def test_a_unary_deadline_fails_the_call_and_the_connection_goes_on(client: Client) -> None:
    with pytest.raises(RpcError) as caught:
        client.billing.get_account(billing_pb2.GetAccountRequest(account_id="x"), timeout=0.000_001)
    assert caught.value.code == StatusCode.DEADLINE_EXCEEDED
    assert client.health.check(health_pb2.HealthCheckRequest()).status == health_pb2.HealthCheckResponse.SERVING


def test_a_stream_deadline_ends_the_iteration(client: Client) -> None:
    account = new_account(client)
    started = time.monotonic()
    events = client.billing.watch_wallet(billing_pb2.WatchWalletRequest(account_id=account.id), timeout=0.5)
    assert next(events).kind == Kind.KIND_SNAPSHOT
    with pytest.raises(RpcError) as caught:
        next(events)
    assert caught.value.code == StatusCode.DEADLINE_EXCEEDED
    assert 0.4 < time.monotonic() - started < 5


def test_cancel_frees_the_server_side_watcher(client: Client) -> None:
    """A wallet takes at most 64 watchers: 80 watches one after another each get their snapshot only if
    every CANCEL before them reached the server."""
    account = new_account(client)
    for _ in range(80):
        with client.billing.watch_wallet(billing_pb2.WatchWalletRequest(account_id=account.id), timeout=5) as events:
            assert next(events).kind == Kind.KIND_SNAPSHOT


def test_watchers_beyond_the_limit_are_refused(client: Client) -> None:
    account = new_account(client)
    streams = [client.billing.watch_wallet(billing_pb2.WatchWalletRequest(account_id=account.id), timeout=5)
               for _ in range(65)]
    try:
        # The server runs the 65 calls concurrently: any one of them may be the one refused.
        outcomes: list[str] = []
        for stream in streams:
            try:
                outcomes.append(billing_pb2.WalletEvent.Kind.Name(next(stream).kind))
            except RpcError as error:
                assert error.code == StatusCode.RESOURCE_EXHAUSTED
                outcomes.append(error.reason)
        assert sorted(outcomes) == ["KIND_SNAPSHOT"] * 64 + ["too_many_watchers"]
    finally:
        for stream in streams:
            stream.cancel()


def test_flow_control_grants_what_was_read(billingd: Billingd) -> None:
    """With a window of 2, 30 events reach a reader only if it keeps granting credit (WINDOW_UPDATE)."""
    with Client(billingd.socket_path, stream_window=2) as client:
        account = chargeable_account(client)
        client.billing.add_balance(billing_pb2.AddBalanceRequest(
            idempotency_key=key(), account_id=account.id, amount=usd(1000)))
        with client.billing.watch_wallet(billing_pb2.WatchWalletRequest(account_id=account.id), timeout=20) as events:
            assert next(events).kind == Kind.KIND_SNAPSHOT
            for i in range(30):
                client.billing.record_usage(billing_pb2.RecordUsageRequest(
                    account_id=account.id, usage_id=f"u{i}", category="sms", amount=usd(1)))
            usage_ids = [next(events).transaction.usage_id for _ in range(30)]
    assert usage_ids == [f"u{i}" for i in range(30)]


def test_a_reply_over_the_client_frame_limit_fails_only_its_call(billingd: Billingd) -> None:
    with Client(billingd.socket_path, max_frame_bytes=1024) as client:
        account = chargeable_account(client)
        top_up = client.billing.add_balance(billing_pb2.AddBalanceRequest(
            idempotency_key=key(), account_id=account.id, amount=usd(1000)))
        with pytest.raises(RpcError) as caught:
            client.billing.download_invoice_pdf(billing_pb2.DownloadInvoicePdfRequest(
                account_id=account.id, invoice_id=top_up.invoice.id))
        assert (caught.value.code, caught.value.reason) == (StatusCode.RESOURCE_EXHAUSTED, "message_too_large")
        assert client.billing.get_account(billing_pb2.GetAccountRequest(account_id=account.id)).account.id


def test_a_request_over_the_frame_limit_is_refused_before_it_is_sent(billingd: Billingd) -> None:
    # billingd would answer it and end the connection (PROTOCOL.md §10); the client does not send it.
    with Client(billingd.socket_path, max_frame_bytes=1024) as client:
        account = new_account(client)
        with pytest.raises(RpcError) as caught:
            client.billing.get_account(billing_pb2.GetAccountRequest(account_id="acct_" + "x" * 2000))
        assert (caught.value.code, caught.value.reason) == (StatusCode.RESOURCE_EXHAUSTED, "message_too_large")
        assert "it was not sent" in caught.value.message
        assert client.billing.get_account(billing_pb2.GetAccountRequest(account_id=account.id)).account.id == account.id


def test_goaway_on_shutdown_then_the_client_reconnects(own_billingd: Billingd) -> None:
    with Client(own_billingd.socket_path) as client:
        account = new_account(client)
        watch = client.health.watch(health_pb2.HealthCheckRequest(), timeout=30)
        assert next(watch).status == health_pb2.HealthCheckResponse.SERVING
        wallet_watch = client.billing.watch_wallet(billing_pb2.WatchWalletRequest(account_id=account.id), timeout=30)
        assert next(wallet_watch).kind == Kind.KIND_SNAPSHOT

        own_billingd.stop(signal.SIGTERM)
        # The drain ends the watches with OK, health after telling NOT_SERVING.
        assert [m.status for m in watch] == [health_pb2.HealthCheckResponse.NOT_SERVING]
        assert list(wallet_watch) == []

        # With no server the call fails UNAVAILABLE, after its retries.
        with pytest.raises(RpcError) as caught:
            client.billing.get_account(billing_pb2.GetAccountRequest(account_id=account.id), timeout=2)
        assert caught.value.code == StatusCode.UNAVAILABLE

        own_billingd.start()
        again = client.billing.get_account(billing_pb2.GetAccountRequest(account_id=account.id)).account
        assert again.id == account.id


def test_an_idle_connection_told_goaway_is_replaced_on_the_next_call(tmp_path: Path) -> None:
    server = Billingd(tmp_path)
    server.start("--idle-timeout-seconds", "1")
    try:
        with Client(server.socket_path) as client:
            account = new_account(client)
            first_connection = client.channel._pool.connection()
            # The idle check runs every quarter of the timeout: GOAWAY comes 1 to 1.25 s after the last frame.
            deadline = time.monotonic() + 5
            while first_connection.accepting and time.monotonic() < deadline:
                time.sleep(0.05)
            assert not first_connection.accepting, "no GOAWAY after 5 s idle"
            again = client.billing.get_account(billing_pb2.GetAccountRequest(account_id=account.id)).account
            assert again.id == account.id
            assert client.channel._pool.connection() is not first_connection
    finally:
        server.stop()


def test_more_calls_than_the_server_takes_per_connection_wait_for_a_slot(billingd: Billingd) -> None:
    """300 open streams on one channel: the last 44 wait for a slot, and start as the first ones end."""
    with Client(billingd.socket_path) as client:
        streams = [client.health.watch(health_pb2.HealthCheckRequest(), timeout=20) for _ in range(256)]
        later: list[health_pb2.HealthCheckResponse] = []

        def open_more() -> None:
            for _ in range(44):
                with client.health.watch(health_pb2.HealthCheckRequest(), timeout=20) as stream:
                    later.append(next(stream))

        opener = threading.Thread(target=open_more)
        opener.start()
        time.sleep(0.2)
        assert later == []  # waiting: every slot is held
        for stream in streams:
            assert next(stream).status == health_pb2.HealthCheckResponse.SERVING
            stream.cancel()
        opener.join(timeout=20)
        assert len(later) == 44


# --- fakes: what billingd itself never sends -------------------------------------------------------


@pytest.fixture
def fake_server(tmp_path: Path) -> Iterator[Callable[[Callable[[socket.socket, int], None]], FakeServer]]:
    servers: list[FakeServer] = []

    def make(serve: Callable[[socket.socket, int], None]) -> FakeServer:
        servers.append(FakeServer(tmp_path / f"fake{len(servers)}.sock", serve))
        return servers[-1]

    yield make
    for server in servers:
        server.close()


def test_a_server_that_does_not_speak_the_protocol_is_unavailable(fake_server: Callable[..., FakeServer]) -> None:
    def serve(conn: socket.socket, _number: int) -> None:
        conn.recv(8, socket.MSG_WAITALL)
        conn.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n")
        time.sleep(0.1)
        conn.close()

    server = fake_server(serve)
    with Client(server.path) as client, pytest.raises(RpcError) as caught:
        client.health.check(health_pb2.HealthCheckRequest(), timeout=2)
    assert caught.value.code == StatusCode.UNAVAILABLE
    assert "does not speak billing RPC protocol version 1" in caught.value.message


def test_a_call_above_goaway_last_stream_id_is_retried_on_a_new_connection(
        fake_server: Callable[..., FakeServer]) -> None:
    """The first connection answers GOAWAY last_stream_id=0 (the call was not run); the second runs it."""
    seen: list[tuple[int, str]] = []

    def serve(conn: socket.socket, number: int) -> None:
        conn.sendall(b"BRPC\x00\x01\x00\x00")
        assert conn.recv(8, socket.MSG_WAITALL) == b"BRPC\x00\x01\x00\x00"
        kind, stream_id, payload = read_frame(conn)
        request = envelope_pb2.Request.FromString(payload)
        seen.append((number, request.method))
        if number == 0:
            goaway = envelope_pb2.GoAway(last_stream_id=0, status=envelope_pb2.Status(
                code=StatusCode.UNAVAILABLE, message="going away",
                details=[envelope_pb2.StatusDetail(type="reason", value="shutting_down")]))
            write_frame(conn, 5, 0, goaway.SerializeToString())
        else:
            reply = health_pb2.HealthCheckResponse(status=health_pb2.HealthCheckResponse.SERVING)
            write_frame(conn, 2, stream_id, envelope_pb2.Response(payload=reply.SerializeToString()).SerializeToString())
        time.sleep(0.2)
        conn.close()

    server = fake_server(serve)
    channel = Channel(server.path)
    try:
        reply = channel.unary("grpc.health.v1.Health", "Check", health_pb2.HealthCheckRequest(),
                              health_pb2.HealthCheckResponse, idempotent=False)
    finally:
        channel.close()
    assert reply.status == health_pb2.HealthCheckResponse.SERVING
    assert seen == [(0, "Check"), (1, "Check")]


def test_status_details_and_unknown_codes_are_kept(fake_server: Callable[..., FakeServer]) -> None:
    def serve(conn: socket.socket, _number: int) -> None:
        conn.sendall(b"BRPC\x00\x01\x00\x00")
        conn.recv(8, socket.MSG_WAITALL)
        _kind, stream_id, _payload = read_frame(conn)
        status = envelope_pb2.Status(code=42, message="from the future", details=[
            envelope_pb2.StatusDetail(type="reason", value="something_new"),
            envelope_pb2.StatusDetail(type="hint", value="ignored by old clients")])
        write_frame(conn, 2, stream_id, envelope_pb2.Response(status=status).SerializeToString())
        time.sleep(0.2)
        conn.close()

    server = fake_server(serve)
    with Client(server.path) as client, pytest.raises(RpcError) as caught:
        client.health.check(health_pb2.HealthCheckRequest())
    assert caught.value.code == 42 and caught.value.code_name == "CODE_42"
    assert caught.value.reason == "something_new" and caught.value.field is None


def test_a_deadline_sends_cancel_to_a_server_that_does_not_answer(fake_server: Callable[..., FakeServer]) -> None:
    frames: list[tuple[int, int]] = []
    cancelled = threading.Event()

    def serve(conn: socket.socket, _number: int) -> None:
        conn.sendall(b"BRPC\x00\x01\x00\x00")
        conn.recv(8, socket.MSG_WAITALL)
        for _ in range(2):
            kind, stream_id, payload = read_frame(conn)
            frames.append((kind, stream_id))
            if kind == 1:
                assert 0 < envelope_pb2.Request.FromString(payload).timeout_nano <= 300_000_000
        cancelled.set()
        conn.close()

    server = fake_server(serve)
    with Client(server.path) as client:
        started = time.monotonic()
        with pytest.raises(RpcError) as caught:
            client.health.check(health_pb2.HealthCheckRequest(), timeout=0.3)
        assert caught.value.code == StatusCode.DEADLINE_EXCEEDED
        assert 0.25 < time.monotonic() - started < 2
    assert cancelled.wait(5)
    assert frames == [(1, 1), (4, 1)]  # REQUEST, then CANCEL on the same stream


def test_another_thread_can_cancel_a_unary_call(fake_server: Callable[..., FakeServer]) -> None:
    frames: list[tuple[int, int]] = []
    got_cancel = threading.Event()

    def serve(conn: socket.socket, _number: int) -> None:
        conn.sendall(b"BRPC\x00\x01\x00\x00")
        conn.recv(8, socket.MSG_WAITALL)
        for _ in range(2):
            kind, stream_id, _payload = read_frame(conn)
            frames.append((kind, stream_id))
        got_cancel.set()
        conn.close()

    server = fake_server(serve)
    with Client(server.path) as client:
        call = client.channel.start_unary("grpc.health.v1.Health", "Check", health_pb2.HealthCheckRequest(),
                                          health_pb2.HealthCheckResponse, timeout=30)
        threading.Timer(0.2, call.cancel).start()
        with pytest.raises(RpcError) as caught:
            call.result()
        assert caught.value.code == StatusCode.CANCELLED
        assert call.done() and not call.cancel()
    assert got_cancel.wait(5)
    assert frames == [(1, 1), (4, 1)]


def test_a_started_unary_call_returns_its_reply(client: Client) -> None:
    call = client.channel.start_unary("grpc.health.v1.Health", "Check", health_pb2.HealthCheckRequest(),
                                      health_pb2.HealthCheckResponse)
    assert call.result().status == health_pb2.HealthCheckResponse.SERVING
    assert call.done() and not call.cancel()
