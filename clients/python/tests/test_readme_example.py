"""The README's example is examples/quickstart.py, and it runs against a real billingd."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from conftest import Billingd

PACKAGE_ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = PACKAGE_ROOT / "examples" / "quickstart.py"


def test_the_readme_shows_the_example_as_it_is() -> None:
    readme = (PACKAGE_ROOT / "README.md").read_text()
    body = EXAMPLE.read_text().split('"""\n\n', 1)[1]  # the example without its docstring
    assert body in readme, "copy clients/python/examples/quickstart.py into the README"


def test_the_example_runs(billingd: Billingd) -> None:
    result = subprocess.run([sys.executable, str(EXAMPLE), billingd.socket_path],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "balance after the SMS: 1995 cents" in result.stdout
    assert "wallet now: 1995 cents" in result.stdout
