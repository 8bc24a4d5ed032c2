"""Bill an account from a Python service: the example of clients/python/README.md.

Run it against `make run` from the repository root: python3 clients/python/examples/quickstart.py
"""

import sys
import uuid

from billing_client import Client, RpcError, billing_pb2

SOCKET = sys.argv[1] if len(sys.argv) > 1 else "data/billingd.sock"


def key() -> str:
    """Every mutating call carries an idempotency key: a retry with the same key does the work once."""
    return str(uuid.uuid4())


def usd(cents: int) -> billing_pb2.Money:
    return billing_pb2.Money(amount_minor=cents, currency="USD")


with Client(SOCKET) as client:  # one client per process; thread-safe, one multiplexed connection
    billing = client.billing
    account = billing.create_account(billing_pb2.CreateAccountRequest(
        idempotency_key=key(), display_name="Acme", currency="USD")).account

    billing.update_billing_information(billing_pb2.UpdateBillingInformationRequest(
        idempotency_key=key(), account_id=account.id, full_name="Ada Lovelace", country_code="US",
        address=billing_pb2.BillingAddress(lines=["1 Market St"], city="San Francisco", region="CA",
                                           postal_code="94105")))
    billing.add_payment_method(billing_pb2.AddPaymentMethodRequest(
        idempotency_key=key(), account_id=account.id,
        card=billing_pb2.CardInput(number="4242424242424242", expiry_month=12, expiry_year=2030,
                                   cvc="123", holder_name="Ada Lovelace")))
    billing.add_balance(billing_pb2.AddBalanceRequest(
        idempotency_key=key(), account_id=account.id, amount=usd(2_000)))  # $20.00
    billing.configure_auto_recharge(billing_pb2.ConfigureAutoRechargeRequest(
        idempotency_key=key(), account_id=account.id, enabled=True,
        recharge_amount=usd(2_000), threshold=usd(500)))

    try:
        debit = billing.record_usage(billing_pb2.RecordUsageRequest(
            account_id=account.id, usage_id="sms-000123", category="sms", amount=usd(5),
            description="1 SMS"), timeout=2.0)
        print("balance after the SMS:", debit.transaction.balance_after.amount_minor, "cents")
    except RpcError as error:
        # Switch on the machine-readable reason; the message is for people.
        if error.reason in ("insufficient_funds", "wallet_suspended"):
            print("usage refused:", error.message)
        else:
            raise

    with billing.watch_wallet(billing_pb2.WatchWalletRequest(account_id=account.id), timeout=5) as events:
        print("wallet now:", next(events).wallet.balance.amount_minor, "cents")  # the snapshot; then changes
