"""The billing journeys of an account's Settings > Billing page, walked through the sync client."""

from __future__ import annotations

import datetime
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from conftest import (
    CARD_ATTACHES_THEN_DECLINES,
    CARD_DECLINED_ON_ADD,
    CARD_OK,
    CARD_OK_MASTERCARD,
    card,
    chargeable_account,
    complete_billing_information,
    key,
    new_account,
    usd,
)

from billing_client import Client, RpcError, StatusCode, billing_pb2

Source = billing_pb2.WalletTransactionSource
Kind = billing_pb2.WalletEvent.Kind


def test_create_account_is_idempotent_on_its_key(client: Client) -> None:
    request = billing_pb2.CreateAccountRequest(idempotency_key=key(), display_name="Acme", currency="USD")
    first = client.billing.create_account(request).account
    again = client.billing.create_account(request).account
    assert first.id == again.id
    assert first.service_status == billing_pb2.SERVICE_STATUS_ACTIVE
    assert client.billing.get_account(billing_pb2.GetAccountRequest(account_id=first.id)).account == first


def test_add_a_card_and_make_another_primary(client: Client) -> None:
    account = new_account(client)
    first = client.billing.add_payment_method(billing_pb2.AddPaymentMethodRequest(
        idempotency_key=key(), account_id=account.id, card=card(CARD_OK))).payment_method
    assert first.primary and first.last4 == "4242"  # the first card always becomes primary

    second = client.billing.add_payment_method(billing_pb2.AddPaymentMethodRequest(
        idempotency_key=key(), account_id=account.id, card=card(CARD_OK_MASTERCARD))).payment_method
    assert not second.primary
    made_primary = client.billing.set_primary_payment_method(billing_pb2.SetPrimaryPaymentMethodRequest(
        idempotency_key=key(), account_id=account.id, payment_method_id=second.id)).payment_method
    assert made_primary.primary

    listed = client.billing.list_payment_methods(billing_pb2.ListPaymentMethodsRequest(account_id=account.id))
    assert listed.primary_payment_method_id == second.id
    assert [m.id for m in listed.payment_methods] == [second.id, first.id]  # primary first


def test_update_billing_information_until_complete(client: Client) -> None:
    account = new_account(client)
    empty = client.billing.get_billing_information(
        billing_pb2.GetBillingInformationRequest(account_id=account.id)).billing_information
    assert not empty.complete
    assert "billing_address.postal_code" in empty.missing_fields

    # An update is refused until it is complete for its country, naming the field the same way.
    with pytest.raises(RpcError) as caught:
        client.billing.update_billing_information(billing_pb2.UpdateBillingInformationRequest(
            idempotency_key=key(), account_id=account.id, full_name="Ada Lovelace", country_code="US",
            address=billing_pb2.BillingAddress(lines=["1 Market St"], city="San Francisco", postal_code="94105")))
    assert caught.value.code == StatusCode.INVALID_ARGUMENT
    assert caught.value.field == "billing_address.region"

    complete = complete_billing_information(client, account.id)
    assert complete.complete and not complete.missing_fields
    read = client.billing.get_billing_information(
        billing_pb2.GetBillingInformationRequest(account_id=account.id)).billing_information
    assert read.address.city == "San Francisco"


def test_a_card_declined_when_added_raises_with_reason_and_decline_code(client: Client) -> None:
    account = new_account(client)
    with pytest.raises(RpcError) as caught:
        client.billing.add_payment_method(billing_pb2.AddPaymentMethodRequest(
            idempotency_key=key(), account_id=account.id, card=card(CARD_DECLINED_ON_ADD)))
    error = caught.value
    assert error.code == StatusCode.FAILED_PRECONDITION
    assert error.reason == "card_declined"
    assert error.decline_code
    assert CARD_DECLINED_ON_ADD not in str(error) and "123" not in error.message.split()


def test_charges_need_billing_information(client: Client) -> None:
    account = new_account(client)
    client.billing.add_payment_method(billing_pb2.AddPaymentMethodRequest(
        idempotency_key=key(), account_id=account.id, card=card(CARD_OK)))
    with pytest.raises(RpcError) as caught:
        client.billing.add_balance(billing_pb2.AddBalanceRequest(
            idempotency_key=key(), account_id=account.id, amount=usd(1000)))
    assert caught.value.reason == "billing_address_incomplete"


