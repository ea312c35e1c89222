"""``risk/`` stays ``mypy --strict`` clean (issue 12): any strict error in the engine fails CI.

mypy and the stubs it needs (scipy-stubs, pandas-stubs) come from the ``dev`` extra that
``setup.sh`` installs. The run uses a throw-away cache directory so that no state from an earlier
run (or another checkout) can hide an error, and so that the tree stays clean.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _mypy_strict(target: str, cache_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-error-summary", "--cache-dir", str(cache_dir),
         "--no-color-output", target],
        cwd=ROOT, capture_output=True, text=True, timeout=900,
    )


def test_risk_is_mypy_strict_clean(tmp_path: Path) -> None:
    pytest.importorskip("mypy", reason="mypy comes with the dev extra (./setup.sh installs it)")
    done = _mypy_strict("risk", tmp_path / "mypy-cache")
    errors = [line for line in done.stdout.splitlines() if ": error:" in line]
    assert done.returncode == 0 and not errors, (
        f"mypy --strict risk/ found {len(errors)} error(s) (annotate every function in risk/ fully):\n"
        + "\n".join(errors[:50]) + (f"\n{done.stderr}" if done.stderr.strip() else ""))


def test_the_check_can_fail(tmp_path: Path) -> None:
    """The same invocation reports an unannotated function (so the test above is not vacuous)."""
    pytest.importorskip("mypy", reason="mypy comes with the dev extra (./setup.sh installs it)")
    bad = tmp_path / "bad_module.py"
    bad.write_text("def untyped(x):\n    return x\n")
    done = _mypy_strict(str(bad), tmp_path / "mypy-cache")
    assert done.returncode != 0 and "no-untyped-def" in done.stdout
