"""Plans, subscriptions and test clocks, through the sync and asyncio clients against a real billingd
(started with the repository's catalog/plans.json, see conftest)."""

from __future__ import annotations

import asyncio
import datetime

import pytest
from conftest import CARD_OK, Billingd, card, complete_billing_information, key, new_account

from billing_client import AsyncClient, Client, RpcError, StatusCode, billing_pb2


def utc_ms(year: int, month: int, day: int) -> int:
    """UTC midnight of a day, in Unix milliseconds."""
    return int(datetime.datetime(year, month, day, tzinfo=datetime.UTC).timestamp() * 1000)


JANUARY_1 = utc_ms(2027, 1, 1)


def clocked_account(client: Client, at: int) -> tuple[str, str]:
    """A test clock at `at`, and an account on it with complete US billing information and a primary
    card that charges: (clock id, account id)."""
    clock = client.billing.create_test_clock(billing_pb2.CreateTestClockRequest(
        idempotency_key=key(), name="python-tests", frozen_time_unix_ms=at)).test_clock
    assert clock.frozen_time_unix_ms == at
    account = client.billing.create_account(billing_pb2.CreateAccountRequest(
        idempotency_key=key(), display_name="Clocked Inc", currency="USD", test_clock_id=clock.id)).account
    complete_billing_information(client, account.id)
    client.billing.add_payment_method(billing_pb2.AddPaymentMethodRequest(
        idempotency_key=key(), account_id=account.id, card=card(CARD_OK)))
    return clock.id, account.id


def test_an_upgrade_half_way_through_the_month_is_prorated_exactly(client: Client) -> None:
    """Starter ($10) from Jan 1; on Jan 16, 16 of January's 31 days are left: Starter's unused part is
    credited (-5.16) and Pro ($20) charged for the rest (10.32), 5.16 in all; the preview says so and
    the upgrade does it."""
    clock, account = clocked_account(client, JANUARY_1)
    created = client.billing.create_subscription(billing_pb2.CreateSubscriptionRequest(
        idempotency_key=key(), account_id=account, plan_id="starter-monthly-usd-v1"))
    subscription = created.subscription
    assert subscription.status == billing_pb2.SUBSCRIPTION_STATUS_ACTIVE
    assert subscription.current_period_start_unix_ms == JANUARY_1
    assert subscription.current_period_end_unix_ms == utc_ms(2027, 2, 1)
    assert created.latest_invoice.status == billing_pb2.INVOICE_STATUS_PAID
    assert created.latest_charge.amount.amount_minor == 1000

    advanced = client.billing.advance_test_clock(billing_pb2.AdvanceTestClockRequest(
        idempotency_key=key(), test_clock_id=clock, frozen_time_unix_ms=utc_ms(2027, 1, 16)))
    assert advanced.test_clock.frozen_time_unix_ms == utc_ms(2027, 1, 16)
    assert client.billing.get_test_clock(billing_pb2.GetTestClockRequest(
        test_clock_id=clock)).test_clock.frozen_time_unix_ms == utc_ms(2027, 1, 16)

    preview = client.billing.preview_subscription_change(billing_pb2.PreviewSubscriptionChangeRequest(
        account_id=account, subscription_id=subscription.id, plan_id="pro-monthly-usd-v1"))
    assert preview.timing == billing_pb2.CHANGE_TIMING_IMMEDIATE
    assert [line.amount.amount_minor for line in preview.lines] == [-516, 1032]
    assert preview.total.amount_minor == 516

    upgraded = client.billing.update_subscription(billing_pb2.UpdateSubscriptionRequest(
        idempotency_key=key(), account_id=account, subscription_id=subscription.id, plan_id="pro-monthly-usd-v1"))
    assert upgraded.subscription.plan.id == "pro-monthly-usd-v1"
    assert [line.amount.amount_minor for line in upgraded.latest_invoice.lines] == [-516, 1032]
    assert upgraded.latest_invoice.total.amount_minor == 516
    assert upgraded.latest_invoice.billing_reason == "subscription_update"
    assert upgraded.latest_charge.amount.amount_minor == 516
    assert upgraded.latest_charge.status == billing_pb2.CHARGE_STATUS_SUCCEEDED
    assert upgraded.subscription.next_renewal_amount.amount_minor == 2000
    # The preview said exactly what the upgrade did.
    assert [line.amount for line in upgraded.latest_invoice.lines] == [line.amount for line in preview.lines]

    read = client.billing.get_subscription(billing_pb2.GetSubscriptionRequest(
        account_id=account, subscription_id=subscription.id)).subscription
    assert read.plan.id == "pro-monthly-usd-v1"
    listed = client.billing.list_subscriptions(billing_pb2.ListSubscriptionsRequest(account_id=account))
    assert [s.id for s in listed.subscriptions] == [subscription.id]