def test_a_declined_top_up_stays_declined_under_its_key(client: Client) -> None:
    account = new_account(client)
    complete_billing_information(client, account.id)
    client.billing.add_payment_method(billing_pb2.AddPaymentMethodRequest(
        idempotency_key=key(), account_id=account.id, card=card(CARD_ATTACHES_THEN_DECLINES)))
    request = billing_pb2.AddBalanceRequest(idempotency_key=key(), account_id=account.id, amount=usd(1000))
    for _ in range(2):
        with pytest.raises(RpcError) as caught:
            client.billing.add_balance(request)
        assert caught.value.reason == "card_declined"
    charges = client.billing.list_charges(billing_pb2.ListChargesRequest(account_id=account.id)).charges
    assert [c.status for c in charges] == [billing_pb2.CHARGE_STATUS_FAILED]  # charged once, not twice


def wait_for_no_recharge_in_flight(client: Client, account_id: str) -> billing_pb2.Wallet:
    deadline = time.monotonic() + 10
    while True:
        wallet = client.billing.get_wallet(billing_pb2.GetWalletRequest(account_id=account_id)).wallet
        if not wallet.HasField("pending_recharge") or wallet.pending_recharge.amount_minor == 0:
            return wallet
        assert time.monotonic() < deadline, "the recharge did not settle within 10 s"
        time.sleep(0.05)


def test_the_wallet_journey(client: Client) -> None:
    """Add funds, enable auto-recharge, spend across the threshold from many threads at once (exactly
    one recharge), then read the summary, the ledger page by page, the invoices, charges and a PDF."""
    account = chargeable_account(client)

    top_up = client.billing.add_balance(billing_pb2.AddBalanceRequest(
        idempotency_key=key(), account_id=account.id, amount=usd(2000)))
    assert top_up.charge.status == billing_pb2.CHARGE_STATUS_SUCCEEDED
    assert top_up.invoice.status == billing_pb2.INVOICE_STATUS_PAID
    assert top_up.wallet.balance == usd(2000)

    configured = client.billing.configure_auto_recharge(billing_pb2.ConfigureAutoRechargeRequest(
        idempotency_key=key(), account_id=account.id, enabled=True, recharge_amount=usd(5000),
        threshold=usd(500))).wallet
    assert configured.auto_recharge.enabled

    # 160 debits of 10 from 16 threads on one connection: the balance crosses 500 once, and the one
    # recharge of 5000 keeps it above the threshold for the rest.
    threads, debits_per_thread = 16, 10
    start = threading.Barrier(threads)

    def spend(thread: int) -> list[bool]:
        start.wait()
        return [client.billing.record_usage(billing_pb2.RecordUsageRequest(
            account_id=account.id, usage_id=f"sms-{thread}-{i}", category="sms", amount=usd(10),
            description="1 SMS")).replayed for i in range(debits_per_thread)]

    with ThreadPoolExecutor(threads) as pool:
        replays = [r for results in pool.map(spend, range(threads)) for r in results]
    assert replays == [False] * threads * debits_per_thread

    wallet = wait_for_no_recharge_in_flight(client, account.id)
    assert wallet.balance == usd(2000 - 1600 + 5000)

    # A retried usage id debits once.
    retried = client.billing.record_usage(billing_pb2.RecordUsageRequest(
        account_id=account.id, usage_id="sms-0-0", category="sms", amount=usd(10), description="1 SMS"))
    assert retried.replayed

    # The detailed transactions, page by page, newest first.
    ledger: list[billing_pb2.WalletTransaction] = []
    token = ""
    pages = 0
    while True:
        page = client.billing.list_wallet_transactions(billing_pb2.ListWalletTransactionsRequest(
            account_id=account.id, page_size=25, page_token=token))
        ledger += page.transactions
        pages += 1
        token = page.next_page_token
        if not token:
            break
    assert pages == 7  # 162 lines in pages of 25
    assert len({t.id for t in ledger}) == len(ledger) == 162
    sources = [t.source for t in ledger]
    assert sources.count(Source.WALLET_TRANSACTION_SOURCE_AUTO_RECHARGE) == 1
    assert sources.count(Source.WALLET_TRANSACTION_SOURCE_TOP_UP) == 1
    assert sources.count(Source.WALLET_TRANSACTION_SOURCE_USAGE) == 160
    assert ledger[0].balance_after == wallet.balance
    times = [t.created_at_unix_ms for t in ledger]
    assert times == sorted(times, reverse=True)

    # The monthly summary: one month, the sms debits and the two credits.
    now = datetime.datetime.now(datetime.UTC)
    month_start = int(datetime.datetime(now.year, now.month, 1, tzinfo=datetime.UTC).timestamp() * 1000)
    summary = client.billing.summarize_wallet_transactions(billing_pb2.SummarizeWalletTransactionsRequest(
        account_id=account.id, from_unix_ms=month_start, before_unix_ms=int(time.time() * 1000) + 60_000))
    sms = [m for m in summary.months if m.category == "sms"]
    assert len(sms) == 1 and sms[0].month == now.strftime("%Y-%m")
    assert sms[0].debits == usd(1600) and sms[0].transaction_count == 160
    assert sum(m.credits.amount_minor for m in summary.months) == 2000 + 5000

    # Every top-up and recharge creates a paid invoice and a succeeded charge.
    invoices = client.billing.list_invoices(billing_pb2.ListInvoicesRequest(account_id=account.id)).invoices
    assert [i.status for i in invoices] == [billing_pb2.INVOICE_STATUS_PAID] * 2
    charges = client.billing.list_charges(billing_pb2.ListChargesRequest(account_id=account.id)).charges
    assert sorted(c.amount.amount_minor for c in charges) == [2000, 5000]
    assert all(c.status == billing_pb2.CHARGE_STATUS_SUCCEEDED for c in charges)

    pdf = client.billing.download_invoice_pdf(billing_pb2.DownloadInvoicePdfRequest(
        account_id=account.id, invoice_id=top_up.invoice.id))
    assert pdf.pdf.startswith(b"%PDF-")
    assert pdf.file_name == f"{top_up.invoice.number}.pdf"


