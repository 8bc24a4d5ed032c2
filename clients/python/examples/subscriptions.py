"""Subscribe an account to a plan on a test clock, move the clock and upgrade: the second example of
clients/python/README.md.

Run it against `make run` from the repository root (billingd loads catalog/plans.json from its working
folder; test clocks need its sandbox gateway): python3 clients/python/examples/subscriptions.py
"""

import datetime
import sys
import uuid

from billing_client import Client, billing_pb2

SOCKET = sys.argv[1] if len(sys.argv) > 1 else "data/billingd.sock"


def key() -> str:
    return str(uuid.uuid4())


def utc_ms(year: int, month: int, day: int) -> int:
    return int(datetime.datetime(year, month, day, tzinfo=datetime.UTC).timestamp() * 1000)


with Client(SOCKET) as client:
    billing = client.billing
    for plan in billing.list_plans(billing_pb2.ListPlansRequest(kind=billing_pb2.PLAN_KIND_SAAS_PLAN,
                                                                currency="USD")).plans:
        print(f"{plan.id}: {plan.unit_amount.amount_minor} cents")

    # A clock that stands still until advanced; an account attached to it lives on its time.
    clock = billing.create_test_clock(billing_pb2.CreateTestClockRequest(
        idempotency_key=key(), name="docs", frozen_time_unix_ms=utc_ms(2027, 1, 1))).test_clock
    account = billing.create_account(billing_pb2.CreateAccountRequest(
        idempotency_key=key(), display_name="Acme", currency="USD", test_clock_id=clock.id)).account
    billing.update_billing_information(billing_pb2.UpdateBillingInformationRequest(
        idempotency_key=key(), account_id=account.id, full_name="Ada Lovelace", country_code="US",
        address=billing_pb2.BillingAddress(lines=["1 Market St"], city="San Francisco", region="CA",
                                           postal_code="94105")))
    billing.add_payment_method(billing_pb2.AddPaymentMethodRequest(
        idempotency_key=key(), account_id=account.id,
        card=billing_pb2.CardInput(number="4242424242424242", expiry_month=12, expiry_year=2030,
                                   cvc="123", holder_name="Ada Lovelace")))

    subscription = billing.create_subscription(billing_pb2.CreateSubscriptionRequest(
        idempotency_key=key(), account_id=account.id, plan_id="starter-monthly-usd-v1")).subscription

    # Half-way through January, preview the upgrade to Pro, then make it: the prorated difference is
    # invoiced and charged now.
    billing.advance_test_clock(billing_pb2.AdvanceTestClockRequest(
        idempotency_key=key(), test_clock_id=clock.id, frozen_time_unix_ms=utc_ms(2027, 1, 16)))
    preview = billing.preview_subscription_change(billing_pb2.PreviewSubscriptionChangeRequest(
        account_id=account.id, subscription_id=subscription.id, plan_id="pro-monthly-usd-v1"))
    print("upgrade lines:", [line.amount.amount_minor for line in preview.lines],
          "total:", preview.total.amount_minor)
    upgraded = billing.update_subscription(billing_pb2.UpdateSubscriptionRequest(
        idempotency_key=key(), account_id=account.id, subscription_id=subscription.id,
        plan_id="pro-monthly-usd-v1"))
    print("charged now:", upgraded.latest_charge.amount.amount_minor, "cents")
