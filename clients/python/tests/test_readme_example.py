"""The README's examples are examples/quickstart.py and examples/subscriptions.py, and they run against a
real billingd."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import Billingd

PACKAGE_ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = PACKAGE_ROOT / "examples" / "quickstart.py"
SUBSCRIPTIONS_EXAMPLE = PACKAGE_ROOT / "examples" / "subscriptions.py"


@pytest.mark.parametrize("example", [EXAMPLE, SUBSCRIPTIONS_EXAMPLE], ids=lambda p: p.name)
def test_the_readme_shows_the_example_as_it_is(example: Path) -> None:
    readme = (PACKAGE_ROOT / "README.md").read_text()
    body = example.read_text().split('"""\n\n', 1)[1]  # the example without its docstring
    assert body in readme, f"copy clients/python/examples/{example.name} into the README"


def test_the_example_runs(billingd: Billingd) -> None:
    result = subprocess.run([sys.executable, str(EXAMPLE), billingd.socket_path],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "balance after the SMS: 1995 cents" in result.stdout
    assert "wallet now: 1995 cents" in result.stdout


def test_the_subscriptions_example_runs(billingd: Billingd) -> None:
    result = subprocess.run([sys.executable, str(SUBSCRIPTIONS_EXAMPLE), billingd.socket_path],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "starter-monthly-usd-v1: 1000 cents" in result.stdout
    assert "upgrade lines: [-516, 1032] total: 516" in result.stdout
    assert "charged now: 516 cents" in result.stdout
