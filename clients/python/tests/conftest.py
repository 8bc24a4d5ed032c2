"""Fixtures: a real billingd on a temporary socket, with its SQLite file in a temporary folder.

The binary is $BILLINGD, or the debug build at .build/debug/billingd of this repository (make test
builds it before the Python tests run).
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from billing_client import Client, billing_pb2

REPOSITORY = Path(__file__).resolve().parents[3]
BILLINGD = Path(os.environ.get("BILLINGD", REPOSITORY / ".build" / "debug" / "billingd"))
# billingd prints the seller on every invoice and has no default one: tests pass a made-up seller.
SELLER_FLAGS = ["--seller-name", "Test Seller Ltd", "--seller-address", "1 Test Street", "--seller-tax-id", "TEST-TAX-ID",
                "--invoice-number-prefix", "TEST"]
# billingd reads catalog/plans.json relative to its working folder (here clients/python, where pytest
# runs), so the tests name the repository's catalog explicitly.
CATALOG = REPOSITORY / "catalog" / "plans.json"
CATALOG_FLAGS = ["--catalog", str(CATALOG)]

# Stripe's test cards, as the sandbox gateway knows them.
CARD_OK = "4242424242424242"
CARD_OK_MASTERCARD = "5555555555554444"
CARD_ATTACHES_THEN_DECLINES = "4000000000000341"
CARD_DECLINED_ON_ADD = "4000000000000002"


@dataclass
class Billingd:
    """One running billingd: where it listens, its files, and how to stop or restart it."""

    folder: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def socket_path(self) -> str:
        return str(self.folder / "billingd.sock")

    @property
    def database(self) -> str:
        """The SQLite file in the folder or, on the PostgreSQL run (BILLING_TEST_POSTGRES, set by
        scripts/test-postgres.sh), a schema of this folder's own in that database."""
        url = os.environ.get("BILLING_TEST_POSTGRES", "")
        if not url:
            return str(self.folder / "billing.sqlite3")
        return f"{url}&schema=py_{abs(hash(str(self.folder))):x}"

    def start(self, *extra_flags: str) -> None:
        log = open(self.folder / "billingd.log", "ab")
        self.process = subprocess.Popen(
            [str(BILLINGD), "--socket", self.socket_path, "--database", self.database,
             "--metrics-socket", "", "--log-level", "warning", *SELLER_FLAGS, *CATALOG_FLAGS, *extra_flags],
            stdout=log, stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + 30
        while not os.path.exists(self.socket_path):
            if self.process.poll() is not None:
                raise RuntimeError(f"billingd exited with {self.process.returncode}; see {self.folder}/billingd.log")
            if time.monotonic() > deadline:
                raise RuntimeError("billingd did not start listening within 30 s")
            time.sleep(0.02)

    def stop(self, sig: signal.Signals = signal.SIGTERM) -> None:
        """Stops it (SIGTERM drains: GOAWAY, then calls finish) and waits until it has exited."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None


@pytest.fixture(scope="session")
def billingd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Billingd]:
    """One billingd shared by the tests that each use their own accounts."""
    if not BILLINGD.exists():
        pytest.fail(f"no billingd at {BILLINGD}: run `swift build --product billingd` (or set $BILLINGD)")
    server = Billingd(tmp_path_factory.mktemp("billingd"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def own_billingd(tmp_path: Path) -> Iterator[Billingd]:
    """A billingd of the test's own, for tests that stop or restart it."""
    server = Billingd(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def client(billingd: Billingd) -> Iterator[Client]:
    with Client(billingd.socket_path) as client:
        yield client


def key() -> str:
    """A fresh idempotency key."""
    return str(uuid.uuid4())


def usd(amount_minor: int) -> billing_pb2.Money:
    return billing_pb2.Money(amount_minor=amount_minor, currency="USD")


def new_account(client: Client, name: str = "Acme") -> billing_pb2.Account:
    return client.billing.create_account(
        billing_pb2.CreateAccountRequest(idempotency_key=key(), display_name=name, currency="USD")).account


def card(number: str) -> billing_pb2.CardInput:
    return billing_pb2.CardInput(number=number, expiry_month=12, expiry_year=2034, cvc="123",
                                 holder_name="Ada Lovelace")


def complete_billing_information(client: Client, account_id: str) -> billing_pb2.BillingInformation:
    return client.billing.update_billing_information(billing_pb2.UpdateBillingInformationRequest(
        idempotency_key=key(), account_id=account_id, full_name="Ada Lovelace", country_code="US",
        address=billing_pb2.BillingAddress(lines=["1 Market St"], city="San Francisco", region="CA",
                                           postal_code="94105"),
    )).billing_information


def chargeable_account(client: Client) -> billing_pb2.Account:
    """An account with complete billing information and a primary card that charges."""
    account = new_account(client)
    complete_billing_information(client, account.id)
    client.billing.add_payment_method(billing_pb2.AddPaymentMethodRequest(
        idempotency_key=key(), account_id=account.id, card=card(CARD_OK)))
    return account
