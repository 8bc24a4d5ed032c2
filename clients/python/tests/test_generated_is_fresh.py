"""The committed generated code is what clients/python/generate.py makes from proto/ today."""

from __future__ import annotations

import filecmp
import subprocess
import sys
from pathlib import Path

PACKAGE_ROOT = Path(__file__).resolve().parents[1]
COMMITTED = PACKAGE_ROOT / "src" / "billing_client" / "_generated"


def relative_files(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*")
            if p.is_file() and "__pycache__" not in p.parts}


def test_generated_code_is_fresh(tmp_path: Path) -> None:
    fresh = tmp_path / "_generated"
    subprocess.run([sys.executable, str(PACKAGE_ROOT / "generate.py"), "--out", str(fresh)], check=True)
    assert relative_files(fresh) == relative_files(COMMITTED), "run clients/python/generate.py and commit"
    stale = [name for name in sorted(relative_files(fresh))
             if not filecmp.cmp(fresh / name, COMMITTED / name, shallow=False)]
    assert stale == [], f"{stale} are stale: run clients/python/generate.py and commit"