def test_watch_wallet_follows_the_balance(client: Client) -> None:
    account = chargeable_account(client)
    client.billing.add_balance(billing_pb2.AddBalanceRequest(
        idempotency_key=key(), account_id=account.id, amount=usd(1000)))
    with client.billing.watch_wallet(billing_pb2.WatchWalletRequest(account_id=account.id), timeout=10) as events:
        snapshot = next(events)
        assert snapshot.kind == Kind.KIND_SNAPSHOT and snapshot.wallet.balance == usd(1000)
        client.billing.record_usage(billing_pb2.RecordUsageRequest(
            account_id=account.id, usage_id="voice-1", category="voice", amount=usd(250)))
        changed = next(events)
        assert changed.kind == Kind.KIND_BALANCE_CHANGED
        assert changed.transaction.usage_id == "voice-1" and changed.transaction.balance_after == usd(750)


def test_paging_through_invoices_and_charges(client: Client) -> None:
    account = chargeable_account(client)
    for amount in range(100, 600, 100):
        client.billing.add_balance(billing_pb2.AddBalanceRequest(
            idempotency_key=key(), account_id=account.id, amount=usd(amount)))
    seen: list[int] = []
    token = ""
    while True:
        page = client.billing.list_charges(billing_pb2.ListChargesRequest(
            account_id=account.id, page_size=2, page_token=token))
        seen += [c.amount.amount_minor for c in page.charges]
        token = page.next_page_token
        if not token:
            break
    assert seen == [500, 400, 300, 200, 100]  # newest first
    invoices: list[billing_pb2.Invoice] = []
    token = ""
    while True:
        invoice_page = client.billing.list_invoices(billing_pb2.ListInvoicesRequest(
            account_id=account.id, page_size=2, page_token=token))
        invoices += invoice_page.invoices
        token = invoice_page.next_page_token
        if not token:
            break
    assert sorted(i.total.amount_minor for i in invoices) == [100, 200, 300, 400, 500]


def test_watch_wallet_reports_an_auto_recharge_after_the_debit_that_triggers_it(client: Client) -> None:
    account = chargeable_account(client)
    client.billing.add_balance(billing_pb2.AddBalanceRequest(
        idempotency_key=key(), account_id=account.id, amount=usd(1000)))
    client.billing.configure_auto_recharge(billing_pb2.ConfigureAutoRechargeRequest(
        idempotency_key=key(), account_id=account.id, enabled=True, recharge_amount=usd(1000),
        threshold=usd(500)))
    with client.billing.watch_wallet(billing_pb2.WatchWalletRequest(account_id=account.id), timeout=10) as events:
        assert next(events).kind == Kind.KIND_SNAPSHOT
        debit = client.billing.record_usage(billing_pb2.RecordUsageRequest(
            account_id=account.id, usage_id="ai-1", category="ai-tokens", amount=usd(600)))
        assert debit.transaction.balance_after == usd(400)  # the reply comes before the recharge
        kinds = [Kind.Name(next(events).kind) for _ in range(4)]
    assert kinds == ["KIND_BALANCE_CHANGED", "KIND_RECHARGE_STARTED", "KIND_BALANCE_CHANGED",
                     "KIND_RECHARGE_SUCCEEDED"]
    assert wait_for_no_recharge_in_flight(client, account.id).balance == usd(1400)