def test_list_plans_of_one_kind(client: Client) -> None:
    plans = client.billing.list_plans(billing_pb2.ListPlansRequest(
        kind=billing_pb2.PLAN_KIND_RESELLING_PRODUCT)).plans
    assert [p.id for p in plans] == ["managed-postgres-small-usd-v1", "managed-postgres-large-usd-v1"]
    assert all(p.provider == "acme-hosting" and p.kind == billing_pb2.PLAN_KIND_RESELLING_PRODUCT for p in plans)


def test_an_unknown_plan_is_not_found(client: Client) -> None:
    account = new_account(client)
    complete_billing_information(client, account.id)
    with pytest.raises(RpcError) as caught:
        client.billing.create_subscription(billing_pb2.CreateSubscriptionRequest(
            idempotency_key=key(), account_id=account.id, plan_id="no-such-plan-v1"))
    assert caught.value.code == StatusCode.NOT_FOUND
    assert caught.value.reason == "plan_not_found"
    assert caught.value.field == "plan_id"


def test_the_asyncio_client_lists_plans_and_subscribes_on_a_test_clock(billingd: Billingd) -> None:
    async def journey() -> None:
        async with AsyncClient(billingd.socket_path) as client:
            plans = (await client.billing.list_plans(billing_pb2.ListPlansRequest(currency="EUR"))).plans
            assert [p.id for p in plans] == ["starter-monthly-eur-v1"]

            clock = (await client.billing.create_test_clock(billing_pb2.CreateTestClockRequest(
                idempotency_key=key(), frozen_time_unix_ms=JANUARY_1))).test_clock
            account = (await client.billing.create_account(billing_pb2.CreateAccountRequest(
                idempotency_key=key(), display_name="Clocked Inc", currency="USD", test_clock_id=clock.id))).account
            await client.billing.update_billing_information(billing_pb2.UpdateBillingInformationRequest(
                idempotency_key=key(), account_id=account.id, full_name="Ada Lovelace", country_code="US",
                address=billing_pb2.BillingAddress(lines=["1 Market St"], city="San Francisco", region="CA",
                                                   postal_code="94105")))
            await client.billing.add_payment_method(billing_pb2.AddPaymentMethodRequest(
                idempotency_key=key(), account_id=account.id, card=card(CARD_OK)))
            created = await client.billing.create_subscription(billing_pb2.CreateSubscriptionRequest(
                idempotency_key=key(), account_id=account.id, plan_id="starter-monthly-usd-v1"))
            subscription = created.subscription

            # Set to cancel at the period end, then resumed before it comes.
            canceling = (await client.billing.cancel_subscription(billing_pb2.CancelSubscriptionRequest(
                idempotency_key=key(), account_id=account.id, subscription_id=subscription.id,
                at_period_end=True))).subscription
            assert canceling.cancel_at_period_end
            resumed = (await client.billing.resume_subscription(billing_pb2.ResumeSubscriptionRequest(
                idempotency_key=key(), account_id=account.id, subscription_id=subscription.id))).subscription
            assert not resumed.cancel_at_period_end
            assert resumed.next_renewal_unix_ms == utc_ms(2027, 2, 1)

            # The clock passes the period end: the renewal runs on it.
            advanced = await client.billing.advance_test_clock(billing_pb2.AdvanceTestClockRequest(
                idempotency_key=key(), test_clock_id=clock.id, frozen_time_unix_ms=utc_ms(2027, 2, 2)))
            assert advanced.actions_run >= 1
            renewed = (await client.billing.get_subscription(billing_pb2.GetSubscriptionRequest(
                account_id=account.id, subscription_id=subscription.id))).subscription
            assert renewed.status == billing_pb2.SUBSCRIPTION_STATUS_ACTIVE
            assert renewed.current_period_start_unix_ms == utc_ms(2027, 2, 1)
            assert renewed.current_period_end_unix_ms == utc_ms(2027, 3, 1)

            with pytest.raises(RpcError) as caught:
                await client.billing.resume_subscription(billing_pb2.ResumeSubscriptionRequest(
                    idempotency_key=key(), account_id=account.id, subscription_id=subscription.id))
            assert caught.value.code == StatusCode.FAILED_PRECONDITION
            assert caught.value.reason == "subscription_not_canceling"

    asyncio.run(journey())
